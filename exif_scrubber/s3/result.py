"""The typed result of processing one object: what the log line, the metrics and the event answer use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """What happened to one object."""

    SCRUBBED = "scrubbed"
    """Metadata removed, output verified, written back under the same key."""
    ALREADY_CLEAN = "already_clean"
    """Nothing to remove: tagged ``exif-scrub=clean``. In a versioned bucket the version read is tagged (no new
    version, no new event); in an unversioned one the same bytes are written back with the tag and the marker
    under ``If-Match`` (a tag set without a condition could land on a newer, dirty upload)."""
    SKIPPED = "skipped"
    """Not processed: carries our marker, excluded prefix, stale event or gone; ``reason`` says which."""
    CONFLICT = "conflict"
    """A newer upload replaced (or deleted) the object after we read it: theirs is kept, ours discarded."""
    UNSUPPORTED = "unsupported"
    """Not an image the engine handles: left untouched and tagged ``exif-scrub=unsupported``."""
    FAILED = "failed"
    """Corrupt, too large, unverifiable or refused: left untouched and tagged ``exif-scrub=failed``."""
    QUARANTINED = "quarantined"
    """Failed, then copied to the private quarantine prefix and removed from its key (ON_FAILURE=quarantine)."""
    RETRY = "retry"
    """A transient problem (throttling, S3 5xx, concurrent write, no /tmp space): nothing written; retry."""
    REPORTED = "reported"
    """REPORT_ONLY: scanned, verdict in ``verdict``; nothing written. TRIAL: scrubbed and verified in the work
    folder only, verdict ``clean`` or ``dirty``; tagged and recorded, never rewritten."""


FAILURES = frozenset({Status.FAILED, Status.QUARANTINED, Status.RETRY})


@dataclass
class ObjectResult:
    """Everything known about one object after processing."""

    bucket: str
    key: str
    status: Status = Status.FAILED
    reason: str | None = None
    etag: str | None = None
    """ETag of the object read (or seen by HEAD)."""
    version_id: str | None = None
    """Version read (None in unversioned buckets)."""
    new_etag: str | None = None
    new_version_id: str | None = None
    deleted_version_id: str | None = None
    """The original version deleted after a verified write (DELETE_ORIGINAL_VERSION)."""
    quarantine_key: str | None = None
    format: str | None = None
    bytes_before: int | None = None
    bytes_after: int | None = None
    removed: dict[str, int] = field(default_factory=dict)
    image_hash_before: str | None = None
    """The proof hash (SHA-256 over the image data and decoding structure, from the byte model) of the object read."""
    image_hash_after: str | None = None
    """The same hash of the clean object written: equal to ``image_hash_before`` (pixels untouched)."""
    marker: str | None = None
    verdict: str | None = None
    """REPORT_ONLY: ``clean``, ``dirty``, ``unsupported`` or ``error``."""
    leftovers: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Things that went wrong after the main outcome (e.g. the original version could not be deleted)."""
    notes: list[str] = field(default_factory=list)
    evidence_key: str | None = None
    """Where the evidence record of this object went (``s3://bucket/key``)."""
    redelivered: bool = False
    """An event for a version this scrubber has already replaced (a retry or a late duplicate): skipped, and its
    evidence record is written now if the first attempt could not write it."""
    evidence_failed: bool = False
    """The evidence record could not be written (also a problem: the object is reported failed and retried)."""
    time: str | None = None
    """UTC time the object was processed (ISO 8601)."""
    ms: float = 0.0

    @property
    def failed(self) -> bool:
        """True when the event source must hear about a failure (retry, DLQ, PermanentFailure)."""
        return self.status in FAILURES or bool(self.problems)

    @property
    def retryable(self) -> bool:
        """True when a later attempt may succeed."""
        return self.status is Status.RETRY or self.evidence_failed

    @property
    def bytes_removed(self) -> int:
        if self.bytes_before is None or self.bytes_after is None:
            return 0
        return max(self.bytes_before - self.bytes_after, 0)

    def summary(self) -> str:
        """One human line, e.g. for an S3 Batch Operations result string."""
        parts = [self.status.value]
        if self.verdict:
            parts.append(self.verdict)
        if self.removed:
            parts.append("removed " + ",".join(f"{g}={n}" for g, n in self.removed.items()))
        if self.leftovers:
            parts.append("; ".join(f"{g}: {','.join(names[:8])}" for g, names in self.leftovers.items()))
        if self.bytes_after is not None and self.bytes_before is not None:
            parts.append(f"{self.bytes_before}->{self.bytes_after} bytes")
        if self.reason:
            parts.append(self.reason)
        parts += self.problems
        return ": ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (the structured log line)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["bytes_removed"] = self.bytes_removed
        return {name: value for name, value in data.items() if value not in (None, [], {}, False)}
