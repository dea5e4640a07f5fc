"""Shape what the event source hears, the per-object log line and the EMF metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import (
    RESULT_CODE_TYPE,
    S3BatchOperationResponseRecord,
)

from exif_scrubber.s3.result import ObjectResult, Status

from .events import Item, ParsedEvent, Source

BATCH_RESULT_MAX = 1000
"""S3 Batch Operations result strings are kept short (they land in the CSV completion report)."""

_METRIC_OF = {
    Status.SCRUBBED: "Scrubbed",
    Status.ALREADY_CLEAN: "Skipped",
    Status.SKIPPED: "Skipped",
    Status.CONFLICT: "Conflicts",
    Status.UNSUPPORTED: "Unsupported",
    Status.FAILED: "Failed",
    Status.QUARANTINED: "Failed",
    Status.RETRY: "Failed",
    Status.REPORTED: "Scanned",
}


class ScrubFailure(RuntimeError):
    """Raised for asynchronous S3/EventBridge invocations when an object failed, so Lambda's retries and the
    DLQ (or on-failure destination) see the failure and hold the event for a redrive."""


@dataclass
class ItemOutcome:
    """The results of one SQS message, Batch task or S3 record."""

    item: Item
    results: list[ObjectResult]

    @property
    def failed(self) -> bool:
        return self.item.error is not None or self.objects_failed

    @property
    def objects_failed(self) -> bool:
        """True when an object it names failed (a record that could not be read is not an object)."""
        return any(r.failed for r in self.results)

    @property
    def retryable(self) -> bool:
        return any(r.retryable for r in self.results)

    def describe(self, *, with_keys: bool = False) -> str:
        parts = [f"{self.item.item_id}: {self.item.error}"] if self.item.error else []
        parts += [(f"s3://{r.bucket}/{r.key}: " if with_keys else "") + r.summary() for r in self.results]
        if not parts:
            return "ignored: " + ", ".join(self.item.ignored) if self.item.ignored else "no objects"
        return " | ".join(parts)


def log_result(logger: Logger, result: ObjectResult) -> None:
    """One structured JSON line per object."""
    fields = {
        "bucket": result.bucket,
        "key": result.key,
        "version": result.version_id or "null",
        "outcome": result.status.value,
        "bytes_before": result.bytes_before,
        "bytes_after": result.bytes_after,
        "groups_removed": result.removed,
        "ms": result.ms,
        **{
            k: v
            for k, v in result.to_dict().items()
            if k not in ("bucket", "key", "version_id", "status", "removed", "ms")
        },
    }
    if result.failed:
        logger.error("object %s", result.status.value, extra=fields)
    elif result.status in (Status.CONFLICT, Status.UNSUPPORTED):
        logger.warning("object %s", result.status.value, extra=fields)
    else:
        logger.info("object %s", result.status.value, extra=fields)


def record_metrics(metrics: Metrics, result: ObjectResult) -> None:
    """Count the object in CloudWatch (EMF)."""
    metrics.add_metric(name=_METRIC_OF[result.status], unit=MetricUnit.Count, value=1)
    if result.status is Status.QUARANTINED:
        metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=1)
    if result.problems and result.status not in (Status.FAILED, Status.QUARANTINED, Status.RETRY):
        metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
    if result.status is Status.REPORTED and result.verdict == "dirty":
        metrics.add_metric(name="Dirty", unit=MetricUnit.Count, value=1)
    if result.evidence_failed:
        metrics.add_metric(name="EvidenceFailed", unit=MetricUnit.Count, value=1)
    if result.bytes_removed:
        metrics.add_metric(name="BytesRemoved", unit=MetricUnit.Bytes, value=result.bytes_removed)


def batch_result_code(outcome: ItemOutcome) -> RESULT_CODE_TYPE:
    """Succeeded, TemporaryFailure (retry may help) or PermanentFailure.

    In REPORT_ONLY mode a dirty object is a verdict, not a failure: it is ``Succeeded`` with ``dirty`` in
    the result string (marking it failed would make Batch Operations stop a job over a dirty bucket).
    """
    if not outcome.failed:
        return "Succeeded"
    if outcome.retryable and outcome.item.error is None:
        return "TemporaryFailure"
    return "PermanentFailure"


def respond(event: ParsedEvent, outcomes: Sequence[ItemOutcome]) -> dict[str, Any]:
    """The answer each event source expects; raises :class:`ScrubFailure` for S3 and EventBridge."""
    if event.source is Source.SQS:  # a message with a record it cannot read fails: the queue's DLQ keeps it
        return {"batchItemFailures": [{"itemIdentifier": o.item.item_id} for o in outcomes if o.failed]}
    if event.source is Source.BATCH:
        return {
            "invocationSchemaVersion": event.batch_schema_version,
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": event.batch_invocation_id,
            "results": [
                S3BatchOperationResponseRecord(
                    task_id=o.item.item_id,
                    result_code=batch_result_code(o),
                    result_string=o.describe()[:BATCH_RESULT_MAX],
                ).asdict()
                for o in outcomes
            ],
        }
    # Direct S3 and EventBridge: a record that cannot be read does not fail the invocation (a retry would meet the
    # same record and run the good ones again); it was logged and counted in Failed. A failed object does.
    failed = [o for o in outcomes if o.objects_failed]
    if failed:
        raise ScrubFailure(
            f"{len(failed)} of {len(outcomes)} object(s) failed: "
            + " || ".join(o.describe(with_keys=True) for o in failed)[:4000]
        )
    answer: dict[str, Any] = {
        "processed": sum(len(o.results) for o in outcomes),
        "results": [r.to_dict() for o in outcomes for r in o.results],
    }
    rejected = [{"item": o.item.item_id, "reason": o.item.error} for o in outcomes if o.item.error]
    if rejected:
        answer["rejected"] = rejected
    return answer
