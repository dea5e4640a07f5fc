"""Reading only the bytes an audit needs, as the format's own walker decides.

The engine's walker for the object's format runs over the object read lazily with ranged GETs: it reads the
structure it parses (headers, tables, kept items) and never the payload of image data. Every byte it labels as
anything but image data is then fetched into a sparse temp file as long as the object, at its own offset, and
the engine scans that copy exactly as it scans a whole file, minus the checks that read image data (CRCs,
decompression): the same byte check, the same ExifTool reading.

Formats whose walker must read the image data to find the structure (JPEG: markers are found by scanning the
entropy-coded data; GIF: sub-block sizes are interleaved with it) are read whole, as are small objects (one GET
costs less than a walk) and walks that need more than :data:`MAX_WALK_REQUESTS` GETs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from exif_scrubber.bytemodel import ByteModel, Kind, merge_ranges
from exif_scrubber.errors import StructureError
from exif_scrubber.formats import HEAD_BYTES, FormatHandler, sniff
from exif_scrubber.formats.base import Refusal
from exif_scrubber.outcomes import unsupported_reason
from exif_scrubber.policy import ScrubPolicy
from exif_scrubber.provenance.carriers import CarrierError, find

FIRST_READ = 32 * 1024
"""Bytes of the first ranged GET (the structure of most files starts within it)."""
SMALL_OBJECT = 256 * 1024
"""Objects smaller than this are read whole: one GET costs less than a walk."""
MAX_WALK_REQUESTS = 8
"""GETs the walk may use; a walk that needs more reads the whole object."""
WALK_FETCH = 16 * 1024
"""Minimum size of a GET during the walk (a box or an IFD and its values usually come in one)."""
MIN_SKIP = 64 * 1024
"""Image data shorter than this is read rather than skipped (a GET costs more than the bytes)."""
MAX_SKIPS = 6
"""At most this many (the largest) runs of image data are skipped: at most MAX_SKIPS + 1 more GETs."""


class ObjectSource(Protocol):
    """Random access to one stored object (an S3 object version or a local file)."""

    size: int

    def read(self, start: int, end: int) -> bytes:
        """The bytes ``[start, end)`` of the object."""
        ...


class Fallback(Exception):
    """The walk cannot be done cheaply: read the whole object."""


@dataclass
class FetchResult:
    """What was fetched into the local copy."""

    path: Path
    handler: FormatHandler | None
    bytes_read: int
    ranged: bool
    """True when the copy is sparse (some bytes of image data were never read)."""
    requests: int
    note: str = ""
    unsupported: str | None = None
    """Why the object is not an image the engine handles (``handler`` is then None)."""


@dataclass
class SparseCopy:
    """A local file as long as the object, holding the ranges fetched so far at their offsets."""

    source: ObjectSource
    handle: BinaryIO
    fetched: list[tuple[int, int]] = field(default_factory=list)
    bytes_read: int = 0
    requests: int = 0
    budget: int | None = None
    """The walk's limit on requests (None: no limit)."""

    @property
    def size(self) -> int:
        return self.source.size

    def missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """The sub-ranges of ``[start, end)`` not fetched yet."""
        gaps, pos = [], start
        for s, e in self.fetched:
            if e <= pos:
                continue
            if s >= end:
                break
            if s > pos:
                gaps.append((pos, s))
            pos = max(pos, e)
        if pos < end:
            gaps.append((pos, end))
        return gaps

    def ensure(self, start: int, end: int, *, min_fetch: int = 0) -> None:
        """Fetch whatever of ``[start, end)`` is missing, in requests of at least ``min_fetch`` bytes."""
        start, end = max(0, start), min(self.size, end)
        for gap_start, gap_end in self.missing(start, end):
            gap_end = min(self.size, max(gap_end, gap_start + min_fetch))
            for s, e in self.missing(gap_start, gap_end):
                self._fetch(s, e)

    def ensure_span(self, start: int, end: int) -> None:
        """Fetch what is missing of ``[start, end)`` in one GET, from its first missing byte to its last."""
        gaps = self.missing(max(0, start), min(self.size, end))
        if gaps:
            self._fetch(gaps[0][0], gaps[-1][1])

    def _fetch(self, start: int, end: int) -> None:
        if self.budget is not None and self.requests >= self.budget:
            raise Fallback("the structure walk needs too many requests")
        data = self.source.read(start, end)
        if len(data) != end - start:
            raise OSError(f"short read: asked for {end - start} bytes at {start}, got {len(data)}")
        self.requests += 1
        self.bytes_read += len(data)
        self.handle.seek(start)
        self.handle.write(data)
        self.fetched = merge_ranges([*self.fetched, (start, end)])

    def read(self, start: int, end: int, *, min_fetch: int = 0) -> bytes:
        """The bytes ``[start, end)``, fetched first if needed."""
        self.ensure(start, end, min_fetch=min_fetch)
        end = min(self.size, end)
        self.handle.seek(start)
        return self.handle.read(max(0, end - start))

    def complete(self) -> bool:
        return not self.missing(0, self.size)


class LazyBuffer:
    """The object as the walkers see it (length, indexing, slicing), fetched on demand through a
    :class:`SparseCopy` in GETs of at least :data:`WALK_FETCH` bytes."""

    def __init__(self, copy: SparseCopy) -> None:
        self.copy = copy

    def __len__(self) -> int:
        return self.copy.size

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, int):
            return self.copy.read(key, key + 1, min_fetch=WALK_FETCH)[0]
        start, stop, _ = key.indices(self.copy.size)
        return self.copy.read(start, stop, min_fetch=WALK_FETCH) if stop > start else b""


def fetch(source: ObjectSource, path: Path, *, ranged: bool = True) -> FetchResult:
    """Copy what the audit of ``source`` needs into ``path`` (a name of our own), a sparse file of its size.

    ``ranged=False`` reads the whole object.
    """
    with path.open("w+b") as handle:
        handle.truncate(source.size)
        copy = SparseCopy(source, handle)
        copy.ensure(0, source.size if not ranged else FIRST_READ)
        head = copy.read(0, HEAD_BYTES)
        unsupported = unsupported_reason(head)
        handler = None if unsupported else sniff(head)
        note = ""
        if handler is not None and not copy.complete():  # (anything else: the head is enough to say so)
            note = _ranged(copy, handler)
            _fill(copy, handler.sparse_fill)
        handle.flush()  # in the page cache, which ExifTool reads: no fsync (8 ms a file on ext4)
    return FetchResult(path, handler, copy.bytes_read, not copy.complete(), copy.requests, note, unsupported)


def _ranged(copy: SparseCopy, handler: FormatHandler) -> str:
    """Walk lazily, then fetch everything but the image data; read whole when that is not possible."""
    if copy.size < SMALL_OBJECT:
        copy.ensure_span(0, copy.size)
        return "small object: one GET"
    if not handler.ranged_audit:
        copy.ensure_span(0, copy.size)
        return f"read whole: the {handler.name} structure lies inside its image data"
    copy.budget = copy.requests + MAX_WALK_REQUESTS
    try:
        model = handler.walk(LazyBuffer(copy), ScrubPolicy(), verify=False)  # type: ignore[arg-type]
    except (Fallback, StructureError, Refusal, ValueError, IndexError) as exc:
        copy.budget = None
        copy.ensure(0, copy.size)
        return f"read whole: {exc}"
    copy.budget = None
    if _carries_a_manifest(handler, copy, model):
        copy.ensure(0, copy.size)
        return "read whole: a C2PA manifest is validated against every byte it binds"
    _read_all_but(copy, model.ranges_of([Kind.IMAGE]))
    return ""


def _carries_a_manifest(handler: FormatHandler, copy: SparseCopy, model: ByteModel) -> bool:
    try:
        return find(handler.name, LazyBuffer(copy), model) is not None
    except CarrierError:
        return False


FILL_STEP = 1024 * 1024


def _fill(copy: SparseCopy, budget: int) -> None:
    """Write 0xFF over the first ``budget`` bytes of what was not fetched (:attr:`FormatHandler.sparse_fill`)."""
    for start, end in copy.missing(0, copy.size):
        if budget <= 0:
            return
        end = min(end, start + budget)
        budget -= end - start
        copy.handle.seek(start)
        for pos in range(start, end, FILL_STEP):
            copy.handle.write(b"\xff" * min(FILL_STEP, end - pos))


def _read_all_but(copy: SparseCopy, image_data: list[tuple[int, int]]) -> None:
    """Fetch every byte of the object except the largest runs of image data.

    At most :data:`MAX_SKIPS` runs of at least :data:`MIN_SKIP` bytes are skipped, so the rest takes at most
    ``MAX_SKIPS + 1`` GETs (smaller runs are read along with their neighbours).
    """
    runs = sorted((r for r in image_data if r[1] - r[0] >= MIN_SKIP), key=lambda r: r[0] - r[1])[:MAX_SKIPS]
    pos = 0
    for start, end in sorted(runs):
        copy.ensure_span(pos, start)
        pos = end
    copy.ensure_span(pos, copy.size)


class LocalFile:
    """An :class:`ObjectSource` over a local file (read with ``pread``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def read(self, start: int, end: int) -> bytes:
        return os.pread(self._fd, end - start, start)

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
