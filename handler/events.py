"""Turn every supported invocation into one typed list of objects to process.

Accepted: S3 event notifications (several records), the same wrapped in SQS (optionally via SNS),
EventBridge "Object Created" events (direct or through SQS), and S3 Batch Operations 1.0/2.0.
Keys arrive URL-encoded (``+`` for a space, ``%2B`` for a plus) and are decoded with ``unquote_plus``.

Every record is parsed on its own: one that cannot be understood becomes an :class:`Item` with an ``error`` (a
one-line reason), and the records beside it are processed. Only an invocation of no known shape at all raises.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeGuard
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3BatchOperationEvent, SQSEvent


class Source(StrEnum):
    """How the function was invoked; decides the shape of the answer."""

    S3 = "s3"
    SQS = "sqs"
    EVENTBRIDGE = "eventbridge"
    BATCH = "batch"


class EventError(ValueError):
    """The invocation is not one of the supported shapes."""


MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What reading a record of the wrong shape raises (a field missing, a list where an object belongs)."""
REASON_MAX = 300


@dataclass(frozen=True)
class ObjectTask:
    """One object to scrub, as named by the event."""

    bucket: str
    key: str
    """The decoded key."""
    raw_key: str
    """The key exactly as the event carried it."""
    etag: str | None = None
    version_id: str | None = None
    size: int | None = None
    event_name: str = ""


@dataclass(frozen=True)
class Item:
    """One unit the event source wants an answer for (an SQS message, a Batch task, a record)."""

    item_id: str
    tasks: tuple[ObjectTask, ...] = ()
    error: str | None = None
    """Set when the item cannot be understood: it is reported as failed, never silently dropped."""
    ignored: tuple[str, ...] = ()
    """Why records of this item were skipped (test events, other event types)."""


@dataclass(frozen=True)
class ParsedEvent:
    """The whole invocation."""

    source: Source
    items: tuple[Item, ...]
    batch_invocation_id: str | None = None
    batch_schema_version: str | None = None
    batch_user_arguments: dict[str, str] = field(default_factory=dict)


def parse_event(event: Mapping[str, Any]) -> ParsedEvent:
    """Recognise the invocation and list its objects; raise :class:`EventError` for anything else."""
    if not isinstance(event, Mapping):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    if "invocationSchemaVersion" in event and "tasks" in event:
        return _batch(event)
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    ):
        return ParsedEvent(Source.SQS, tuple(_sqs_item(r) for r in SQSEvent(dict(event)).records))
    if _s3_notification(records):
        return ParsedEvent(Source.S3, tuple(_s3_item(f"record-{index}", r) for index, r in enumerate(records)))
    if event.get("Event") == "s3:TestEvent":
        return ParsedEvent(Source.S3, (Item(item_id="test-event", ignored=("s3:TestEvent",)),))
    if "detail-type" in event and "detail" in event:
        item_id = str(event.get("id", "event"))
        try:
            tasks, ignored = _eventbridge(event)
        except MALFORMED as exc:
            return ParsedEvent(Source.EVENTBRIDGE, (Item(item_id=item_id, error=malformed("EventBridge event", exc)),))
        return ParsedEvent(Source.EVENTBRIDGE, (Item(item_id=item_id, tasks=tasks, ignored=ignored),))
    raise EventError(
        "unrecognised event: expected S3, SQS, EventBridge or S3 Batch Operations; keys "
        + ", ".join(sorted(map(str, event))[:10])
    )


def malformed(what: str, exc: Exception) -> str:
    """A one-line reason for a record of the wrong shape, e.g. ``malformed S3 notification: no 'object'``."""
    if isinstance(exc, KeyError):
        detail = f"no {exc.args[0]!r}" if exc.args else "a field is missing"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    text = " ".join(f"malformed {what}: {detail}".split())
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def _s3_notification(records: Any) -> TypeGuard[list[Any]]:
    """True for a direct S3 notification: a list of records, some from ``aws:s3`` and none from ``aws:sqs``
    (a record of another shape among them is then one bad record, not an unknown invocation)."""
    if not isinstance(records, list):
        return False
    sources = {r.get("eventSource") for r in records if isinstance(r, Mapping)}
    return "aws:s3" in sources and "aws:sqs" not in sources


def _s3_item(item_id: str, record: Any) -> Item:
    """One record of a direct S3 notification, as its own item."""
    if not isinstance(record, Mapping):
        return Item(item_id=item_id, error=f"malformed S3 notification: the record is a {type(record).__name__}")
    if record.get("eventSource") != "aws:s3":
        return Item(item_id=item_id, error=f"not an S3 notification record (eventSource {record.get('eventSource')!r})")
    tasks, ignored, errors = _s3_records([record])
    return Item(item_id=item_id, tasks=tasks, ignored=ignored, error="; ".join(errors) or None)


def _batch(event: Mapping[str, Any]) -> ParsedEvent:
    batch = S3BatchOperationEvent(dict(event))
    version = batch.invocation_schema_version
    if version not in ("1.0", "2.0"):
        raise EventError(f"unsupported S3 Batch Operations invocationSchemaVersion {version!r}")
    items = []
    for task in batch.tasks:
        raw_key = str(task.raw_event.get("s3Key", ""))
        try:
            bucket = task.s3_bucket
        except KeyError:
            items.append(Item(item_id=task.task_id, error="task names no bucket"))
            continue
        items.append(
            Item(
                item_id=task.task_id,
                tasks=(
                    ObjectTask(
                        bucket=bucket,
                        key=unquote_plus(raw_key),
                        raw_key=raw_key,
                        version_id=task.s3_version_id or None,
                        event_name="BatchOperations",
                    ),
                ),
            )
        )
    user_arguments = batch.job.user_arguments if version == "2.0" and "job" in event else {}
    return ParsedEvent(
        Source.BATCH,
        tuple(items),
        batch_invocation_id=batch.invocation_id,
        batch_schema_version=version,
        batch_user_arguments=dict(user_arguments),
    )


def _sqs_item(record: Any) -> Item:
    message_id = record.message_id
    try:
        body = json.loads(record.body)
    except (TypeError, ValueError) as exc:
        return Item(item_id=message_id, error=f"message body is not JSON: {exc}")
    if isinstance(body, Mapping) and body.get("Type") == "Notification" and isinstance(body.get("Message"), str):
        try:
            body = json.loads(body["Message"])  # S3 -> SNS -> SQS
        except ValueError as exc:
            return Item(item_id=message_id, error=f"SNS message is not JSON: {exc}")
    if not isinstance(body, Mapping):
        return Item(item_id=message_id, error="message body is not a JSON object")
    if body.get("Event") == "s3:TestEvent":
        return Item(item_id=message_id, ignored=("s3:TestEvent",))
    if isinstance(body.get("Records"), list):
        tasks, ignored, errors = _s3_records(body["Records"])  # the good records run; the message still fails
        return Item(item_id=message_id, tasks=tasks, ignored=ignored, error="; ".join(errors) or None)
    if "detail-type" in body and "detail" in body:
        try:
            tasks, ignored = _eventbridge(body)
        except MALFORMED as exc:
            return Item(item_id=message_id, error=malformed("EventBridge event", exc))
        return Item(item_id=message_id, tasks=tasks, ignored=ignored)
    return Item(item_id=message_id, error="message is neither an S3 notification nor an EventBridge event")


def _s3_records(records: Iterable[Any]) -> tuple[tuple[ObjectTask, ...], tuple[str, ...], tuple[str, ...]]:
    """The tasks, the ignored event names and the one-line errors of S3 notification records, each on its own."""
    tasks: list[ObjectTask] = []
    ignored: list[str] = []
    errors: list[str] = []
    for index, record in enumerate(records):
        try:
            name = str(record.get("eventName", "")).removeprefix("s3:")
            if not name.startswith("ObjectCreated:"):
                ignored.append(name or "record without eventName")
                continue
            tasks.append(_s3_task(record, name))
        except MALFORMED as exc:
            errors.append(f"record {index}: {malformed('S3 notification', exc)}")
    return tuple(tasks), tuple(ignored), tuple(errors)


def _s3_task(record: Mapping[str, Any], name: str) -> ObjectTask:
    s3 = record["s3"]
    obj = s3["object"]
    raw_key = _named(obj["key"], "key")
    return ObjectTask(
        bucket=_named(s3["bucket"]["name"], "bucket name"),
        key=unquote_plus(raw_key),
        raw_key=raw_key,
        etag=_etag(obj.get("eTag")),
        version_id=obj.get("versionId") or None,
        size=_int(obj.get("size")),
        event_name=name,
    )


def _eventbridge(event: Mapping[str, Any]) -> tuple[tuple[ObjectTask, ...], tuple[str, ...]]:
    detail_type = str(event.get("detail-type"))
    if event.get("source") != "aws.s3" or detail_type != "Object Created":
        return (), (f"{event.get('source')} {detail_type}",)
    detail = event["detail"]
    obj = detail["object"]
    raw_key = _named(obj["key"], "key")
    task = ObjectTask(
        bucket=_named(detail["bucket"]["name"], "bucket name"),
        key=unquote_plus(raw_key),
        raw_key=raw_key,
        etag=_etag(obj.get("etag") or obj.get("eTag")),
        version_id=obj.get("version-id") or None,
        size=_int(obj.get("size")),
        event_name=f"ObjectCreated:{detail.get('reason', '')}",
    )
    return (task,), ()


def _named(value: Any, what: str) -> str:
    """A bucket name or key: a non-empty string (S3 has no empty key, and no request can name one)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"the {what} is {'empty' if value == '' else 'not a string'}")
    return value


def _etag(value: Any) -> str | None:
    text = str(value or "").strip().strip('"')
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
