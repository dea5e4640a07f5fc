"""The marker secret comes from Secrets Manager at init (moto), is cached, follows a rotation, and a missing or
short secret fails the cold start loudly; evidence settings are validated."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from handler_testlib import REGION, FakeContext, etag_of, jpeg, put, s3_event, s3_record

from exif_scrubber import Scrubber
from exif_scrubber.s3.marker import MARKER_KEY
from handler import app
from handler.config import ConfigError, HandlerConfig

SECRET = "a-generated-secret-of-48-chars-0123456789abcdefg"


@pytest.fixture
def secrets(aws: None) -> Any:
    parameters.clear_caches()
    yield boto3.client("secretsmanager", region_name=REGION)
    parameters.clear_caches()


def _runtime(s3: Any, scrubber: Scrubber, tmp_path: Any, arn: str, **env: str) -> app.Runtime:
    config = HandlerConfig.from_env({"MARKER_SECRET_ARN": arn, **env})
    config = type(config)(**{**config.__dict__, "work_dir": tmp_path})
    runtime = app.Runtime.create(config=config, s3_client=s3)
    return runtime


def test_the_secret_is_read_from_secrets_manager_at_init(
    secrets: Any, s3: Any, bucket: str, scrubber: Scrubber, tmp_path: Any
) -> None:
    arn = secrets.create_secret(Name="exif-marker", SecretString=SECRET)["ARN"]
    config = HandlerConfig.from_env({"MARKER_SECRET_ARN": arn})
    assert config.marker_secret is None and config.marker_secret_arn == arn  # nothing secret in the environment
    runtime = _runtime(s3, scrubber, tmp_path, arn)
    assert runtime.config.marker_secret == SECRET.encode()
    assert runtime.processor.marker.secret == SECRET.encode()

    previous = app.install_runtime(runtime)
    try:
        etag = etag_of(put(s3, bucket, "s.jpg", jpeg(seed=31)))
        app.lambda_handler(s3_event(s3_record(bucket, "s.jpg", etag=etag)), FakeContext())
        marker = s3.head_object(Bucket=bucket, Key="s.jpg")["Metadata"][MARKER_KEY]
        assert ";sig=" in marker and runtime.processor.marker.trusted(
            bucket, "s.jpg", marker, *_size_checksum(s3, bucket, "s.jpg")
        )
    finally:
        app.install_runtime(previous)


def _size_checksum(s3: Any, bucket: str, key: str) -> tuple[int, str]:
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return int(head["ContentLength"]), str(head["ChecksumSHA256"])


def test_a_rotated_secret_is_picked_up_once_the_cache_is_stale(
    secrets: Any, s3: Any, scrubber: Scrubber, tmp_path: Any
) -> None:
    arn = secrets.create_secret(Name="exif-marker-rot", SecretString=SECRET)["ARN"]
    runtime = _runtime(s3, scrubber, tmp_path, arn)
    secrets.put_secret_value(SecretId=arn, SecretString="rotated-" + SECRET)
    runtime.refresh_secret()
    assert runtime.processor.marker.secret == SECRET.encode()  # cached (max_age)
    parameters.clear_caches()
    runtime.refresh_secret()
    assert runtime.processor.marker.secret == ("rotated-" + SECRET).encode()


def test_a_missing_or_short_secret_fails_the_cold_start(
    secrets: Any, s3: Any, scrubber: Scrubber, tmp_path: Any
) -> None:
    with pytest.raises(ConfigError, match="cannot read MARKER_SECRET_ARN"):
        _runtime(s3, scrubber, tmp_path, "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf")
    arn = secrets.create_secret(Name="exif-marker-short", SecretString="short")["ARN"]
    with pytest.raises(ConfigError, match="at least 16 characters"):
        _runtime(s3, scrubber, tmp_path, arn)


def test_evidence_settings_are_validated() -> None:
    config = HandlerConfig.from_env({"EVIDENCE_PREFIX": "ev/", "EVIDENCE_BUCKET": "my-evidence"})
    assert (config.evidence_prefix, config.evidence_bucket) == ("ev/", "my-evidence")
    assert config.excluded_because("ev/b/k.jpg/v.json")
    with pytest.raises(ConfigError) as raised:
        HandlerConfig.from_env({"EVIDENCE_PREFIX": "/ev", "EVIDENCE_BUCKET": "Bad_Bucket", "MARKER_SECRET_ARN": "a b"})
    for name in ("EVIDENCE_PREFIX", "EVIDENCE_BUCKET", "MARKER_SECRET_ARN"):
        assert name in str(raised.value)
    with pytest.raises(ConfigError, match="EVIDENCE_BUCKET needs EVIDENCE_PREFIX"):
        HandlerConfig.from_env({"EVIDENCE_BUCKET": "my-evidence"})
