"""Every invocation shape becomes the same typed task list; keys are URL-decoded."""

from __future__ import annotations

import json

import pytest
from handler_testlib import batch_event, eventbridge_event, s3_event, s3_record, sqs_event

from handler.events import EventError, Source, parse_event

ODD_KEYS = ["a b.jpg", "c++/x+y.jpg", "fotos/Zürich/été 2026/ß.jpg", "d/e/f/g/h/i/j/k.jpeg", "100%.jpg", "q?&=#.jpg"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_s3_keys_are_decoded(key: str) -> None:
    parsed = parse_event(s3_event(s3_record("b", key, etag="e1", version_id="v1")))
    (task,) = parsed.items[0].tasks
    assert (task.bucket, task.key, task.etag, task.version_id) == ("b", key, "e1", "v1")
    assert parsed.source is Source.S3


def test_plus_means_space_and_percent_2b_means_plus() -> None:
    event = s3_event(s3_record("b", "x"))
    event["Records"][0]["s3"]["object"]["key"] = "A+file%2Bname.jpg"
    assert parse_event(event).items[0].tasks[0].key == "A file+name.jpg"


def test_multi_record_s3_event_and_non_create_records() -> None:
    parsed = parse_event(
        s3_event(
            s3_record("b", "1.jpg"),
            s3_record("b", "2.jpg"),
            s3_record("b", "3.jpg", event_name="ObjectRemoved:Delete"),
        )
    )
    assert [t.key for i in parsed.items for t in i.tasks] == ["1.jpg", "2.jpg"]
    assert parsed.items[2].ignored == ("ObjectRemoved:Delete",)


def test_sqs_carries_s3_notifications_test_events_sns_and_eventbridge() -> None:
    sns_wrapped = {"Type": "Notification", "Message": json.dumps(s3_event(s3_record("b", "sns.jpg")))}
    parsed = parse_event(
        sqs_event(
            s3_event(s3_record("b", "one.jpg"), s3_record("b", "two.jpg")),
            {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"},
            sns_wrapped,
            eventbridge_event("b", "eb.jpg", etag="e2"),
            "not json",
            {"hello": "world"},
        )
    )
    assert parsed.source is Source.SQS
    items = {i.item_id: i for i in parsed.items}
    assert [t.key for t in items["msg-0"].tasks] == ["one.jpg", "two.jpg"]
    assert items["msg-1"].ignored == ("s3:TestEvent",) and not items["msg-1"].error
    assert [t.key for t in items["msg-2"].tasks] == ["sns.jpg"]
    assert [(t.key, t.etag) for t in items["msg-3"].tasks] == [("eb.jpg", "e2")]
    assert items["msg-4"].error and items["msg-5"].error


def test_eventbridge_direct() -> None:
    parsed = parse_event(eventbridge_event("b", "p/a b.jpg", etag="abc", version_id="v9"))
    (task,) = parsed.items[0].tasks
    assert parsed.source is Source.EVENTBRIDGE
    assert (task.key, task.raw_key, task.etag, task.version_id) == ("p/a b.jpg", "p%2Fa+b.jpg", "abc", "v9")


def test_eventbridge_other_detail_types_are_ignored() -> None:
    event = eventbridge_event("b", "a.jpg")
    event["detail-type"] = "Object Deleted"
    parsed = parse_event(event)
    assert not parsed.items[0].tasks and parsed.items[0].ignored


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
def test_batch_operations(schema: str) -> None:
    parsed = parse_event(batch_event(schema, "bk", "x y/z+.jpg", "b.jpg", version_ids=["v1", None]))
    assert parsed.source is Source.BATCH
    assert (parsed.batch_invocation_id, parsed.batch_schema_version) == ("inv-1", schema)
    assert [(i.item_id, i.tasks[0].bucket, i.tasks[0].key, i.tasks[0].version_id) for i in parsed.items] == [
        ("task-0", "bk", "x y/z+.jpg", "v1"),
        ("task-1", "bk", "b.jpg", None),
    ]
    if schema == "2.0":
        assert parsed.batch_user_arguments == {"mode": "backfill"}


def test_direct_test_event_is_ignored() -> None:
    parsed = parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert parsed.items[0].ignored and not parsed.items[0].tasks


@pytest.mark.parametrize(
    "event", [{}, {"Records": []}, {"foo": 1}, {"invocationSchemaVersion": "3.0", "tasks": [], "invocationId": "i"}]
)
def test_unknown_events_are_refused(event: dict[str, object]) -> None:
    with pytest.raises(EventError):
        parse_event(event)
