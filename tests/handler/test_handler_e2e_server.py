"""End to end over real HTTP: moto's server on 127.0.0.1, bucket -> SQS notification -> handler -> audit check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from handler_testlib import REGION, FakeContext, count_calls, drain_queue, jpeg, make_config
from moto.server import ThreadedMotoServer

from exif_scrubber import Scrubber
from exif_scrubber.s3.objects import MARKER_KEY
from handler import app


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": 2}),
    )


def test_upload_notification_handler_and_audit_over_http(endpoint: str, scrubber: Scrubber, tmp_path: Any) -> None:
    s3, sqs = _client("s3", endpoint), _client("sqs", endpoint)
    bucket, key = "e2e-uploads", "users/42/holiday photo+1 (é).jpg"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName="e2e-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    original = jpeg(seed=21, size=(320, 240))
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=original,
        ContentType="image/jpeg",
        Metadata={"owner": "u42"},
        Tagging="album=summer",
    )
    assert "GPS" in _scan_bytes(scrubber, tmp_path, original).leftovers

    handler_s3 = _client("s3", endpoint)
    calls = count_calls(handler_s3)
    previous = app.install_runtime(app.Runtime.create(make_config(tmp_path), s3_client=handler_s3))
    try:
        upload_event = drain_queue(sqs, queue_url)
        assert len(upload_event["Records"]) == 1
        assert app.lambda_handler(upload_event, FakeContext()) == {"batchItemFailures": []}

        own_write = drain_queue(sqs, queue_url)
        assert len(own_write["Records"]) == 1
        calls.clear()
        assert app.lambda_handler(own_write, FakeContext()) == {"batchItemFailures": []}
        assert calls.names == ["HeadObject"]
    finally:
        app.install_runtime(previous)

    assert drain_queue(sqs, queue_url)["Records"] == []
    versions = s3.list_object_versions(Bucket=bucket, Prefix="users/")["Versions"]
    assert len(versions) == 1, "the version that held GPS was deleted"
    for version in versions:
        data = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        assert _scan_bytes(scrubber, tmp_path, data).clean
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "image/jpeg" and head["Metadata"]["owner"] == "u42" and MARKER_KEY in head["Metadata"]
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [
        {"Key": "album", "Value": "summer"},
        {"Key": "exif-scrub", "Value": "clean"},
    ]


def _scan_bytes(scrubber: Scrubber, tmp_path: Any, data: bytes) -> Any:
    path = tmp_path / "downloaded"
    path.write_bytes(data)
    return scrubber.scan(path)
