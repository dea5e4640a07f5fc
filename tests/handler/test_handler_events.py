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


def _bad_s3_records() -> list[object]:
    no_s3 = s3_record("b", "x.jpg")
    del no_s3["s3"]
    object_list = s3_record("b", "y.jpg")
    object_list["s3"]["object"] = [object_list["s3"]["object"]]
    empty_key = s3_record("b", "z.jpg")
    empty_key["s3"]["object"]["key"] = ""
    other_source = {**s3_record("b", "w.jpg"), "eventSource": "aws:other"}
    return [no_s3, object_list, "not a record", empty_key, other_source]


def test_one_bad_record_of_a_direct_s3_event_is_its_own_error_and_the_rest_parse() -> None:
    bad = _bad_s3_records()
    parsed = parse_event({"Records": [s3_record("b", "good 1.jpg"), *bad, s3_record("b", "good 2.jpg")]})

    assert parsed.source is Source.S3
    assert [t.key for i in parsed.items for t in i.tasks] == ["good 1.jpg", "good 2.jpg"]
    errors = [i.error for i in parsed.items[1:-1]]
    assert all(error and "\n" not in error and len(error) <= 300 for error in errors), errors
    assert errors[0] == "record 0: malformed S3 notification: no 's3'"
    assert "TypeError" in errors[1] and "is a str" in errors[2] and "key is empty" in errors[3]
    assert errors[4] == "not an S3 notification record (eventSource 'aws:other')"
    assert parsed.items[0].error is None and parsed.items[-1].error is None


def test_a_malformed_direct_eventbridge_event_is_an_error_item_not_an_exception() -> None:
    event = eventbridge_event("b", "a.jpg")
    del event["detail"]["object"]
    (item,) = parse_event(event).items
    assert not item.tasks and item.error == "malformed EventBridge event: no 'object'"


def test_an_sqs_message_with_one_bad_record_runs_the_good_ones_and_still_fails() -> None:
    no_s3 = s3_record("b", "x.jpg")
    del no_s3["s3"]
    (item,) = parse_event(sqs_event({"Records": [s3_record("b", "ok.jpg"), no_s3]})).items
    assert [t.key for t in item.tasks] == ["ok.jpg"]
    assert item.error == "record 1: malformed S3 notification: no 's3'"
