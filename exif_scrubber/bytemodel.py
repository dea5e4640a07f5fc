"""The byte model: a file split into labelled byte ranges, every byte in exactly one of them.

Each format handler owns a strict walker that produces a :class:`ByteModel`. The definition of clean is
on bytes: a file is clean when every span is image data, structure the walker parsed field by field, or a
kept item (orientation, colour profile, gain-map parameters) in the canonical form the walker checked.
Everything else is metadata, whatever ExifTool makes of it.

The same model gives the proof that pixels are untouched (a SHA-256 over the image data and the structure
that drives decoding, computed here in Python) and, for tests, the byte ranges ExifTool's ``ImageDataHash``
covers, so the two implementations check each other.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import StructureError

Buffer = bytes | bytearray | memoryview
"""What walkers read: the file's bytes (usually an ``mmap`` seen through a memoryview)."""


class Kind(StrEnum):
    """What a byte range holds."""

    IMAGE = "image"
    """Coded image data (JPEG scans, PNG IDAT payloads, strips and tiles, coded HEIF items ...)."""
    STRUCTURE = "structure"
    """Container structure the walker parsed field by field (every byte of it is a declared field)."""
    KEPT = "kept"
    """A kept item in the canonical form the walker checked: orientation, colour profile, gain-map parameters."""
    METADATA = "metadata"
    """Anything else: metadata, unknown blocks, unreferenced bytes, padding, trailers. Removed."""


@dataclass(frozen=True, slots=True)
class Span:
    """One labelled byte range ``[start, end)`` of a file."""

    start: int
    end: int
    kind: Kind
    label: str
    """Names the block in reports (never its content), e.g. ``APP1 Exif``, ``tEXt``, ``bytes after EOI``."""

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Ranges:
    """Many ranges as one proof part, hashed exactly as that many ``(start, end)`` parts, without a Python tuple per
    range held in the model (a movie's million chunks)."""

    each: Callable[[], Iterable[tuple[int, int]]]


@dataclass
class ByteModel:
    """A walked file: its spans, the proof hash, and what a rewrite needs to know."""

    format: str
    size: int
    spans: list[Span] = field(default_factory=list)
    proof: list[tuple[int, int] | bytes | Ranges] = field(default_factory=list)
    """What the proof hash covers, in order: ranges of image data and of the structure that drives decoding,
    and decoding parameters in canonical form (e.g. the Adobe colour transform, a PNG gamma)."""
    exiftool_ranges: list[tuple[int, int]] = field(default_factory=list)
    """The ranges ExifTool's ``ImageDataHash`` covers (tests check both implementations agree)."""
    orientation: int | None = None
    """The EXIF Orientation kept (1..8), or None."""
    xmp_orientation: int | None = None
    """The XMP ``tiff:Orientation`` kept (1..8), or None."""
    frames: int = 1
    """Frames, pages or views the file shows (what Pillow calls ``n_frames``), by the walker's count."""
    images: list[str] = field(default_factory=list)
    """Per-image proof hashes of secondary images (MPF views, gain maps, HEIF items) and embedded movies (a
    motion photo's video), in order."""
    embedded: list[tuple[int, int]] = field(default_factory=list)
    """``[start, end)`` of each movie held inside the file (a motion photo's video): ExifTool reads each on its own
    (with ``-ee``), as the movie handler's second opinion."""
    notes: list[str] = field(default_factory=list)

    def add(self, start: int, end: int, kind: Kind, label: str) -> None:
        """Append the next span; it must start where the previous one ended."""
        expected = self.spans[-1].end if self.spans else 0
        if start != expected or end < start:
            raise StructureError(f"internal: {label} at {start}..{end} does not follow {expected}")
        if end > start:
            self.spans.append(Span(start, end, kind, label))

    def close(self) -> ByteModel:
        """Check that the spans cover the whole file exactly once; return self."""
        covered = self.spans[-1].end if self.spans else 0
        if covered != self.size:
            raise StructureError(f"internal: the walk covered {covered} of {self.size} bytes")
        return self

    def metadata(self) -> list[Span]:
        """The spans that are not clean."""
        return [span for span in self.spans if span.kind is Kind.METADATA]

    def findings(self) -> list[str]:
        """Distinct labels of the metadata spans, in file order (what the reports list)."""
        seen: dict[str, None] = {}
        for span in self.metadata():
            seen.setdefault(span.label, None)
        return list(seen)

    def is_clean(self) -> bool:
        return not any(span.kind is Kind.METADATA for span in self.spans)

    def proof_hash(self, data: Buffer) -> str:
        """SHA-256 over the proof ranges and extras, plus the secondary images' own proof hashes."""
        digest = hashlib.sha256()
        view = memoryview(data)
        for part in self.proof:
            if isinstance(part, bytes):
                digest.update(b"\x01" + len(part).to_bytes(4, "big") + part)
                continue
            for start, end in part.each() if isinstance(part, Ranges) else (part,):
                digest.update(b"\x00" + (end - start).to_bytes(8, "big"))
                hash_range(digest, view, start, end)
        for image in self.images:
            digest.update(bytes.fromhex(image))
        return digest.hexdigest()

    def exiftool_hash(self, data: Buffer) -> str | None:
        """What ExifTool's ``ImageDataHash`` (SHA-256) should read for this file, or None when it has none."""
        if not self.exiftool_ranges:
            return None
        digest = hashlib.sha256()
        view = memoryview(data)
        for start, end in self.exiftool_ranges:
            hash_range(digest, view, start, end)
        return digest.hexdigest()

    def ranges_of(self, kinds: Iterable[Kind]) -> list[tuple[int, int]]:
        """Merged ranges of the spans of ``kinds`` (e.g. what an audit must read: all but image data)."""
        wanted = set(kinds)
        return merge_ranges((s.start, s.end) for s in self.spans if s.kind in wanted)


HASH_STEP = 16 * 1024 * 1024
"""Bytes hashed at a time; the pages of a memory-mapped file are let go after each step."""


def hash_range(digest: hashlib._Hash, view: memoryview, start: int, end: int) -> None:
    """Hash ``view[start:end]``. Over a memory-mapped file the pages read are released step by step, so that
    hashing the samples of a 5 GiB video keeps the process's memory flat (they stay in the page cache)."""
    for pos in range(start, end, HASH_STEP):
        stop = min(end, pos + HASH_STEP)
        digest.update(view[pos:stop])
        release_pages(view, pos, stop)


def release_pages(view: object, start: int, end: int) -> None:
    """Let go of the pages of ``[start, end)`` when ``view`` is a whole memory-mapped file that has been read there
    (they stay in the page cache; the process's memory stays flat). Anything else: nothing to do."""
    mapped = view.obj if isinstance(view, memoryview) else None
    if not isinstance(mapped, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED") or end - start < mmap.PAGESIZE:
        return
    if isinstance(view, memoryview) and view.nbytes == len(mapped):
        first = start - start % mmap.PAGESIZE
        mapped.madvise(mmap.MADV_DONTNEED, first, end - first)


def claims_to_spans(
    model: ByteModel,
    claims: list[tuple[int, int, Kind, str]],
    data: Buffer,
    *,
    gap_label: str,
    dropped: list[tuple[int, int, str]] | None = None,
) -> None:
    """Add spans for ``claims`` (ranges the walker assigned a meaning) and label every byte between them as
    metadata. Image data claims may overlap each other (they are merged); any other overlap is an error: one
    byte, two meanings. ``dropped`` names the ranges of things that are removed, for the gaps' labels; a single
    zero byte that ends on an even offset is word-alignment padding (TIFF)."""
    image = merge_ranges((s, e) for s, e, k, _ in claims if k is Kind.IMAGE)
    others = sorted({(s, e, k, label) for s, e, k, label in claims if k is not Kind.IMAGE and e > s})
    merged = sorted([*((s, e, Kind.IMAGE, "image data") for s, e in image), *others])
    for (_, e1, _, l1), (s2, _, _, l2) in itertools.pairwise(merged):
        if s2 < e1:
            raise StructureError(f"{l1} and {l2} overlap")
    pos = 0
    for start, end, kind, label in merged:
        _gap(model, data, pos, start, gap_label, dropped or [])
        model.add(start, end, kind, label)
        pos = end
    _gap(model, data, pos, model.size, gap_label, dropped or [])


def _gap(model: ByteModel, data: Buffer, start: int, end: int, label: str, dropped: list[tuple[int, int, str]]) -> None:
    if end <= start:
        return
    if end - start == 1 and end % 2 == 0 and data[start] == 0 and model.format == "TIFF":
        model.add(start, end, Kind.STRUCTURE, "word-alignment padding")
        return
    if dropped:  # (a movie's million gaps: no generator per gap when nothing is named)
        label = next((lab for s, e, lab in dropped if s <= start < e), label)
    model.add(start, end, Kind.METADATA, label)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged, non-empty ranges."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def spans_text(spans: Iterable[Span]) -> Iterator[str]:
    """``label (N bytes at offset)`` lines, for debugging and notes."""
    for span in spans:
        yield f"{span.label} ({span.length} bytes at {span.start}, {span.kind.value})"
