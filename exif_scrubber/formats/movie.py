"""The movie header (``moov``) of ISO base media and QuickTime files, read box by box and written anew.

Structure boxes are read field by field and kept: movie, track and media headers with their dates set to zero,
handlers with an empty name, sample descriptions (visual and audio, field by field) with an empty compressor
name and vendor, sample tables, edit lists, track references, track apertures. Metadata boxes (``udta``,
``meta``, ``uuid``, ``free``/``skip``, anything unknown) go, and so do whole tracks the caller does not keep
(timed metadata: GPS, telemetry, timecode, subtitles), with the references to them.
Each track's sample data is found through its chunk offsets, samples per chunk and sample sizes; the rebuild
moves chunks to new offsets and rewrites ``stco``/``co64`` to match.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ..bytemodel import Buffer, Kind
from .isobmff import Box, BoxError, box, full_box, iter_boxes, uint

CONTAINERS = frozenset(
    {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"tref", b"mvex", b"gmhd", b"tapt"}
)
_VISUAL_ENTRY = 78
"""Bytes of a VisualSampleEntry before its child boxes (its compressor name is bytes 42..74)."""
_VENDOR = slice(12, 16)
"""Where a QuickTime sample description names its vendor (``appl``, ``FFMP``; zero in ISO files)."""
_AUDIO_ENTRY = {0: 28, 1: 44, 2: 64}
"""Bytes of a QuickTime sound description before its child boxes, by its version (ISO files: always 28)."""
VISUAL_HANDLERS = (b"vide", b"pict", b"auxv")
_SAMPLE_ENTRY_CHILDREN = frozenset(
    {b"av1C", b"hvcC", b"avcC", b"vvcC", b"colr", b"pasp", b"clap", b"btrt", b"ccst", b"clli", b"mdcv", b"fiel",
     b"gama", b"auxi", b"esds", b"dOps", b"dac3", b"dec3", b"alac", b"chan", b"wave", b"frma", b"enda", b"dvcC",
     b"dvvC", b"lhvC", b"amve", b"cmpd", b"uncC", b"st3d", b"sv3d", b"vexu", b"hfov"}
)  # fmt: skip
"""Boxes inside a visual sample description that a decoder uses."""
_AUDIO_ENTRY_CHILDREN = frozenset(
    {b"esds", b"dOps", b"dac3", b"dec3", b"dac4", b"alac", b"chan", b"wave", b"btrt", b"dfLa", b"SA3D", b"srat",
     b"pcmC", b"chnl", b"dmlp", b"ddts", b"udts", b"mhaC"}
)  # fmt: skip
"""Boxes inside an audio sample description that a decoder uses."""
_WAVE_CHILDREN = frozenset({b"frma", b"mp4a", b"esds", b"enda", b"alac", b"chan", b"\0\0\0\0"})
"""Boxes inside QuickTime's ``wave`` (sound decompression parameters), its terminator included."""


@dataclass
class Track:
    """One track: its id, handler type and where its sample data is."""

    track_id: int = 0
    handler: bytes = b""
    chunks: list[tuple[int, int]] = field(default_factory=list)
    """(offset, size) of each chunk of samples, in track order."""
    sample_entries: list[bytes] = field(default_factory=list)
    samples: int = 0
    box: Box | None = None
    """The ``trak`` box."""
    decoding: list[bytes] = field(default_factory=list)
    """What drives decoding and presentation, in canonical form (headers without dates, sample tables but the
    chunk offsets, sample descriptions as rewritten): part of the proof beside the samples."""
    references: list[tuple[bytes, tuple[int, ...]]] = field(default_factory=list)
    """Track references (``tref``): type and track ids."""


@dataclass
class Movie:
    """What a ``moov`` box says, and how each of its boxes is labelled."""

    box: Box
    tracks: list[Track] = field(default_factory=list)
    claims: list[tuple[int, int, Kind, str]] = field(default_factory=list)
    dates: bool = False
    """True when a header holds a non-zero creation or modification date."""
    quicktime: bool = False
    """QuickTime rules (``qt`` brand or no ``ftyp``): sound descriptions have versions."""
    decoding: list[bytes] = field(default_factory=list)
    """The movie header without its dates (time scale, duration, matrix), in canonical form."""
    entry_kinds: dict[int, str] = field(default_factory=dict)
    """Per sample description (by offset): ``visual``, ``audio`` or ``whole`` (kept as it is)."""
    dropped: list[Track] = field(default_factory=list)
    """Tracks removed whole (the caller's ``keep`` said no)."""
    replaced: dict[int, bytes] = field(default_factory=dict)
    """Boxes (by offset) the rebuild writes in this canonical form instead (a kept Live Photo identifier)."""

    @property
    def dropped_ids(self) -> set[int]:
        return {track.track_id for track in self.dropped}


def _dated(data: Buffer, header: Box, date_size: int) -> bool:
    _, _, pos = full_box(data, header)
    return any(bytes(data[pos : pos + 2 * date_size]))


def _exact(expected: Callable[[int, int, Buffer, Box], int | None]) -> Callable[[Buffer, Box], bool]:
    """A check that a full box's declared fields fill it exactly."""

    def check(data: Buffer, leaf: Box) -> bool:
        version, flags, pos = full_box(data, leaf)
        return expected(version, flags, data, leaf) == leaf.end - pos

    return check


def _counted(entry: int, *, count_at: int = 0, extra: int = 0) -> Callable[[int, int, Buffer, Box], int | None]:
    def size(version: int, flags: int, data: Buffer, leaf: Box) -> int | None:
        count = uint(data, leaf.body + 4 + count_at, 4, leaf.end)
        return count_at + 4 + extra + count * entry

    return size


_LEAVES: dict[bytes, Callable[[Buffer, Box], bool]] = {
    b"mvhd": _exact(lambda v, f, d, b: 108 if v else 96),
    b"tkhd": _exact(lambda v, f, d, b: 92 if v else 80),
    b"mdhd": _exact(lambda v, f, d, b: 32 if v else 20),
    b"vmhd": _exact(lambda v, f, d, b: 8),
    b"smhd": _exact(lambda v, f, d, b: 4),
    b"nmhd": _exact(lambda v, f, d, b: 0),
    b"sthd": _exact(lambda v, f, d, b: 0),
    b"stts": _exact(_counted(8)),
    b"ctts": _exact(_counted(8)),
    b"stss": _exact(_counted(4)),
    b"stps": _exact(_counted(4)),
    b"stsc": _exact(_counted(12)),
    b"stco": _exact(_counted(4)),
    b"co64": _exact(_counted(8)),
    b"elst": _exact(lambda v, f, d, b: 4 + uint(d, b.body + 4, 4, b.end) * (20 if v else 12)),
    b"cslg": _exact(lambda v, f, d, b: 40 if v else 20),
}
"""Leaf boxes checked field by field (their declared counts must fill them exactly)."""
_ANY_SIZE = frozenset({b"sdtp", b"sgpd", b"sbgp", b"subs", b"saiz", b"saio", b"stz2", b"stsz", b"padb", b"stdp"})
"""Sample-table boxes made only of numbers, whose exact size the sample table decides."""


class _Walk:
    def __init__(self, data: Buffer, movie: Movie) -> None:
        self.data, self.movie = data, movie
        self.track: Track | None = None

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.movie.claims.append((start, end, kind, label))

    def container(self, parent: Box, track: Track | None) -> None:
        self.claim(parent.start, parent.body, Kind.STRUCTURE, parent.name)
        for child in iter_boxes(self.data, parent.body, parent.end):
            if parent.type == b"tref":  # typed references: a list of track ids
                self.reference(child, track)
            elif parent.type == b"tapt":  # track aperture dimensions: clean, production, encoded
                exact = child.type in (b"clef", b"prof", b"enof") and child.end - child.body == 12
                self.claim(child.start, child.end, Kind.STRUCTURE if exact else Kind.METADATA, f"tapt {child.name}")
            else:
                self.child(child, track)

    def reference(self, child: Box, track: Track | None) -> None:
        exact = (child.end - child.body) % 4 == 0
        self.claim(child.start, child.end, Kind.STRUCTURE if exact else Kind.METADATA, f"tref {child.name}")
        if exact and track is not None:
            count = (child.end - child.body) // 4
            ids = struct.unpack(f">{count}I", self.data[child.body : child.end])
            track.references.append((child.type, tuple(ids)))

    def child(self, child: Box, track: Track | None) -> None:
        if child.type == b"trak":
            trak = Track(box=child)
            self.container(child, trak)
            self.movie.tracks.append(trak)
        elif child.type in CONTAINERS:
            self.container(child, track)
        elif child.type in (b"mvhd", b"tkhd", b"mdhd"):
            self.header(child, track)
        elif child.type == b"hdlr":
            self.hdlr(child, track)
        elif child.type == b"stsd":
            self.stsd(child, track)
        elif child.type == b"dref":
            self.claim(
                child.start, child.end, Kind.STRUCTURE if _self_contained(self.data, child) else Kind.METADATA, "dref"
            )
        elif child.type in _LEAVES or child.type in _ANY_SIZE:
            exact = child.type in _ANY_SIZE or _LEAVES[child.type](self.data, child)
            self.claim(child.start, child.end, Kind.STRUCTURE if exact else Kind.METADATA, child.name)
            if track is not None and child.type not in (b"stco", b"co64"):
                track.decoding.append(bytes(self.data[child.start : child.end]))
        else:
            self.claim(child.start, child.end, Kind.METADATA, f"{child.name} box")

    def header(self, header: Box, track: Track | None) -> None:
        version, _, pos = full_box(self.data, header)
        if not _LEAVES[header.type](self.data, header):
            raise BoxError(f"{header.name} does not match its size")
        dated = _dated(self.data, header, 8 if version else 4)
        self.movie.dates = self.movie.dates or dated
        undated = header.type + bytes(self.data[pos + (16 if version else 8) : header.end])
        (track.decoding if track is not None else self.movie.decoding).append(undated)
        self.claim(
            header.start,
            header.end,
            Kind.METADATA if dated else Kind.STRUCTURE,
            f"{header.name} dates" if dated else header.name,
        )
        if header.type == b"tkhd" and track is not None:
            track.track_id = uint(self.data, pos + (16 if version else 8), 4, header.end)

    def hdlr(self, hdlr: Box, track: Track | None) -> None:
        _, _, pos = full_box(self.data, hdlr)
        if pos + 20 > hdlr.end:
            raise BoxError("hdlr is cut off")
        if track is not None and bytes(self.data[pos : pos + 4]) != b"dhlr":  # not QuickTime's data handler
            track.handler = bytes(self.data[pos + 4 : pos + 8])
        name = bytes(self.data[pos + 20 : hdlr.end])
        self.claim(
            hdlr.start,
            hdlr.end,
            Kind.STRUCTURE if name in (b"", b"\0") else Kind.METADATA,
            "hdlr name" if name.strip(b"\0") else "hdlr",
        )

    def stsd(self, stsd: Box, track: Track | None) -> None:
        _, _, pos = full_box(self.data, stsd)
        count = uint(self.data, pos, 4, stsd.end)
        entries = list(iter_boxes(self.data, pos + 4, stsd.end))
        if len(entries) != count:
            raise BoxError("stsd does not hold exactly its sample descriptions")
        self.claim(stsd.start, pos + 4, Kind.STRUCTURE, "stsd")
        for entry in entries:
            if track is not None:
                track.sample_entries.append(entry.type)
            self.sample_entry(entry, track)

    def sample_entry(self, entry: Box, track: Track | None) -> None:
        kind = _entry_kind(track.handler if track is not None else b"")
        self.movie.entry_kinds[entry.start] = kind
        if kind == "whole":
            self.claim(entry.start, entry.end, Kind.STRUCTURE, f"sample description {entry.name}")
            return
        fixed = entry.body + self.fixed_size(entry, kind)
        if fixed > entry.end:
            raise BoxError(f"sample description {entry.name} is cut off")
        named = kind == "visual" and any(bytes(self.data[entry.body + 42 : entry.body + 74]))
        vendor = any(bytes(self.data[entry.body + 12 : entry.body + 16]))
        label = "compressor name" if named else "sample description vendor" if vendor else entry.name
        self.claim(entry.start, fixed, Kind.METADATA if named or vendor else Kind.STRUCTURE, label)
        allowed = _SAMPLE_ENTRY_CHILDREN if kind == "visual" else _AUDIO_ENTRY_CHILDREN
        for child in iter_boxes(self.data, fixed, entry.end):
            exact = child.type in allowed and (child.type != b"wave" or _clean_wave(self.data, child))
            self.claim(child.start, child.end, Kind.STRUCTURE if exact else Kind.METADATA, child.name)
        if track is not None:
            track.decoding.append(canonical_entry(self.data, entry, kind, fixed - entry.body))

    def fixed_size(self, entry: Box, kind: str) -> int:
        if kind == "visual":
            return _VISUAL_ENTRY
        version = uint(self.data, entry.body + 8, 2, entry.end)
        if not self.movie.quicktime:
            return _AUDIO_ENTRY[0]
        if version not in _AUDIO_ENTRY:
            raise BoxError(f"sound description {entry.name} has an unknown version {version}")
        return _AUDIO_ENTRY[version]


def _entry_kind(handler: bytes) -> str:
    if handler in VISUAL_HANDLERS:
        return "visual"
    return "audio" if handler == b"soun" else "whole"


def _clean_wave(data: Buffer, wave: Box) -> bool:
    return all(child.type in _WAVE_CHILDREN for child in iter_boxes(data, wave.body, wave.end))


def canonical_entry(data: Buffer, entry: Box, kind: str, fixed: int) -> bytes:
    """A visual or audio sample description as the rebuild writes it: no vendor, no compressor name, only the
    child boxes a decoder uses."""
    raw = bytes(data[entry.body : entry.body + fixed])
    raw = raw[: _VENDOR.start] + bytes(4) + raw[_VENDOR.stop :]
    if kind == "visual":
        raw = raw[:42] + bytes(32) + raw[74:]
    allowed = _SAMPLE_ENTRY_CHILDREN if kind == "visual" else _AUDIO_ENTRY_CHILDREN
    children = b"".join(
        bytes(data[c.start : c.end])
        for c in iter_boxes(data, entry.body + fixed, entry.end)
        if c.type in allowed and (c.type != b"wave" or _clean_wave(data, c))
    )
    return box(entry.type, raw + children)


def _self_contained(data: Buffer, dref: Box) -> bool:
    """A data reference that says "this file" (one ``url `` entry with the self-contained flag)."""
    _, _, pos = full_box(data, dref)
    entries = list(iter_boxes(data, pos + 4, dref.end))
    return (
        uint(data, pos, 4, dref.end) == len(entries) == 1
        and entries[0].type in (b"url ", b"alis")
        and entries[0].end - entries[0].body == 4
        and bytes(data[entries[0].body : entries[0].body + 4]) == b"\0\0\0\x01"
    )


def parse_movie(
    data: Buffer, moov: Box, *, keep: Callable[[Track], bool] | None = None, quicktime: bool = False
) -> Movie:
    """Label every box of ``moov`` and find each track's chunks. A track ``keep`` refuses is metadata whole
    (its ``trak`` box; its samples are the caller's to label)."""
    movie = Movie(box=moov, quicktime=quicktime)
    _Walk(data, movie).container(moov, None)
    _chunks(data, moov, movie)
    if keep is not None:
        movie.dropped = [track for track in movie.tracks if not keep(track)]
        for track in movie.dropped:
            assert track.box is not None
            trak = track.box
            movie.claims = [c for c in movie.claims if not trak.start <= c[0] < trak.end]
            movie.claims.append(
                (trak.start, trak.end, Kind.METADATA, f"track {track.track_id} ({_4cc(track.handler)})")
            )
        movie.tracks = [track for track in movie.tracks if keep(track)]
    return movie


def _4cc(kind: bytes) -> str:
    return kind.decode("latin-1").strip() if kind.isascii() and kind.strip().isalnum() else kind.hex()


def _find(data: Buffer, parent: Box, path: list[bytes]) -> Box | None:
    for child in iter_boxes(data, parent.body, parent.end):
        if child.type == path[0]:
            return child if len(path) == 1 else _find(data, child, path[1:])
    return None


def _chunks(data: Buffer, moov: Box, movie: Movie) -> None:
    traks = [b for b in iter_boxes(data, moov.body, moov.end) if b.type == b"trak"]
    for trak, track in zip(traks, movie.tracks, strict=True):
        stbl = _find(data, trak, [b"mdia", b"minf", b"stbl"])
        if stbl is None:
            raise BoxError(f"track {track.track_id} has no sample table")
        tables = {child.type: child for child in iter_boxes(data, stbl.body, stbl.end)}
        track.chunks, track.samples = _chunk_ranges(data, tables, len(data))


def _chunk_ranges(data: Buffer, tables: dict[bytes, Box], size: int) -> tuple[list[tuple[int, int]], int]:
    offsets_box = tables.get(b"stco") or tables.get(b"co64")
    if offsets_box is None or b"stsc" not in tables or b"stsz" not in tables:
        raise BoxError("a sample table lacks chunk offsets, samples per chunk or sample sizes")
    wide = offsets_box.type == b"co64"
    _, _, pos = full_box(data, offsets_box)
    count = uint(data, pos, 4, offsets_box.end)
    offsets = [uint(data, pos + 4 + i * (8 if wide else 4), 8 if wide else 4, offsets_box.end) for i in range(count)]
    per_chunk = _samples_per_chunk(data, tables[b"stsc"], count)
    sizes = _sample_sizes(data, tables[b"stsz"])
    if sum(per_chunk) != len(sizes):
        raise BoxError("the sample table's chunks and sample sizes disagree")
    chunks, sample = [], 0
    for offset, samples in zip(offsets, per_chunk, strict=True):
        length = sum(sizes[sample : sample + samples])
        sample += samples
        if offset + length > size:
            raise BoxError("a chunk of samples lies past the end of the file: truncated")
        chunks.append((offset, length))
    return chunks, len(sizes)


def _samples_per_chunk(data: Buffer, stsc: Box, chunks: int) -> list[int]:
    _, _, pos = full_box(data, stsc)
    runs = [
        struct.unpack(">III", data[pos + 4 + 12 * i : pos + 16 + 12 * i])[:2]
        for i in range(uint(data, pos, 4, stsc.end))
    ]
    per_chunk = [0] * chunks
    for index, (first, samples) in enumerate(runs):
        last = runs[index + 1][0] - 1 if index + 1 < len(runs) else chunks
        for chunk in range(first - 1, min(last, chunks)):
            per_chunk[chunk] = samples
    return per_chunk


def _sample_sizes(data: Buffer, stsz: Box) -> list[int]:
    _, _, pos = full_box(data, stsz)
    uniform, count = uint(data, pos, 4, stsz.end), uint(data, pos + 4, 4, stsz.end)
    if uniform:
        return [uniform] * count
    if pos + 8 + 4 * count != stsz.end:
        raise BoxError("stsz does not match its sample count")
    return list(struct.unpack(f">{count}I", data[pos + 8 : pos + 8 + 4 * count]))


# ---------------------------------------------------------------------- writing


def rebuild_moov(data: Buffer, moov: Box, movie: Movie, moved: Callable[[int], int], wide: bool | None) -> bytes:
    """The new ``moov``: metadata boxes and dropped tracks gone, dates zeroed, names and vendors emptied, chunk
    offsets moved (``wide``: all 64-bit, all 32-bit, or None: each table keeps its width)."""
    kept = {(s, e) for s, e, k, _ in movie.claims if k is not Kind.METADATA}
    return _Rebuild(data, movie, kept, moved, wide).container(moov)


@dataclass
class _Rebuild:
    data: Buffer
    movie: Movie
    kept: set[tuple[int, int]]
    moved: Callable[[int], int]
    wide: bool | None

    def container(self, parent: Box) -> bytes:
        children = iter_boxes(self.data, parent.body, parent.end)
        if parent.type == b"tref":
            body = b"".join(self.reference(child) for child in children if (child.start, child.end) in self.kept)
            return box(parent.type, body) if body else b""
        return box(parent.type, b"".join(self.child(child) for child in children))

    def child(self, child: Box) -> bytes:
        data = self.data
        if child.start in self.movie.replaced:
            return self.movie.replaced[child.start]
        raw = bytes(data[child.start : child.end])
        if child.type == b"trak" and any(t.box == child for t in self.movie.dropped):
            return b""
        if child.type in CONTAINERS:
            return self.container(child)
        if child.type in (b"mvhd", b"tkhd", b"mdhd"):
            version = raw[child.body - child.start]
            at, size = child.body - child.start + 4, (16 if version else 8)
            return raw[:at] + bytes(size) + raw[at + size :]
        if child.type == b"hdlr":
            at = child.body - child.start + 4 + 20
            return box(b"hdlr", raw[child.body - child.start : at] + b"\0")
        if child.type == b"stsd":
            return self.stsd(child)
        if child.type in (b"stco", b"co64"):
            return _rebuilt_offsets(data, child, self.moved, self.wide)
        if child.type == b"dref":
            return raw
        return raw if any(s <= child.start and child.end <= e for s, e in self.kept) else b""

    def reference(self, child: Box) -> bytes:
        """A track reference without the dropped tracks (none left: no box)."""
        count = (child.end - child.body) // 4
        ids = struct.unpack(f">{count}I", self.data[child.body : child.body + 4 * count])
        left = [i for i in ids if i not in self.movie.dropped_ids]
        return box(child.type, struct.pack(f">{len(left)}I", *left)) if left else b""

    def stsd(self, stsd: Box) -> bytes:
        _, _, pos = full_box(self.data, stsd)
        entries = b""
        for entry in iter_boxes(self.data, pos + 4, stsd.end):
            kind = self.movie.entry_kinds.get(entry.start, "whole")
            if kind == "whole":
                entries += bytes(self.data[entry.start : entry.end])
                continue
            fixed = _VISUAL_ENTRY if kind == "visual" else _audio_fixed(self.data, entry, self.movie.quicktime)
            entries += canonical_entry(self.data, entry, kind, fixed)
        return box(b"stsd", bytes(self.data[stsd.body : pos + 4]) + entries)


def _audio_fixed(data: Buffer, entry: Box, quicktime: bool) -> int:
    version = uint(data, entry.body + 8, 2, entry.end)
    return _AUDIO_ENTRY.get(version, _AUDIO_ENTRY[0]) if quicktime else _AUDIO_ENTRY[0]


def _rebuilt_offsets(data: Buffer, table: Box, moved: Callable[[int], int], wide: bool | None) -> bytes:
    _, _, pos = full_box(data, table)
    count = uint(data, pos, 4, table.end)
    width = 8 if table.type == b"co64" else 4
    offsets = [moved(uint(data, pos + 4 + i * width, width, table.end)) for i in range(count)]
    if wide is None:
        wide = table.type == b"co64"
    if wide:
        return box(b"co64", b"\0\0\0\0" + struct.pack(f">I{count}Q", count, *offsets))
    return box(b"stco", b"\0\0\0\0" + struct.pack(f">I{count}I", count, *offsets))
