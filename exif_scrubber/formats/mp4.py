"""MP4, MOV, M4V and 3GP/3G2 videos (phones, cameras, Live Photo movies): the byte model and the rewrite.

Bytes are: structure (``ftyp``, the ``moov`` boxes :mod:`.movie` reads field by field, ``mdat`` headers), media
(the samples of the audio and video tracks, found through their sample tables), or metadata: ``udta``/``meta``/
``uuid``/``free``/``wide`` boxes anywhere, headers with dates, named handlers and compressors, vendor codes,
whole tracks that are not audio or video (GPS and telemetry in ``gpmd``/``camm``/``mebx`` timed metadata,
timecode, subtitles, chapters) with their samples, and every byte of ``mdat`` no kept track references.

The engine writes the clean movie itself (no ExifTool write; ExifTool reads it afterwards, with ``-ee``): the
movie header rebuilt from the walker's labels (dates zeroed, names emptied, dropped tracks and every metadata
box gone) and each ``mdat`` compacted to the samples the kept tracks reference (copied byte for byte, chunk
offsets moved). Two entry points: a file streamed into a new one (or cleaned in place) with flat memory, for
videos of gigabytes; and :func:`clean_movie` / :func:`walk_movie` for a movie held in memory.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, claims_to_spans, merge_ranges
from ..kept.exif import is_content_identifier
from ..pixels import PixelProbe
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, merged_tags
from .isobmff import Box, BoxError, brands, iter_boxes
from .movie import VISUAL_HANDLERS, Movie, Track, parse_movie, rebuild_moov
from .movie_pairing import keep_pairing
from .movie_tags import AUDIO_ENTRY, FILE_TAGS, MOVIE_TAGS, VISUAL_ENTRY
from .video_probe import probe_video

KEPT_HANDLERS = (b"vide", b"soun")
"""Tracks kept: video and audio. Every other track (timed metadata, timecode, text, hints) is dropped."""
_EXIFTOOL_HASHED = (b"vide", b"soun")
_FRAGMENTS = frozenset({b"moof", b"mfra", b"sidx", b"styp", b"ssix", b"prft", b"emsg"})
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
"""Top-level atoms an old QuickTime movie without ``ftyp`` may start with."""
_MOV_BRANDS = frozenset({b"qt  "})
_M4V_BRANDS = frozenset({b"M4V ", b"M4VH", b"M4VP"})
_3GP_BRANDS = frozenset(
    {b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gp8", b"3gp9", b"3g2a", b"3g2b", b"3g2c", b"3ge6", b"3ge7", b"3gg6",
     b"3gs7", b"kddi"}
)  # fmt: skip
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9", b"mp41", b"mp42", b"mp71",
     b"avc1", b"hvc1", b"hev1", b"av01", b"MSNV", b"XAVC", b"f4v ", b"mmp4", b"CAEP", b"M4A ", b"M4B ", b"nvr1",
     b"dby1", b"MP4 "}
)  # fmt: skip
VIDEO_MIME_TYPES = frozenset(
    {"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/3gpp2", "audio/mp4", "audio/x-m4a"}
)
COPY_STEP = 8 * 1024 * 1024
"""Bytes moved at a time by the in-place rewrite (memory stays flat whatever the size of the video)."""


@dataclass
class VideoModel(ByteModel):
    """A walked movie: the byte model plus what the finish step needs."""

    boxes: list[Box] = field(default_factory=list)
    moov: Box | None = None
    movie: Movie | None = None


_PAIRING = Allowlist.of("Keys", ["ContentIdentifier"], {"ContentIdentifier": is_content_identifier})
"""The Live Photo pairing identifier, kept in canonical form when the policy asks for it."""


def _kept(track: Track) -> bool:
    return track.handler in KEPT_HANDLERS


def _major_brands(head: bytes) -> tuple[bytes, set[bytes]]:
    found = brands(head)
    return (head[8:12] if found else b""), found


class _MovieHandler(FormatHandler):
    """Shared by the four names of the QuickTime/ISO movie family."""

    mime_types: ClassVar[frozenset[str]] = VIDEO_MIME_TYPES
    pillow_formats: ClassVar[frozenset[str]] = frozenset()
    leftover_group: ClassVar[str] = "QuickTime-boxes"
    exiftool_read_args: ClassVar[tuple[str, ...]] = ("-ee",)
    """Timed metadata (GPS per frame in ``gpmd``, ``camm``, ``mebx``, subtitle tracks) is read only with -ee."""
    brands: ClassVar[frozenset[bytes]]
    structure_tags = merged_tags(
        MOVIE_TAGS,
        FILE_TAGS,
        {"Live Photo pairing identifier": _PAIRING},
    )

    def allowlist(self, model: ByteModel, policy: ScrubPolicy) -> Allowlist:
        """The kept boxes' names, and those of the sample descriptions of the kept tracks."""
        assert isinstance(model, VideoModel) and model.movie is not None
        entries = [VISUAL_ENTRY if t.handler in VISUAL_HANDLERS else AUDIO_ENTRY for t in model.movie.tracks]
        return Allowlist.union(entries) | super().allowlist(model, policy)

    @classmethod
    def matches(cls, head: bytes) -> bool:
        major, found = _major_brands(head)
        if found:
            return major in cls.brands or (major not in _ALL_BRANDS and bool(found & cls.brands))
        return cls is MovHandler and head[4:8] in _QUICKTIME_ATOMS

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> VideoModel:
        model = VideoModel(format=self.name, size=len(data))
        boxes = list(iter_boxes(data, 0, len(data), last_to_end=True))
        fragments = [b.name for b in boxes if b.type in _FRAGMENTS]
        if fragments:
            raise Refusal(f"fragmented movie ({fragments[0]} box): not supported")
        moovs = [b for b in boxes if b.type == b"moov"]
        if len(moovs) != 1:
            raise BoxError("the file has no moov box, or more than one")
        data[moovs[0].start : moovs[0].end]  # one read of the whole header (an audit's lazy buffer: one ranged GET)
        quicktime = boxes[0].type != b"ftyp" or _major_brands(bytes(data[: boxes[0].end]))[0] == b"qt  "
        movie = parse_movie(data, moovs[0], keep=_kept, quicktime=quicktime)
        if not movie.tracks:
            raise Refusal("the movie has no audio or video track")
        if policy.keep_live_photo_pairing:
            keep_pairing(data, movie)
        model.boxes, model.moov, model.movie = boxes, moovs[0], movie
        claims = list(movie.claims)
        media = [(b.body, b.end) for b in boxes if b.type == b"mdat"]
        for top in boxes:
            if top.type == b"ftyp" and top is boxes[0]:
                claims.append((top.start, top.end, Kind.STRUCTURE, "ftyp"))
            elif top.type == b"mdat":
                claims.append((top.start, top.body, Kind.STRUCTURE, "mdat header"))
            elif top.type != b"moov":
                claims.append((top.start, top.end, Kind.METADATA, f"{top.name} box"))
        claims += _samples(movie, media)
        claims_to_spans(model, claims, data, gap_label="bytes no track references")
        model.proof = [b"movie", *movie.decoding]
        for track in movie.tracks:
            model.proof += [f"track {track.track_id} {_4cc(track.handler)}".encode(), *track.decoding]
            model.proof += [(start, start + length) for start, length in track.chunks]
        model.exiftool_ranges = [
            (s, s + n) for track in movie.tracks if track.handler in _EXIFTOOL_HASHED for s, n in track.chunks if n
        ]
        visual = [track.samples for track in movie.tracks if track.handler in VISUAL_HANDLERS]
        model.frames = visual[0] if visual else 0
        model.notes += [f"dropped track {t.track_id} ({_4cc(t.handler)}): not audio or video" for t in movie.dropped]
        return model.close()  # type: ignore[return-value]

    def probe(self, path: Path) -> PixelProbe:
        return probe_video(path)

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        """The clean movie in memory (a movie held in memory, e.g. one embedded in a motion photo)."""
        assert isinstance(model, VideoModel)
        return _assemble(_plan(model, data), data)

    def write(self, model: ByteModel, data: Buffer, source: Path, output: Path, policy: ScrubPolicy) -> None:
        """The clean movie streamed from ``source`` into ``output`` in steps of :data:`COPY_STEP` (flat memory)."""
        assert isinstance(model, VideoModel)
        plan = _plan(model, data)
        with source.open("rb") as src, output.open("wb") as out:
            _apply(src.fileno(), out.fileno(), plan)


def walk_movie(data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> VideoModel:
    """The byte model of a movie (MP4, MOV, M4V, 3GP) held in ``data``, whatever its brand. Raises
    ``StructureError`` (malformed) or :class:`Refusal` (well-formed but not cleanable)."""
    return _handler_of(data).walk(data, policy, verify=verify)


def clean_movie(data: Buffer, policy: ScrubPolicy) -> bytes:
    """The clean form of the movie held in ``data``: ``ftyp`` canonical, the movie header rebuilt from the walker's
    labels, each ``mdat`` holding only the kept tracks' samples (moved, never changed). A movie that is already
    clean comes back byte for byte. Raises ``StructureError`` or :class:`Refusal`."""
    model = walk_movie(data, policy)
    return bytes(data) if model.is_clean() else _assemble(_plan(model, data), data)


def clean_movie_in_place(path: Path, policy: ScrubPolicy) -> bool:
    """Clean the movie file at ``path`` in place with flat memory; False when it was clean already. The rebuild only
    removes bytes, so everything moves towards the start and no second copy is needed; where a piece would have to
    move towards the end (a box growing), a new file is written beside it and renamed over it."""
    with path.open("r+b") as handle:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                model = walk_movie(view, policy)
                plan = None if model.is_clean() else _plan(model, view)
            finally:
                view.release()
        if plan is None:
            return False
        if plan.in_place:
            _apply(handle.fileno(), handle.fileno(), plan)
            return True
        rebuilt = path.with_name(path.name + ".rebuilt")
        with rebuilt.open("wb") as out:
            _apply(handle.fileno(), out.fileno(), plan)
    rebuilt.replace(path)
    return True


def _handler_of(data: Buffer) -> _MovieHandler:
    head = bytes(data[:64])
    for handler in (Mp4Handler, MovHandler, M4vHandler, ThreeGpHandler):
        if handler.matches(head):
            return handler()
    if brands(head) or head[4:8] in _QUICKTIME_ATOMS:
        return Mp4Handler()  # a movie whose brands are all unknown: the walker labels them
    raise BoxError("not an ISO base media or QuickTime movie")


def _samples(movie: Movie, media: list[tuple[int, int]]) -> list[tuple[int, int, Kind, str]]:
    """Claims for every chunk: media of the kept tracks, metadata of the dropped ones; each inside an mdat."""
    claims = []
    for kept, tracks in ((True, movie.tracks), (False, movie.dropped)):
        for track in tracks:
            label = f"track {track.track_id} samples" if kept else f"track {track.track_id} ({_4cc(track.handler)})"
            for start, length in track.chunks:
                if length and not any(s <= start and start + length <= e for s, e in media):
                    raise BoxError(f"samples of track {track.track_id} lie outside the media data")
                claims.append((start, start + length, Kind.IMAGE if kept else Kind.METADATA, label))
    return claims


@dataclass
class _Plan:
    """The rewrite: each piece is written at its new offset, either bytes or a range of the file itself."""

    pieces: list[tuple[int, bytes | tuple[int, int]]]
    size: int
    in_place: bool
    """True when no piece is written over bytes a later piece still has to read (the usual case: the rebuild
    only removes bytes, so everything moves towards the start)."""


def _plan(model: VideoModel, data: Buffer) -> _Plan:
    """Where everything kept goes: the boxes in their order, metadata left out, each mdat holding only the
    kept samples it held. Refused when a piece would have to move towards the end (never, as the rebuild only
    removes bytes, unless an mdat's size field must grow)."""
    movie, moov = model.movie, model.moov
    assert movie is not None and moov is not None
    blocks = merge_ranges((s, s + n) for track in movie.tracks for s, n in track.chunks)
    size_of_moov = len(rebuild_moov(data, moov, movie, lambda offset: 0, None))
    pieces: list[tuple[int, int, bytes | tuple[int, int]]] = []  # (new offset, old offset, what)
    starts: dict[int, int] = {}
    position = 0
    for top in model.boxes:
        if top.type == b"ftyp" and top is model.boxes[0]:
            pieces.append((position, top.start, (top.start, top.end)))
            position += top.end - top.start
        elif top.type == b"moov":
            pieces.append((position, top.start, b""))  # filled in below, once the chunks have their places
            position += size_of_moov
        elif top.type == b"mdat":
            inside = [(s, e) for s, e in blocks if top.body <= s and e <= top.end]
            if inside:
                header = top.body - top.start
                payload = sum(e - s for s, e in inside)
                pieces.append((position, top.start, _mdat_header(header, payload)))
                position += header
                for start, end in inside:
                    starts[start] = position
                    pieces.append((position, start, (start, end)))
                    position += end - start
    firsts = [s for s, _ in blocks]

    def moved(offset: int) -> int:
        index = bisect.bisect_right(firsts, offset) - 1
        return starts[blocks[index][0]] + offset - blocks[index][0]

    new_moov = rebuild_moov(data, moov, movie, moved, None)
    if len(new_moov) != size_of_moov:
        raise BoxError("internal: the movie header's size depends on its chunk offsets")
    out = [(new, new_moov if what == b"" else what) for new, _, what in pieces]
    return _Plan(out, position, _in_place(out))


def _in_place(pieces: list[tuple[int, bytes | tuple[int, int]]]) -> bool:
    """No piece moves towards the end, and no write ends past the first byte a later piece reads."""
    reads = [what[0] for _, what in pieces if not isinstance(what, bytes)]
    for new, what in pieces:
        if isinstance(what, bytes):
            end = new + len(what)
        elif new > what[0]:
            return False
        else:
            reads.pop(0)
            end = new + what[1] - what[0]
        if reads and end > reads[0]:
            return False
    return True


def _mdat_header(header: int, payload: int) -> bytes:
    if header == 16:
        return struct.pack(">I4sQ", 1, b"mdat", payload + 16)
    if payload + 8 > 0xFFFFFFFF:
        raise Refusal("the clean media data needs a 64-bit size where the input had none")
    return struct.pack(">I4s", payload + 8, b"mdat")


def _assemble(plan: _Plan, data: Buffer) -> bytes:
    """The plan's output in memory."""
    out = bytearray(plan.size)
    for new, what in plan.pieces:
        piece = what if isinstance(what, bytes) else data[what[0] : what[1]]
        out[new : new + len(piece)] = piece
    return bytes(out)


def _apply(source: int, target: int, plan: _Plan) -> None:
    """Write the plan front to back, in steps of :data:`COPY_STEP` (``target`` may be ``source``: in place)."""
    for new, what in plan.pieces:
        if isinstance(what, bytes):
            os.pwrite(target, what, new)
            continue
        start, end = what
        for pos in range(start, end, COPY_STEP):
            chunk = os.pread(source, min(COPY_STEP, end - pos), pos)
            if source != target or new + pos - start != pos:
                os.pwrite(target, chunk, new + pos - start)
    os.ftruncate(target, plan.size)


def _4cc(kind: bytes) -> str:
    return kind.decode("latin-1").strip() if kind.isascii() and kind.strip().isalnum() else kind.hex()


class Mp4Handler(_MovieHandler):
    """MP4 (ISO base media) videos and audio."""

    name = "MP4"
    mime_type = "video/mp4"
    extension = "mp4"
    brands = _MP4_BRANDS


class MovHandler(_MovieHandler):
    """QuickTime movies (iPhone videos, Live Photo movies)."""

    name = "MOV"
    mime_type = "video/quicktime"
    extension = "mov"
    brands = _MOV_BRANDS


class M4vHandler(_MovieHandler):
    """Apple's M4V."""

    name = "M4V"
    mime_type = "video/x-m4v"
    extension = "m4v"
    brands = _M4V_BRANDS


class ThreeGpHandler(_MovieHandler):
    """3GPP and 3GPP2 phone videos."""

    name = "3GP"
    mime_type = "video/3gpp"
    extension = "3gp"
    brands = _3GP_BRANDS


_ALL_BRANDS = _MOV_BRANDS | _M4V_BRANDS | _3GP_BRANDS | _MP4_BRANDS
