"""The per-object flow: loop guard, conditional read, scrub and verify, conditional write, clean-up.

``ObjectScrubber.process`` is the one path that ever rewrites an object; the Lambda and the audit's
``--fix`` both go through it.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from .. import __version__
from ..engine import Scrubber
from ..report import Outcome
from .evidence import NO_RECORD, EvidenceWriter, Provenance, utc_now
from .marker import MARKER_KEY, file_sha256, is_signed
from .objects import (
    MAX_TAGS,
    STATUS_TAG,
    Head,
    ObjectChanged,
    ObjectGone,
    ObjectTooLarge,
    S3Objects,
    Snapshot,
    Written,
    error_code,
    http_status,
    is_transient,
    normalise_version,
)
from .result import ObjectResult, Status
from .settings import TMP_SPACE_FACTOR, ScrubSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

TMP_SPACE_MARGIN = 16 * 1024 * 1024
TRIAL_TAG = "exif-scrub-trial"
"""Mode=trial: what a scrub would do (``would-scrub``, ``clean``, ``unsupported``, ``failed``). A key of its own:
``exif-scrub=clean`` is what read gating trusts, and a trial never earns it."""


class ObjectScrubber:
    """Scrubs one S3 object in place, or reports on it in REPORT_ONLY mode.

    ``process`` never raises: every outcome, including S3 and engine errors, is an :class:`ObjectResult`.
    """

    def __init__(self, s3_client: S3Client, scrubber: Scrubber, config: ScrubSettings) -> None:
        self.s3 = S3Objects(s3_client)
        self.scrubber = scrubber
        self.config = config
        self.marker = config.marker(scrubber.exiftool_version)
        self.evidence: EvidenceWriter | None = None
        if config.evidence_prefix and not config.report_only:
            provenance = Provenance(
                policy={"fingerprint": config.policy.fingerprint(), **dataclasses.asdict(config.policy)},
                engine=__version__,
                exiftool=scrubber.exiftool_version,
                marker=self.marker.base,
            )
            self.evidence = EvidenceWriter(s3_client, config.evidence_prefix, config.evidence_bucket, provenance)

    def process(self, bucket: str, key: str, etag: str | None = None, version_id: str | None = None) -> ObjectResult:
        """Process ``s3://bucket/key``, as of the event's ``etag``/``version_id`` when given."""
        started = time.perf_counter()
        version_id = normalise_version(version_id)
        result = ObjectResult(bucket=bucket, key=key, etag=etag, version_id=version_id, time=utc_now())
        try:
            self._process(result, etag, version_id)
        except ClientError as exc:
            code, status = error_code(exc), http_status(exc)
            result.status = Status.RETRY if is_transient(exc) else Status.FAILED
            result.reason = f"S3 {exc.operation_name} failed: {code or status} {_message(exc)}".strip()
        except (BotoCoreError, OSError) as exc:
            result.status, result.reason = Status.RETRY, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # fail closed: one object's surprise must not take the batch down
            log.exception("unexpected error processing s3://%s/%s", bucket, key)
            result.status, result.reason = Status.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        self._evidence(result)
        result.ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    def _evidence(self, result: ObjectResult) -> None:
        """Write the object's evidence record. A failure never undoes the scrub: it is a problem on the result,
        so the event source retries (and a retry that finds our marker writes the record then)."""
        if self.evidence is None or (result.status in NO_RECORD and not result.redelivered):
            return
        try:
            result.evidence_key = self.evidence.write(result, late=result.redelivered)
        except ClientError as exc:
            result.evidence_failed = True
            result.problems.append(f"evidence record not written: {error_code(exc)} {_message(exc)}".strip())
        except (BotoCoreError, OSError) as exc:
            result.evidence_failed = True
            result.problems.append(f"evidence record not written: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ steps

    def _process(self, result: ObjectResult, etag: str | None, version_id: str | None) -> None:
        excluded = self.config.excluded_because(result.key)
        if excluded:
            result.status, result.reason = Status.SKIPPED, excluded
            return
        # 1. loop guard: our own write-back ends here. A report names exactly the version asked for (an
        # inventory of all versions audits noncurrent ones too); a scrub only ever rewrites the current one.
        head = self.s3.head(result.bucket, result.key, version_id if self.config.report_only else None)
        if head is None:
            result.status, result.reason = Status.SKIPPED, "gone: no such key (deleted since the event)"
            return
        if self._ours_or_stale(result, head, etag, version_id) or not self._fits(result, head):
            return
        self._download_and_run(result, head)

    def _ours_or_stale(self, result: ObjectResult, head: Head, etag: str | None, version_id: str | None) -> bool:
        """True (with ``result`` saying why) when the current object is our own signed write or not the one
        the event names; a newer upload has its own event."""
        result.marker = head.marker
        trusted = self.config.trust_marker and self.marker.trusted(
            result.bucket, result.key, head.marker, head.size, head.checksum_sha256
        )
        current_version = normalise_version(head.version_id)
        if trusted and not self.config.report_only:
            result.status, result.reason = Status.SKIPPED, f"already scrubbed ({MARKER_KEY}={head.marker})"
            if (version_id and version_id != current_version) or (etag and etag != head.etag):
                result.redelivered = True  # the event names the version we replaced: ours is current now
                result.new_etag, result.new_version_id = head.etag, head.version_id
            else:
                result.etag, result.version_id = head.etag, head.version_id
            return True
        if head.marker is not None and not trusted:
            result.notes.append(f"{MARKER_KEY} marker present but {self._untrusted_because(head)}: checked anyway")
        if version_id and current_version != version_id:
            result.status = Status.SKIPPED
            result.reason = f"stale event: version {version_id} is no longer current ({head.version_id} is)"
            return True
        if etag and head.etag != etag:
            result.status = Status.SKIPPED
            result.reason = (
                f"stale event: ETag {etag} is no longer current ({head.etag} is); the newer upload has its own event"
            )
            return True
        result.etag, result.version_id, result.bytes_before = head.etag, version_id or current_version, head.size
        return False

    def _untrusted_because(self, head: Head) -> str:
        if not self.config.trust_marker:
            return "markers are not trusted here"
        if head.marker is None or not is_signed(head.marker):
            return "not signed by this scrubber"
        if head.checksum_sha256 is None:
            return "the object has no SHA-256 checksum for it to bind (written before markers bound one, or not by us)"
        return "not signed by this scrubber for these bytes"

    def _fits(self, result: ObjectResult, head: Head) -> bool:
        """False (failed, or retry when only the free space is short) when the object is over the size limit
        or the work directory cannot hold it and its output."""
        if head.size > self.config.max_object_bytes:
            self._fail(
                result,
                None,
                f"too large: {head.size} bytes > MAX_OBJECT_BYTES={self.config.max_object_bytes}",
                tag_version=result.version_id,
            )
            return False
        disk = shutil.disk_usage(self.config.work_dir)
        free, needed = disk.free, head.size * TMP_SPACE_FACTOR + TMP_SPACE_MARGIN
        if disk.total < needed:  # no retry can help: the function's /tmp is too small for this object
            self._fail(
                result,
                None,
                f"too large for {self.config.work_dir}: needs {needed} bytes, it has {disk.total} "
                "in all (raise the ephemeral storage or lower MAX_OBJECT_BYTES)",
                tag_version=result.version_id,
            )
            return False
        if free < needed:
            result.status = Status.RETRY
            result.reason = f"not enough space in {self.config.work_dir}: {free} bytes free, {needed} needed"
            return False
        return True

    def _download_and_run(self, result: ObjectResult, head: Head) -> None:
        """Read exactly the version checked into a private directory, then report on it or scrub it."""
        with tempfile.TemporaryDirectory(prefix="exif-scrub-object-", dir=self.config.work_dir) as tmp:
            original, clean = Path(tmp) / "original", Path(tmp) / "clean"  # never the key: our own names
            try:
                snapshot = self.s3.download(
                    result.bucket,
                    result.key,
                    original,
                    etag=head.etag,
                    version_id=result.version_id,
                    max_bytes=self.config.max_object_bytes,
                )
            except ObjectChanged:
                result.status, result.reason = Status.SKIPPED, "stale event: the object changed before we could read it"
                return
            except ObjectGone:
                result.status, result.reason = Status.SKIPPED, "gone: deleted before we could read it"
                return
            except ObjectTooLarge as exc:
                self._fail(result, None, f"too large: {exc}", tag_version=result.version_id)
                return
            result.etag, result.version_id, result.bytes_before = snapshot.etag, snapshot.version_id, snapshot.size
            if self.config.report_only:
                self._report(result, original)
            else:
                self._scrub(result, snapshot, original, clean)

    def _report(self, result: ObjectResult, original: Path) -> None:
        scan = self.scrubber.scan(original, copy=False)  # our own name: no second copy of a large object
        result.status, result.format = Status.REPORTED, scan.format
        if scan.unsupported:
            result.verdict = "unsupported"
        elif scan.error:
            result.verdict, result.reason = "error", scan.error
        elif scan.leftovers:
            result.verdict, result.leftovers = "dirty", scan.leftovers
        else:
            result.verdict = "clean"

    def _scrub(self, result: ObjectResult, snapshot: Snapshot, original: Path, clean: Path) -> None:
        report = self.scrubber.scrub_file(original, clean, display_name=result.key, owned=True)  # our download
        result.format, result.removed = report.format, dict(report.removed)
        result.notes += report.notes  # what the engine kept or dropped on the way (a motion photo's movie ...)
        if report.verification is not None:
            result.image_hash_before = report.verification.image_hash_before
            result.image_hash_after = report.verification.image_hash_after
        if self.config.trial:
            self._trial(result, snapshot, report.outcome, report.verified and clean.is_file(), report.reason)
        elif report.outcome is Outcome.UNSUPPORTED:
            result.status, result.reason = Status.UNSUPPORTED, report.reason
            self._tag(result, snapshot.version_id, "unsupported")
        elif report.outcome is Outcome.ALREADY_CLEAN:
            result.status, result.reason = Status.ALREADY_CLEAN, "nothing to remove; not rewritten"
            self._mark_clean(result, snapshot, original)
        elif report.outcome is Outcome.CLEANED and report.verified and clean.is_file():
            self._write(result, snapshot, clean)
        else:
            self._fail(
                result,
                snapshot,
                report.reason or "the engine produced no verified output",
                tag_version=snapshot.version_id,
            )

    def _trial(
        self, result: ObjectResult, snapshot: Snapshot, outcome: Outcome, verified: bool, reason: str | None
    ) -> None:
        """Mode=trial: the outcome a scrub would have had, with nothing written back. A verified clean copy is the
        verdict ``dirty`` (tag ``would-scrub``); unsupported and failed objects keep their statuses (and so their
        metrics and alarms) but are only tagged."""
        if outcome is Outcome.UNSUPPORTED:
            result.status, result.verdict, result.reason = Status.UNSUPPORTED, "unsupported", reason
            value = "unsupported"
        elif outcome is Outcome.ALREADY_CLEAN:
            result.status, result.verdict, value = Status.REPORTED, "clean", "clean"
        elif outcome is Outcome.CLEANED and verified:
            result.status, result.verdict, value = Status.REPORTED, "dirty", "would-scrub"
        else:
            result.status, result.verdict, value = Status.FAILED, "error", "failed"
            result.reason = reason or "the engine produced no verified output"
        result.notes.append(f"trial: {TRIAL_TAG}={value}; nothing written back")
        self._tag(result, snapshot.version_id, value, key=TRIAL_TAG)

    def _mark_clean(self, result: ObjectResult, snapshot: Snapshot, original: Path) -> None:
        """Tag an already-clean object ``exif-scrub=clean`` (what a read-gating bucket policy lets through).

        A version is tagged exactly. Without versions a tag request has no condition and could land on a newer,
        dirty upload, so the same bytes are written back with the tag under ``If-Match`` instead.
        """
        if self.config.report_only:
            return
        if snapshot.versioned:
            self._tag(result, snapshot.version_id, "clean")
            return
        written = self._put_clean(result, snapshot, original)
        if written is not None:
            result.status, result.reason = Status.ALREADY_CLEAN, "nothing to remove; same bytes written back tagged"
            result.new_etag, result.new_version_id = written.etag, written.version_id

    def _put_clean(self, result: ObjectResult, snapshot: Snapshot, clean: Path) -> Written | None:
        """Conditionally write ``clean`` over the version read, tagged ``exif-scrub=clean`` with the marker.

        Returns None when nothing was written (``result`` says why: conflict or failure)."""
        bucket, key = result.bucket, result.key
        tags = self.s3.tags(bucket, key, snapshot.version_id) if snapshot.tag_count else {}
        tags[STATUS_TAG] = "clean"
        if len(tags) > MAX_TAGS:  # S3's limit: keep the owner's tags, write the clean bytes, say so loudly
            del tags[STATUS_TAG]
            result.problems.append(
                f"not tagged {STATUS_TAG}=clean: the object already has {MAX_TAGS} tags (S3's limit); a read-gating "
                "bucket policy keeps it unreadable"
            )
        size = clean.stat().st_size
        checksum = file_sha256(clean) if self.marker.secret else None  # what a signed marker binds (marker.py)
        marker = self.marker.value(bucket, key, size, checksum)
        metadata = {**snapshot.attributes.metadata, MARKER_KEY: marker}
        try:
            return self.s3.put(
                bucket,
                key,
                clean,
                attributes=snapshot.attributes,
                metadata=metadata,
                tags=tags,
                if_match=snapshot.etag,
                checksum_sha256=checksum,
            )
        except ObjectChanged:
            result.status = Status.CONFLICT
            result.reason = "a newer upload replaced the object after we read it; kept theirs, discarded ours"
        except ObjectGone:
            result.status = Status.CONFLICT
            result.reason = "the object was deleted after we read it; not recreated"
        except ClientError as exc:
            if is_transient(exc):
                raise
            self._fail(
                result,
                snapshot,
                f"S3 refused the clean object: {error_code(exc)} {_message(exc)}".strip(),
                tag_version=snapshot.version_id,
            )
        return None

    def _write(self, result: ObjectResult, snapshot: Snapshot, clean: Path) -> None:
        bucket, key = result.bucket, result.key
        written = self._put_clean(result, snapshot, clean)
        if written is None:
            return
        result.status = Status.SCRUBBED
        result.new_etag, result.new_version_id = written.etag, written.version_id
        result.bytes_after = clean.stat().st_size
        if (
            self.config.delete_original_version
            and snapshot.versioned
            and written.version_id
            and written.version_id != snapshot.version_id
        ):
            assert snapshot.version_id is not None
            try:
                self.s3.delete_version(bucket, key, snapshot.version_id)
                result.deleted_version_id = snapshot.version_id
            except (ClientError, BotoCoreError) as exc:
                result.problems.append(f"could not delete the original version {snapshot.version_id}: {exc}")

    def _fail(self, result: ObjectResult, snapshot: Snapshot | None, reason: str, *, tag_version: str | None) -> None:
        """Leave the object untouched and say so: tag it ``exif-scrub=failed`` or quarantine it."""
        result.status, result.reason = Status.FAILED, reason
        if self.config.report_only:
            return
        if self.config.trial:
            result.verdict = "error"
            result.notes.append(f"trial: {TRIAL_TAG}=failed; nothing written back")
            self._tag(result, tag_version, "failed", key=TRIAL_TAG)
            return
        if self.config.on_failure == "quarantine" and snapshot is not None and self._quarantine(result, snapshot):
            return
        self._tag(result, tag_version, "failed")

    def _tag(self, result: ObjectResult, version_id: str | None, value: str, *, key: str = STATUS_TAG) -> None:
        if self.config.report_only:
            return
        try:
            self.s3.add_tag(result.bucket, result.key, version_id, key, value)
        except (ClientError, BotoCoreError, ValueError) as exc:
            result.problems.append(f"could not tag {key}={value}: {exc}")

    def _quarantine(self, result: ObjectResult, snapshot: Snapshot) -> bool:
        """Copy exactly the version read to the private quarantine prefix, then remove the original.

        Returns False (and records why) when nothing holds a copy and the version read is still there: the
        caller then tags it instead. True once it is quarantined, or when a newer upload replaced it first
        (``conflict``: there is nothing left to quarantine, and the newer upload is not ours to tag).
        """
        bucket, key = result.bucket, result.key
        dest = self._copy_to_quarantine(result, snapshot)
        if dest is None:
            return result.status is Status.CONFLICT
        result.status, result.quarantine_key = Status.QUARANTINED, dest
        try:
            if self.config.delete_original_version and snapshot.versioned:
                assert snapshot.version_id is not None
                self.s3.delete_version(bucket, key, snapshot.version_id)
                result.deleted_version_id = snapshot.version_id
            else:
                self.s3.delete_if_match(bucket, key, snapshot.etag)
        except ObjectChanged:
            result.notes.append(
                "a newer upload replaced the object meanwhile; kept it (the quarantined copy is the old one)"
            )
        except ObjectGone:
            result.notes.append("the original was already deleted")
        except (ClientError, BotoCoreError) as exc:
            result.problems.append(f"quarantined to {dest} but could not remove the original: {exc}")
            self._tag(result, snapshot.version_id, "failed")
        return True

    def _copy_to_quarantine(self, result: ObjectResult, snapshot: Snapshot) -> str | None:
        """The quarantine key that now holds the version read, or None (``result`` says why).

        The copy is conditional on both ends, and S3 answers 412 for either: ``x-amz-copy-source-if-match`` when
        the source is no longer the version read, ``If-None-Match: *`` when the destination exists. A HEAD of
        each tells them apart. A taken name is never replaced: the next try is a name unique to the version read
        (``<key>.<etag>``), and that name holding an object of the same size is an earlier attempt's copy.
        """
        base = f"{self.config.quarantine_prefix}{result.key}"
        for dest in (base, f"{base}.{snapshot.etag}"):
            try:
                self.s3.copy_private(result.bucket, result.key, dest, snapshot, {STATUS_TAG: "failed"})
                return dest
            except (ObjectChanged, ObjectGone):
                pass
            except (ClientError, BotoCoreError) as exc:
                result.problems.append(f"quarantine copy to {dest} failed: {exc}")
                return None
            if not self._still_the_version_read(result, snapshot):
                return None
            held = self.s3.head(result.bucket, dest)
            if held is None:
                result.problems.append(
                    f"quarantine copy to {dest} refused (412), yet the source is unchanged and {dest} does not exist"
                )
                return None
            if dest != base and held.size == snapshot.size:
                result.notes.append(f"{dest} already holds this quarantined version")
                return dest
        result.problems.append(f"quarantine: {base} and {base}.{snapshot.etag} both hold other objects")
        return None

    def _still_the_version_read(self, result: ObjectResult, snapshot: Snapshot) -> bool:
        """True when the object (or exactly the version read) is still there with the ETag read; otherwise the
        result becomes a ``conflict``: a newer upload or a delete got there first, and nothing is quarantined."""
        current = self.s3.head(result.bucket, result.key, snapshot.version_id)
        if current is not None and current.etag == snapshot.etag:
            return True
        failure = result.reason
        result.status = Status.CONFLICT
        result.reason = (
            "a newer upload replaced the object before it could be quarantined; kept theirs, quarantined nothing"
            if current is not None
            else "the object was deleted before it could be quarantined; quarantined nothing"
        )
        result.notes.append(f"the version read had failed: {failure}")
        return False


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
