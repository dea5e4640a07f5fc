"""MARKER_SECRET: only a marker this scrubber signed, for these exact bytes, skips the scrub."""

from __future__ import annotations

from typing import Any

import pytest
from handler_testlib import Harness, body_of, etag_of, jpeg, put

from exif_scrubber.s3.marker import MARKER_KEY, Marker
from exif_scrubber.s3.result import Status
from handler.config import ConfigError, HandlerConfig

SECRET = b"0123456789abcdef-test-secret"


def test_own_write_is_trusted_with_one_head(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    etag = etag_of(put(harness.s3, bucket, "a.jpg", jpeg(seed=21)))
    assert harness.process(bucket, "a.jpg", etag=etag).status is Status.SCRUBBED
    head = harness.s3.head_object(Bucket=bucket, Key="a.jpg")
    assert ";sig=" in head["Metadata"][MARKER_KEY]

    harness.calls.names.clear()
    again = harness.process(bucket, "a.jpg", etag=etag_of(head))
    assert again.status is Status.SKIPPED and harness.calls.names == ["HeadObject"]


def test_forged_marker_does_not_skip_the_scrub(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    forged = harness.processor.marker.base  # what an unsigned scrubber would write
    etag = etag_of(put(harness.s3, bucket, "f.jpg", jpeg(seed=22), Metadata={MARKER_KEY: forged}))

    result = harness.process(bucket, "f.jpg", etag=etag)

    assert result.status is Status.SCRUBBED, result.reason
    assert any("not signed" in note for note in result.notes)
    assert scan(body_of(harness.s3, bucket, "f.jpg")).clean


def test_replayed_signature_on_new_bytes_is_not_trusted(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    etag = etag_of(put(harness.s3, bucket, "r.jpg", jpeg(seed=23)))
    harness.process(bucket, "r.jpg", etag=etag)
    signed = harness.s3.head_object(Bucket=bucket, Key="r.jpg")["Metadata"][MARKER_KEY]

    dirty = put(harness.s3, bucket, "r.jpg", jpeg(seed=24), Metadata={MARKER_KEY: signed})  # copied marker
    result = harness.process(bucket, "r.jpg", etag=etag_of(dirty))

    assert result.status is Status.SCRUBBED
    assert scan(body_of(harness.s3, bucket, "r.jpg")).clean


def test_without_a_secret_the_marker_is_trusted_as_before(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "u.jpg", jpeg(seed=25), Metadata={MARKER_KEY: "anything"})
    assert harness.process(bucket, "u.jpg").status is Status.SKIPPED


def test_signature_binds_bucket_key_size_and_md5() -> None:
    marker = Marker(base="p1;icc", secret=SECRET)
    value = marker.value("b", "k.jpg", 100, "0" * 32)
    assert marker.trusted("b", "k.jpg", value, 100, '"' + "0" * 32 + '"', None)
    assert not marker.trusted("b", "other.jpg", value, 100, "0" * 32, None)
    assert not marker.trusted("b", "k.jpg", value, 101, "0" * 32, None)
    assert not marker.trusted("b", "k.jpg", value, 100, "1" * 32, None)
    kms = marker.value("b", "k.jpg", 100, None)  # SSE-KMS: the ETag is not an MD5
    assert marker.trusted("b", "k.jpg", kms, 100, "f" * 32, "aws:kms")


def test_a_secret_in_the_environment_is_refused() -> None:
    """Anyone allowed lambda:GetFunctionConfiguration reads environment variables: the value never goes there."""
    with pytest.raises(ConfigError, match=r"MARKER_SECRET is not read.*MARKER_SECRET_ARN"):
        HandlerConfig.from_env({"MARKER_SECRET": "0123456789abcdef-long-enough"})
