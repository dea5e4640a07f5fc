"""MP4, MOV, M4V and 3GP/3G2 videos (phones, cameras, action cams, Live Photo movies): the byte model and the rewrite.

Bytes are: structure (``ftyp`` with the brands the handler knows, the ``moov`` boxes :mod:`.movie` reads field by
field, movie fragments :mod:`.movie_fragments` reads, ``mdat`` headers), media (the samples of the audio and video
tracks, found through their sample tables and fragment runs), or metadata: ``udta``/``meta``/``uuid``/``free``/
``wide`` boxes anywhere, headers with dates, named handlers and compressors, vendor codes, reserved fields that are
not zero, whole tracks that are not audio or video (GPS and telemetry in ``gpmd``/``camm``/``mebx`` timed metadata,
timecode, subtitles, chapters) with their samples, trailers after the movie (Samsung's ``sefd``), and every byte of
``mdat`` no kept track references.

The engine writes the clean movie itself (no ExifTool write; ExifTool reads it afterwards, with ``-ee``): the
canonical ``ftyp``, the movie header rebuilt from the walker's labels, each ``mdat`` compacted to the samples the
kept tracks reference (copied byte for byte, chunk offsets moved), each fragment rebuilt (:mod:`.movie_write`).
Two entry points: a file streamed into a new one (or cleaned in place) with flat memory, for videos of gigabytes;
and :func:`clean_movie` / :func:`walk_movie` for a movie held in memory (one embedded in a motion photo).
"""

from __future__ import annotations

import bisect
import itertools
import mmap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, Ranges, claims_to_spans
from ..kept.exif import is_content_identifier
from ..pixels import PixelProbe
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, merged_tags
from .isobmff import Box, BoxError, brands, iter_boxes
from .movie import VISUAL_HANDLERS, Movie, Track, parse_movie
from .movie_fragments import FRAGMENT_BOXES, Fragments, walk_fragments
from .movie_tags import AUDIO_ENTRY, FILE_TAGS, MOVIE_TAGS, VISUAL_ENTRY
from .movie_write import Plan, Walked, apply, assemble, plan
from .track_samples import TrackSamples, scan_movie
from .video_probe import probe_video

KEPT_HANDLERS = (b"vide", b"soun")
"""Tracks kept: video and audio. Every other track (timed metadata, timecode, text, hints) is dropped."""
_EXIFTOOL_HASHED = (b"vide", b"soun")
_EXIFTOOL_RANGES = 100_000
"""The ranges of ExifTool's ImageDataHash are listed (for the tests that compare it) up to this many chunks."""
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
_ALL_BRANDS = _MOV_BRANDS | _M4V_BRANDS | _3GP_BRANDS | _MP4_BRANDS
KNOWN_BRANDS = _ALL_BRANDS | frozenset(
    {b"dash", b"msdh", b"msix", b"cmfc", b"cmf2", b"cmfs", b"cmff", b"cmfl", b"iso2", b"avc3", b"hev3", b"dby1",
     b"mp4v", b"M4P ", b"3gp6", b"opus", b"Opus", b"vp09", b"av1c", b"ccff", b"piff", b"isml", b"hlsf"}
)  # fmt: skip
"""Brands the canonical ``ftyp`` keeps; any other is dropped (a brand is four free bytes)."""
VIDEO_MIME_TYPES = frozenset(
    {"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/3gpp2", "audio/mp4", "audio/x-m4a"}
)


@dataclass
class VideoModel(ByteModel):
    """A walked movie: the byte model plus what the rewrite needs."""

    boxes: list[Box] = field(default_factory=list)
    moov: Box | None = None
    movie: Movie | None = None
    ftyp: bytes | None = None
    """The canonical ``ftyp`` the rewrite writes (None: none)."""
    fragments: Fragments | None = None
    samples: dict[int, TrackSamples] = field(default_factory=dict)
    """The kept tracks whose samples :mod:`.track_samples` read (H.264, HEVC, AV1), by track id."""

    def walked(self) -> Walked:
        assert self.movie is not None and self.moov is not None
        fragments, movie = self.fragments, self.movie
        return Walked(
            self.boxes,
            self.ftyp,
            self.moov,
            movie,
            fragments.rebuilt if fragments is not None else {},
            lambda: _kept_ranges(movie, fragments),
            {
                **{start: chunk for scan in self.samples.values() for start, chunk in scan.chunks.items()},
                **(fragments.cleaned if fragments is not None else {}),
            },
            lambda: _chunk_ranges(movie, fragments),
        )


_PAIRING = Allowlist.of("Keys", ["ContentIdentifier"], {"ContentIdentifier": is_content_identifier})
"""The Live Photo pairing identifier, kept in canonical form when the policy asks for it."""


def _kept(track: Track) -> bool:
    return track.handler in KEPT_HANDLERS


def _major_brands(head: bytes) -> tuple[bytes, set[bytes]]:
    found = brands(head)
    return (head[8:12] if found else b""), found


def canonical_ftyp(raw: bytes) -> tuple[bytes, str]:
    """``ftyp`` with its minor version zero and only the brands the handler knows (a known major brand, else the
    first known compatible one), each once; and the label when the input differs."""
    major, compatible = raw[8:12], [raw[i : i + 4] for i in range(16, len(raw) - 3, 4)]
    known = list(dict.fromkeys(b for b in compatible if b in KNOWN_BRANDS))
    if major not in KNOWN_BRANDS:
        major = known[0] if known else b"isom"
    body = major + bytes(4) + b"".join(known)
    out = (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body
    if out == raw:
        return out, "ftyp"
    if len(raw) % 4 or len(known) != len(compatible) or raw[8:12] != major:
        return out, "ftyp brands"
    return out, "ftyp minor version"


class _MovieHandler(FormatHandler):
    """Shared by the four names of the QuickTime/ISO movie family."""

    mime_types: ClassVar[frozenset[str]] = VIDEO_MIME_TYPES
    pillow_formats: ClassVar[frozenset[str]] = frozenset()
    leftover_group: ClassVar[str] = "QuickTime-boxes"
    exiftool_read_args: ClassVar[tuple[str, ...]] = ("-ee",)
    """Timed metadata (GPS per frame in ``gpmd``, ``camm``, ``mebx``, subtitle tracks) is read only with -ee."""
    sparse_fill = 32 * 1024 * 1024
    """With ``-ee`` ExifTool scans the first 20 MB of the media data for dash-cam GPS records (``freeGPS``,
    ``GP\\x06``); over the zeros of an audit's sparse copy its pattern search takes 300 ms for a 4 MB movie, over
    0xFF 12 ms (measured). An audit never has those bytes either way: they are samples it skipped."""
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
        boxes = _top_level(data)
        moovs = [b for b in boxes if b.type == b"moov"]
        if len(moovs) != 1:
            raise BoxError("the file has no moov box, or more than one")
        moov = moovs[0]
        data[moov.start : moov.end]  # one read of the whole header (an audit's lazy buffer: one ranged GET)
        if any(child.type == b"cmov" for child in iter_boxes(data, moov.body, moov.end)):
            raise Refusal("compressed movie header (cmov): not supported")
        ftyp = bytes(data[: boxes[0].end]) if boxes[0].type == b"ftyp" else None
        quicktime = ftyp is None or ftyp[8:12] == b"qt  "
        movie = parse_movie(data, moov, keep=_kept, quicktime=quicktime, pairing=policy.keep_live_photo_pairing)
        fragmented = any(b.type in FRAGMENT_BOXES for b in boxes)
        fragments = walk_fragments(data, boxes, movie, digest=verify) if fragmented else None
        if not movie.tracks:
            raise Refusal("the movie has no audio or video track")
        model.boxes, model.moov, model.movie, model.fragments = boxes, moov, movie, fragments
        read = fragments.read_samples if fragments is not None else 0
        model.samples = scan_movie(data, movie, digest=verify, fragment_samples=read)
        claims = list(movie.claims)
        if fragments is not None:
            claims += fragments.claims
        for top in boxes:
            if top.type == b"ftyp" and top is boxes[0] and ftyp is not None:
                model.ftyp, label = canonical_ftyp(ftyp)
                claims.append((top.start, top.end, Kind.STRUCTURE if label == "ftyp" else Kind.METADATA, label))
            elif top.type == b"mdat":
                claims.append((top.start, top.body, Kind.STRUCTURE, "mdat header"))
            elif top.type != b"moov" and (fragments is None or top.start not in fragments.walked):
                claims.append((top.start, top.end, Kind.METADATA, f"{top.name} box"))
        if boxes[-1].end < len(data):  # a maker's trailer that is not a box (Insta360, Samsung SEF in a photo)
            claims.append((boxes[-1].end, len(data), Kind.METADATA, "bytes after the movie"))
        media = sorted((b.body, b.end) for b in boxes if b.type == b"mdat")
        claims += _samples(movie, fragments, media, model.samples)
        claims_to_spans(model, claims, data, gap_label="bytes no track references")
        _proof(model, movie, fragments, verify)
        return model.close()  # type: ignore[return-value]

    def probe(self, path: Path) -> PixelProbe:
        return probe_video(path)

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        """The clean movie in memory (a movie held in memory, e.g. one embedded in a motion photo)."""
        assert isinstance(model, VideoModel)
        return assemble(plan(model.walked(), data), data)

    def write(self, model: ByteModel, data: Buffer, source: Path, output: Path, policy: ScrubPolicy) -> None:
        """The clean movie streamed from ``source`` into ``output`` (flat memory, whatever its size)."""
        assert isinstance(model, VideoModel)
        the_plan = plan(model.walked(), data)
        with source.open("rb") as src, output.open("wb") as out:
            apply(src.fileno(), out.fileno(), the_plan)


def _top_level(data: Buffer) -> list[Box]:
    """The top-level boxes, up to where what follows is not a box (a trailer; a file cut short is refused later, when
    its samples or its movie header are found missing)."""
    boxes: list[Box] = []
    try:
        boxes.extend(iter_boxes(data, 0, len(data), last_to_end=True))
    except BoxError:
        if not boxes:
            raise
    return boxes


def _proof(model: VideoModel, movie: Movie, fragments: Fragments | None, verify: bool) -> None:
    """What the proof hash covers: the movie header's and each kept track's decoding boxes in canonical form, and
    their samples chunk by chunk (then fragment by fragment); for a track whose samples were parsed, the hash of its
    clean samples (the input's NAL units or OBUs that stay; all of the output's), sample after sample."""
    model.proof = [b"movie", *movie.decoding]
    for track in movie.tracks:
        model.proof += [f"track {track.track_id} {_4cc(track.handler)}".encode(), *track.decoding]
        scan = model.samples.get(track.track_id)
        if scan is not None and verify:
            model.proof.append(b"clean samples sha256 " + scan.digest)
        else:
            model.proof.append(Ranges(track.chunks.ranges))
    if fragments is not None:
        model.proof += fragments.proof
    if sum(len(track.chunks) for track in movie.tracks) <= _EXIFTOOL_RANGES:
        model.exiftool_ranges = [
            (s, s + n) for track in movie.tracks if track.handler in _EXIFTOOL_HASHED for s, n in track.chunks if n
        ]
    visual = [track for track in movie.tracks if track.handler in VISUAL_HANDLERS]
    model.frames = 0
    if visual:
        model.frames = visual[0].samples + (fragments.samples.get(visual[0].track_id, 0) if fragments else 0)
    model.notes += [f"dropped track {t.track_id} ({_4cc(t.handler)}): not audio or video" for t in movie.dropped]


def _samples(
    movie: Movie, fragments: Fragments | None, media: list[tuple[int, int]], scans: dict[int, TrackSamples]
) -> list[tuple[int, int, Kind, str]]:
    """Claims for every run of samples: media of the kept tracks (SEI user data, AV1 metadata and padding inside
    parsed samples are metadata), metadata of the dropped ones; each inside an ``mdat``."""
    claims = []
    starts = [start for start, _ in media]
    for kept, tracks in ((True, movie.tracks), (False, movie.dropped)):
        for track in tracks:
            label = f"track {track.track_id} samples" if kept else f"track {track.track_id} ({_4cc(track.handler)})"
            scan = scans.get(track.track_id) if kept else None
            runs: Iterator[tuple[int, int, bool]] = ((s, e, scan is None) for s, e in track.chunks.runs())
            if fragments is not None:  # (the claims of runs read unit by unit are among the fragments' own)
                read = fragments.read if kept else set()
                runs = itertools.chain(runs, ((s, e, s not in read) for s, e in fragments.runs.get(track.track_id, [])))
            for start, end, whole in runs:
                index = bisect.bisect_right(starts, start) - 1
                if index < 0 or end > media[index][1]:
                    raise BoxError(f"samples of track {track.track_id} lie outside the media data")
                if whole:
                    claims.append((start, end, Kind.IMAGE if kept else Kind.METADATA, label))
            if scan is not None:
                claims += scan.claims
    return claims


def _chunk_ranges(movie: Movie, fragments: Fragments | None) -> Iterator[tuple[int, int]]:
    """Every kept chunk and fragment run, ``(start, end)`` (a range written clean must share no byte with another)."""
    for track in movie.tracks:
        yield from track.chunks.ranges()
        if fragments is not None:
            yield from fragments.runs.get(track.track_id, [])


def _kept_ranges(movie: Movie, fragments: Fragments | None) -> Iterator[tuple[int, int]]:
    for track in movie.tracks:
        yield from track.chunks.runs()
        if fragments is not None:
            yield from fragments.runs.get(track.track_id, [])


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


# ---------------------------------------------------------------------- entry points for other handlers


def walk_movie(data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> VideoModel:
    """The byte model of a movie (MP4, MOV, M4V, 3GP) held in ``data``, whatever its brand. Raises
    ``StructureError`` (malformed) or :class:`Refusal` (well-formed but not cleanable)."""
    return _handler_of(data).walk(data, policy, verify=verify)


def clean_movie(data: Buffer, policy: ScrubPolicy) -> bytes:
    """The clean form of the movie held in ``data``: ``ftyp`` canonical, the movie header rebuilt from the walker's
    labels, each ``mdat`` holding only the kept tracks' samples (moved, never changed). A movie that is already
    clean comes back byte for byte. Raises ``StructureError`` or :class:`Refusal`."""
    model = walk_movie(data, policy)
    return bytes(data) if model.is_clean() else assemble(plan(model.walked(), data), data)


def clean_movie_in_place(path: Path, policy: ScrubPolicy) -> bool:
    """Clean the movie file at ``path`` in place with flat memory; False when it was clean already. The rebuild only
    removes bytes, so everything moves towards the start and no second copy is needed; where a piece would have to
    move towards the end (a box growing), a new file is written beside it and renamed over it."""
    with path.open("r+b") as handle:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                model = walk_movie(view, policy)
                the_plan: Plan | None = None if model.is_clean() else plan(model.walked(), view)
            finally:
                view.release()
        if the_plan is None:
            return False
        if the_plan.in_place:
            apply(handle.fileno(), handle.fileno(), the_plan)
            return True
        rebuilt = path.with_name(path.name + ".rebuilt")
        with rebuilt.open("wb") as out:
            apply(handle.fileno(), out.fileno(), the_plan)
    rebuilt.replace(path)
    return True


def _handler_of(data: Buffer) -> _MovieHandler:
    head = bytes(data[:64])
    for handler in (Mp4Handler, MovHandler, M4vHandler, ThreeGpHandler):
        if handler.matches(head):
            return handler()
    if brands(head) or head[4:8] in _QUICKTIME_ATOMS:
        return Mp4Handler()  # a movie whose brands are all unknown: the canonical ftyp keeps none of them
    raise BoxError("not an ISO base media or QuickTime movie")
