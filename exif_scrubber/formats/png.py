"""PNG and APNG: the byte model of a PNG file, and its rewrite.

Structure: the signature, IHDR, PLTE, tRNS, acTL/fcTL, the chunk headers and CRCs of IDAT/fdAT (whose payloads
are image data), and display chunks of an exact size (gAMA, cHRM, sRGB, sBIT, pHYs, bKGD, cICP, mDCV, cLLI).
Kept items: the first iCCP (fixed profile name, profile reduced), the first eXIf (minimal EXIF) and the first
XMP iTXt (canonical packet). Everything else is metadata: text chunks, tIME, hIST, sPLT, private and unknown
ancillary chunks, extra bytes in a display chunk, an IEND payload, bytes after IEND.

With ``verify`` every CRC is checked (zlib, not Perl) and the image data must inflate to exactly the size
IHDR (or each fcTL) declares, with nothing after the compressed stream.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
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
from .png_pixels import expected_image_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICC_NAME = b"ICC profile"
XMP_KEYWORD = b"XML:com.adobe.xmp"
_XMP_HEAD = XMP_KEYWORD + b"\0\0\0\0\0"
_RAW_EXIF_KEYWORD = b"Raw profile type exif\0"
"""iTXt keyword, compression flag and method 0, empty language tag and translated keyword."""
_FIXED_SIZES = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"cICP": 4, b"mDCV": 24, b"cLLI": 8}
_SBIT_SIZES = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_BKGD_SIZES = {0: 2, 4: 2, 2: 6, 6: 6, 3: 1}
_TRNS_SIZES = {0: 2, 2: 6}
_MAX_CHUNK = 0x7FFFFFFF


class PngStructureError(StructureError):
    """The chunk structure of the PNG cannot be followed."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: ``[start, end)`` including its length, type and CRC."""

    start: int
    end: int
    type: bytes

    @property
    def data_start(self) -> int:
        return self.start + 8

    @property
    def data_end(self) -> int:
        return self.end - 4


@dataclass
class PngModel(ByteModel):
    """A walked PNG: the byte model plus what the rewrite needs."""

    chunks: list[Chunk] = field(default_factory=list)
    actions: dict[int, bytes | None] = field(default_factory=dict)
    """Per chunk index: None drops it, bytes replace it (a whole chunk); absent keeps it as it is."""
    ihdr: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """Width, height, bit depth, colour type, interlace."""
    icc: bytes | None = None
    exif: ExifValues = field(default_factory=ExifValues)
    xmp: XmpValues = field(default_factory=XmpValues)


def chunk_bytes(kind: bytes, payload: bytes) -> bytes:
    """A whole chunk with its CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def iter_chunks(data: Buffer) -> Iterator[Chunk]:
    """The chunks up to and including IEND; raises :class:`PngStructureError` when the file ends first."""
    if bytes(data[:8]) != SIGNATURE:
        raise PngStructureError("no PNG signature")
    pos, size = 8, len(data)
    while True:
        if pos + 12 > size:
            raise PngStructureError("no IEND chunk: the PNG is truncated")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > _MAX_CHUNK or end > size:
            raise PngStructureError(f"chunk {_name(kind)} is truncated")
        if not kind.isalpha():
            raise PngStructureError("a chunk type that is not four letters")
        yield Chunk(pos, end, kind)
        if kind == b"IEND":
            return
        pos = end


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isalpha() else kind.hex()


class _Walk:
    """Labels the chunks of a PNG and collects its kept items."""

    def __init__(self, data: Buffer, model: PngModel, policy: ScrubPolicy, verify: bool) -> None:
        self.data, self.model, self.policy, self.verify = data, model, policy, verify
        self.seen: set[bytes] = set()
        self.palette = 0
        self.raw_exif: bytes | None = None
        """The EXIF of an ImageMagick "Raw profile type exif" text chunk (Pillow reads its orientation)."""

    def payload(self, chunk: Chunk) -> bytes:
        return bytes(self.data[chunk.data_start : chunk.data_end])

    def run(self) -> None:
        self.model.add(0, 8, Kind.STRUCTURE, "signature")
        for index, chunk in enumerate(self.model.chunks):
            if self.verify:
                self._check_crc(chunk)
            self._chunk(index, chunk)
        if b"eXIf" not in self.seen and self.raw_exif:
            tiff = self.raw_exif[6:] if self.raw_exif.startswith(b"Exif\0\0") else self.raw_exif
            values = read_exif(tiff)
            if values.orientation not in (None, 1):
                self.model.exif, self.model.orientation = ExifValues(orientation=values.orientation), values.orientation
        end = self.model.chunks[-1].end
        if end < self.model.size:
            self.model.add(end, self.model.size, Kind.METADATA, "bytes after IEND")

    def _check_crc(self, chunk: Chunk) -> None:
        (stored,) = struct.unpack(">I", self.data[chunk.data_end : chunk.end])
        if zlib.crc32(self.data[chunk.start + 4 : chunk.data_end]) != stored:
            raise PngStructureError(f"bad CRC in chunk {_name(chunk.type)}")

    def _chunk(self, index: int, chunk: Chunk) -> None:
        kind = chunk.type
        if kind in (b"IDAT", b"fdAT"):
            header = chunk.data_start + (4 if kind == b"fdAT" else 0)
            self.model.add(chunk.start, header, Kind.STRUCTURE, _name(kind))
            self.model.add(header, chunk.data_end, Kind.IMAGE, _name(kind))
            self.model.add(chunk.data_end, chunk.end, Kind.STRUCTURE, "CRC")
            self.model.proof.append((chunk.data_start, chunk.data_end))
            if kind == b"IDAT":
                self.model.exiftool_ranges.append((chunk.data_start, chunk.data_end))
            return
        label, outcome = self._classify(index, chunk)
        self.model.add(chunk.start, chunk.end, outcome, label)

    def _classify(self, index: int, chunk: Chunk) -> tuple[str, Kind]:
        kind, payload = chunk.type, self.payload(chunk)
        if kind == b"IHDR":
            return self._ihdr(chunk, payload)
        if kind in (b"PLTE", b"tRNS", b"acTL", b"fcTL", b"IEND"):
            return self._decoding(index, chunk, payload)
        size = self._display_size(kind)
        if size is not None:
            return self._display(index, kind, payload, size)
        if kind == b"iCCP" and kind not in self.seen and not self.policy.strip_icc:
            return self._iccp(index, payload)
        if kind == b"eXIf" and kind not in self.seen:
            return self._exif(index, payload)
        if kind == b"iTXt" and payload.startswith(XMP_KEYWORD + b"\0") and b"XMP" not in self.seen:
            return self._xmp(index, payload)
        if kind in (b"tEXt", b"zTXt") and payload.startswith(_RAW_EXIF_KEYWORD):
            self.raw_exif = _raw_profile(kind, payload)
        if not kind[0:1].islower():
            raise PngStructureError(f"unknown critical chunk {_name(kind)}")
        self.model.actions[index] = None
        return _name(kind), Kind.METADATA

    def _ihdr(self, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        if chunk.start != 8 or len(payload) != 13:
            raise PngStructureError("IHDR is not the first chunk or has the wrong size")
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", payload)
        if not width or not height or colour not in _SBIT_SIZES:
            raise PngStructureError("IHDR declares no pixels or an unknown colour type")
        self.model.ihdr = (width, height, depth, colour, interlace)
        self.model.proof.append((chunk.data_start, chunk.data_end))
        return "IHDR", Kind.STRUCTURE

    def _decoding(self, index: int, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        kind, colour = chunk.type, self.model.ihdr[3]
        valid = {
            b"PLTE": len(payload) % 3 == 0 and 3 <= len(payload) <= 768,
            b"tRNS": len(payload) == _TRNS_SIZES[colour] if colour in _TRNS_SIZES else len(payload) <= self.palette,
            b"acTL": len(payload) == 8,
            b"fcTL": len(payload) == 26,
            b"IEND": not payload,
        }[kind]
        if kind == b"PLTE":
            self.palette = len(payload) // 3
        if kind == b"IEND" and payload:
            self.model.actions[index] = chunk_bytes(b"IEND", b"")
            return "IEND payload", Kind.METADATA
        if not valid:
            raise PngStructureError(f"chunk {_name(kind)} has the wrong size")
        if kind != b"IEND":
            self.model.proof.append((chunk.data_start, chunk.data_end))
        return _name(kind), Kind.STRUCTURE

    def _display_size(self, kind: bytes) -> int | None:
        colour = self.model.ihdr[3]
        if kind == b"sBIT":
            return _SBIT_SIZES.get(colour)
        if kind == b"bKGD":
            return _BKGD_SIZES.get(colour)
        return _FIXED_SIZES.get(kind)

    def _display(self, index: int, kind: bytes, payload: bytes, size: int) -> tuple[str, Kind]:
        if kind in self.seen or len(payload) < size:
            self.model.actions[index] = None
            return f"{_name(kind)} (repeated or too short: decoders ignore it)", Kind.METADATA
        self.seen.add(kind)
        self.model.proof.append(kind + payload[:size])
        if len(payload) == size:
            return _name(kind), Kind.STRUCTURE
        self.model.actions[index] = chunk_bytes(kind, payload[:size])
        return f"{_name(kind)} extra bytes", Kind.METADATA

    def _iccp(self, index: int, payload: bytes) -> tuple[str, Kind]:
        self.seen.add(b"iCCP")
        name, _, rest = payload.partition(b"\0")
        profile = _inflate_profile(rest[1:]) if rest[:1] == b"\0" else None
        kept = self._kept_profile(profile)
        if kept is None:
            self.model.actions[index] = None
            return "iCCP (not a usable profile: decoders ignore it)", Kind.METADATA
        self.model.icc = kept
        self.model.actions[index] = None  # written from the model, after IHDR
        return ("iCCP", Kind.KEPT) if name == ICC_NAME and profile == kept else ("iCCP", Kind.METADATA)

    def _kept_profile(self, profile: bytes | None) -> bytes | None:
        if profile is None:
            return None
        try:
            return profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if len(profile) >= 128 and profile[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return None

    def _exif(self, index: int, payload: bytes) -> tuple[str, Kind]:
        self.seen.add(b"eXIf")
        tiff = payload[6:] if payload.startswith(b"Exif\0\0") else payload
        values = read_exif(tiff, keep_copyright=self.policy.keep_copyright)
        self.model.exif, self.model.orientation = values, values.orientation
        canonical = build_exif(values)
        self.model.actions[index] = None  # written from the model, after IHDR
        return ("eXIf", Kind.KEPT) if canonical and payload == canonical else ("eXIf", Kind.METADATA)

    def _xmp(self, index: int, payload: bytes) -> tuple[str, Kind]:
        self.seen.add(b"XMP")
        packet = _itxt_text(payload)
        values = read_xmp(packet, keep_copyright=self.policy.keep_copyright) if packet is not None else XmpValues()
        self.model.xmp, self.model.xmp_orientation = values, values.orientation
        canonical = build_xmp(values)
        self.model.actions[index] = None  # written from the model, after IHDR
        return (
            ("iTXt XMP", Kind.KEPT) if canonical and payload == _XMP_HEAD + canonical else ("iTXt XMP", Kind.METADATA)
        )


def _raw_profile(kind: bytes, payload: bytes) -> bytes | None:
    """The bytes of an ImageMagick raw profile text chunk (``\\n<name>\\n<length>\\n<hex>``), or None."""
    text = payload[len(_RAW_EXIF_KEYWORD) :]
    if kind == b"zTXt":
        text = _inflate_whole(text[1:]) or b"" if text[:1] == b"\0" else b""
    parts = text.split(None, 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        raw = bytes.fromhex(parts[2].decode("ascii"))
    except ValueError:
        return None
    return raw if len(raw) == int(parts[1]) else None


def _itxt_text(payload: bytes) -> bytes | None:
    """The text of an iTXt chunk (inflated when compressed), or None when it cannot be read."""
    try:
        _keyword, rest = payload.split(b"\0", 1)
        flag, method, rest = rest[0], rest[1], rest[2:]
        _language, _translated, text = rest.split(b"\0", 2)
    except (ValueError, IndexError):
        return None
    if flag == 0:
        return text
    return _inflate_whole(text) if method == 0 else None


def _inflate_profile(stream: bytes) -> bytes | None:
    """An iCCP profile's zlib stream inflated. A stream cut short after the whole profile (no end of the deflate
    data, no Adler-32) is read too, as libpng and Pillow read it, when what it holds is exactly one whole profile
    (its size field equals what was inflated): the profile is then written again, compressed in full."""
    whole = _inflate_whole(stream)
    if whole is not None:
        return whole
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stream, 64 * 1024 * 1024)
    except zlib.error:
        return None
    whole_profile = len(out) >= 128 and int.from_bytes(out[:4], "big") == len(out)
    return out if whole_profile and not inflater.unused_data and not inflater.unconsumed_tail else None


def _inflate_whole(stream: bytes, limit: int = 64 * 1024 * 1024) -> bytes | None:
    """The inflated zlib ``stream``, or None when it is invalid, too large or has bytes after its end."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stream, limit)
    except zlib.error:
        return None
    if inflater.unconsumed_tail or inflater.unused_data or not inflater.eof:
        return None
    return out


def check_image_data(data: Buffer, model: PngModel) -> None:
    """IDAT inflates to exactly the size IHDR declares, each APNG frame's fdAT data to exactly the size its fcTL
    declares, and nothing follows any compressed stream."""
    size = (model.ihdr[0], model.ihdr[1])
    _check_stream(data, [c for c in model.chunks if c.type == b"IDAT"], 0, size, model.ihdr, "IHDR")
    frame: tuple[int, int] | None = None
    chunks: list[Chunk] = []
    for chunk in [*model.chunks, None]:
        if chunk is None or chunk.type in (b"fcTL", b"IEND"):
            if frame is not None and chunks:
                _check_stream(data, chunks, 4, frame, model.ihdr, "its fcTL")
            chunks = []
            if chunk is not None and chunk.type == b"fcTL":
                frame = struct.unpack(">II", data[chunk.data_start + 4 : chunk.data_start + 12])
        elif chunk.type == b"fdAT":
            chunks.append(chunk)


def _check_stream(
    data: Buffer, chunks: list[Chunk], skip: int, size: tuple[int, int], ihdr: tuple[int, ...], declared: str
) -> None:
    """The payloads of ``chunks`` (after ``skip`` sequence bytes) are one zlib stream of exactly the image size."""
    expected = expected_image_bytes(size[0], size[1], ihdr[2], ihdr[3], ihdr[4])
    inflater, produced = zlib.decompressobj(), 0
    for chunk in chunks:
        try:
            produced += _inflate_counting(inflater, data[chunk.data_start + skip : chunk.data_end], expected - produced)
        except zlib.error:
            raise PngStructureError("the compressed image data is corrupt") from None
    if not inflater.eof or produced != expected:
        raise PngStructureError(f"the image data holds {produced} of the {expected} bytes {declared} declares")
    if inflater.unused_data:
        raise PngStructureError("bytes hidden after the end of the compressed image data")


def _inflate_counting(inflater: zlib._Decompress, block: Buffer, room: int) -> int:
    produced, pending = 0, bytes(block)
    while pending and not inflater.eof:
        out = inflater.decompress(pending, 1 << 20)
        produced += len(out)
        if produced > room:
            raise PngStructureError("the image data inflates to more than IHDR declares")
        pending = inflater.unconsumed_tail
    if pending and inflater.eof:
        raise PngStructureError("bytes hidden after the end of the compressed image data")
    return produced


def _png(*names: str) -> Allowlist:
    return Allowlist.of("PNG", names)


STRUCTURE_TAGS: dict[str, Tags] = {
    "IHDR": _png("ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter", "Interlace"),
    "PLTE": _png("Palette"),
    "tRNS": _png("Transparency"),
    "gAMA": _png("Gamma"),
    "cHRM": _png("WhitePointX", "WhitePointY", "RedX", "RedY", "GreenX", "GreenY", "BlueX", "BlueY"),
    "sRGB": _png("SRGBRendering"),
    "bKGD": _png("BackgroundColor"),
    "sBIT": _png("SignificantBits"),
    "pHYs": Allowlist.of("PNG-pHYs", ["PixelUnits", "PixelsPerUnitX", "PixelsPerUnitY"]),
    "acTL": _png("AnimationFrames", "AnimationPlays"),
    "cICP": _png("ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag"),
    "mDCV": _png(
        "MasteringDisplayPrimaries",
        "MasteringDisplayWhitePoint",
        "MasteringDisplayMaxLuminance",
        "MasteringDisplayMinLuminance",
    ),
    "cLLI": _png("MaxContentLightLevel", "MaxFrameAverageLightLevel"),
    "iCCP": lambda policy: _png("ProfileName") | kept_icc.allowlist(policy),
    "eXIf": kept_exif.allowlist,
    "iTXt XMP": kept_xmp.allowlist,
}
"""ExifTool's names for the chunks the PNG walker keeps."""


class PngHandler(FormatHandler):
    """PNG and APNG."""

    name = "PNG"
    mime_type = "image/png"
    extension = "png"
    mime_types = frozenset({"image/png", "image/apng"})
    pillow_formats = frozenset({"PNG"})
    leftover_group: ClassVar[str] = "PNG-chunks"
    structure_tags = STRUCTURE_TAGS

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> PngModel:
        model = PngModel(format=self.name, size=len(data))
        model.chunks = list(iter_chunks(data))
        _Walk(data, model, policy, verify).run()
        if verify:
            check_image_data(data, model)
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, PngModel)
        view = memoryview(data)
        out = bytearray(SIGNATURE)
        for index, chunk in enumerate(model.chunks):
            action = model.actions.get(index, b"")
            if action is None:
                continue
            out += action if action else view[chunk.start : chunk.end]
            if chunk.type == b"IHDR":
                out += _kept_chunks(model, policy)
        return bytes(out)


def _kept_chunks(model: PngModel, policy: ScrubPolicy) -> bytes:
    """iCCP, eXIf and XMP in canonical form, placed right after IHDR (before PLTE and IDAT, as PNG asks)."""
    out = b""
    if model.icc is not None and not policy.strip_icc:
        out += chunk_bytes(b"iCCP", ICC_NAME + b"\0\0" + zlib.compress(model.icc, 9))
    exif = build_exif(model.exif if policy.keep_copyright else model.exif.without_copyright())
    if exif:
        out += chunk_bytes(b"eXIf", exif)
    xmp = build_xmp(model.xmp)
    if xmp:
        out += chunk_bytes(b"iTXt", _XMP_HEAD + xmp)
    return out
