"""Reading only the bytes an audit needs: offset-preserving sparse copies of objects.

A ranged read writes each fetched byte range at its own offset in a temp file as long as the
object; the bytes never fetched read as zeros. Every offset in the copy is the object's own, so
ExifTool and the engine's structure walkers follow the same pointers (MPF, ``iloc``, trailers
found from the end of the file) as in the whole object, and the copy is scanned with the
engine's full scan (``complete=True``). A plan is used only while the container structure
proves that no metadata lies in the skipped bytes; anything unusual falls back to reading the
whole object:

* JPEG: the segments up to the first SOS, plus a tail window that must end in the primary
  image's EOI with nothing (but zero padding) after it. MPF files, GContainer files (images
  appended after EOI), trailers, junk between segments and APPn segments between scans are read
  whole.
* HEIF/AVIF: every top-level box but ``mdat`` (whose header is kept), and the payload of every
  item that is not coded image data (Exif, XMP, IPTC, thumbnails ...), located through ``iloc``,
  wherever it sits (Exif at the end of the file included). Sequences (``moov``) are read whole.
* PNG, WebP, GIF, TIFF: metadata can follow the image data anywhere: read whole.
* Anything else is not an image format we support: the first bytes are enough to say so.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from exif_scrubber.formats import HEAD_BYTES, FormatHandler, sniff
from exif_scrubber.formats.heif_items import HeifStructureError, read_layout
from exif_scrubber.formats.jpeg import JpegStructureError, walk_segments

FIRST_READ = 32 * 1024
"""Bytes of the first ranged GET (the metadata of most JPEGs ends before this)."""
TAIL_WINDOWS = (16 * 1024, 256 * 1024)
"""Tail windows tried, in order, to find the EOI of a JPEG."""
MAX_HEAD = 16 * 1024 * 1024
"""Metadata segments or boxes running past this are read with the whole object."""
MAX_SPARSE_CHECK = 512 * 1024 * 1024
"""Above this size, the JPEG tail check (which holds the copy in memory) is replaced by a full read."""
CODED_IMAGE_ITEMS = frozenset({"hvc1", "hvt1", "av01", "avc1", "unci", "j2k1", "vvc1"})
"""HEIF item types whose payload is coded image data (never metadata)."""


class ObjectSource(Protocol):
    """Random access to one stored object (an S3 object version or a local file)."""

    size: int

    def read(self, start: int, end: int) -> bytes:
        """The bytes ``[start, end)`` of the object."""
        ...


class Fallback(Exception):
    """The structure does not prove that a ranged read is enough: read the whole object."""


@dataclass
class FetchResult:
    """What was fetched into the local copy."""

    path: Path
    handler: FormatHandler | None
    bytes_read: int
    ranged: bool
    """True when the copy is sparse (some bytes of the object were never read)."""
    requests: int
    note: str = ""


@dataclass
class SparseCopy:
    """A local file as long as the object, holding the ranges fetched so far at their offsets."""

    source: ObjectSource
    handle: BinaryIO
    fetched: list[tuple[int, int]] = field(default_factory=list)
    bytes_read: int = 0
    requests: int = 0

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
                data = self.source.read(s, e)
                if len(data) != e - s:
                    raise OSError(f"short read: asked for {e - s} bytes at {s}, got {len(data)}")
                self.requests += 1
                self.bytes_read += len(data)
                self.handle.seek(s)
                self.handle.write(data)
                self._add(s, e)

    def read(self, start: int, end: int, *, min_fetch: int = 0) -> bytes:
        """The bytes ``[start, end)``, fetched first if needed."""
        self.ensure(start, end, min_fetch=min_fetch)
        end = min(self.size, end)
        self.handle.seek(start)
        return self.handle.read(max(0, end - start))

    def complete(self) -> bool:
        return not self.missing(0, self.size)

    def contents(self) -> bytes:
        """The whole copy (zeros where nothing was fetched)."""
        self.handle.flush()
        self.handle.seek(0)
        return self.handle.read()

    def _add(self, start: int, end: int) -> None:
        merged: list[tuple[int, int]] = []
        for s, e in sorted([*self.fetched, (start, end)]):
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        self.fetched = merged


def fetch(source: ObjectSource, path: Path, *, ranged: bool = True) -> FetchResult:
    """Copy what the audit of ``source`` needs into ``path`` (a name of our own).

    ``ranged=False`` reads the whole object. The copy is a sparse file of the object's size.
    """
    with path.open("w+b") as handle:
        handle.truncate(source.size)
        copy = SparseCopy(source, handle)
        first = source.size if not ranged else FIRST_READ
        copy.ensure(0, min(first, source.size))
        handler = sniff(copy.read(0, HEAD_BYTES))
        note = ""
        if handler is None:
            return FetchResult(path, None, copy.bytes_read, not copy.complete(), copy.requests)
        plan = _PLANS.get(handler.name)
        if plan is not None and not copy.complete():
            try:
                plan(copy)
            except (Fallback, JpegStructureError, HeifStructureError, ValueError, IndexError, struct.error) as exc:
                note = f"read whole: {exc}"
                copy.ensure(0, copy.size, min_fetch=copy.size)
        else:
            copy.ensure(0, copy.size, min_fetch=copy.size)
        handle.flush()
        os.fsync(handle.fileno())
    return FetchResult(path, handler, copy.bytes_read, not copy.complete(), copy.requests, note)


# ---------------------------------------------------------------------- JPEG


def _plan_jpeg(copy: SparseCopy) -> None:
    """Head up to the end of the first SOS header, then a tail window that ends the primary image."""
    segments = _jpeg_head(copy)
    head_end = copy.fetched[0][1]
    if copy.size > MAX_SPARSE_CHECK:
        raise Fallback("object too large for the JPEG tail check")
    for window in TAIL_WINDOWS:
        if copy.size - window <= head_end:
            break
        copy.ensure(copy.size - window, copy.size)
        junk: list[tuple[int, int]] = []
        data = copy.contents()
        try:
            found, end = walk_segments(data, junk)
        except JpegStructureError:
            continue
        if junk or len(found) != segments or end <= copy.size - window:
            continue
        if data[end:].strip(b"\0"):
            raise Fallback("data after the JPEG EOI (trailer)")
        return
    copy.ensure(0, copy.size, min_fetch=copy.size)


def _jpeg_head(copy: SparseCopy) -> int:
    """Walk (and fetch) the segments before the first SOS; return how many are APPn or COM."""
    pos, count, grow = 2, 0, FIRST_READ
    while True:
        if pos > MAX_HEAD:
            raise Fallback("metadata segments run past the head limit")
        if copy.missing(pos, min(copy.size, pos + 4)):
            grow *= 2
        head = copy.read(pos, pos + 4, min_fetch=grow)
        if len(head) < 4:
            raise Fallback("no SOS marker")
        if head[0] != 0xFF:
            raise Fallback("bytes between JPEG segments")
        marker = head[1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0xD9):
            raise Fallback("SOI/EOI before the first SOS")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = int.from_bytes(head[2:4], "big")
        if length < 2:
            raise Fallback("bad segment length")
        if copy.missing(pos, pos + 2 + length):
            grow = max(grow * 2, length)
        body = copy.read(pos + 4, pos + 2 + length, min_fetch=grow)
        if marker == 0xE2 and body.startswith(b"MPF\0"):
            raise Fallback("MPF secondary images")
        if marker == 0xE1 and (b"GContainer" in body or b"Container:Directory" in body):
            raise Fallback("GContainer items after EOI")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            count += 1
        pos += 2 + length
        if marker == 0xDA:
            return count


# ---------------------------------------------------------------------- HEIF / AVIF


def _plan_heif(copy: SparseCopy) -> None:
    """Every top-level box but the image data, then every item payload that is not coded image data."""
    pos, grow = 0, FIRST_READ
    while pos < copy.size:
        header = copy.read(pos, pos + 16, min_fetch=grow)
        if len(header) < 8:
            raise Fallback("truncated box header")
        size, kind = struct.unpack_from(">I4s", header)
        header_len = 8
        if size == 1:
            if len(header) < 16:
                raise Fallback("truncated 64-bit box header")
            (size,) = struct.unpack_from(">Q", header, 8)
            header_len = 16
        elif size == 0:
            size = copy.size - pos
        if size < header_len or pos + size > copy.size:
            raise Fallback(f"box {kind!r} overruns the file")
        if kind == b"moov":
            raise Fallback("image sequence (moov)")
        if kind not in (b"mdat", b"free", b"skip"):
            if size > MAX_HEAD:
                raise Fallback(f"box {kind!r} is too large")
            copy.ensure(pos, pos + size, min_fetch=grow)
        pos += size
        grow *= 2
    layout = read_layout(copy.contents())
    for item in layout.items.values():
        if item.item_type in CODED_IMAGE_ITEMS:
            continue
        for offset, length in item.extents:
            copy.ensure(offset, offset + length)


_PLANS: dict[str, Callable[[SparseCopy], None]] = {"JPEG": _plan_jpeg, "HEIC": _plan_heif, "AVIF": _plan_heif}


# ---------------------------------------------------------------------- local files


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
