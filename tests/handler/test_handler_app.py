"""lambda_handler end to end against moto: every event shape, the answers, the loop, logs and metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from handler_testlib import (
    NOT_AN_IMAGE,
    REGION,
    FakeContext,
    Harness,
    batch_event,
    body_of,
    corrupt_jpeg,
    drain_queue,
    etag_of,
    eventbridge_event,
    jpeg,
    put,
    s3_event,
    s3_record,
    sqs_event,
    versions_of,
)

from exif_scrubber.s3.objects import MARKER_KEY, STATUS_TAG
from handler import app
from handler.results import ScrubFailure

ODD_KEYS = [
    "with space.jpg",
    "plus+sign.jpg",
    "fotos/Zürich/été 2026/naïve ß.jpg",
    "a/b/c/d/e/f/g/h/i/j/deep photo+1 (copy).jpeg",
    "100% sure?.jpg",
]


def handle(event: dict[str, Any]) -> Any:
    return app.lambda_handler(event, FakeContext())


def test_s3_event_with_several_records(harness: Harness, bucket: str, scan: Any) -> None:
    records = [
        s3_record(bucket, key, etag=etag_of(put(harness.s3, bucket, key, jpeg(seed=i))))
        for i, key in enumerate(["1.jpg", "2.jpg", "3.jpg"])
    ]

    response = handle(s3_event(*records))

    assert response["processed"] == 3
    assert [r["status"] for r in response["results"]] == ["scrubbed"] * 3
    for key in ("1.jpg", "2.jpg", "3.jpg"):
        assert scan(body_of(harness.s3, bucket, key)).clean


def test_s3_event_failure_raises_after_processing_the_rest(harness: Harness, bucket: str, scan: Any) -> None:
    put(harness.s3, bucket, "good.jpg", jpeg(seed=1))
    put(harness.s3, bucket, "bad.jpg", corrupt_jpeg())

    with pytest.raises(ScrubFailure, match=r"s3://.*/bad\.jpg"):
        handle(s3_event(s3_record(bucket, "bad.jpg"), s3_record(bucket, "good.jpg")))

    assert scan(body_of(harness.s3, bucket, "good.jpg")).clean


def test_eventbridge_event(harness: Harness, bucket: str, scan: Any) -> None:
    etag = etag_of(put(harness.s3, bucket, "eb/x y.jpg", jpeg(seed=2)))

    response = handle(eventbridge_event(bucket, "eb/x y.jpg", etag=etag))

    assert response["results"][0]["status"] == "scrubbed"
    assert scan(body_of(harness.s3, bucket, "eb/x y.jpg")).clean


def test_eventbridge_failure_raises(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "bad.jpg", corrupt_jpeg())
    with pytest.raises(ScrubFailure):
        handle(eventbridge_event(bucket, "bad.jpg"))


def test_literal_key_fallback_for_a_source_that_did_not_encode(harness: Harness, bucket: str, scan: Any) -> None:
    put(harness.s3, bucket, "raw+plus.jpg", jpeg(seed=3))
    event = eventbridge_event(bucket, "x")
    event["detail"]["object"]["key"] = "raw+plus.jpg"  # not URL-encoded: decoding would give "raw plus.jpg"

    response = handle(event)

    assert response["results"][0]["key"] == "raw+plus.jpg"
    assert scan(body_of(harness.s3, bucket, "raw+plus.jpg")).clean


def test_mixed_sqs_batch_reports_exactly_the_corrupt_object(harness: Harness, bucket: str, scan: Any) -> None:
    put(harness.s3, bucket, "ok1.jpg", jpeg(seed=4))
    put(harness.s3, bucket, "corrupt.jpg", corrupt_jpeg())
    put(harness.s3, bucket, "doc.bin", NOT_AN_IMAGE)
    put(harness.s3, bucket, "ok2.jpg", jpeg(seed=5))
    event = sqs_event(
        s3_event(s3_record(bucket, "ok1.jpg")),
        s3_event(s3_record(bucket, "corrupt.jpg")),
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket},
        s3_event(s3_record(bucket, "doc.bin")),
        eventbridge_event(bucket, "ok2.jpg"),
    )

    response = handle(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert scan(body_of(harness.s3, bucket, "ok1.jpg")).clean and scan(body_of(harness.s3, bucket, "ok2.jpg")).clean
    assert body_of(harness.s3, bucket, "corrupt.jpg") == corrupt_jpeg()


def test_unreadable_sqs_message_is_reported_not_dropped(harness: Harness) -> None:
    assert handle(sqs_event("{not json")) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
def test_batch_operations_answers_per_task(harness: Harness, bucket: str, schema: str) -> None:
    put(harness.s3, bucket, "b 1.jpg", jpeg(seed=6))
    put(harness.s3, bucket, "b2.jpg", corrupt_jpeg())
    put(harness.s3, bucket, "b3.txt", NOT_AN_IMAGE)
    results = []
    for key in ("b 1.jpg", "b2.jpg", "b3.txt"):  # Batch Operations sends one task per invocation
        response = handle(batch_event(schema, bucket, key))
        assert (response["invocationSchemaVersion"], response["invocationId"]) == (schema, "inv-1")
        assert response["treatMissingKeysAs"] == "PermanentFailure"
        results += response["results"]

    assert [r["resultCode"] for r in results] == ["Succeeded", "PermanentFailure", "Succeeded"]
    assert results[0]["resultString"].startswith("scrubbed")
    assert results[1]["resultString"].startswith("failed")
    assert results[2]["resultString"].startswith("unsupported")


def test_batch_report_only_puts_the_verdict_in_the_result(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(report_only=True)
    data = jpeg(seed=7)
    put(harness.s3, bucket, "audit.jpg", data)
    put(harness.s3, bucket, "fine.jpg", jpeg(gps=False, seed=8))

    dirty = handle(batch_event("2.0", bucket, "audit.jpg"))["results"][0]
    clean = handle(batch_event("2.0", bucket, "fine.jpg"))["results"][0]

    assert dirty["resultCode"] == "Succeeded" and dirty["resultString"].startswith("reported: dirty")
    assert "GPS:" in dirty["resultString"]
    assert clean["resultString"] == "reported: clean"
    assert body_of(harness.s3, bucket, "audit.jpg") == data
    assert "PutObject" not in harness.calls.names and "PutObjectTagging" not in harness.calls.names


def test_batch_throttling_is_a_temporary_failure(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "slow.jpg", jpeg(seed=9))

    def throttle(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {
                "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            },
            "GetObject",
        )

    harness.handler_s3.meta.events.register("before-call.s3.GetObject", throttle)

    result = handle(batch_event("2.0", bucket, "slow.jpg"))["results"][0]

    assert result["resultCode"] == "TemporaryFailure" and "SlowDown" in result["resultString"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_through_an_encoded_event(harness: Harness, bucket: str, key: str, scan: Any) -> None:
    etag = etag_of(put(harness.s3, bucket, key, jpeg(seed=10)))

    response = handle(s3_event(s3_record(bucket, key, etag=etag)))

    assert response["results"][0]["key"] == key and response["results"][0]["status"] == "scrubbed"
    assert scan(body_of(harness.s3, bucket, key)).clean
    assert [o["Key"] for o in harness.s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def _notifying_bucket(s3: Any, sqs: Any, bucket: str) -> str:
    queue_url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return str(queue_url)


def test_own_write_back_ends_in_a_single_head(harness: Harness, versioned_bucket: str, scan: Any) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = _notifying_bucket(harness.s3, sqs, versioned_bucket)
    put(harness.s3, versioned_bucket, "loop/a b+c.jpg", jpeg(seed=11))
    upload_event = drain_queue(sqs, queue_url)
    assert len(upload_event["Records"]) == 1

    assert handle(upload_event) == {"batchItemFailures": []}
    own_write_event = drain_queue(sqs, queue_url)
    assert len(own_write_event["Records"]) == 1, "moto notifies about our own PutObject"
    versions = versions_of(harness.s3, versioned_bucket, "loop/a b+c.jpg")
    harness.calls.clear()

    assert handle(own_write_event) == {"batchItemFailures": []}

    assert harness.calls.names == ["HeadObject"]
    assert versions_of(harness.s3, versioned_bucket, "loop/a b+c.jpg") == versions
    assert drain_queue(sqs, queue_url)["Records"] == [], "no further event: the loop has ended"
    assert scan(body_of(harness.s3, versioned_bucket, "loop/a b+c.jpg")).clean


def test_existing_bucket_wired_through_eventbridge_and_sqs(harness: Harness, bucket: str, scan: Any) -> None:
    """The template's "existing bucket, Queue" wiring, with moto generating the EventBridge events."""
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName=f"{bucket}-eb")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    harness.s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    events.put_rule(
        Name="objects",
        EventPattern=json.dumps(
            {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [bucket]}}}
        ),
    )
    events.put_targets(Rule="objects", Targets=[{"Id": "queue", "Arn": arn}])
    put(harness.s3, bucket, "eb/photo 1.jpg", jpeg(seed=18))
    upload = drain_queue(sqs, queue_url)
    assert len(upload["Records"]) == 1 and "Object Created" in upload["Records"][0]["body"]

    assert handle(upload) == {"batchItemFailures": []}
    own_write = drain_queue(sqs, queue_url)
    harness.calls.clear()
    assert handle(own_write) == {"batchItemFailures": []}

    assert len(own_write["Records"]) == 1 and harness.calls.names == ["HeadObject"]
    assert scan(body_of(harness.s3, bucket, "eb/photo 1.jpg")).clean


def test_redelivered_event_changes_nothing(harness: Harness, bucket: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = _notifying_bucket(harness.s3, sqs, bucket)
    put(harness.s3, bucket, "again.jpg", jpeg(seed=12))
    event = drain_queue(sqs, queue_url)
    handle(event)
    drain_queue(sqs, queue_url)
    state = harness.s3.head_object(Bucket=bucket, Key="again.jpg")
    harness.calls.clear()

    assert handle(event) == {"batchItemFailures": []}

    assert harness.calls.names == ["HeadObject"]
    again = harness.s3.head_object(Bucket=bucket, Key="again.jpg")
    assert (again["ETag"], again["LastModified"]) == (state["ETag"], state["LastModified"])
    assert drain_queue(sqs, queue_url)["Records"] == []


@pytest.fixture
def log_lines(capsys: Any) -> Iterator[Any]:
    """``log_lines()`` -> the JSON lines of the handler's logger (its stream) and of the EMF metrics (stdout)."""
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        return _json_lines(buffer.getvalue()) + _json_lines(capsys.readouterr().out)

    yield read
    handler.setStream(previous)


def _total(value: float | list[float]) -> float:
    return sum(value) if isinstance(value, list) else value


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_one_log_line_per_object_and_emf_metrics(harness: Harness, bucket: str, log_lines: Any) -> None:
    put(harness.s3, bucket, "m1.jpg", jpeg(seed=13))
    put(harness.s3, bucket, "m2.jpg", jpeg(gps=False, seed=14))
    put(harness.s3, bucket, "m3.bin", NOT_AN_IMAGE)
    put(harness.s3, bucket, "m4.jpg", corrupt_jpeg())
    put(harness.s3, bucket, "m5.jpg", jpeg(seed=15), Metadata={MARKER_KEY: "x"})

    handle(sqs_event(*(s3_event(s3_record(bucket, k)) for k in ("m1.jpg", "m2.jpg", "m3.bin", "m4.jpg", "m5.jpg"))))

    lines = log_lines()
    per_object = [line for line in lines if "outcome" in line]
    assert [(line["key"], line["outcome"]) for line in per_object] == [
        ("m1.jpg", "scrubbed"),
        ("m2.jpg", "already_clean"),
        ("m3.bin", "unsupported"),
        ("m4.jpg", "failed"),
        ("m5.jpg", "skipped"),
    ]
    first = per_object[0]
    for field in ("bucket", "key", "version", "outcome", "bytes_before", "bytes_after", "groups_removed", "ms"):
        assert field in first, field
    assert first["groups_removed"]["GPS"] >= 4 and first["level"] == "INFO"
    assert per_object[3]["level"] == "ERROR" and per_object[3]["reason"]
    (emf,) = [line for line in lines if "_aws" in line]
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Scrubbed", "Skipped", "Unsupported", "Failed", "BytesRemoved"} <= names
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ExifScrubberTest"
    counts = {name: _total(emf[name]) for name in ("Scrubbed", "Skipped", "Unsupported", "Failed")}
    assert counts == {"Scrubbed": 1, "Skipped": 2, "Unsupported": 1, "Failed": 1}
    assert _total(emf["BytesRemoved"]) == per_object[0]["bytes_before"] - per_object[0]["bytes_after"] > 0


def test_conflict_is_counted(harness: Harness, bucket: str, log_lines: Any) -> None:
    put(harness.s3, bucket, "c.jpg", jpeg(seed=16))
    other = boto3.client("s3", region_name=REGION)

    def upload_first(**_: Any) -> None:
        put(other, bucket, "c.jpg", jpeg(seed=17))

    harness.handler_s3.meta.events.register("before-call.s3.PutObject", upload_first)

    response = handle(sqs_event(s3_event(s3_record(bucket, "c.jpg"))))

    assert response == {"batchItemFailures": []}
    emf = [line for line in log_lines() if "_aws" in line]
    assert _total(emf[0]["Conflicts"]) == 1


def test_failure_tag_from_the_handler(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "f.jpg", corrupt_jpeg(), Tagging="a=1")
    handle(sqs_event(s3_event(s3_record(bucket, "f.jpg"))))
    tags = {t["Key"]: t["Value"] for t in harness.s3.get_object_tagging(Bucket=bucket, Key="f.jpg")["TagSet"]}
    assert tags == {"a": "1", STATUS_TAG: "failed"}


def test_unknown_event_fails_loudly(harness: Harness) -> None:
    with pytest.raises(ValueError, match="unrecognised event"):
        handle({"hello": "world"})


def test_log_line_has_hashes_and_evidence_and_a_failed_record_is_metered_and_retried(
    harness_factory: Any, bucket: str, log_lines: Any
) -> None:
    harness = harness_factory(evidence_prefix="evidence/", evidence_bucket="no-such-evidence-bucket")
    put(harness.s3, bucket, "h.jpg", jpeg(seed=41))

    response = handle(sqs_event(s3_event(s3_record(bucket, "h.jpg"))))

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}  # retried: no object without evidence
    lines = log_lines()
    (line,) = [entry for entry in lines if entry.get("key") == "h.jpg"]
    assert line["outcome"] == "scrubbed" and line["level"] == "ERROR"
    assert len(line["image_hash_before"]) == 64 and line["image_hash_after"] == line["image_hash_before"]
    assert line["evidence_failed"] is True and "evidence record not written: NoSuchBucket" in line["problems"][0]
    (emf,) = [entry for entry in lines if "_aws" in entry]
    assert _total(emf["EvidenceFailed"]) == 1 and _total(emf["Failed"]) == 1

    harness.s3.create_bucket(Bucket="no-such-evidence-bucket")
    assert handle(sqs_event(s3_event(s3_record(bucket, "h.jpg", etag=line["etag"])))) == {"batchItemFailures": []}
    listing = harness.s3.list_objects_v2(Bucket="no-such-evidence-bucket")["Contents"]
    assert [o["Key"] for o in listing] == [f"evidence/{bucket}/h.jpg/null.{line['etag']}.json"]


def _record_without_s3(bucket: str) -> dict[str, Any]:
    record = s3_record(bucket, "unreadable.jpg")
    del record["s3"]
    return record


def test_a_bad_record_in_a_direct_s3_event_is_logged_and_the_good_ones_run(
    harness: Harness, bucket: str, scan: Any, log_lines: Any
) -> None:
    """No retry can mend a record that cannot be read (and a retry would run the good ones again): the invocation
    succeeds, the record is one error line and one Failed count, and the answer lists it under ``rejected``."""
    put(harness.s3, bucket, "good.jpg", jpeg(seed=51))

    response = handle(s3_event(_record_without_s3(bucket), s3_record(bucket, "good.jpg")))

    assert [r["status"] for r in response["results"]] == ["scrubbed"]
    assert response["rejected"] == [{"item": "record-0", "reason": "record 0: malformed S3 notification: no 's3'"}]
    assert scan(body_of(harness.s3, bucket, "good.jpg")).clean
    lines = log_lines()
    (error,) = [line for line in lines if line.get("message") == "cannot process event item"]
    assert error["level"] == "ERROR" and error["item"] == "record-0" and "no 's3'" in error["reason"]
    (emf,) = [line for line in lines if "_aws" in line]
    assert _total(emf["Failed"]) == 1 and _total(emf["Scrubbed"]) == 1


def test_a_failed_object_still_fails_a_direct_s3_event_with_a_bad_record(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "bad.jpg", corrupt_jpeg())
    with pytest.raises(ScrubFailure, match=r"1 of 2 object\(s\) failed: s3://.*/bad\.jpg"):
        handle(s3_event(_record_without_s3(bucket), s3_record(bucket, "bad.jpg")))


def test_a_malformed_direct_eventbridge_event_does_not_raise(harness: Harness, log_lines: Any) -> None:
    event = eventbridge_event("some-bucket", "a.jpg")
    event["detail"]["bucket"] = "not an object"

    response = handle(event)

    assert response["processed"] == 0 and "malformed EventBridge event" in response["rejected"][0]["reason"]
    assert any(line.get("message") == "cannot process event item" for line in log_lines())


def test_an_sqs_message_with_a_bad_record_runs_the_good_one_and_is_retried(
    harness: Harness, bucket: str, scan: Any
) -> None:
    put(harness.s3, bucket, "ok.jpg", jpeg(seed=52))

    response = handle(sqs_event(s3_event(s3_record(bucket, "ok.jpg"), _record_without_s3(bucket))))

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}  # kept for the queue's DLQ
    assert scan(body_of(harness.s3, bucket, "ok.jpg")).clean
