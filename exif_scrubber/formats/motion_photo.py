"""Motion photos: the movie a phone stores with a photo, found, walked and cleaned like any video.

Layouts (each as the phone makers write them; the movie itself is an ordinary MP4/MOV):

- **Google** (Pixel, Android 12+ cameras, "Motion Photo format 1.0"): the primary image's XMP holds a
  ``Container:Directory`` whose ``MotionPhoto`` item (``video/mp4``) gives the movie's ``Item:Length``; the movie
  is the last bytes of the file. In HEIC the movie is the payload of a top-level ``mpvd`` box.
- **Older Google / Samsung** ("MicroVideo"): ``GCamera:MicroVideoOffset`` counts from the end of the file back to
  the start of the movie (Samsung's SEF trailer, if any, lies after the movie and is counted too).
- **Samsung** (SEF trailer): blocks ``[0][type][name length][name][data]`` before an ``SEFH`` directory ending in
  ``SEFT``; the ``MotionPhoto_Data`` block (type 0x0A30) holds the movie. Other blocks (capture time, mobile
  country code, capture mode) are metadata.
- **An MP4 appended after the JPEG's EOI** (some iPhone exports, older Android apps).

The movie's bytes are labelled by the movie handler's own walker (prefixed ``motion photo video:``), so its
metadata boxes, dates and timed tracks are findings like in any video; the rewrite keeps the movie cleaned by the
same rules and rewrites what points at it (XMP lengths and offsets, a canonical SEF trailer holding only the
``MotionPhoto_Data`` block). With ``drop_motion_photo_video`` the movie and what points at it go.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..bytemodel import Buffer, ByteModel, Kind
from ..errors import StructureError
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal
from .isobmff import iter_boxes

PREFIX = "motion photo video: "
"""How the labels of the movie's spans start in the photo's byte model."""
SEF_TAIL = b"SEFT"
SEF_HEAD = b"SEFH"
MOTION_PHOTO_TYPE = 0x0A30
MOTION_PHOTO_NAME = b"MotionPhoto_Data"
SEF_VERSION = 106
"""The SEF directory version Samsung phones write."""
_MAX_SEF_ENTRIES = 64
KEPT_NOTE = "motion photo: video kept, cleaned"
DROPPED_NOTE = "motion photo: video removed (drop_motion_photo_video)"
MALFORMED_NOTE = "motion photo: the video is malformed ({}), removed"


@dataclass
class EmbeddedMovie:
    """A motion photo's movie inside a photo: where it is, its walk, and how the photo points at it."""

    start: int
    end: int
    model: ByteModel
    handler: FormatHandler
    samsung: bool = False
    """The file ends in a Samsung SEF trailer (rebuilt holding only the movie's block)."""

    @property
    def length(self) -> int:
        return self.end - self.start


def movie_handler(head: bytes) -> FormatHandler | None:
    """The movie handler for bytes starting with ``head`` (an ``ftyp`` box), or None."""
    from .mp4 import M4vHandler, MovHandler, Mp4Handler, ThreeGpHandler

    for handler in (MovHandler, M4vHandler, ThreeGpHandler, Mp4Handler):
        if handler.matches(head):
            return handler()
    return None


def movie_end(data: Buffer, start: int, limit: int) -> int:
    """Where the run of ISO boxes starting at ``start`` ends (at most ``limit``): the movie's last byte."""
    end = start
    try:
        for found in iter_boxes(data, start, limit):
            end = found.end
    except StructureError:
        pass  # what follows the movie (a SEF trailer) is not a box
    return end


class MalformedMovie(Exception):
    """A movie is where a motion photo says, but its handler cannot walk it (one line, naming the problem)."""


def walk_movie(data: Buffer, start: int, end: int, policy: ScrubPolicy) -> EmbeddedMovie | None:
    """The movie in ``data[start:end]`` walked by its handler; None when no movie starts there. Raises
    :class:`MalformedMovie` when one does but does not parse (a movie cut short)."""
    if end - start < 16 or bytes(data[start + 4 : start + 8]) != b"ftyp":
        return None
    handler = movie_handler(bytes(data[start : start + 64]))
    if handler is None:
        return None
    try:
        model = handler.walk(memoryview(data)[start:end], policy)
    except (StructureError, Refusal) as exc:
        raise MalformedMovie(str(exc)) from None
    return EmbeddedMovie(start, end, model, handler)


def add_spans(model: ByteModel, movie: EmbeddedMovie) -> None:
    """Append the movie's spans to ``model`` at its place, labelled with :data:`PREFIX`."""
    for span in movie.model.spans:
        model.add(movie.start + span.start, movie.start + span.end, span.kind, PREFIX + span.label)


def clean_movie(data: Buffer, movie: EmbeddedMovie, policy: ScrubPolicy) -> bytes:
    """The movie cleaned by its handler's own rewrite (metadata boxes and tracks gone, dates zeroed, media kept)."""
    return movie.handler.rewrite(movie.model, memoryview(data)[movie.start : movie.end], policy)


# ---------------------------------------------------------------------- Samsung SEF trailer


@dataclass(frozen=True)
class SefTrailer:
    """A Samsung SEF trailer at the end of a file: where its blocks start and where the movie block's data is."""

    start: int
    """The first byte of the trailer (its first block, or its directory)."""
    movie: tuple[int, int] | None
    """``[start, end)`` of the ``MotionPhoto_Data`` block's data (the MP4), when the directory names it."""


def find_sef(data: Buffer, floor: int) -> SefTrailer | None:
    """The SEF trailer ending ``data`` (its blocks all at or after ``floor``), or None."""
    size = len(data)
    if size - floor < 20 or bytes(data[size - 4 :]) != SEF_TAIL:
        return None
    (length,) = struct.unpack("<I", data[size - 8 : size - 4])
    directory = size - 8 - length
    if directory < floor or length < 12 or bytes(data[directory : directory + 4]) != SEF_HEAD:
        return None
    count = struct.unpack("<I", data[directory + 8 : directory + 12])[0]
    if count > _MAX_SEF_ENTRIES or 12 + 12 * count > length:
        return None
    first, movie = directory, None
    for index in range(count):
        _, kind, back, block = struct.unpack("<HHII", data[directory + 12 + 12 * index : directory + 24 + 12 * index])
        begin = directory - back
        if back < block or begin < floor or block < 8:
            return SefTrailer(directory, None)  # offsets of a trimmed file: the directory alone is known
        first = min(first, begin)
        if kind == MOTION_PHOTO_TYPE:
            name_length = struct.unpack("<I", data[begin + 4 : begin + 8])[0]
            if 8 + name_length <= block:
                movie = (begin + 8 + name_length, begin + block)
    return SefTrailer(first, movie)


def motion_block_start(data: Buffer, movie_start: int, floor: int) -> int:
    """Where the ``MotionPhoto_Data`` block header before a movie starts (the movie's start when there is none)."""
    header = 8 + len(MOTION_PHOTO_NAME)
    begin = movie_start - header
    if begin >= floor and bytes(data[begin + 8 : movie_start]) == MOTION_PHOTO_NAME:
        return begin
    return movie_start


def samsung_parts(movie_length: int) -> tuple[bytes, bytes]:
    """A canonical SEF trailer holding only the movie, as what goes before the movie (the ``MotionPhoto_Data``
    block header) and after it (the directory of that one block, its length and ``SEFT``)."""
    head = struct.pack("<HHI", 0, MOTION_PHOTO_TYPE, len(MOTION_PHOTO_NAME)) + MOTION_PHOTO_NAME
    block = len(head) + movie_length
    directory = SEF_HEAD + struct.pack("<IIHHII", SEF_VERSION, 1, 0, MOTION_PHOTO_TYPE, block, block)
    return head, directory + struct.pack("<I", len(directory)) + SEF_TAIL


def label_trailer(model: ByteModel, start: int, end: int, label: str) -> None:
    """Label ``[start, end)`` of a trailer as metadata (no-op when empty)."""
    if end > start:
        model.add(start, end, Kind.METADATA, label)


# ---------------------------------------------------------------------- the trailer of a JPEG


def _candidates(data: Buffer, start: int, container_length: int | None, micro_offset: int | None) -> list[int]:
    """Where the movie may start, most specific first: the container's length and the MicroVideo offset counted
    from the end, then right after the image (an appended MP4)."""
    size = len(data)
    found = [size - n for n in (container_length, micro_offset) if n]
    found.append(start)
    return [at for at in dict.fromkeys(found) if start <= at < size]


def find_movie(
    data: Buffer, start: int, policy: ScrubPolicy, *, container_length: int | None, micro_offset: int | None
) -> tuple[EmbeddedMovie | None, SefTrailer | None]:
    """The motion photo's movie in ``data[start:]`` (what follows a photo's last image), and the Samsung trailer.
    Raises :class:`MalformedMovie` when a movie is there but none of its candidate places walks."""
    sef = find_sef(data, start)
    places = [sef.movie] if sef is not None and sef.movie is not None else []
    limit = sef.start if sef is not None else len(data)
    places += [(at, movie_end(data, at, limit)) for at in _candidates(data, start, container_length, micro_offset)]
    problem = None
    for begin, end in places:
        try:
            movie = walk_movie(data, begin, end, policy)
        except MalformedMovie as exc:
            problem = problem or exc
            continue
        if movie is not None:
            movie.samsung = sef is not None
            return movie, sef
    if problem is not None:
        raise problem
    return None, sef


def label_jpeg_trailer(
    model: ByteModel, data: Buffer, start: int, movie: EmbeddedMovie | None, policy: ScrubPolicy
) -> None:
    """Label everything from ``start`` (the end of the photo's last image) to the end of the file: the movie
    walked by its handler, the rest (SEF blocks, padding, other trailers) metadata."""
    size = len(data)
    if movie is None or policy.drop_motion_photo_video:
        label = "motion photo video (removed by policy)" if movie is not None else "bytes after EOI (trailer)"
        label_trailer(model, start, size, label)
        return
    head, tail = samsung_parts(movie.length) if movie.samsung else (b"", b"")
    canonical = (
        bytes(data[start : movie.start]) == head
        and bytes(data[movie.end :]) == tail
        and (movie.samsung or movie.end == size)
    )
    before, after = ("Samsung trailer",) * 2 if movie.samsung else ("bytes before the video", "bytes after the video")
    if canonical and movie.samsung:
        model.add(start, movie.start, Kind.KEPT, "Samsung motion photo trailer")
    else:
        label_trailer(model, start, movie.start, before)
    add_spans(model, movie)
    if canonical and movie.samsung:
        model.add(movie.end, size, Kind.KEPT, "Samsung motion photo trailer")
    else:
        label_trailer(model, movie.end, size, after)
    model.images.append(movie.model.proof_hash(memoryview(data)[movie.start : movie.end]))
    model.embedded.append((movie.start, movie.end))
