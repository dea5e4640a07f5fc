"""The movie header (``moov``) of ISO base media and QuickTime files, read box by box and written anew.

The walk builds a tree of the boxes the rebuild writes (:class:`Node`) and labels every byte of ``moov``: a box
parsed field by field and already in canonical form is structure; a kept box whose input differs from its canonical
form (a date, a name, a vendor code, a reserved field, bytes after its last field) is metadata, and the rebuild
writes the canonical form; any other box (``udta``, ``meta``, ``uuid``, ``free``, anything unknown) is metadata and
goes, and so do whole tracks the caller does not keep (timed metadata: GPS, telemetry, timecode, subtitles), with
the references to them. The leaf boxes are in :mod:`.movie_boxes`, the sample descriptions in
:mod:`.movie_entries`, the sample groups in :mod:`.movie_groups`, the sample tables in :mod:`.movie_tables`.

Each track's samples are found through its chunk offsets, samples per chunk and sample sizes; the rebuild moves
chunks to new offsets and rewrites ``stco``/``co64`` to match. Boxes nest at most :data:`MAX_DEPTH` deep.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from ..bytemodel import Buffer, Kind
from . import movie_boxes as mb
from .base import Refusal
from .isobmff import Box, BoxError, box, full_box, iter_boxes, uint
from .movie_entries import (
    AUDIO_CHILDREN,
    AUDIO_FIXED,
    ENCRYPTED,
    TERMINATOR,
    VISUAL_CHILDREN,
    VISUAL_FIXED,
    Leaf,
    Schema,
    audio_fixed,
    audio_layout,
    visual_fixed,
)
from .movie_groups import Dropped, described_types, sbgp, sdtp, sgpd
from .movie_pairing import pairing_box
from .movie_tables import (
    BYTES_PER_CHUNK,
    MAX_CHUNKS,
    Chunks,
    Tables,
    chunks_of,
    counted,
    old_style_sound,
    pcm_frame_bytes,
    rebuilt_offsets,
)

MAX_DEPTH = 16
MAX_TRACKS = 4096
MAX_DESCRIPTIONS = 1024
"""Sample descriptions one track may have (FFmpeg reads at most 1024)."""
"""Boxes nested deeper than this inside ``moov`` are refused (the deepest structure kept is 11 levels)."""
VISUAL_HANDLERS = (b"vide", b"pict", b"auxv")
_DATES = {b"mvhd", b"tkhd", b"mdhd"}
_TABLES = {b"stts": 8, b"stss": 4, b"stps": 4, b"stsc": 12}
"""Sample tables of fixed-size entries (``ctts`` has two versions), kept as they are when in canonical form."""


@dataclass(eq=False, slots=True)
class Layout:
    """Where the rebuild puts things: a kept sample's new offset, 64-bit chunk offsets or not (None: each table keeps
    its width), the tracks dropped."""

    moved: Callable[[int], int]
    wide: bool | None
    dropped: frozenset[int]


class NeedsWide(Exception):
    """A 32-bit chunk offset table would overflow: rebuild with 64-bit offsets."""


@dataclass(eq=False, slots=True)
class Node:
    """A box the rebuild writes: canonical fields (``head``), then its children and ``tail`` (a container), or its
    input payload (``raw``), or the whole box computed when the layout is known (``render``)."""

    type: bytes
    head: bytes = b""
    children: list[Node] | None = None
    tail: bytes = b""
    raw: tuple[int, int] | None = None
    render: Callable[[Layout], bytes] | None = None

    def write(self, data: Buffer, layout: Layout) -> bytes:
        if self.render is not None:
            return self.render(layout)
        if self.raw is not None:
            payload = bytes(data[self.raw[0] : self.raw[1]])
        elif self.children is None:
            payload = self.head
        else:
            payload = self.head + b"".join(child.write(data, layout) for child in self.children) + self.tail
        return box(self.type, payload)


@dataclass(eq=False)
class Track:
    """One track: its id, handler type and where its sample data is."""

    track_id: int = 0
    handler: bytes = b""
    chunks: Chunks = field(default_factory=Chunks)
    """Offset and size of each chunk of samples, in track order (iterates as ``(offset, size)`` pairs)."""
    sample_entries: list[bytes] = field(default_factory=list)
    samples: int = 0
    box: Box | None = None
    """The ``trak`` box."""
    node: Node | None = None
    decoding: list[bytes | tuple[int, int]] = field(default_factory=list)
    """What drives decoding and presentation, in canonical form (headers without dates, sample tables but the
    chunk offsets, sample descriptions as rewritten): part of the proof beside the samples."""
    references: list[tuple[bytes, tuple[int, ...]]] = field(default_factory=list)
    """Track references (``tref``): type and track ids."""
    tables: Tables | None = None
    data_reference: mb.DataReference | None = None
    entry_references: list[int] = field(default_factory=list)
    """The data reference index of each sample description."""
    sound: tuple[bytes, int, int, tuple[int, int]] | None = None
    """The first sound description: format, channels, bits per sample, (samples per packet, packet bytes)."""
    encrypted: bytes = b""
    claims: tuple[int, int] = (0, 0)
    """Which of the movie's claims are this track's (indexes into ``Movie.claims``)."""

    @property
    def external(self) -> bool:
        """True when a sample description points at a data reference that is not "this file"."""
        reference = self.data_reference
        return reference is not None and not all(reference.self_contained(i) for i in self.entry_references)


@dataclass(eq=False)
class Movie:
    """What a ``moov`` box says, how each of its bytes is labelled, and the tree the rebuild writes."""

    box: Box
    tracks: list[Track] = field(default_factory=list)
    claims: list[tuple[int, int, Kind, str]] = field(default_factory=list)
    dates: bool = False
    """True when a header holds a non-zero creation or modification date."""
    quicktime: bool = False
    """QuickTime rules (``qt`` brand or no ``ftyp``): sound descriptions have versions."""
    decoding: list[bytes | tuple[int, int]] = field(default_factory=list)
    """The movie header without its dates (time scale, duration, matrix), in canonical form."""
    dropped: list[Track] = field(default_factory=list)
    """Tracks removed whole (the caller's ``keep`` said no)."""
    root: Node | None = None
    fragment_defaults: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    """Per track id, its ``trex`` defaults: sample description index, duration, size, flags (fragmented movies)."""

    @property
    def dropped_ids(self) -> set[int]:
        return {track.track_id for track in self.dropped}


class _Walk:
    """Walks ``moov``: claims for the byte model, nodes for the rebuild."""

    def __init__(self, data: Buffer, movie: Movie, *, pairing: bool) -> None:
        self.data, self.movie, self.pairing = data, movie, pairing
        self.paired = False

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.movie.claims.append((start, end, kind, label))

    def payload(self, leaf: Box) -> bytes:
        return bytes(self.data[leaf.body : leaf.end])

    def drop(self, child: Box, label: str | None = None) -> None:
        self.claim(child.start, child.end, Kind.METADATA, label or f"{child.name} box")

    def container(self, parent: Box, depth: int, each: Callable[[Box, int], Node | None]) -> Node:
        """A container box: its header is structure, its children are what ``each`` makes of them."""
        if depth > MAX_DEPTH:
            raise Refusal(f"movie boxes nested more than {MAX_DEPTH} deep: budget")
        self.claim(parent.start, parent.body, Kind.STRUCTURE, parent.name)
        children = [each(child, depth + 1) for child in iter_boxes(self.data, parent.body, parent.end)]
        return Node(parent.type, children=[c for c in children if c is not None])

    def leaf(self, child: Box, canonical: mb.Canonical, track: Track | None = None) -> Node:
        """A leaf box in ``canonical`` form: structure when the input is the same, else metadata."""
        same = canonical.payload == self.payload(child)
        label = child.name if same else canonical.label
        if same and child.body - child.start != 8:
            same, label = False, f"{child.name} box header"
        self.claim(child.start, child.end, Kind.STRUCTURE if same else Kind.METADATA, label)
        if track is not None:
            track.decoding.append(child.type + canonical.payload)
        return Node(child.type, head=canonical.payload)

    def table(self, child: Box, canonical: bytes | None, track: Track) -> Node:
        """A sample table: kept as it is when canonical (None), else its canonical payload."""
        if canonical is None:
            self.claim(child.start, child.end, Kind.STRUCTURE, child.name)
            track.decoding += [child.type, (child.body, child.end)]
            return Node(child.type, raw=(child.body, child.end))
        return self.leaf(child, mb.Canonical(canonical, f"{child.name} reserved fields"), track)

    # ------------------------------------------------------------------ moov

    def moov(self, moov: Box) -> Node:
        return self.container(moov, 0, self.moov_child)

    def moov_child(self, child: Box, depth: int) -> Node | None:
        kind = child.type
        if kind == b"mvhd":
            canonical = mb.mvhd(self.payload(child))
            self.movie.dates |= canonical.label == "mvhd dates"
            self.movie.decoding.append(canonical.payload)
            return self.leaf(child, canonical)
        if kind == b"trak":
            return self.trak(child, depth)
        if kind == b"mvex":
            return self.container(child, depth, self.mvex_child)
        if kind in (b"meta", b"udta") and self.pairing and not self.paired:
            return self.paired_box(child)
        self.drop(child)
        return None

    def paired_box(self, child: Box) -> Node | None:
        canonical = pairing_box(self.data, child)
        if canonical is None:
            self.drop(child)
            return None
        self.paired = True
        same = bytes(self.data[child.start : child.end]) == canonical
        self.claim(child.start, child.end, Kind.KEPT if same else Kind.METADATA, "Live Photo pairing identifier")
        return Node(b"meta", render=lambda layout: canonical)

    def mvex_child(self, child: Box, depth: int) -> Node | None:
        if child.type == b"mehd":
            return self.leaf(child, mb.mehd(self.payload(child)))
        if child.type == b"trex":
            canonical, track_id = mb.trex(self.payload(child))
            self.leaf(child, canonical)
            payload = canonical.payload
            description, duration, size, flags = struct.unpack(">4I", payload[8:24])
            self.movie.fragment_defaults[track_id] = (description, duration, size, flags)
            return Node(b"trex", render=lambda layout: b"" if track_id in layout.dropped else box(b"trex", payload))
        self.drop(child)
        return None

    # ------------------------------------------------------------------ tracks

    def trak(self, trak: Box, depth: int) -> Node:
        if len(self.movie.tracks) >= MAX_TRACKS:
            raise Refusal(f"too many tracks (more than {MAX_TRACKS}): budget")
        track = Track(box=trak)
        self.movie.tracks.append(track)
        first = len(self.movie.claims)
        track.node = self.container(trak, depth, lambda child, d: self.trak_child(child, d, track))
        track.claims = (first, len(self.movie.claims))
        return track.node

    def trak_child(self, child: Box, depth: int, track: Track) -> Node | None:
        kind = child.type
        if kind == b"tkhd":
            canonical = mb.tkhd(self.payload(child))
            self.movie.dates |= canonical.label == "tkhd dates"
            track.track_id = mb.track_id_of(canonical.payload)
            return self.leaf(child, canonical, track)
        if kind == b"tref":
            return self.tref(child, depth, track)
        if kind == b"edts":
            return self.container(child, depth, lambda c, d: self.only(c, b"elst", mb.elst, track))
        if kind == b"tapt":
            return self.container(child, depth, self.aperture)
        if kind == b"mdia":
            return self.container(child, depth, lambda c, d: self.mdia_child(c, d, track))
        self.drop(child)
        return None

    def only(self, child: Box, kind: bytes, parse: Callable[[bytes], mb.Canonical], track: Track) -> Node | None:
        if child.type != kind:
            self.drop(child)
            return None
        return self.leaf(child, parse(self.payload(child)), track)

    def aperture(self, child: Box, depth: int) -> Node | None:
        if child.type not in (b"clef", b"prof", b"enof"):
            self.drop(child, f"tapt {child.name}")
            return None
        canonical = mb.aperture(child.name, self.payload(child))
        same = canonical.payload == self.payload(child)
        self.claim(child.start, child.end, Kind.STRUCTURE if same else Kind.METADATA, f"tapt {child.name}")
        return Node(child.type, head=canonical.payload)

    def tref(self, tref: Box, depth: int, track: Track) -> Node:
        """Track references: each a list of track ids; the rebuild leaves out the dropped tracks (and an empty
        reference, and an empty ``tref``)."""
        self.claim(tref.start, tref.body, Kind.STRUCTURE, tref.name)
        references = []
        for child in iter_boxes(self.data, tref.body, tref.end):
            ids = mb.track_references(self.payload(child))
            if ids is None:
                self.drop(child, f"tref {child.name}")
                continue
            self.claim(child.start, child.end, Kind.STRUCTURE, f"tref {child.name}")
            track.references.append((child.type, ids))
            references.append((child.type, ids))

        def render(layout: Layout) -> bytes:
            body = b""
            for kind, ids in references:
                left = [i for i in ids if i not in layout.dropped]
                body += box(kind, b"".join(i.to_bytes(4, "big") for i in left)) if left else b""
            return box(b"tref", body) if body else b""

        return Node(b"tref", render=render)

    def mdia_child(self, child: Box, depth: int, track: Track) -> Node | None:
        kind = child.type
        if kind == b"mdhd":
            canonical = mb.mdhd(self.payload(child))
            self.movie.dates |= canonical.label == "mdhd dates"
            return self.leaf(child, canonical, track)
        if kind == b"hdlr":
            return self.hdlr(child, track)
        if kind == b"minf":
            return self.container(child, depth, lambda c, d: self.minf_child(c, d, track))
        self.drop(child)
        return None

    def hdlr(self, child: Box, track: Track | None) -> Node:
        canonical, component, handler = mb.hdlr(self.payload(child))
        if track is not None and component != mb.DHLR:  # QuickTime's data handler says "alias", not the media
            track.handler = handler
        return self.leaf(child, canonical, track)

    def minf_child(self, child: Box, depth: int, track: Track) -> Node | None:
        kind = child.type
        if kind == b"vmhd":
            return self.leaf(child, mb.vmhd(self.payload(child)), track)
        if kind == b"smhd":
            return self.leaf(child, mb.smhd(self.payload(child)), track)
        if kind in (b"nmhd", b"sthd"):
            return self.leaf(child, mb.empty_full(child.name, self.payload(child)), track)
        if kind == b"hdlr":
            return self.hdlr(child, track)
        if kind == b"dinf":
            return self.container(child, depth, lambda c, d: self.dinf_child(c, track))
        if kind == b"stbl":
            return self.stbl(child, depth, track)
        self.drop(child)
        return None

    def dinf_child(self, child: Box, track: Track) -> Node | None:
        """The data references: the rebuild writes one that says "this file" (a track whose samples are in another
        file is refused once its descriptions are known)."""
        if child.type != b"dref" or track.data_reference is not None:
            self.drop(child)
            return None
        _, _, pos = full_box(self.data, child)
        count = uint(self.data, pos, 4, child.end)
        entries = list(iter_boxes(self.data, pos + 4, child.end))
        if len(entries) != count:
            raise BoxError("dref does not hold exactly its entries")
        track.data_reference = reference = mb.dref([(e.type, self.payload(e)) for e in entries])

        def render(layout: Layout) -> bytes:
            first = track.entry_references[0] if track.entry_references else 1
            return box(b"dref", reference.canonical(first))

        first = 1  # the label is decided now: the canonical form points at the first description's reference
        same = self.payload(child) == reference.canonical(first)
        self.claim(
            child.start, child.end, Kind.STRUCTURE if same else Kind.METADATA, "dref" if same else "dref entries"
        )
        return Node(b"dref", render=render)

    # ------------------------------------------------------------------ sample tables

    def stbl(self, stbl: Box, depth: int, track: Track) -> Node:
        children = list(iter_boxes(self.data, stbl.body, stbl.end))
        first: dict[bytes, Box] = {}
        for child in children:
            first.setdefault(child.type, child)
        track.tables = Tables(first)
        samples = track.tables.sample_count(self.data)
        described = described_types([self.payload(c) for c in children if c.type == b"sgpd"])
        return self.container(stbl, depth, lambda c, d: self.stbl_child(c, d, track, samples, described))

    def stbl_child(
        self, child: Box, depth: int, track: Track, samples: int, described: dict[bytes, int]
    ) -> Node | None:
        assert track.tables is not None
        if not _first_of_its_kind(track.tables.boxes, child):
            self.drop(child, f"second {child.name} box")
            return None
        if child.type == b"stsd":
            return self.stsd(child, depth, track)
        if child.type in (b"stco", b"co64"):
            return self.offsets(child, track)
        is_table, canonical = _table_form(self.data, child)
        if is_table:
            return self.table(child, canonical, track)
        parsers: dict[bytes, Callable[[bytes], mb.Canonical]] = {
            b"cslg": mb.cslg,
            b"sdtp": lambda payload: sdtp(payload, samples),
            b"sgpd": lambda payload: sgpd(payload)[0],
            b"sbgp": lambda payload: sbgp(payload, described),
        }
        parse = parsers.get(child.type)
        if parse is None:
            self.drop(child)
            return None
        try:
            return self.leaf(child, parse(self.payload(child)), track)
        except Dropped as reason:
            self.drop(child, str(reason))
            return None

    def offsets(self, child: Box, track: Track) -> Node:
        """Chunk offsets: written from the track's chunks once they have moved."""
        _, flags, pos = full_box(self.data, child)
        width = 8 if child.type == b"co64" else 4
        exact = not flags and pos + 4 + uint(self.data, pos, 4, child.end) * width == child.end
        self.claim(child.start, child.end, Kind.STRUCTURE if exact else Kind.METADATA, child.name)
        wide_input = child.type == b"co64"

        def render(layout: Layout) -> bytes:
            wide = wide_input if layout.wide is None else layout.wide
            moved = [layout.moved(offset) for offset in track.chunks.offsets]
            if not wide and moved and max(moved) > 0xFFFFFFFF:
                raise NeedsWide
            return rebuilt_offsets(iter(moved), len(moved), wide)

        return Node(child.type, render=render)

    # ------------------------------------------------------------------ sample descriptions

    def stsd(self, stsd: Box, depth: int, track: Track) -> Node:
        version, _, pos = full_box(self.data, stsd)
        if version > 1:
            raise BoxError(f"stsd has an unknown version {version}")
        count = uint(self.data, pos, 4, stsd.end)
        if count > MAX_DESCRIPTIONS:
            raise Refusal(f"too many sample descriptions in a track ({count} > {MAX_DESCRIPTIONS}): budget")
        entries = list(iter_boxes(self.data, pos + 4, stsd.end))
        if len(entries) != count:
            raise BoxError("stsd does not hold exactly its sample descriptions")
        head = bytes([version, 0, 0, 0]) + count.to_bytes(4, "big")
        same = bytes(self.data[stsd.body : pos + 4]) == head
        self.claim(stsd.start, pos + 4, Kind.STRUCTURE if same else Kind.METADATA, "stsd")
        quicktime_rules = self.movie.quicktime or version == 0
        children = [self.entry(entry, depth + 1, track, quicktime_rules) for entry in entries]
        return Node(b"stsd", head=head, children=children)

    def entry(self, entry: Box, depth: int, track: Track, quicktime_rules: bool) -> Node:
        track.sample_entries.append(entry.type)
        track.entry_references.append(uint(self.data, entry.body + 6, 2, entry.end))
        if entry.type in ENCRYPTED:
            track.encrypted = track.encrypted or entry.type
        kind = "visual" if track.handler in VISUAL_HANDLERS else "audio" if track.handler == b"soun" else "whole"
        if kind == "whole":
            self.claim(entry.start, entry.end, Kind.STRUCTURE, f"sample description {entry.name}")
            return Node(entry.type, raw=(entry.body, entry.end))
        payload = self.payload(entry)
        if kind == "visual":
            fixed, canonical = VISUAL_FIXED, visual_fixed(payload)
            schema = VISUAL_CHILDREN
        else:
            layout = audio_layout(payload, quicktime_rules)
            fixed = AUDIO_FIXED[layout]
            canonical, (channels, bits, packet) = audio_fixed(payload, layout)
            if track.sound is None:
                track.sound = (entry.type, channels, bits, packet)
            schema = AUDIO_CHILDREN
        same = canonical.payload == payload[:fixed] and entry.body - entry.start == 8
        self.claim(
            entry.start,
            entry.body + fixed,
            Kind.STRUCTURE if same else Kind.METADATA,
            entry.name if same else canonical.label,
        )
        children, tail = self.entry_children(entry, entry.body + fixed, schema, depth)
        node = Node(entry.type, head=canonical.payload, children=children, tail=tail)
        track.decoding.append(node.write(self.data, Layout(lambda o: o, None, frozenset())))
        return node

    def entry_children(self, entry: Box, start: int, schema: Schema, depth: int) -> tuple[list[Node], bytes]:
        """The child boxes of a sample description, and QuickTime's 32-bit zero terminator after them if any (kept);
        fewer than 8 other bytes after the last box are padding readers skip (dropped)."""
        end, tail = boxes_end(self.data, start, entry.end), b""
        rest = bytes(self.data[end : entry.end])
        if rest == TERMINATOR:
            tail = TERMINATOR
            self.claim(end, entry.end, Kind.STRUCTURE, "sample description terminator")
        elif rest:
            self.claim(end, entry.end, Kind.METADATA, "sample description trailing bytes")
        children = [self.schema_child(child, schema, depth + 1) for child in iter_boxes(self.data, start, end)]
        return [c for c in children if c is not None], tail

    def schema_child(self, child: Box, schema: Schema, depth: int) -> Node | None:
        """A child box that ``schema`` knows: a leaf in canonical form or a container of known boxes; any other
        box is dropped."""
        rule = schema.get(child.type)
        if rule is None:
            self.drop(child)
            return None
        if isinstance(rule, dict):
            return self.container(child, depth, lambda c, d: self.schema_child(c, rule, d))
        leaf: Leaf = rule  # type: ignore[assignment]
        try:
            return self.leaf(child, leaf(self.payload(child)))
        except Dropped as reason:
            self.drop(child, str(reason))
            return None


def boxes_end(data: Buffer, start: int, end: int) -> int:
    """Where the run of whole boxes from ``start`` ends: at ``end``, or where fewer than 8 bytes are left."""
    pos = start
    while end - pos >= 8:
        size = uint(data, pos, 4, end)
        if size == 1:
            size = uint(data, pos + 8, 8, end)
        if size < 8 or pos + size > end:
            raise BoxError(f"a box at offset {pos} runs past the end of its sample description: truncated")
        pos += size
    return pos


def _first_of_its_kind(boxes: dict[bytes, Box], child: Box) -> bool:
    """False for a second table of a kind (and for ``co64`` beside ``stco``, ``stz2`` beside ``stsz``): unused."""
    if child.type in (b"sgpd", b"sbgp"):
        return True
    if (child.type == b"co64" and b"stco" in boxes) or (child.type == b"stz2" and b"stsz" in boxes):
        return False
    return boxes.get(child.type) == child


def _table_form(data: Buffer, child: Box) -> tuple[bool, bytes | None]:
    """Whether ``child`` is a sample table of numbers, and its canonical payload (None: as it is)."""
    if child.type in _TABLES:
        return True, counted(data, child, _TABLES[child.type])
    if child.type == b"ctts":
        return True, counted(data, child, 8, (0, 1))
    if child.type in (b"stsz", b"stz2"):
        return True, _sizes_canonical(data, child)
    return False, None


def _sizes_canonical(data: Buffer, table: Box) -> bytes | None:
    """``stsz``/``stz2`` with its flags (and ``stz2``'s reserved bits) zero; its exact size is checked with the
    chunks."""
    version, flags, pos = full_box(data, table)
    reserved = table.type == b"stz2" and any(bytes(data[pos : pos + 3]))
    if not version and not flags and not reserved:
        return None
    head = bytes(4) + (bytes(3) if table.type == b"stz2" else bytes(data[pos : pos + 3]))
    return head + bytes(data[pos + 3 : table.end])


def parse_movie(
    data: Buffer,
    moov: Box,
    *,
    keep: Callable[[Track], bool] | None = None,
    quicktime: bool = False,
    pairing: bool = False,
    chunk_budget: int | None = None,
) -> Movie:
    """Label every box of ``moov``, build the tree the rebuild writes, and find each track's chunks. A track
    ``keep`` refuses is metadata whole (its ``trak`` box; its samples are the caller's to label). ``pairing``: keep
    the Live Photo pairing identifier in canonical form. ``chunk_budget``: chunks the movie may describe (default:
    one per :data:`BYTES_PER_CHUNK` bytes of file, at most :data:`MAX_CHUNKS`)."""
    movie = Movie(box=moov, quicktime=quicktime)
    walk = _Walk(data, movie, pairing=pairing)
    movie.root = walk.moov(moov)
    budget = chunk_budget if chunk_budget is not None else min(MAX_CHUNKS, len(data) // BYTES_PER_CHUNK + 1000)
    for track in movie.tracks:
        budget -= _find_chunks(data, track, budget)
    if keep is not None:
        movie.dropped = [track for track in movie.tracks if not keep(track)]
        movie.tracks = [track for track in movie.tracks if keep(track)]
        _drop_tracks(movie)
    for track in movie.tracks:
        _check_kept(track)
    return movie


def _find_chunks(data: Buffer, track: Track, budget: int) -> int:
    if track.tables is None:
        raise BoxError(f"track {track.track_id} has no sample table")
    tables = track.tables
    if track.handler == b"soun" and track.sound is not None and old_style_sound(data, tables.boxes):
        fourcc, channels, bits, packet = track.sound
        tables.old_style, tables.packet = True, packet
        tables.frame_bytes = pcm_frame_bytes(fourcc, channels, bits)
    track.chunks, track.samples = chunks_of(data, tables, budget)
    return len(track.chunks)


def _drop_tracks(movie: Movie) -> None:
    """Each dropped track's claims become one metadata claim for its ``trak``, and its node goes (one pass)."""
    if not movie.dropped:
        return
    assert movie.root is not None and movie.root.children is not None
    skipped = sorted(track.claims for track in movie.dropped)
    claims, at = [], 0
    for first, end in skipped:
        claims += movie.claims[at:first]
        at = end
    claims += movie.claims[at:]
    for track in movie.dropped:
        assert track.box is not None
        claims.append(
            (track.box.start, track.box.end, Kind.METADATA, f"track {track.track_id} ({_4cc(track.handler)})")
        )
    movie.claims = claims
    gone = {id(track.node) for track in movie.dropped}
    movie.root.children = [node for node in movie.root.children if id(node) not in gone]


def _check_kept(track: Track) -> None:
    if track.encrypted:
        raise Refusal(f"track {track.track_id} is encrypted ({_4cc(track.encrypted)}): not supported")
    if track.external and track.chunks:
        raise Refusal(f"the samples of track {track.track_id} lie in another file (a data reference): not supported")


def _4cc(kind: bytes) -> str:
    return kind.decode("latin-1").strip() if kind.isascii() and kind.strip().isalnum() else kind.hex()


# ---------------------------------------------------------------------- writing


def rebuild_moov(data: Buffer, moov: Box, movie: Movie, moved: Callable[[int], int], wide: bool | None) -> bytes:
    """The new ``moov``: metadata boxes and dropped tracks gone, every kept box in canonical form, chunk offsets
    moved (``wide``: all 64-bit, all 32-bit, or None: each table keeps its width unless an offset needs 64 bits,
    which raises :class:`NeedsWide`)."""
    assert movie.root is not None
    return movie.root.write(data, Layout(moved, wide, frozenset(movie.dropped_ids)))
