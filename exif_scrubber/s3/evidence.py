"""One evidence record per handled object: what was read, what was written, what was removed, by which rules.

A record is a small JSON object at a name fixed by the object version read, so a redelivered event or a retry
writes the same name again (idempotent per version): ``<prefix><bucket>/<key>/<version>.json``, or
``null.<etag>.json`` in an unversioned bucket. It never holds a metadata value, only group counts.

The evidence prefix is never processed by the scrubber, and a separate evidence bucket has no notification, so a
record never triggers a scrub. With S3 Object Lock default retention on the evidence bucket, records cannot be
altered or deleted before their retention ends.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from .objects import clean_etag, is_precondition_failed, normalise_version
from .result import ObjectResult, Status

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCHEMA = "exif-scrubber/evidence/1"
MAX_KEY_BYTES = 1024
"""S3's longest key: a record for a long key is named by the key's SHA-256 instead (the record names the key)."""

NO_RECORD = frozenset({Status.SKIPPED, Status.RETRY})
"""Not handled (excluded, stale, gone, our own write-back) or not finished (retried): no record."""


def utc_now() -> str:
    """Now, UTC, to the millisecond: ``2026-11-26T09:14:03.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_key(prefix: str, bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """The record's name: fixed by the object version read (``null.<etag>`` when unversioned)."""
    version = normalise_version(version_id)
    leaf = f"{version}.json" if version else f"null.{clean_etag(etag) or 'unknown'}.json"
    name = f"{prefix}{bucket}/{key}/{leaf}"
    if len(name.encode()) <= MAX_KEY_BYTES:
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{prefix}{bucket}/_long-keys/{digest}/{leaf}"


@dataclass(frozen=True)
class Provenance:
    """The rules and tools behind every record of one runtime."""

    policy: dict[str, Any]
    engine: str
    exiftool: str
    marker: str


def record(result: ObjectResult, provenance: Provenance, *, late: bool = False) -> dict[str, Any]:
    """The evidence record of one processed object (``late``: written on a retry, after the scrub)."""
    written = None
    if result.new_etag or result.new_version_id:
        written = {"version_id": result.new_version_id, "etag": result.new_etag, "bytes": result.bytes_after}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "time": result.time or utc_now(),
        "bucket": result.bucket,
        "key": result.key,
        "outcome": result.status.value,
        "reason": result.reason,
        "format": result.format,
        "read": {"version_id": result.version_id, "etag": result.etag, "bytes": result.bytes_before},
        "written": written,
        "image_data_sha256": {"before": result.image_hash_before, "after": result.image_hash_after},
        "removed": dict(result.removed),
        "deleted_version_id": result.deleted_version_id,
        "quarantine_key": result.quarantine_key,
        "problems": [p for p in result.problems if not p.startswith("evidence")],
        "notes": list(result.notes),
        "policy": provenance.policy,
        "versions": {"engine": provenance.engine, "exiftool": provenance.exiftool},
        "marker": provenance.marker if result.status is Status.SCRUBBED else result.marker,
    }
    if late:
        doc["late"] = (
            "written on a redelivery after the scrub: the first attempt's record could not be written; the current "
            "object carries this scrubber's marker, so what was removed and the image-data hashes are not known here"
        )
    return doc


class EvidenceWriter:
    """Writes records to ``bucket`` (None: the object's own bucket) under ``prefix``."""

    def __init__(self, client: S3Client, prefix: str, bucket: str | None, provenance: Provenance) -> None:
        self.client, self.prefix, self.bucket, self.provenance = client, prefix, bucket, provenance

    def location(self, result: ObjectResult) -> tuple[str, str]:
        bucket = self.bucket or result.bucket
        return bucket, record_key(self.prefix, result.bucket, result.key, result.version_id, result.etag)

    def write(self, result: ObjectResult, *, late: bool = False) -> str:
        """Write the record; with ``late`` only if none exists yet. Returns ``s3://bucket/key``; raises on failure."""
        bucket, key = self.location(result)
        body = json.dumps(record(result, self.provenance, late=late), sort_keys=True, indent=1).encode()
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "ContentType": "application/json",
            "ChecksumAlgorithm": "SHA256",  # Object Lock buckets require a checksum on every PUT
        }
        if late:
            args["IfNoneMatch"] = "*"
        try:
            self.client.put_object(**args)
        except ClientError as exc:
            if not (late and is_precondition_failed(exc)):
                raise
        return f"s3://{bucket}/{key}"
