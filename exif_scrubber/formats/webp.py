"""WebP: the byte model of a RIFF/WEBP file, and its rewrite.

Structure: the RIFF header, chunk headers and zero padding bytes, VP8X (reserved bytes zero), ANIM (exactly its 6
bytes: background colour and loop count) and the 16-byte ANMF frame headers (reserved bits zero). Image data: the
payloads of the VP8, VP8L and ALPH chunks a decoder reads: the image of a still file, the image of each ANMF frame.
Kept items: ICCP (reduced profile), EXIF (minimal EXIF) and XMP (canonical packet). Metadata: unknown chunks (top
level or inside a frame), an image chunk after the image of a simple file (decoders ignore it), repeated
EXIF/XMP/ICCP, ANIM in a still image, extra bytes in ANIM, non-zero reserved bytes, bytes after the alpha plane of an
uncompressed ALPH chunk, a non-zero padding byte and bytes after the RIFF end.

The headers of the coded data are parsed (:mod:`.webp_bitstream`): the image must be the size VP8X (or its ANMF
frame) declares. What libwebp refuses is refused: reserved VP8X flag bits or ALPH bits, a VP8X of the wrong size, a
second image in an extended file or a frame. The rewrite rebuilds the chunk list, recomputes the VP8X flags and the
RIFF and ANMF sizes. A simple-format file (no VP8X) stays simple, its EXIF and XMP after the image where conforming
readers ignore them, unless it keeps an ICC profile (and no orientation that turns the image): a profile must come
before the image, which only the extended format allows, so the file is upgraded to VP8X with the canvas and alpha
of its bitstream. Budget: at most ``CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK`` chunks.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, Span
from ..errors import StructureError
from ..kept import exif as kept_exif
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import ExifValues, build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp, xmp_options
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags
from .webp_bitstream import Bitstream, BitstreamError, alpha_compressed, vp8_header, vp8l_header

_IMAGE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_FLAG_ANIMATION, _FLAG_XMP, _FLAG_EXIF, _FLAG_ALPHA, _FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
_VP8X_FLAGS = _FLAG_ANIMATION | _FLAG_XMP | _FLAG_EXIF | _FLAG_ALPHA | _FLAG_ICC
CHUNK_BUDGET_BASE = 20_000
BYTES_PER_CHUNK = 64
"""A file may hold ``CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK`` chunks (an animation frame is at least 40 bytes)."""


class WebpStructureError(StructureError):
    """The RIFF structure of the WebP cannot be followed."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One RIFF chunk ``[start, end)``, its padding byte included."""

    start: int
    end: int
    fourcc: bytes
    size: int

    @property
    def data_start(self) -> int:
        return self.start + 8

    @property
    def data_end(self) -> int:
        return self.data_start + self.size


@dataclass
class WebpModel(ByteModel):
    """A walked WebP: the byte model plus what the rewrite needs."""

    chunks: list[Chunk] = field(default_factory=list)
    still: list[Chunk] = field(default_factory=list)
    """The image chunks of a still file that a decoder reads (ALPH and VP8, or VP8 or VP8L)."""
    frame_chunks: dict[int, list[Chunk]] = field(default_factory=dict)
    """For each ANMF chunk index, the image chunks of its frame that are kept."""
    frame_headers: dict[int, bytes] = field(default_factory=dict)
    """For each ANMF chunk index, its 16-byte header with the reserved bits zero."""
    alpha_sizes: dict[int, int] = field(default_factory=dict)
    """For each kept ALPH chunk (by its start): the payload size a decoder reads."""
    vp8x: bytes | None = None
    anim: bytes | None = None
    """The 6 bytes of ANIM (background colour, loop count) of an animation."""
    icc: bytes | None = None
    exif: ExifValues = field(default_factory=ExifValues)
    xmp: XmpValues = field(default_factory=XmpValues)
    canvas: tuple[int, int] = (0, 0)
    alpha: bool = False
    """VP8X's alpha flag, or a simple lossless file's alpha_is_used hint (Pillow's mode follows it)."""
    animated: bool = False


def chunk_budget(size: int) -> int:
    """How many chunks (at the top level and inside frames) a file of ``size`` bytes may hold."""
    return CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK


def iter_chunks(data: Buffer, start: int, end: int, budget: list[int]) -> list[Chunk]:
    """The chunks between ``start`` and ``end``; raises :class:`WebpStructureError` when one overruns and
    :class:`Refusal` when the file holds more than ``budget[0]`` chunks in all (decremented as they are read)."""
    chunks, pos = [], start
    while pos < end:
        if pos + 8 > end:
            raise WebpStructureError("a chunk header is cut off")
        budget[0] -= 1
        if budget[0] < 0:
            raise Refusal(f"too many WebP chunks for the file's size (over {chunk_budget(len(data))})")
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        stop = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise WebpStructureError(f"chunk {_name(fourcc)} overruns its container")
        chunks.append(Chunk(pos, min(stop, end), fourcc, size))
        pos = stop
    return chunks


def _name(fourcc: bytes) -> str:
    return fourcc.decode("latin-1").strip() if fourcc.isascii() and fourcc.strip().isalnum() else fourcc.hex()


def image_slots(chunks: Sequence[Chunk]) -> tuple[list[Chunk], set[int]]:
    """The first image a decoder reads among ``chunks`` (ALPH followed by VP8, or VP8, or VP8L) and the indices of
    its chunks; empty when there is none."""
    for index, chunk in enumerate(chunks):
        if chunk.fourcc in (b"VP8 ", b"VP8L"):
            return [chunk], {index}
        if chunk.fourcc == b"ALPH" and index + 1 < len(chunks) and chunks[index + 1].fourcc == b"VP8 ":
            return [chunk, chunks[index + 1]], {index, index + 1}
    return [], set()


class _Walk:
    """Labels the chunks of a WebP file and collects its kept items."""

    def __init__(self, data: Buffer, model: WebpModel, policy: ScrubPolicy, budget: list[int]) -> None:
        self.data, self.model, self.policy, self.budget = data, model, policy, budget
        self.seen: set[bytes] = set()

    def payload(self, chunk: Chunk) -> bytes:
        return bytes(self.data[chunk.data_start : chunk.data_end])

    def run(self) -> None:
        chunks = self.model.chunks
        if chunks[0].fourcc == b"VP8X":
            self.seen.add(b"VP8X")
            self.vp8x(chunks[0])
        still, still_at = image_slots(chunks) if not self.model.animated else ([], set())
        for index, chunk in enumerate(chunks):
            if index == min(still_at, default=-1):
                self.still(still)
            elif index not in still_at and not (index == 0 and chunk.fourcc == b"VP8X"):
                self.chunk(index, chunk)
        if self.model.animated and self.model.anim is None:
            raise WebpStructureError("an animation without an ANIM chunk")
        if self.model.vp8x is None and self.model.icc is not None and upgrades(self.model):
            self.relabel_simple_icc()
        self.model.proof.append(b"canvas" + struct.pack("<II", *self.model.canvas) + bytes([int(self.model.animated)]))

    def relabel_simple_icc(self) -> None:
        """The ICC profile after the image of a simple file is not where the rewrite puts it (before the image, in
        the extended format): its spans are not clean."""
        spans = self.model.spans
        for position, span in enumerate(spans):
            if span.kind is Kind.KEPT and span.label == "ICCP":
                spans[position] = Span(span.start, span.end, Kind.METADATA, "ICCP after the image of a simple file")

    def chunk(self, index: int, chunk: Chunk) -> None:
        fourcc = chunk.fourcc
        if fourcc in _IMAGE:
            if self.model.vp8x is not None:
                raise WebpStructureError(
                    f"a second image or one outside the frames ({_name(fourcc)}): decoders refuse it"
                )
            self.model.add(chunk.start, chunk.end, Kind.METADATA, f"{_name(fourcc)} after the image")
        elif fourcc == b"ANMF" and self.model.animated:
            self.frame(index, chunk)
        elif fourcc == b"ANIM" and self.model.animated and fourcc not in self.seen:
            self.seen.add(fourcc)
            self.anim(chunk)
        elif fourcc in (b"ICCP", b"EXIF", b"XMP ") and fourcc not in self.seen:
            self.seen.add(fourcc)
            self.kept(index, chunk)
        else:
            self.model.add(chunk.start, chunk.end, Kind.METADATA, _name(fourcc))

    def header_and_padding(self, chunk: Chunk, kind: Kind, label: str, *, data_end: int | None = None) -> None:
        """The chunk header, its payload (up to ``data_end``; the rest of it is metadata) and its padding byte."""
        stop = chunk.data_end if data_end is None else data_end
        self.model.add(chunk.start, chunk.data_start, Kind.STRUCTURE, f"{_name(chunk.fourcc)} header")
        self.model.add(chunk.data_start, stop, kind, label)
        self.model.add(stop, chunk.data_end, Kind.METADATA, "bytes after the alpha data" if label == "ALPH" else
                       f"{label} extra bytes")  # fmt: skip
        self.padding(chunk)

    def padding(self, chunk: Chunk) -> None:
        if chunk.end > chunk.data_end:
            zero = self.data[chunk.data_end] == 0
            self.model.add(chunk.data_end, chunk.end, Kind.STRUCTURE if zero else Kind.METADATA, "padding byte")

    def vp8x(self, chunk: Chunk) -> None:
        payload = self.payload(chunk)
        if len(payload) != 10 or payload[0] & ~_VP8X_FLAGS:
            raise WebpStructureError("VP8X has the wrong size or reserved flag bits set (decoders refuse it)")
        self.model.vp8x = payload
        width = int.from_bytes(payload[4:7], "little") + 1
        self.model.canvas = (width, int.from_bytes(payload[7:10], "little") + 1)
        self.model.alpha = bool(payload[0] & _FLAG_ALPHA)
        self.model.animated = bool(payload[0] & _FLAG_ANIMATION)
        if payload[1:4] != b"\0\0\0":
            self.model.add(chunk.start, chunk.end, Kind.METADATA, "VP8X reserved bytes")
        else:
            self.header_and_padding(chunk, Kind.STRUCTURE, "VP8X")

    def anim(self, chunk: Chunk) -> None:
        payload = self.payload(chunk)
        if len(payload) < 6:
            raise WebpStructureError("ANIM is cut off")
        self.model.anim = payload[:6]
        self.model.proof.append(b"ANIM" + payload[:6])
        self.header_and_padding(chunk, Kind.STRUCTURE, "ANIM", data_end=chunk.data_start + 6)

    def bitstream(self, chunk: Chunk) -> Bitstream:
        head = bytes(self.data[chunk.data_start : min(chunk.data_end, chunk.data_start + 10)])
        try:
            return vp8_header(head, chunk.size) if chunk.fourcc == b"VP8 " else vp8l_header(head)
        except BitstreamError as exc:
            raise WebpStructureError(str(exc)) from None

    def still(self, chunks: list[Chunk]) -> None:
        """The image of a still file: the canvas VP8X declares, or the bitstream's own size in a simple file."""
        stream = self.bitstream(chunks[-1])
        if self.model.vp8x is None:
            self.model.canvas, self.model.alpha = (stream.width, stream.height), stream.alpha
        elif (stream.width, stream.height) != self.model.canvas:
            raise WebpStructureError("the image is not the size VP8X declares")
        self.image(chunks, stream)
        self.model.still = chunks

    def image(self, chunks: list[Chunk], stream: Bitstream) -> None:
        """The chunks of one image: an ALPH chunk (its header byte, its alpha data) before a VP8 chunk, or one VP8
        or VP8L chunk."""
        if len(chunks) == 2:
            self.alph(chunks[0], stream)
        coded = chunks[-1]
        self.header_and_padding(coded, Kind.IMAGE, _name(coded.fourcc))
        self.model.proof.append((coded.data_start, coded.data_end))

    def alph(self, chunk: Chunk, stream: Bitstream) -> None:
        if chunk.size < 1:
            raise WebpStructureError("an empty ALPH chunk")
        try:
            compressed = alpha_compressed(self.data[chunk.data_start])
        except BitstreamError as exc:
            raise WebpStructureError(str(exc)) from None
        size = chunk.size
        if not compressed:  # raw: one byte per pixel, nothing after
            size = 1 + stream.width * stream.height
            if chunk.size < size:
                raise WebpStructureError("an ALPH chunk holds fewer bytes than the image has pixels")
        self.model.alpha_sizes[chunk.start] = size
        self.header_and_padding(chunk, Kind.IMAGE, "ALPH", data_end=chunk.data_start + size)
        self.model.proof.append((chunk.data_start, chunk.data_start + size))

    def frame(self, index: int, chunk: Chunk) -> None:
        if chunk.size < 16:
            raise WebpStructureError("an ANMF frame header is cut off")
        header = self.payload(chunk)[:16]
        canonical = header[:15] + bytes([header[15] & 3])
        self.model.frame_headers[index] = canonical
        kind = Kind.STRUCTURE if canonical == header else Kind.METADATA
        self.model.add(chunk.start, chunk.data_start + 16, kind, "ANMF frame header" if canonical == header else
                       "ANMF reserved bits")  # fmt: skip
        self.model.proof.append(b"ANMF" + canonical)
        inner = iter_chunks(self.data, chunk.data_start + 16, chunk.data_end, self.budget)
        kept, kept_at = image_slots(inner)
        if not kept:
            raise WebpStructureError("an ANMF frame without image data")
        stream = self.bitstream(kept[-1])
        x, y, width, height = (int.from_bytes(header[at : at + 3], "little") for at in range(0, 12, 3))
        x, y, width, height = 2 * x, 2 * y, width + 1, height + 1
        if (
            (stream.width, stream.height) != (width, height)
            or x + width > self.model.canvas[0]
            or (y + height > self.model.canvas[1])
        ):
            raise WebpStructureError("an ANMF frame that is not the size of its image or lies outside the canvas")
        for position, part in enumerate(inner):
            if position == min(kept_at):
                self.image(kept, stream)
            elif part.fourcc in _IMAGE and position not in kept_at:
                raise WebpStructureError("a frame with a second image (decoders refuse it)")
            elif position not in kept_at:
                self.model.add(part.start, part.end, Kind.METADATA, f"{_name(part.fourcc)} inside a frame")
        self.model.frame_chunks[index] = kept
        self.padding(chunk)

    def kept(self, index: int, chunk: Chunk) -> None:
        payload, fourcc = self.payload(chunk), chunk.fourcc
        canonical = {b"ICCP": self.icc, b"EXIF": self.exif, b"XMP ": self.xmp}[fourcc](payload)
        label = _name(fourcc)
        if canonical is None or canonical != payload:
            self.model.add(chunk.start, chunk.end, Kind.METADATA, label)
        else:
            self.header_and_padding(chunk, Kind.KEPT, label)

    def icc(self, payload: bytes) -> bytes | None:
        if self.policy.strip_icc:
            return None
        try:
            self.model.icc = payload if is_canonical_icc(payload) else reduce_icc(payload)
        except IccError as exc:
            if len(payload) >= 128 and payload[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return None
        return self.model.icc

    def exif(self, payload: bytes) -> bytes | None:
        tiff = payload[6:] if payload.startswith(b"Exif\0\0") else payload
        self.model.exif = read_exif(tiff, keep_copyright=self.policy.keep_copyright)
        self.model.orientation = self.model.exif.orientation
        return build_exif(self.model.exif) or None

    def xmp(self, payload: bytes) -> bytes | None:
        self.model.xmp = read_xmp(payload, **xmp_options(self.policy))
        self.model.xmp_orientation = self.model.xmp.orientation
        return build_xmp(self.model.xmp) or None


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _riff(*names: str) -> Allowlist:
    return Allowlist.of("RIFF", names)


STRUCTURE_TAGS: dict[str, Tags] = {
    "VP8": _riff("VP8Version", "HorizontalScale", "VerticalScale", "ImageWidth", "ImageHeight"),
    "VP8L": _riff("ImageWidth", "ImageHeight", "AlphaIsUsed"),
    "VP8X": _riff("WebP_Flags", "ImageWidth", "ImageHeight"),
    "ALPH": _riff("AlphaCompression", "AlphaFiltering", "AlphaPreprocessing"),
    "ANIM": _riff("BackgroundColor", "AnimationLoopCount"),
    "ANMF frame header": _riff("Duration", "FrameCount"),
    "ICCP": kept_icc.allowlist,
    "EXIF": kept_exif.allowlist,
    "XMP": kept_xmp.allowlist,
}
"""ExifTool's names for the chunks the WebP walker keeps."""


class WebpHandler(FormatHandler):
    """Lossy, lossless, extended and animated WebP."""

    name = "WEBP"
    mime_type = "image/webp"
    extension = "webp"
    mime_types = frozenset({"image/webp"})
    pillow_formats = frozenset({"WEBP"})
    leftover_group: ClassVar[str] = "RIFF-chunks"
    structure_tags = STRUCTURE_TAGS
    kept_items: ClassVar[dict[str, str]] = {"EXIF": "exif", "XMP": "xmp", "ICCP": "icc"}

    def item_bytes(self, kind: str, spans: list[Span], data: Buffer) -> bytes | None:
        """The chunk's payload (an EXIF chunk may start with ``Exif\\0\\0``, as some writers put it)."""
        if len(spans) != 1 or spans[0].length < 8:
            return None
        size = struct.unpack("<I", data[spans[0].start + 4 : spans[0].start + 8])[0]
        payload = bytes(data[spans[0].start + 8 : spans[0].start + 8 + size])
        return payload[6:] if kind == "exif" and payload.startswith(b"Exif\0\0") else payload

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> WebpModel:
        size = len(data)
        if size < 12:
            raise WebpStructureError("the RIFF header is cut off")
        riff_end = 8 + struct.unpack("<I", data[4:8])[0]
        if riff_end > size or riff_end < 12:
            raise WebpStructureError("the RIFF size runs past the end of the file: the WebP is truncated")
        model = WebpModel(format=self.name, size=size)
        model.add(0, 12, Kind.STRUCTURE, "RIFF header")
        budget = [chunk_budget(size)]
        model.chunks = iter_chunks(data, 12, riff_end, budget)
        if not model.chunks:
            raise WebpStructureError("no image data")
        # ExifTool's ImageDataHash: each top-level image, ANIM and ANMF chunk's payload with its pad byte
        model.exiftool_ranges = [(c.data_start, c.end) for c in model.chunks if c.fourcc in _IMAGE | {b"ANIM", b"ANMF"}]
        _Walk(data, model, policy, budget).run()
        if not model.still and not model.frame_chunks:
            raise WebpStructureError("no image data")
        if riff_end < size:
            model.add(riff_end, size, Kind.METADATA, "bytes after the RIFF end")
        model.frames = max(1, len(model.frame_chunks))
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, WebpModel)
        view, body = memoryview(data), bytearray()
        kept = _kept_chunks(model, policy)
        vp8x = _vp8x(model, kept)
        if vp8x is not None:
            body += _riff_chunk(b"VP8X", vp8x) + kept.pop(b"ICCP", b"")
        if model.anim is not None:
            body += _riff_chunk(b"ANIM", model.anim)
        body += _images(model, view, model.still)
        for index, chunks in model.frame_chunks.items():
            body += _riff_chunk(b"ANMF", model.frame_headers[index] + _images(model, view, chunks))
        body += kept.pop(b"ICCP", b"") + kept.pop(b"EXIF", b"") + kept.pop(b"XMP ", b"")
        return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)


def _images(model: WebpModel, view: memoryview, chunks: list[Chunk]) -> bytes:
    """The image chunks of a still file or a frame, an uncompressed ALPH without bytes after its alpha plane."""
    out = bytearray()
    for chunk in chunks:
        if chunk.fourcc == b"ALPH":
            out += _riff_chunk(
                b"ALPH", bytes(view[chunk.data_start : chunk.data_start + model.alpha_sizes[chunk.start]])
            )
        else:
            out += _riff_chunk(chunk.fourcc, bytes(view[chunk.data_start : chunk.data_end]))
    return bytes(out)


def _kept_chunks(model: WebpModel, policy: ScrubPolicy) -> dict[bytes, bytes]:
    chunks: dict[bytes, bytes] = {}
    if model.icc is not None and not policy.strip_icc:
        chunks[b"ICCP"] = _riff_chunk(b"ICCP", model.icc)
    exif = build_exif(model.exif)
    if exif:
        chunks[b"EXIF"] = _riff_chunk(b"EXIF", exif)
    xmp = build_xmp(model.xmp)
    if xmp:
        chunks[b"XMP "] = _riff_chunk(b"XMP ", xmp)
    return chunks


def upgrades(model: WebpModel) -> bool:
    """A simple-format file that keeps an ICC profile is upgraded to the extended format (a profile must come before
    the image, which only VP8X allows), unless it also keeps an EXIF or XMP orientation that turns the image:
    conforming readers ignore the metadata chunks of a simple file, and would start applying that one."""
    turning = {model.exif.orientation, model.xmp.orientation} - {None, 1}
    return model.vp8x is None and model.icc is not None and not turning


def _vp8x(model: WebpModel, kept: dict[bytes, bytes]) -> bytes | None:
    """The VP8X payload of the output: the input's canvas with recomputed flags. A simple-format file stays simple
    (conforming readers ignore its metadata chunks: adding VP8X would make them read its EXIF) unless it
    :func:`upgrades`: then it gets a VP8X of its bitstream's size and alpha hint."""
    if model.vp8x is None and not (b"ICCP" in kept and upgrades(model)):
        return None
    flags = _FLAG_ALPHA if model.alpha else 0
    flags |= _FLAG_ANIMATION if model.animated else 0
    for fourcc, flag in ((b"ICCP", _FLAG_ICC), (b"EXIF", _FLAG_EXIF), (b"XMP ", _FLAG_XMP)):
        flags |= flag if fourcc in kept else 0
    width, height = model.canvas
    return bytes([flags]) + bytes(3) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
