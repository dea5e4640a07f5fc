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
* TIFF: the IFDs are walked (IFD0 chain, SubIFDs, Exif, GPS, Interop) and every byte is read
  except the strips and tiles they name (``StripOffsets``/``StripByteCounts``,
  ``TileOffsets``/``TileByteCounts``): ExifTool never reads image data when it lists tags (without
  ``-b``) and the engine has no TIFF walker. Maker notes, DNG private data, unknown pointer tags
  into image data, values overlapping image data and BigTIFF are read whole.
* WebP: the RIFF chunks are walked exactly as ExifTool walks them (to the end of the file) and every
  byte is read except the payloads of ``VP8 ``/``VP8L``/``ALPH``/``ANMF`` chunks beyond their first
  :data:`KEEP_PAYLOAD` bytes (ExifTool decodes only a few header bytes of those).
* PNG: the chunks are walked up to ``IEND`` and every byte is read except ``IDAT``/``fdAT`` payloads
  (ExifTool seeks over ``IDAT`` and ignores ``fdAT``; CRCs are not checked when reading; the engine's
  walker checks lengths only).
* TIFF, WebP and PNG objects under :data:`SMALL_OBJECT` bytes, walks that need more than
  :data:`MAX_WALK_REQUESTS` GETs, and GIF are read whole (one GET is cheaper than several).
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
SMALL_OBJECT = 256 * 1024
"""TIFF, WebP and PNG objects smaller than this are read whole: one GET costs less than a walk."""
MAX_WALK_REQUESTS = 8
"""GETs a TIFF/WebP/PNG structure walk may use; a walk that needs more reads the whole object."""
WALK_FETCH = 16 * 1024
"""Minimum size of a GET during a structure walk (an IFD and its values usually come in one)."""
MIN_SKIP = 64 * 1024
"""Image data shorter than this is read rather than skipped (a GET costs more than the bytes)."""
MAX_SKIPS = 6
"""At most this many (the largest) runs of image data are skipped: at most MAX_SKIPS + 1 more GETs."""
KEEP_PAYLOAD = 64
"""Bytes kept at the start of a skipped WebP payload (ExifTool decodes the frame header there)."""
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
                self._fetch(s, e)

    def ensure_span(self, start: int, end: int) -> None:
        """Fetch what is missing of ``[start, end)`` in one GET, from its first missing byte to its
        last (bytes already held in between are read again, and counted)."""
        gaps = self.missing(max(0, start), min(self.size, end))
        if gaps:
            self._fetch(gaps[0][0], gaps[-1][1])

    def _fetch(self, start: int, end: int) -> None:
        data = self.source.read(start, end)
        if len(data) != end - start:
            raise OSError(f"short read: asked for {end - start} bytes at {start}, got {len(data)}")
        self.requests += 1
        self.bytes_read += len(data)
        self.handle.seek(start)
        self.handle.write(data)
        self._add(start, end)

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
        handle.flush()  # in the page cache, which ExifTool reads: no fsync (8 ms a file on ext4)
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


# ---------------------------------------------------------------------- TIFF, WebP, PNG


class _Walk:
    """Reads of a structure walk, bounded to :data:`MAX_WALK_REQUESTS` GETs."""

    def __init__(self, copy: SparseCopy) -> None:
        if copy.size < SMALL_OBJECT:
            raise Fallback("small object: one GET")
        self.copy = copy
        self.budget = copy.requests + MAX_WALK_REQUESTS

    def read(self, start: int, end: int) -> bytes:
        if start < 0 or end > self.copy.size:
            raise Fallback(f"structure at {start}..{end} lies outside the object")
        data = self.copy.read(start, end, min_fetch=WALK_FETCH)
        if self.copy.requests > self.budget:
            raise Fallback("the structure walk needs too many requests")
        return data


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _read_all_but(copy: SparseCopy, image_data: list[tuple[int, int]]) -> None:
    """Fetch every byte of the object except the largest runs of ``image_data``.

    At most :data:`MAX_SKIPS` runs of at least :data:`MIN_SKIP` bytes are skipped, so the rest
    takes at most ``MAX_SKIPS + 1`` GETs (smaller runs are read along with their neighbours).
    """
    runs = sorted((r for r in _merge(image_data) if r[1] - r[0] >= MIN_SKIP), key=lambda r: r[0] - r[1])
    if not runs:
        raise Fallback("no image data large enough to skip")
    pos = 0
    for start, end in sorted(runs[:MAX_SKIPS]):
        copy.ensure_span(pos, start)
        pos = end
    copy.ensure_span(pos, copy.size)


def _overlaps(ranges: list[tuple[int, int]], runs: list[tuple[int, int]]) -> tuple[int, int] | None:
    for s, e in ranges:
        for rs, re_ in runs:
            if s < re_ and rs < e:
                return s, e
    return None


_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TIFF_IFD_POINTERS = frozenset({0x014A, 0x8769, 0x8825, 0xA005})
"""SubIFDs, ExifIFD, GPS, Interop: followed (their strips are image data, their values are read)."""
_TIFF_OPAQUE = {0x927C: "maker notes", 0xC634: "DNG private data"}
"""Blobs with offsets of their own that may point anywhere in the file: the object is read whole
(so are unknown LONG/IFD tags, see :data:`_TIFF_KNOWN_LONGS`)."""
_TIFF_IMAGE_DATA = {0x0111: 0x0117, 0x0144: 0x0145}
"""StripOffsets -> StripByteCounts, TileOffsets -> TileByteCounts."""
_TIFF_THUMBNAIL = (0x0201, 0x0202)
"""JPEGInterchangeFormat, JPEGInterchangeFormatLength: a thumbnail, read like any value."""
_TIFF_SCALARS = frozenset(
    {
        0x00FE,
        0x00FF,
        0x0100,
        0x0101,
        0x0102,
        0x0103,
        0x0106,
        0x0107,
        0x0108,
        0x0109,
        0x010A,
        0x0115,
        0x0116,
        0x0118,
        0x0119,
        0x011C,
        0x0122,
        0x0123,
        0x0124,
        0x0125,
        0x0128,
        0x0129,
        0x012D,
        0x013D,
        0x0140,
        0x0142,
        0x0143,
        0x014C,
        0x0152,
        0x0153,
        0x0212,
        0x0213,
        0xA002,
        0xA003,
        0x8830,
        0x8831,
        0x8832,
        0x8833,
        0x8834,
        0x8835,
        0x9211,
    }
)
"""LONG tags that are numbers, not offsets (sizes, counts, sensitivities, ImageNumber)."""
_TIFF_KNOWN_LONGS = _TIFF_SCALARS | set(_TIFF_THUMBNAIL) | set(_TIFF_IMAGE_DATA) | set(_TIFF_IMAGE_DATA.values())
"""Any other LONG/SLONG/IFD tag may be an offset to data we cannot follow: the object is read whole."""


def _tiff_ints(data: bytes, typ: int, count: int, order: str) -> list[int]:
    code = {3: "H", 4: "I", 13: "I", 8: "h", 9: "i"}.get(typ)
    if code is None:
        raise Fallback(f"TIFF offsets of type {typ}")
    return list(struct.unpack_from(f"{order}{count}{code}", data))


def _plan_tiff(copy: SparseCopy) -> None:
    """Every byte but the strips and tiles named by the IFDs (ExifTool does not read image data)."""
    walk = _Walk(copy)
    head = walk.read(0, 8)
    order = "<" if head[:2] == b"II" else ">"
    if struct.unpack_from(f"{order}H", head, 2)[0] != 42:
        raise Fallback("BigTIFF")
    structure: list[tuple[int, int]] = [(0, 8)]  # IFDs and out-of-line values: never skipped
    image_data: list[tuple[int, int]] = []
    # (offset, follow its next-IFD pointer): as ExifTool, the IFD0 chain and SubIFD chains only
    queue: list[tuple[int, bool]] = [(struct.unpack_from(f"{order}I", head, 4)[0], True)]
    seen: set[int] = set()
    while queue:
        ifd, chain = queue.pop()
        if ifd == 0:
            continue
        if ifd in seen or len(seen) >= 64:
            raise Fallback("IFD loop or too many IFDs")
        seen.add(ifd)
        (count,) = struct.unpack(f"{order}H", walk.read(ifd, ifd + 2))
        end = ifd + 2 + 12 * count + 4
        entries = walk.read(ifd + 2, end)
        structure.append((ifd, end))
        values: dict[int, tuple[int, int, int, int]] = {}
        for i in range(count):
            tag, typ, n = struct.unpack_from(f"{order}HHI", entries, 12 * i)
            if typ not in _TIFF_TYPE_SIZES:
                raise Fallback(f"TIFF tag 0x{tag:04x} of unknown type {typ}")
            if tag in _TIFF_OPAQUE:
                raise Fallback(_TIFF_OPAQUE[tag])
            length = _TIFF_TYPE_SIZES[typ] * n
            where = ifd + 2 + 12 * i + 8
            if length > 4:
                (where,) = struct.unpack_from(f"{order}I", entries, 12 * i + 8)
                if where + length > copy.size:
                    raise Fallback(f"TIFF tag 0x{tag:04x} points past the end")
                structure.append((where, where + length))
            values[tag] = (typ, n, where, length)
            if tag in _TIFF_IFD_POINTERS:
                queue += [(o, tag == 0x014A) for o in _tiff_ints(walk.read(where, where + length), typ, n, order)]
            elif typ in (4, 9, 13) and tag not in _TIFF_KNOWN_LONGS:
                raise Fallback(f"TIFF tag 0x{tag:04x} may be an offset")
        if chain:
            queue.append((struct.unpack_from(f"{order}I", entries, 12 * count)[0], True))
        for offsets_tag, counts_tag in _TIFF_IMAGE_DATA.items():
            if offsets_tag not in values and counts_tag not in values:
                continue
            if offsets_tag not in values or counts_tag not in values:
                raise Fallback("image data offsets without byte counts")
            offsets, counts = (
                _tiff_ints(walk.read(w, w + ln), typ, n, order)
                for typ, n, w, ln in (values[offsets_tag], values[counts_tag])
            )
            if len(offsets) != len(counts):
                raise Fallback("image data offsets and byte counts differ in number")
            for start, size in zip(offsets, counts, strict=True):
                if start < 0 or size < 0 or start + size > copy.size:
                    raise Fallback("image data past the end of the object")
                image_data.append((start, start + size))
        if all(t in values for t in _TIFF_THUMBNAIL):
            (start,), (size,) = (
                _tiff_ints(walk.read(w, w + ln), typ, 1, order)
                for typ, n, w, ln in (values[_TIFF_THUMBNAIL[0]], values[_TIFF_THUMBNAIL[1]])
            )
            structure.append((start, min(copy.size, start + size)))
    clash = _overlaps(structure, _merge(image_data))
    if clash:
        raise Fallback(f"TIFF structure at {clash[0]}..{clash[1]} inside image data")
    _read_all_but(copy, image_data)


_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANMF"})


def _plan_webp(copy: SparseCopy) -> None:
    """Every byte but the image payloads, walking the chunks as ExifTool does (to the end of the file)."""
    walk = _Walk(copy)
    pos, image_data = 12, []
    while pos + 8 <= copy.size:
        kind, length = struct.unpack("<4sI", walk.read(pos, pos + 8))
        if kind in (b"RIFF", b"\0\0\0\0"):
            raise Fallback(f"RIFF chunk {kind!r} inside the WebP")
        end = pos + 8 + length + (length & 1)
        if kind in _WEBP_IMAGE_CHUNKS:
            if end > copy.size:
                raise Fallback(f"chunk {kind!r} overruns the object")
            image_data.append((pos + 8 + KEEP_PAYLOAD, pos + 8 + length))
        pos = end
    _read_all_but(copy, image_data)


_PNG_IMAGE_CHUNKS = frozenset({b"IDAT", b"fdAT"})


def _plan_png(copy: SparseCopy) -> None:
    """Every byte but the IDAT/fdAT payloads before IEND (ExifTool seeks over them, checks no CRC)."""
    walk = _Walk(copy)
    pos, image_data = 8, []
    while True:
        if pos + 8 > copy.size:
            raise Fallback("no PNG IEND")
        length, kind = struct.unpack(">I4s", walk.read(pos, pos + 8))
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > copy.size:
            raise Fallback(f"chunk {kind!r} overruns the object")
        if kind in _PNG_IMAGE_CHUNKS:
            image_data.append((pos + 8, pos + 8 + length))
        pos = end
        if kind == b"IEND":
            break
    _read_all_but(copy, image_data)


_PLANS: dict[str, Callable[[SparseCopy], None]] = {
    "JPEG": _plan_jpeg,
    "HEIC": _plan_heif,
    "AVIF": _plan_heif,
    "TIFF": _plan_tiff,
    "WEBP": _plan_webp,
    "PNG": _plan_png,
}


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
