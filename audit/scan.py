"""Auditing objects: fetch what is needed, run the engine's leftover scan, bounded concurrency."""

from __future__ import annotations

import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exif_scrubber import Scrubber
from exif_scrubber.formats import HANDLERS
from exif_scrubber.outcomes import EMPTY, is_access_error
from exif_scrubber.s3.marker import MARKER_KEY
from exif_scrubber.s3.objects import ObjectChanged

from .fetch import FIRST_READ, SMALL_OBJECT, LocalFile, fetch
from .listing import ObjectRef, describe_client_error
from .report import ObjectResult, Status

WHOLE_READ_SUFFIXES = frozenset(s for handler in HANDLERS if not handler.ranged_audit for s in handler.file_suffixes)
"""Object names whose format is usually one the audit reads whole (JPEG, GIF): a hint for the first GET only."""


def _first_read(ref: ObjectRef) -> int:
    """How much the first GET asks for: the whole object when it is small or will most likely be read whole anyway
    (one GET, not two), else the head (the walk decides what else to read). The name is only a hint: the format
    is still recognised by its magic bytes, and a wrong hint costs bytes, never correctness."""
    if ref.size <= SMALL_OBJECT or Path(ref.key).suffix.lower() in WHOLE_READ_SUFFIXES:
        return ref.size
    return FIRST_READ


class AccessError(Exception):
    """S3 refused or failed a read (not a property of the image): the run ends with exit code 2."""


class S3Object:
    """An :class:`~audit.fetch.ObjectSource` over one S3 object version, read with ranged GETs.

    The first GET (a range of the head) learns the size, ETag, version and user metadata; every
    later GET is conditional on that ETag (``IfMatch``) so all ranges come from the same bytes.
    """

    def __init__(self, client: Any, ref: ObjectRef, first_bytes: int = FIRST_READ) -> None:
        self.client, self.ref = client, ref
        args = self._args()
        if ref.size > first_bytes:
            args["Range"] = f"bytes=0-{first_bytes - 1}"
        response = self._get(args)
        self.head: bytes = response["Body"].read()
        self.etag: str = response.get("ETag", "")
        self.version_id: str | None = response.get("VersionId") or ref.version_id
        self.metadata: dict[str, str] = response.get("Metadata", {}) or {}
        content_range = response.get("ContentRange")
        self.size = int(content_range.rpartition("/")[2]) if content_range else len(self.head)

    def read(self, start: int, end: int) -> bytes:
        if end <= len(self.head):
            return self.head[start:end]
        args = {**self._args(), "Range": f"bytes={start}-{end - 1}"}
        if self.etag:
            args["IfMatch"] = self.etag
        body: bytes = self._get(args)["Body"].read()
        return body

    def _args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.ref.bucket, "Key": self.ref.key}
        if self.ref.version_id:
            args["VersionId"] = self.ref.version_id
        return args

    def _get(self, args: dict[str, Any]) -> Any:
        try:
            return self.client.get_object(**args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "PreconditionFailed":
                raise ObjectChanged("the object changed while it was being read") from None
            raise AccessError(f"GET {self.ref.uri}: {describe_client_error(exc)}") from None
        except BotoCoreError as exc:
            raise AccessError(f"GET {self.ref.uri}: {exc}") from None


class Auditor:
    """Audits objects with a shared :class:`~exif_scrubber.Scrubber` (warm ExifTool pool).

    :meth:`audit_all` counts what it took from the listing (``listed``) and handed back (``done``), so that a run
    that stops early can say how many objects it did not scan.
    """

    def __init__(
        self, scrubber: Scrubber, *, client: Any | None = None, ranged: bool = True, work_dir: Path | None = None
    ) -> None:
        self.scrubber, self.client, self.ranged = scrubber, client, ranged
        self._tmp = tempfile.TemporaryDirectory(prefix="exif-audit-", dir=work_dir)
        self._counter = 0
        self._lock = threading.Lock()
        self._pools: list[ThreadPoolExecutor] = []
        self.listed = 0
        """Objects taken from the listing by :meth:`audit_all`."""
        self.done = 0
        """Objects whose result :meth:`audit_all` handed back."""
        self.listing_exhausted = False

    def close(self) -> None:
        """Wait for audits still running (a run stopped early leaves them), then delete the temp copies."""
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self._tmp.cleanup()

    def __enter__(self) -> Auditor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _temp_path(self) -> Path:
        """A fresh name of our own (``object-N``): object keys never become file names."""
        with self._lock:
            self._counter += 1
            return Path(self._tmp.name) / f"object-{self._counter}"

    def audit(self, ref: ObjectRef) -> ObjectResult:
        """Audit one object; raises :class:`AccessError` when S3 refuses the read."""
        if ref.skip is not None or ref.unreadable is not None:
            return _listed(ref)
        if ref.size == 0:  # S3 object or local file alike: nothing to scan
            return ObjectResult(
                ref.key, ref.version_id, 0, Status.UNSUPPORTED, bucket=ref.bucket, is_latest=ref.is_latest,
                error=EMPTY,
            )  # fmt: skip
        if ref.bucket:
            if self.client is None:
                raise AccessError("no S3 client")
            for attempt in (1, 2):
                try:
                    return self._audit_s3(ref)
                except ObjectChanged:
                    if attempt == 2:
                        return _unreadable(ref, "the object kept changing while read")
        try:
            with LocalFile(Path(ref.key)) as source:
                return self._scan(ref, source, None, None)
        except OSError as exc:
            return _unreadable(ref, f"I/O error: {exc.strerror or exc}", access_error=is_access_error(exc))
        raise AssertionError("unreachable")

    def _audit_s3(self, ref: ObjectRef) -> ObjectResult:
        source = S3Object(self.client, ref, first_bytes=_first_read(ref))
        result = self._scan(ref, source, source.version_id, source.metadata.get(MARKER_KEY))
        result.etag = source.etag.strip('"') or None
        return result

    def _scan(self, ref: ObjectRef, source: Any, version_id: str | None, marker: str | None) -> ObjectResult:
        path = self._temp_path()
        try:
            fetched = fetch(source, path, ranged=self.ranged)
            result = ObjectResult(
                ref.key,
                version_id,
                source.size,
                Status.CLEAN,
                bucket=ref.bucket,
                marker=marker,
                is_latest=ref.is_latest,
                bytes_read=fetched.bytes_read,
                ranged=fetched.ranged,
            )
            if fetched.handler is None:
                result.status, result.error = Status.UNSUPPORTED, fetched.unsupported
                return result
            # The format's own extension, as the engine names its copies: ExifTool sees the same names here.
            named = path.with_name(f"{path.name}.{fetched.handler.extension}")
            path = path.rename(named)
            scan = self.scrubber.scan(path, complete=not fetched.ranged, copy=False)
            result.format, result.leftovers, result.error = scan.format, scan.leftovers, scan.error
            result.noncanonical = scan.noncanonical
            result.c2pa = scan.provenance
            if scan.error:
                result.status = Status.UNREADABLE
            elif scan.unsupported:
                result.status, result.error = Status.UNSUPPORTED, scan.reason
            elif scan.leftovers:
                result.status = Status.LEAKING
            return result
        finally:
            path.unlink(missing_ok=True)

    def audit_safely(self, ref: ObjectRef) -> ObjectResult:
        """:meth:`audit`, never raising: a refused read is a row of the report, and so is a crash while one
        object is scanned (a bug, a recursion or memory error in a walker, ExifTool dying): that object is
        ``unreadable``, which fails the audit, and the other objects are still scanned."""
        try:
            return self.audit(ref)
        except AccessError as exc:
            return _unreadable(ref, str(exc), access_error=True)
        except Exception as exc:  # one object's crash must not end (or falsify) the audit of the others
            return _unreadable(ref, f"unexpected error ({type(exc).__name__})")  # exif-scrub's words for it

    def audit_all(
        self, refs: Iterable[ObjectRef], max_workers: int, *, stop: Callable[[], bool] = lambda: False
    ) -> Iterator[ObjectResult]:
        """Audit ``refs`` with at most ``max_workers`` reads in flight; results in listing order.

        The listing is consumed only as fast as objects are audited (never held whole in memory). When ``stop()``
        turns true the generator returns at once, leaving unstarted objects unstarted (objects being scanned
        finish in the background; :meth:`close` waits for them).
        """
        window: deque[Future[ObjectResult]] = deque()
        pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="exif-audit")
        self._pools.append(pool)
        try:
            for ref in refs:
                self.listed += 1
                if stop():  # nothing starts after a stop (this one counts as listed, not scanned)
                    return
                window.append(pool.submit(self.audit_safely, ref))
                while len(window) >= max_workers * 2 or (window and window[0].done()):
                    result = _next(window, stop)
                    if result is None:
                        return
                    self.done += 1
                    yield result
            self.listing_exhausted = True
            while window:
                result = _next(window, stop)
                if result is None:
                    return
                self.done += 1
                yield result
        finally:
            for future in window:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)


def _next(window: deque[Future[ObjectResult]], stop: Callable[[], bool]) -> ObjectResult | None:
    """The oldest result, waited for in short steps so that ``stop()`` is seen at once (None: stopped)."""
    while True:
        try:
            result = window[0].result(timeout=STOP_POLL)
        except TimeoutError:
            if stop():
                return None
            continue
        window.popleft()
        return result


STOP_POLL = 0.1
"""Seconds between two looks at the stop flag while waiting for an object."""


def _listed(ref: ObjectRef) -> ObjectResult:
    """The row of something the listing found but does not audit: a skipped link or special file, or what it
    could not read."""
    if ref.skip is not None:
        return ObjectResult(ref.key, None, 0, Status.SKIPPED, error=ref.skip)
    return _unreadable(ref, ref.unreadable or "cannot be read", access_error=ref.access_error)


def _unreadable(ref: ObjectRef, error: str, *, access_error: bool = False) -> ObjectResult:
    """The report row of an object that could not be read (``access_error``: refused, which fails the run)."""
    return ObjectResult(
        ref.key, ref.version_id, ref.size, Status.UNREADABLE, bucket=ref.bucket, is_latest=ref.is_latest,
        error=error, access_error=access_error,
    )  # fmt: skip
