"""PNG and APNG: the byte model of a PNG file, and its rewrite.

Structure: the signature, IHDR, the PLTE of a palette image (no longer than its bit depth can index), tRNS,
acTL/fcTL, the chunk headers and CRCs of IDAT/fdAT (whose payloads are image data), and display chunks of an
exact size whose values decoders accept (gAMA, cHRM, sRGB, sBIT, pHYs, bKGD, cICP, mDCV, cLLI: see
:mod:`.png_chunks`). Kept items: the first iCCP (fixed profile name, profile reduced), the first eXIf (minimal
EXIF) and the first XMP iTXt (canonical packet). Everything else is metadata: text chunks, tIME, hIST, sPLT,
private and unknown ancillary chunks, a PLTE in a truecolour or greyscale image (a "suggested palette" no decoder
needs), palette and transparency entries past what the bit depth can index, extra bytes in a display chunk or
values decoders ignore, APNG chunks outside an animation, APNG sequence numbers out of order (renumbered), an IEND
payload, bytes after IEND.

An APNG's frames are counted from its acTL and fcTL chunks (acTL must declare exactly the fcTL chunks the file
holds); the default image counts as a frame of its own when no fcTL precedes it, as decoders show it.

With ``verify`` every CRC is checked (zlib, not Perl) and the image data must inflate to exactly the size
IHDR (or each fcTL) declares, with nothing after the compressed stream. Budgets: at most
``CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK`` chunks, image data that cannot hold what IHDR declares (deflate
expands at most 1032 times) is refused before inflating it.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterator
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
from .png_chunks import BIT_DEPTHS, TRNS_SIZES, display_problem, display_size, transparency_problem
from .png_pixels import expected_image_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICC_NAME = b"ICC profile"
XMP_KEYWORD = b"XML:com.adobe.xmp"
_XMP_HEAD = XMP_KEYWORD + b"\0\0\0\0\0"
_RAW_EXIF_KEYWORD = b"Raw profile type exif\0"
"""iTXt keyword, compression flag and method 0, empty language tag and translated keyword."""
_MAX_CHUNK = 0x7FFFFFFF
CHUNK_BUDGET_BASE = 20_000
BYTES_PER_CHUNK = 128
"""A file may hold ``CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK`` chunks (each costs the walker a few hundred
bytes of memory; real files hold IDAT chunks of 8 KiB and more, APNG frames a few chunks each)."""
DEFLATE_MAX_RATIO = 1032
"""The most deflate can expand its input (zlib's technical details)."""


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


@dataclass
class _Animation:
    """What the walker has seen of an APNG's animation so far."""

    declared: int | None = None
    """acTL's frame count, once an acTL before the image data made the file an APNG."""
    controls: int = 0
    """fcTL chunks seen."""
    sequence: int = 0
    """The sequence number the next fcTL or fdAT must carry."""
    default_outside: bool = False
    """The default image (IDAT) comes before any fcTL: decoders show it as a frame of its own."""
    waiting: bool = False
    """The last fcTL after the default image has no fdAT yet."""


def chunk_bytes(kind: bytes, payload: bytes) -> bytes:
    """A whole chunk with its CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def chunk_budget(size: int) -> int:
    """How many chunks a file of ``size`` bytes may hold."""
    return CHUNK_BUDGET_BASE + size // BYTES_PER_CHUNK


def iter_chunks(data: Buffer) -> Iterator[Chunk]:
    """The chunks up to and including IEND; raises :class:`PngStructureError` when the file ends first and
    :class:`Refusal` past the chunk budget."""
    if bytes(data[:8]) != SIGNATURE:
        raise PngStructureError("no PNG signature")
    pos, size = 8, len(data)
    budget = chunk_budget(size)
    for count in itertools.count(1):
        if count > budget:
            raise Refusal(f"too many PNG chunks for the file's size (over {budget})")
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
        """Palette entries kept (PLTE of a palette image, cut to what the bit depth can index)."""
        self.image_seen = False
        self.animation = _Animation()
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
        self._finish_animation()
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
        if kind == b"IDAT":
            self._idat(chunk)
        elif kind == b"fdAT" and self._animating():
            self._fdat(chunk)
        else:
            label, outcome = self._classify(index, chunk)
            self.model.add(chunk.start, chunk.end, outcome, label)

    def _image(self, chunk: Chunk, header_kind: Kind, header_label: str) -> None:
        skip = 4 if chunk.type == b"fdAT" else 0
        if chunk.data_end - chunk.data_start < skip:
            raise PngStructureError("an fdAT chunk without its sequence number")
        self.model.add(chunk.start, chunk.data_start + skip, header_kind, header_label)
        self.model.add(chunk.data_start + skip, chunk.data_end, Kind.IMAGE, _name(chunk.type))
        self.model.add(chunk.data_end, chunk.end, Kind.STRUCTURE, "CRC")
        self.model.proof.append((chunk.data_start + skip, chunk.data_end))

    def _idat(self, chunk: Chunk) -> None:
        animation = self.animation
        if not self.image_seen and animation.declared is not None and not animation.controls:
            animation.default_outside = True
        self.image_seen = True
        self._image(chunk, Kind.STRUCTURE, "IDAT")
        self.model.exiftool_ranges.append((chunk.data_start, chunk.data_end))

    def _animating(self) -> bool:
        """An acTL before the image data made this an APNG, and an fcTL has started a frame."""
        return self.animation.declared is not None and self.animation.controls > 0

    def _fdat(self, chunk: Chunk) -> None:
        if not self.image_seen:
            raise PngStructureError("an fdAT chunk before the default image")
        self.animation.waiting = False
        in_order = self._next_sequence(chunk)
        self._image(chunk, Kind.STRUCTURE if in_order else Kind.METADATA, "fdAT" if in_order else "APNG sequence")

    def _next_sequence(self, chunk: Chunk) -> bool:
        """True when the fcTL/fdAT ``chunk`` carries the next sequence number. (Decoders refuse an APNG whose numbers
        are out of order; the rewrite numbers the kept chunks 0, 1, 2 ... whatever it drops.)"""
        number = int.from_bytes(self.data[chunk.data_start : chunk.data_start + 4], "big")
        expected, self.animation.sequence = self.animation.sequence, self.animation.sequence + 1
        return number == expected

    def _classify(self, index: int, chunk: Chunk) -> tuple[str, Kind]:
        kind, payload = chunk.type, self.payload(chunk)
        if kind == b"IHDR":
            return self._ihdr(chunk, payload)
        if kind in (b"acTL", b"fcTL", b"fdAT"):
            return self._animation_chunk(index, chunk, payload)
        if kind in (b"PLTE", b"tRNS", b"IEND"):
            return self._decoding(index, chunk, payload)
        size = display_size(kind, self.model.ihdr[3])
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
        return self._drop(index, _name(kind))

    def _drop(self, index: int, label: str) -> tuple[str, Kind]:
        self.model.actions[index] = None
        return label, Kind.METADATA

    def _ihdr(self, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        if chunk.start != 8 or len(payload) != 13:
            raise PngStructureError("IHDR is not the first chunk or has the wrong size")
        width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", payload)
        if not 0 < width <= _MAX_CHUNK or not 0 < height <= _MAX_CHUNK or colour not in BIT_DEPTHS:
            raise PngStructureError("IHDR declares no pixels or an unknown colour type")
        if depth not in BIT_DEPTHS[colour] or compression or filtering or interlace > 1:
            raise PngStructureError("IHDR declares a bit depth, compression, filter or interlace PNG does not have")
        self.model.ihdr = (width, height, depth, colour, interlace)
        self.model.proof.append((chunk.data_start, chunk.data_end))
        return "IHDR", Kind.STRUCTURE

    def _animation_chunk(self, index: int, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        """acTL before the image data starts an APNG; fcTL and fdAT count only inside one (decoders ignore them
        elsewhere, so there they are free bytes)."""
        animation, kind = self.animation, chunk.type
        if kind == b"acTL" and not self.image_seen:
            if animation.declared is not None or len(payload) != 8:
                raise PngStructureError("a second acTL chunk, or one of the wrong size")
            declared = struct.unpack(">I", payload[:4])[0]
            if not 0 < declared <= _MAX_CHUNK:
                raise PngStructureError(f"acTL declares {declared} frames")
            animation.declared = declared
            self.model.proof.append(payload)
            return "acTL", Kind.STRUCTURE
        if kind == b"fcTL" and animation.declared is not None:
            return self._frame_control(chunk, payload)
        return self._drop(index, f"{_name(kind)} outside an animation")

    def _frame_control(self, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        animation = self.animation
        if len(payload) != 26:
            raise PngStructureError("an fcTL chunk of the wrong size")
        width, height, x, y, _, _, dispose, blend = struct.unpack(">IIIIHHBB", payload[4:])
        full_width, full_height = self.model.ihdr[:2]
        if not width or not height or x + width > full_width or y + height > full_height or dispose > 2 or blend > 1:
            raise PngStructureError("an APNG frame outside the image, or an unknown dispose or blend operation")
        if not self.image_seen and (x, y, width, height) != (0, 0, full_width, full_height):
            raise PngStructureError("the fcTL of the default image does not cover the whole image")
        if animation.waiting:
            raise PngStructureError("an APNG frame without image data")
        animation.controls += 1
        animation.waiting = self.image_seen
        self.model.proof.append(b"fcTL" + payload[4:])
        return ("fcTL", Kind.STRUCTURE) if self._next_sequence(chunk) else ("APNG sequence", Kind.METADATA)

    def _finish_animation(self) -> None:
        animation = self.animation
        if animation.declared is None:
            return
        if animation.waiting:
            raise PngStructureError("an APNG frame without image data")
        if animation.declared != animation.controls:
            raise PngStructureError(f"acTL declares {animation.declared} frames, the file holds {animation.controls}")
        self.model.frames = animation.controls + int(animation.default_outside)

    def _decoding(self, index: int, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        kind = chunk.type
        if kind == b"PLTE":
            return self._plte(index, chunk, payload)
        if kind == b"tRNS":
            return self._trns(index, chunk, payload)
        if payload:  # IEND
            self.model.actions[index] = chunk_bytes(b"IEND", b"")
            return "IEND payload", Kind.METADATA
        return "IEND", Kind.STRUCTURE

    def _plte(self, index: int, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        depth, colour = self.model.ihdr[2:4]
        if b"PLTE" in self.seen or self.image_seen or len(payload) % 3 or not 3 <= len(payload) <= 768:
            raise PngStructureError("a second PLTE, a PLTE after the image data, or one of the wrong size")
        self.seen.add(b"PLTE")
        if colour != 3:
            kind = "truecolour" if colour & 2 else "greyscale"
            return self._drop(index, f"PLTE in a {kind} image")
        self.palette = min(len(payload) // 3, 1 << depth)
        return self._cut(index, chunk, payload, 3 * self.palette, "PLTE entries past the bit depth")

    def _cut(self, index: int, chunk: Chunk, payload: bytes, size: int, label: str) -> tuple[str, Kind]:
        """A decoding chunk kept up to ``size`` bytes of its payload (what decoders use of it)."""
        if len(payload) <= size:
            self.model.proof.append(chunk.type + payload)
            return _name(chunk.type), Kind.STRUCTURE
        self.model.proof.append(chunk.type + payload[:size])
        self.model.actions[index] = chunk_bytes(chunk.type, payload[:size])
        return label, Kind.METADATA

    def _trns(self, index: int, chunk: Chunk, payload: bytes) -> tuple[str, Kind]:
        colour = self.model.ihdr[3]
        if b"tRNS" in self.seen or self.image_seen:
            raise PngStructureError("a second tRNS chunk, or one after the image data")
        self.seen.add(b"tRNS")
        if colour == 3:
            if not self.palette:
                raise PngStructureError("a tRNS chunk before the palette")
            return self._cut(index, chunk, payload, self.palette, "tRNS entries past the palette")
        if colour in TRNS_SIZES and len(payload) != TRNS_SIZES[colour]:
            raise PngStructureError("chunk tRNS has the wrong size")
        problem = transparency_problem(colour)
        if problem:
            return self._drop(index, f"tRNS ({problem})")
        return self._cut(index, chunk, payload, len(payload), "tRNS")

    def _display(self, index: int, kind: bytes, payload: bytes, size: int) -> tuple[str, Kind]:
        if kind in self.seen or len(payload) < size:
            return self._drop(index, f"{_name(kind)} (repeated or too short: decoders ignore it)")
        self.seen.add(kind)
        depth, colour = self.model.ihdr[2:4]
        problem = display_problem(kind, payload[:size], depth, colour, self.palette)
        if problem:
            return self._drop(index, f"{_name(kind)} ({problem}: decoders ignore it)")
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
        values = read_xmp(packet, **xmp_options(self.policy)) if packet is not None else XmpValues()
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
    kept = [c for i, c in enumerate(model.chunks) if not (i in model.actions and model.actions[i] is None)]
    size = (model.ihdr[0], model.ihdr[1])
    _check_stream(data, [c for c in kept if c.type == b"IDAT"], 0, size, model.ihdr, "IHDR")
    frame: tuple[int, int] | None = None
    chunks: list[Chunk] = []
    for chunk in [*kept, None]:
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
    compressed = sum(c.data_end - c.data_start - skip for c in chunks)
    if expected > DEFLATE_MAX_RATIO * compressed + 1024:
        raise PngStructureError(
            f"the image data ({compressed} bytes) cannot inflate to the {expected} bytes {declared} declares"
        )
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
    kept_items: ClassVar[dict[str, str]] = {"eXIf": "exif", "iTXt XMP": "xmp", "iCCP": "icc"}

    def item_bytes(self, kind: str, spans: list[Span], data: Buffer) -> bytes | None:
        """The chunk's EXIF structure, XMP packet or inflated ICC profile."""
        if len(spans) != 1 or spans[0].length < 12:
            return None
        payload = bytes(data[spans[0].start + 8 : spans[0].end - 4])
        if kind == "exif":
            return payload
        if kind == "xmp":
            return _itxt_text(payload)
        _, _, rest = payload.partition(b"\0")
        return _inflate_profile(rest[1:]) if rest[:1] == b"\0" else None

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
        sequence = 0
        for index, chunk in enumerate(model.chunks):
            action = model.actions.get(index, b"")
            if action is None:
                continue
            if chunk.type in (b"fcTL", b"fdAT"):
                out += _numbered(view, chunk, sequence)
                sequence += 1
            else:
                out += action if action else view[chunk.start : chunk.end]
            if chunk.type == b"IHDR":
                out += _kept_chunks(model, policy)
        return bytes(out)


def _numbered(view: memoryview, chunk: Chunk, sequence: int) -> Buffer:
    """The fcTL or fdAT ``chunk`` with the sequence number ``sequence``."""
    if int.from_bytes(view[chunk.data_start : chunk.data_start + 4], "big") == sequence:
        return view[chunk.start : chunk.end]
    return chunk_bytes(chunk.type, sequence.to_bytes(4, "big") + bytes(view[chunk.data_start + 4 : chunk.data_end]))


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
