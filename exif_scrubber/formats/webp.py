"""WebP: the byte model of a RIFF/WEBP file, and its rewrite.

Structure: the RIFF header, chunk headers and zero padding bytes, VP8X (reserved bits zero), ANIM, and the
16-byte ANMF frame headers. Image data: the payloads of VP8, VP8L and ALPH chunks, at the top level and inside
ANMF frames. Kept items: ICCP (reduced profile), EXIF (minimal EXIF) and XMP (canonical packet). Metadata:
unknown chunks (top level or inside a frame), repeated EXIF/XMP/ICCP, a non-zero padding byte and bytes after
the RIFF end.

The rewrite rebuilds the chunk list, recomputes the VP8X flags and the RIFF and ANMF sizes; a simple-format file
(no VP8X) stays simple, its kept chunks in canonical form where they were.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind
from ..errors import StructureError
from ..kept import exif as kept_exif
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import ExifValues, build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags

_IMAGE = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
_FLAG_ANIMATION, _FLAG_XMP, _FLAG_EXIF, _FLAG_ALPHA, _FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20


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
    frame_chunks: dict[int, list[Chunk]] = field(default_factory=dict)
    """For each ANMF chunk index, the image chunks of its frame that are kept."""
    vp8x: bytes | None = None
    icc: bytes | None = None
    exif: ExifValues = field(default_factory=ExifValues)
    xmp: XmpValues = field(default_factory=XmpValues)
    canvas: tuple[int, int] = (0, 0)
    alpha: bool = False


def iter_chunks(data: Buffer, start: int, end: int) -> list[Chunk]:
    """The chunks between ``start`` and ``end``; raises :class:`WebpStructureError` when one overruns."""
    chunks, pos = [], start
    while pos < end:
        if pos + 8 > end:
            raise WebpStructureError("a chunk header is cut off")
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        stop = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise WebpStructureError(f"chunk {_name(fourcc)} overruns its container")
        chunks.append(Chunk(pos, min(stop, end), fourcc, size))
        pos = stop
    return chunks


def _name(fourcc: bytes) -> str:
    return fourcc.decode("latin-1").strip() if fourcc.isascii() and fourcc.strip().isalnum() else fourcc.hex()


class _Walk:
    """Labels the chunks of a WebP file and collects its kept items."""

    def __init__(self, data: Buffer, model: WebpModel, policy: ScrubPolicy) -> None:
        self.data, self.model, self.policy = data, model, policy
        self.seen: set[bytes] = set()

    def payload(self, chunk: Chunk) -> bytes:
        return bytes(self.data[chunk.data_start : chunk.data_end])

    def chunk(self, index: int, chunk: Chunk) -> None:
        fourcc = chunk.fourcc
        if fourcc in _IMAGE:
            self.image(chunk)
        elif fourcc == b"ANMF":
            self.frame(index, chunk)
        elif fourcc in (b"VP8X", b"ANIM") and fourcc not in self.seen:
            self.seen.add(fourcc)
            self.structure(chunk, fourcc)
        elif fourcc in (b"ICCP", b"EXIF", b"XMP ") and fourcc not in self.seen:
            self.seen.add(fourcc)
            self.kept(index, chunk)
        else:
            self.model.add(chunk.start, chunk.end, Kind.METADATA, _name(fourcc))

    def header_and_padding(self, chunk: Chunk, kind: Kind, label: str) -> None:
        self.model.add(chunk.start, chunk.data_start, Kind.STRUCTURE, f"{_name(chunk.fourcc)} header")
        self.model.add(chunk.data_start, chunk.data_end, kind, label)
        if chunk.end > chunk.data_end:
            zero = self.data[chunk.data_end] == 0
            self.model.add(chunk.data_end, chunk.end, Kind.STRUCTURE if zero else Kind.METADATA, "padding byte")

    def image(self, chunk: Chunk) -> None:
        self.header_and_padding(chunk, Kind.IMAGE, _name(chunk.fourcc))
        self.model.proof.append((chunk.data_start, chunk.data_end))

    def structure(self, chunk: Chunk, fourcc: bytes) -> None:
        payload = self.payload(chunk)
        if fourcc == b"VP8X":
            if len(payload) != 10 or payload[0] & 0xC1 or payload[1:4] != b"\0\0\0":
                raise WebpStructureError("VP8X has the wrong size or reserved bits set")
            self.model.vp8x = payload
            width = int.from_bytes(payload[4:7], "little") + 1
            self.model.canvas = (width, int.from_bytes(payload[7:10], "little") + 1)
            self.model.alpha = bool(payload[0] & _FLAG_ALPHA)
            self.model.proof.append(b"canvas" + payload[4:10] + bytes([payload[0] & _FLAG_ANIMATION]))
        elif len(payload) != 6:
            raise WebpStructureError("ANIM has the wrong size")
        else:
            self.model.proof.append((chunk.data_start, chunk.data_end))
        self.header_and_padding(chunk, Kind.STRUCTURE, _name(fourcc))

    def frame(self, index: int, chunk: Chunk) -> None:
        if chunk.size < 16:
            raise WebpStructureError("an ANMF frame header is cut off")
        self.model.add(chunk.start, chunk.data_start + 16, Kind.STRUCTURE, "ANMF frame header")
        self.model.proof.append((chunk.data_start, chunk.data_start + 16))
        kept = []
        for inner in iter_chunks(self.data, chunk.data_start + 16, chunk.data_end):
            if inner.fourcc in _IMAGE:
                self.image(inner)
                kept.append(inner)
            else:
                self.model.add(inner.start, inner.end, Kind.METADATA, f"{_name(inner.fourcc)} inside a frame")
        self.model.frame_chunks[index] = kept
        if chunk.end > chunk.data_end:
            zero = self.data[chunk.data_end] == 0
            self.model.add(chunk.data_end, chunk.end, Kind.STRUCTURE if zero else Kind.METADATA, "padding byte")

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
        self.model.xmp = read_xmp(payload, keep_copyright=self.policy.keep_copyright)
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
        model.chunks = iter_chunks(data, 12, riff_end)
        # ExifTool's ImageDataHash: each top-level image, ANIM and ANMF chunk's payload with its pad byte
        model.exiftool_ranges = [(c.data_start, c.end) for c in model.chunks if c.fourcc in _IMAGE | {b"ANIM", b"ANMF"}]
        walker = _Walk(data, model, policy)
        for index, chunk in enumerate(model.chunks):
            walker.chunk(index, chunk)
        if not any(c.fourcc in _IMAGE or c.fourcc == b"ANMF" for c in model.chunks):
            raise WebpStructureError("no image data")
        if riff_end < size:
            model.add(riff_end, size, Kind.METADATA, "bytes after the RIFF end")
        model.frames = max(1, sum(1 for c in model.chunks if c.fourcc == b"ANMF"))
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, WebpModel)
        view, body = memoryview(data), bytearray()
        kept_meta = self._kept_chunks(model, policy)
        vp8x = self._vp8x(model, data, kept_meta)
        if vp8x is not None:
            body += _riff_chunk(b"VP8X", vp8x)
        body += kept_meta.pop(b"ICCP", b"")
        anim = next((c for c in model.chunks if c.fourcc == b"ANIM"), None)
        if anim is not None:
            body += _riff_chunk(b"ANIM", bytes(view[anim.data_start : anim.data_end]))
        for index, chunk in enumerate(model.chunks):
            if chunk.fourcc in _IMAGE:
                body += _riff_chunk(chunk.fourcc, bytes(view[chunk.data_start : chunk.data_end]))
            elif chunk.fourcc == b"ANMF":
                frame = bytes(view[chunk.data_start : chunk.data_start + 16]) + b"".join(
                    _riff_chunk(c.fourcc, bytes(view[c.data_start : c.data_end])) for c in model.frame_chunks[index]
                )
                body += _riff_chunk(b"ANMF", frame)
        body += kept_meta.pop(b"EXIF", b"") + kept_meta.pop(b"XMP ", b"")
        return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + bytes(body)

    def _kept_chunks(self, model: WebpModel, policy: ScrubPolicy) -> dict[bytes, bytes]:
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

    def _vp8x(self, model: WebpModel, data: Buffer, kept: dict[bytes, bytes]) -> bytes | None:
        """The VP8X payload of the output: the input's with recomputed flags. A simple-format file stays simple
        (conforming readers ignore metadata chunks without VP8X: adding one would change what they show)."""
        if model.vp8x is None:
            return None
        flags = 0
        for fourcc, flag in ((b"ICCP", _FLAG_ICC), (b"EXIF", _FLAG_EXIF), (b"XMP ", _FLAG_XMP)):
            flags |= flag if fourcc in kept else 0
        keep = model.vp8x[0] & (_FLAG_ALPHA | _FLAG_ANIMATION)
        return bytes([keep | flags]) + model.vp8x[1:]
