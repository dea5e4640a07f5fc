"""The Lambda entry point: ``handler.app.lambda_handler``.

Cold start (module import inside Lambda) validates the configuration and starts ExifTool, so both
stay warm across invocations; outside Lambda the same happens on the first call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

from exif_scrubber import Scrubber, __version__
from exif_scrubber.s3.marker import Marker
from exif_scrubber.s3.processor import ObjectScrubber
from exif_scrubber.s3.result import ObjectResult, Status

from .config import ConfigError, HandlerConfig
from .events import ObjectTask, parse_event
from .provenance import runtime_provenance
from .results import ItemOutcome, log_result, record_metrics, respond
from .secrets import marker_secret

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = Logger()
metrics = Metrics()

S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)


@dataclass
class Runtime:
    """What lives for the life of the execution environment: config, warm engine, S3 client."""

    config: HandlerConfig
    scrubber: Scrubber
    processor: ObjectScrubber

    @classmethod
    def create(cls, config: HandlerConfig | None = None, s3_client: S3Client | None = None) -> Runtime:
        """Validate the environment (``ConfigError`` names every bad variable) and warm ExifTool up."""
        config = config or HandlerConfig.from_env()
        if config.marker_secret_arn and config.marker_secret is None:
            config = replace(config, marker_secret=marker_secret(config.marker_secret_arn))
        policy, provenance = runtime_provenance(config)
        scrubber = Scrubber(policy, work_dir=config.work_dir, provenance=provenance)
        scrubber.warm_up()
        client = s3_client or boto3.client("s3", config=S3_CONFIG)
        return cls(config=config, scrubber=scrubber, processor=ObjectScrubber(client, scrubber, config))

    def refresh_secret(self) -> None:
        """Pick up a rotated marker secret (Powertools' cache answers without a call until it is stale)."""
        if not self.config.marker_secret_arn:
            return
        try:
            secret = marker_secret(self.config.marker_secret_arn)
        except ConfigError as exc:
            logger.warning("marker secret not refreshed; keeping the one read earlier", extra={"reason": str(exc)})
            return
        if secret != self.processor.marker.secret:
            self.processor.marker = Marker(base=self.processor.marker.base, secret=secret)
            logger.info("marker secret rotated")


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """The module-wide runtime, created on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.create()
        logger.append_keys(  # every log line names the rules and tools it was made with
            policy=_runtime.config.policy.fingerprint(),
            engine=__version__,
            exiftool=_runtime.scrubber.exiftool_version,
        )
        logger.info(
            "scrubber ready",
            extra={
                "exiftool": _runtime.scrubber.exiftool_version,
                "marker": _runtime.processor.marker.base,
                "marker_signed": _runtime.processor.marker.secret is not None,
                "report_only": _runtime.config.report_only,
                "trial": _runtime.config.trial,
                "evidence": _runtime.config.evidence_prefix,
            },
        )
    return _runtime


def install_runtime(new: Runtime | None) -> Runtime | None:
    """Replace the module-wide runtime (tests, embedding); returns the previous one."""
    global _runtime
    previous, _runtime = _runtime, new
    return previous


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    runtime()  # Lambda init phase: a bad configuration fails the cold start, loudly


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scrub every object the event names; answer in the event source's own format."""
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        logger.append_keys(request_id=request_id)
    rt = runtime()
    rt.refresh_secret()
    parsed = parse_event(event)
    outcomes: list[ItemOutcome] = []
    for item in parsed.items:
        if item.error:
            logger.error("cannot process event item", extra={"item": item.item_id, "reason": item.error})
            metrics.add_metric(name="Failed", unit="Count", value=1)
        elif item.ignored and not item.tasks:
            logger.info("event item ignored", extra={"item": item.item_id, "ignored": list(item.ignored)})
        results = []
        for task in item.tasks:
            result = _process(rt, task)
            log_result(logger, result)
            record_metrics(metrics, result)
            results.append(result)
        outcomes.append(ItemOutcome(item=item, results=results))
    return respond(parsed, outcomes)


def _process(rt: Runtime, task: ObjectTask) -> ObjectResult:
    result = rt.processor.process(task.bucket, task.key, etag=task.etag, version_id=task.version_id)
    if result.status is Status.SKIPPED and (result.reason or "").startswith("gone") and task.raw_key != task.key:
        # A source that did not URL-encode its key: the literal key exists, the decoded one does not.
        fallback = rt.processor.process(task.bucket, task.raw_key, etag=task.etag, version_id=task.version_id)
        if not (fallback.status is Status.SKIPPED and (fallback.reason or "").startswith("gone")):
            fallback.notes.append(f"key taken literally: {task.raw_key!r} does not exist once URL-decoded")
            return fallback
    return result
