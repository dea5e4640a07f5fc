"""The samples of a movie's video tracks read through :mod:`.bitstream`, and written clean chunk by chunk.

For each kept track whose sample descriptions are H.264, HEVC (Dolby Vision included) or AV1, every sample is split
into NAL units or OBUs. What the bitstream module removes (SEI user data, AV1 metadata and padding) is labelled
metadata byte for byte inside the sample; the rest of the sample is image data. A sample that does not parse as its
codec makes the track malformed: the file is refused, naming the track.

The proof of such a track is the SHA-256 of its clean samples, one after the other (the input's NAL units that
stay; the output's NAL units, all of them), beside the sample table as the output holds it (the new sample sizes
in ``stsz``). The rewrite reads each changed chunk sample by sample, writes the clean samples, and never holds
more than one sample in memory; every other chunk is copied as before. Samples of other codecs are copied; of those
whose frames start with known bytes (MPEG-4 Visual and H.263 start codes, a JPEG's SOI, ProRes' frame header) each
sample must start so, or the file is refused naming the track and sample. The samples of all such tracks together
are bounded by :data:`MAX_SAMPLES` and one per :data:`BYTES_PER_SAMPLE` bytes of file.
"""

from __future__ import annotations

import bisect
import hashlib
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..bytemodel import Buffer, Kind, release_pages
from .base import Refusal
from .bitstream import CONFIG_BOX, BitstreamError, SampleFormat, inspect_sample, sample_format
from .isobmff import Box, BoxError, iter_boxes
from .movie import VISUAL_HANDLERS, Movie, Node, Track, boxes_end
from .movie_entries import VISUAL_FIXED
from .movie_tables import sample_layout

MAX_SAMPLE = 256 * 1024 * 1024
"""The largest sample the parser reads (one sample is in memory at a time while the rewrite cleans it)."""
EXACT_MARKS = 65_536
"""Changed units of one track labelled byte for byte; past it, one metadata claim a chunk (memory budget)."""
RELEASE_STEP = 16 * 1024 * 1024
"""Bytes read before the pages behind them are let go."""
FAULT_AROUND = 1024 * 1024
"""Pages within this of the next read are kept mapped (the kernel's fault-around maps up to 64 KiB around a fault;
readahead of a memory-mapped file more)."""
MAX_SAMPLES = 4_000_000
"""Samples of the checked tracks of one movie (three hours at 60 frames per second hold 648,000)."""
BYTES_PER_SAMPLE = 16
"""A checked sample costs at least this many bytes of file on average (a movie of six-byte samples is refused:
reading each takes a few microseconds, so the walk's time is bounded by the file's size)."""
_CODEC_NAMES = {"avc": "H.264", "hevc": "HEVC", "av1": "AV1"}
_PRORES = frozenset({b"apch", b"apcn", b"apcs", b"apco", b"ap4h", b"ap4x"})
_STARTS: dict[bytes, tuple[str, Callable[[bytes], bool]]] = {
    b"mp4v": ("MPEG-4 Visual, MPEG-1/2 or JPEG", lambda head: head[:3] == b"\0\0\x01" or head[:2] == b"\xff\xd8"),
    b"s263": ("H.263", lambda head: head[:2] == b"\0\0" and head[2] & 0xFC == 0x80),
    b"h263": ("H.263", lambda head: head[:2] == b"\0\0" and head[2] & 0xFC == 0x80),
    b"jpeg": ("JPEG", lambda head: head[:2] == b"\xff\xd8"),
    b"mjpa": ("JPEG", lambda head: head[:2] == b"\xff\xd8"),
    **dict.fromkeys(_PRORES, ("ProRes", lambda head: head[4:8] == b"icpf")),
}
"""Video codecs the engine does not parse, each with what the first bytes of every frame are (a start code, a
JPEG's SOI, ProRes' frame header): a sample that does not start so is not a frame of its codec."""


@dataclass(slots=True)
class CleanChunk:
    """A chunk the rewrite writes clean: its input range, its clean size, and its samples' input sizes (a slice of
    the track's sizes, shared, so that a movie whose every chunk changes holds one small object a chunk)."""

    start: int
    end: int
    size: int
    table: array[int]
    first: int
    count: int
    fmt: SampleFormat

    @property
    def sizes(self) -> array[int]:
        return self.table[self.first : self.first + self.count]

    def samples(self, read: Callable[[int, int], Buffer]) -> Iterator[bytes]:
        """The clean samples, one at a time; ``read(start, end)`` gives input bytes. Raises when they do not add
        up to the size the walk found (the input changed in between)."""
        pos, total = self.start, 0
        for size in self.sizes:
            sample = read(pos, pos + size)
            cleaned = inspect_sample(self.fmt, sample)
            clean = cleaned.data(sample) if cleaned.changes else bytes(sample)
            total += len(clean)
            yield clean
            pos += size
        if total != self.size:
            raise BitstreamError("a chunk cleaned to another size than its walk found: the file changed")


@dataclass
class TrackSamples:
    """What reading a track's samples found."""

    track: Track
    claims: list[tuple[int, int, Kind, str]] = field(default_factory=list)
    sizes: array[int] = field(default_factory=lambda: array("I"))
    """The clean sample sizes, in track order."""
    digest: bytes = b""
    """SHA-256 of the clean samples (empty when the walk does not hash)."""
    chunks: dict[int, CleanChunk] = field(default_factory=dict)
    """The chunks that change, by input offset."""
    removed: int = 0
    """Bytes the clean samples hold fewer than the input ones."""
    marks: int = 0
    """Changed units labelled one by one so far."""
    numbered: int = 0
    """Samples before the first one read (a refusal names a sample by its number in the track)."""

    @property
    def changed(self) -> bool:
        return bool(self.chunks)


def check_samples(samples: int, size: int) -> None:
    """Refuse, naming the budget, more video samples to read than a movie of ``size`` bytes may hold."""
    limit = min(MAX_SAMPLES, size // BYTES_PER_SAMPLE + 10_000)
    if samples > limit:
        raise Refusal(f"too many video samples for the movie's size ({samples} > {limit}): budget")


class RunReader:
    """The samples of one kept video track's movie fragments, read run by run as :func:`scan_movie` reads a track's
    chunks: labelled, hashed clean (one hash for all its runs), and each run that changes written clean."""

    def __init__(self, data: Buffer, track: Track, *, digest: bool) -> None:
        self.data, self.track, self.formats = data, track, _formats(data, track)
        self.scan = TrackSamples(track, numbered=track.samples)
        self.hasher = hashlib.sha256() if digest else None
        self.pager = _Pager(data)
        self.samples = 0
        """Samples read so far."""

    def parses(self, description: int) -> bool:
        """True when the samples of sample description ``description`` (1-based) are read."""
        return 0 < description <= len(self.formats) and self.formats[description - 1] is not None

    def read(self, start: int, sizes: array[int], description: int) -> array[int] | None:
        """Read the run of samples of ``sizes`` at ``start`` (its description :meth:`parses`); the clean sizes when
        the run changes, else None. Raises when a sample does not parse."""
        fmt = self.formats[description - 1]
        assert fmt is not None
        name = _4cc(self.track.sample_entries[description - 1])
        before = len(self.scan.sizes)
        _chunk(self.data, self.scan, (fmt, name), (start, sizes, 0, len(sizes)), (self.hasher, self.pager))
        self.scan.numbered += len(sizes)
        self.samples += len(sizes)
        return self.scan.sizes[before:] if start in self.scan.chunks else None

    def digest(self) -> bytes:
        """The SHA-256 of the clean samples of every run read (empty when the walk does not hash)."""
        self.pager.finish(len(self.data))
        return self.hasher.digest() if self.hasher is not None else b""


def fragment_readers(data: Buffer, movie: Movie, *, digest: bool) -> dict[int, RunReader]:
    """A :class:`RunReader` for each kept visual track whose codec :mod:`.bitstream` parses, by track id."""
    readers = {}
    for track in movie.tracks:
        if track.handler in VISUAL_HANDLERS and track.tables is not None:
            reader = RunReader(data, track, digest=digest)
            if any(reader.formats):
                readers[track.track_id] = reader
    return readers


def scan_movie(data: Buffer, movie: Movie, *, digest: bool, fragment_samples: int = 0) -> dict[int, TrackSamples]:
    """Read the samples of each kept visual track whose codec :mod:`.bitstream` parses (by track id). A track whose
    samples change gets its ``stsz`` written anew with the clean sizes; the decoding description of every such track
    names its sample sizes as the output's ``stsz`` says them, so that input and output prove the same."""
    found = {}
    visual = [t for t in movie.tracks if t.handler in VISUAL_HANDLERS and t.tables is not None]
    check_samples(sum(t.samples for t in visual) + fragment_samples, len(data))
    for track in visual:
        formats = _formats(data, track)
        if not any(formats):
            _check_starts(data, track)
            continue
        scan = _scan(data, track, formats, digest=digest)
        found[track.track_id] = scan
        sizes = stsz_payload(scan.sizes)
        if scan.changed:
            _rewrite_sizes(track.node, sizes)
        track.decoding = _decoding_with_sizes(track.decoding, sizes)
    return found


def _formats(data: Buffer, track: Track) -> list[SampleFormat | None]:
    """The sample layout of each of the track's sample descriptions (None: a codec this module does not parse)."""
    assert track.tables is not None
    stsd = track.tables.boxes.get(b"stsd")
    if stsd is None:
        return []
    formats = []
    for entry in iter_boxes(data, stsd.body + 8, stsd.end):
        config_type = CONFIG_BOX.get(entry.type)
        config = _child(data, entry, config_type) if config_type is not None else None
        try:
            formats.append(sample_format(entry.type, config if config is not None else b""))
        except BitstreamError as exc:
            raise BitstreamError(f"track {track.track_id} ({_4cc(entry.type)}): {exc}") from None
    return formats


def _child(data: Buffer, entry: Box, kind: bytes) -> bytes | None:
    """The payload of the ``kind`` box among a visual sample description's children, read as the movie walker reads
    them (up to QuickTime's terminator or a few bytes of padding: :func:`.movie.boxes_end`)."""
    start = entry.body + VISUAL_FIXED
    children = iter_boxes(data, start, boxes_end(data, start, entry.end))
    return next((bytes(data[c.body : c.end]) for c in children if c.type == kind), None)


def _check_starts(data: Buffer, track: Track) -> None:
    """Each sample of a video codec the engine does not parse but knows the first bytes of (:data:`_STARTS`) starts
    so: a ``vide`` track whose samples are text (a second track declared MPEG-4 Visual or JPEG) is refused."""
    assert track.tables is not None
    checks = [_STARTS.get(entry) for entry in track.sample_entries]
    if not any(checks):
        return
    sizes, counts, entries = sample_layout(data, track.tables, len(track.chunks))
    first = 0
    for (start, _), count, entry in zip(track.chunks, counts, entries, strict=True):
        check = checks[entry - 1] if 0 < entry <= len(checks) else None
        if check is not None:
            codec, starts = check
            pos = start
            for index in range(first, first + count):
                if sizes[index] and not starts(bytes(data[pos : pos + min(8, sizes[index])])):
                    name = _4cc(track.sample_entries[entry - 1])
                    raise BitstreamError(
                        f"track {track.track_id} ({name}): sample {index + 1} does not start as a frame of its "
                        f"codec ({codec})"
                    )
                pos += sizes[index]
        first += count


def _rewrite_sizes(node: Node | None, payload: bytes) -> None:
    """The track's ``stsz`` (or ``stz2``) node writes ``payload`` as an ``stsz``."""
    for found in _nodes(node):
        if found.type in (b"stsz", b"stz2"):
            found.type, found.head, found.raw, found.render = b"stsz", payload, None, None
            return
    raise BoxError("internal: a track whose samples change has no sample size box")


def _nodes(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    for child in node.children or ():
        yield from _nodes(child)


def _decoding_with_sizes(decoding: list[bytes | tuple[int, int]], payload: bytes) -> list[bytes | tuple[int, int]]:
    """``decoding`` with its sample sizes (``stsz``/``stz2``, as a type and a range or as one canonical box) given
    as the ``stsz`` of the clean samples."""
    out: list[bytes | tuple[int, int]] = []
    skip = False
    for part in decoding:
        if skip:
            skip = False
            continue
        if part in (b"stsz", b"stz2"):
            skip = True  # the type; its range follows
            out.append(b"stsz" + payload)
        elif isinstance(part, bytes) and part[:4] in (b"stsz", b"stz2"):
            out.append(b"stsz" + payload)
        else:
            out.append(part)
    return out


class _Pager:
    """Lets go of the pages of a memory-mapped file behind the reader, in steps of :data:`RELEASE_STEP` and never
    within :data:`FAULT_AROUND` of where it reads next (the kernel maps the pages around a fault, and pages mapped
    back behind the reader would stay resident): memory stays flat however the samples are cut into chunks."""

    def __init__(self, data: Buffer) -> None:
        self.data, self.cursor = data, -1

    def advance(self, pos: int) -> None:
        if self.cursor < 0 or pos < self.cursor:
            self.cursor = pos - pos % FAULT_AROUND
        safe = pos - pos % FAULT_AROUND - FAULT_AROUND
        if safe - self.cursor >= RELEASE_STEP:
            release_pages(self.data, self.cursor, safe)
            self.cursor = safe

    def finish(self, end: int) -> None:
        if 0 <= self.cursor < end:
            release_pages(self.data, self.cursor, end)
        self.cursor = -1


def _scan(data: Buffer, track: Track, formats: list[SampleFormat | None], *, digest: bool) -> TrackSamples:
    assert track.tables is not None
    scan = TrackSamples(track)
    hasher = hashlib.sha256() if digest else None
    pager = _Pager(data)
    sizes, counts, entries = sample_layout(data, track.tables, len(track.chunks))
    first = end = 0
    for (start, length), count, entry in zip(track.chunks, counts, entries, strict=True):
        fmt = formats[entry - 1] if 0 < entry <= len(formats) else None
        if fmt is None:
            _image(scan, start, start + length)
            scan.sizes.extend(sizes[first : first + count])
            for pos in range(start, start + length, RELEASE_STEP):
                if hasher is not None:
                    hasher.update(memoryview(data)[pos : min(pos + RELEASE_STEP, start + length)])
                pager.advance(pos)
        else:
            codec = _4cc(track.sample_entries[entry - 1])
            _chunk(data, scan, (fmt, codec), (start, sizes, first, count), (hasher, pager))
        first, end = first + count, max(end, start + length)
    pager.finish(end)
    scan.digest = hasher.digest() if hasher is not None else b""
    return scan


def _chunk(
    data: Buffer,
    scan: TrackSamples,
    codec: tuple[SampleFormat, str],
    where: tuple[int, array[int], int, int],
    reading: tuple[hashlib._Hash | None, _Pager],
) -> None:
    """One chunk of a parsed track (``where``: its offset, the track's sample sizes, its first sample and count):
    its samples read one by one, labelled, and hashed clean (``reading``: the hash, or None, and the pager)."""
    (fmt, name), (start, table, first, count), (hasher, pager) = codec, where, reading
    track, pos, marks, clean = scan.track, start, [], 0
    view = memoryview(data) if hasher is not None else None
    for index, size in enumerate(table[first : first + count]):
        if size > MAX_SAMPLE:
            raise Refusal(f"track {track.track_id}: a sample of {size} bytes is larger than the parser's limit")
        pager.advance(pos)
        try:
            cleaned = inspect_sample(fmt, data[pos : pos + size])
        except BitstreamError as exc:
            raise BitstreamError(
                f"track {track.track_id} ({name}): sample {scan.numbered + first + index + 1} does not parse as "
                f"{_CODEC_NAMES[fmt.codec]}: {exc}"
            ) from None
        marks += [(pos + c.start, pos + c.end, c.label) for c in cleaned.changes]
        if hasher is not None and view is not None:
            for part in cleaned.parts:
                hasher.update(part if isinstance(part, bytes) else view[pos + part[0] : pos + part[1]])
        scan.sizes.append(cleaned.size)
        clean += cleaned.size
        pos += size
    _claims(scan, start, pos, marks)
    if marks:
        scan.chunks[start] = CleanChunk(start, pos, clean, table, first, count, fmt)
        scan.removed += pos - start - clean


def _claims(scan: TrackSamples, start: int, end: int, marks: list[tuple[int, int, str]]) -> None:
    """Image data around the changed units, each changed unit metadata ("SEI user data in track 1 samples"). Past
    :data:`EXACT_MARKS` changed units in a track, a chunk's changes are one metadata claim from its first to its
    last (the byte model stays small; the rewrite does not use the claims)."""
    track = scan.track.track_id
    if marks and scan.marks + len(marks) > EXACT_MARKS:
        marks = [(marks[0][0], marks[-1][1], marks[0][2])]
    scan.marks += len(marks)
    pos = start
    for mark_start, mark_end, label in marks:
        _image(scan, pos, mark_start)
        scan.claims.append((mark_start, mark_end, Kind.METADATA, f"{label} in track {track} samples"))
        pos = mark_end
    _image(scan, pos, end)


def _image(scan: TrackSamples, start: int, end: int) -> None:
    """An image data claim, joined to the previous one when they touch (one claim for a run of chunks)."""
    if end <= start:
        return
    last = scan.claims[-1] if scan.claims else None
    if last is not None and last[2] is Kind.IMAGE and last[1] == start:
        scan.claims[-1] = (last[0], end, Kind.IMAGE, last[3])
    else:
        scan.claims.append((start, end, Kind.IMAGE, f"track {scan.track.track_id} samples"))


def segments(
    blocks: list[tuple[int, int]], cleaned: Mapping[int, CleanChunk], chunks: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``blocks`` (merged runs of kept samples) cut around the chunks that change, so that each of those is a block
    of its own (the writer finds it by its start in ``cleaned``). Refused when another chunk (``(start, end)``)
    shares bytes with a chunk that changes."""
    starts = sorted(cleaned)
    for start, end in chunks:
        index = bisect.bisect_right(starts, end - 1) - 1
        other = cleaned[starts[index]] if end > start and index >= 0 else None
        if other is not None and other.end > start and (other.start, other.end) != (start, end):
            raise Refusal("samples of two chunks overlap where one of them changes: not supported")
    out: list[tuple[int, int]] = []
    for block_start, block_end in blocks:
        pos = block_start
        for first in starts[bisect.bisect_left(starts, block_start) : bisect.bisect_left(starts, block_end)]:
            if first > pos:
                out.append((pos, first))
            out.append((first, cleaned[first].end))
            pos = cleaned[first].end
        if block_end > pos:
            out.append((pos, block_end))
    return out


def stsz_payload(sizes: array[int]) -> bytes:
    """The payload of a sample size box for ``sizes`` (one size for all when they are all equal)."""
    if len(sizes) and min(sizes) == max(sizes):
        return struct.pack(">4xII", sizes[0], len(sizes))
    if len(sizes) and max(sizes) > 0xFFFFFFFF:
        raise Refusal("a sample is larger than a sample size box can say")
    table = array("I", sizes)
    if sys.byteorder == "little":
        table.byteswap()
    return struct.pack(">4xII", 0, len(sizes)) + table.tobytes()


def _4cc(kind: bytes) -> str:
    return kind.decode("latin-1").strip() if kind.isascii() and kind.strip().isalnum() else kind.hex()
