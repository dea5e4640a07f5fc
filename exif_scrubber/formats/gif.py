"""GIF: the byte model of a GIF87a/GIF89a file, and its rewrite.

Structure: the header, logical screen descriptor and global colour table; graphic control extensions of
exactly one 4-byte sub-block; the NETSCAPE2.0/ANIMEXTS1.0 loop extension of exactly one 3-byte sub-block;
image descriptors, local colour tables and LZW code sizes; the trailer. Image data: the LZW sub-blocks.
Kept item: the ICC profile application extension (ICCRGBG1012), reduced and re-split. Metadata: comments,
plain-text extensions, XMP and every other application extension, extra sub-blocks in a kept extension, bytes
after the trailer.

ExifTool has no ``ImageDataHash`` for GIF; the proof hash here covers what decides the pixels and their
display (screen, palettes, frame timing and transparency, image descriptors and LZW data, loop count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind
from ..errors import StructureError
from ..kept import icc as kept_icc
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..pixels import check_frames_decode
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags

_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_ICC_APP = b"ICCRGBG1012"


def _gif(*names: str) -> Allowlist:
    return Allowlist.of("GIF", names)


STRUCTURE_TAGS: dict[str, Tags] = {
    "GIF header": _gif("GIFVersion"),
    "logical screen": _gif(
        "ImageWidth",
        "ImageHeight",
        "HasColorMap",
        "ColorResolutionDepth",
        "BitsPerPixel",
        "BackgroundColor",
        "PixelAspectRatio",
    ),
    "loop count extension": _gif("AnimationIterations"),
    "graphic control extension": _gif("TransparentColor", "Duration", "FrameCount"),
    "image descriptor": _gif("Interlaced", "FrameCount"),
    "ICC profile extension": kept_icc.allowlist,
}
"""ExifTool's names for the blocks the GIF walker keeps (``Duration`` and ``FrameCount`` are counted from the
graphic control extensions and image descriptors)."""


class GifStructureError(StructureError):
    """The block structure of the GIF cannot be followed."""


@dataclass
class GifModel(ByteModel):
    """A walked GIF: the byte model plus the kept blocks in output order."""

    blocks: list[tuple[int, int] | bytes] = field(default_factory=list)
    """The output: ranges of the input copied as they are, or canonical bytes written instead."""


def _sub_blocks(data: Buffer, pos: int) -> tuple[list[tuple[int, int]], int]:
    """The (start, end) of each data sub-block starting at ``pos`` and the offset after the terminator."""
    blocks: list[tuple[int, int]] = []
    size = len(data)
    while True:
        if pos >= size:
            raise GifStructureError("data sub-blocks are cut off: the GIF is truncated")
        length = data[pos]
        if length == 0:
            return blocks, pos + 1
        if pos + 1 + length > size:
            raise GifStructureError("a data sub-block is cut off: the GIF is truncated")
        blocks.append((pos + 1, pos + 1 + length))
        pos += 1 + length


def _split(payload: bytes) -> bytes:
    """``payload`` as data sub-blocks of at most 255 bytes, terminated."""
    out = bytearray()
    for start in range(0, len(payload), 255):
        part = payload[start : start + 255]
        out += bytes([len(part)]) + part
    return bytes(out + b"\0")


class _Walk:
    """Walks the blocks of a GIF, labelling them and collecting the output blocks."""

    def __init__(self, data: Buffer, model: GifModel, policy: ScrubPolicy) -> None:
        self.data, self.model, self.policy = data, model, policy
        self.icc_seen = False

    def keep(self, start: int, end: int, kind: Kind, label: str, *, proof: bool = True) -> None:
        self.model.add(start, end, kind, label)
        self.model.blocks.append((start, end))
        if proof:
            self.model.proof.append((start, end))

    def header(self) -> int:
        data = self.data
        if bytes(data[:6]) not in (b"GIF87a", b"GIF89a") or len(data) < 13:
            raise GifStructureError("no GIF header")
        flags, end = data[10], 13
        if flags & 0x80:
            end += 3 << ((flags & 7) + 1)
        if end > len(data):
            raise GifStructureError("the global colour table is cut off")
        self.keep(0, 6, Kind.STRUCTURE, "GIF header", proof=False)
        self.keep(6, end, Kind.STRUCTURE, "logical screen")
        return end

    def run(self) -> int:
        pos = self.header()
        while pos < len(self.data):
            kind = self.data[pos]
            if kind == 0x3B:
                self.keep(pos, pos + 1, Kind.STRUCTURE, "trailer", proof=False)
                return pos + 1
            if kind == 0x21 and pos + 2 <= len(self.data):
                pos = self.extension(pos)
            elif kind == 0x2C:
                pos = self.image(pos)
            else:
                raise GifStructureError(f"unknown block 0x{kind:02x} at offset {pos}")
        raise GifStructureError("no GIF trailer: the GIF is truncated")

    def extension(self, pos: int) -> int:
        label = self.data[pos + 1]
        blocks, end = _sub_blocks(self.data, pos + 2)
        first = bytes(self.data[blocks[0][0] : blocks[0][1]]) if blocks else b""
        if label == 0xF9:
            return self.fixed(pos, end, blocks, 4, "graphic control")
        if label == 0xFF and first in _LOOP_APPS and len(blocks) >= 2:
            return self.fixed(pos, end, blocks, 3, "loop count", first=2)
        if label == 0xFF and first == _ICC_APP and not self.icc_seen and not self.policy.strip_icc:
            return self.icc(pos, end, blocks)
        name = {0xFE: "comment", 0x01: "plain text"}.get(label)
        if label == 0xFF:
            name = "XMP" if first == b"XMP DataXMP" else "ICC profile" if first == _ICC_APP else "application"
        self.model.add(pos, end, Kind.METADATA, f"{name or f'extension 0x{label:02x}'} extension")
        return end

    def fixed(self, pos: int, end: int, blocks: list[tuple[int, int]], size: int, label: str, first: int = 1) -> int:
        """An extension whose first ``first`` sub-blocks are kept, the last of them exactly ``size`` bytes."""
        kept = blocks[:first]
        start, stop = kept[-1]
        if stop - start != size:
            self.model.add(pos, end, Kind.METADATA, f"{label} extension of the wrong size")
            return end
        canonical = bytes(self.data[pos:stop]) + b"\0"
        self.model.proof.append(canonical)
        if stop + 1 == end:
            self.keep(pos, end, Kind.STRUCTURE, f"{label} extension", proof=False)
        else:
            self.model.add(pos, end, Kind.METADATA, f"{label} extension extra sub-blocks")
            self.model.blocks.append(canonical)
        return end

    def icc(self, pos: int, end: int, blocks: list[tuple[int, int]]) -> int:
        self.icc_seen = True
        profile = b"".join(bytes(self.data[s:e]) for s, e in blocks[1:])
        try:
            reduced = profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if len(profile) >= 128 and profile[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            self.model.add(pos, end, Kind.METADATA, "ICC profile extension (not a profile)")
            return end
        canonical = b"\x21\xff\x0b" + _ICC_APP + _split(reduced)
        if bytes(self.data[pos:end]) == canonical:
            self.keep(pos, end, Kind.KEPT, "ICC profile extension", proof=False)
        else:
            self.model.add(pos, end, Kind.METADATA, "ICC profile extension")
            self.model.blocks.append(canonical)
        return end

    def image(self, pos: int) -> int:
        if pos + 11 > len(self.data):
            raise GifStructureError("an image descriptor is cut off")
        local = self.data[pos + 9]
        data_at = pos + 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0)
        if data_at >= len(self.data):
            raise GifStructureError("a local colour table is cut off")
        code_size = self.data[data_at]
        if not 1 <= code_size <= 11:
            raise GifStructureError(f"an LZW code size of {code_size}: the image data is corrupt")
        self.keep(pos, data_at + 1, Kind.STRUCTURE, "image descriptor")
        _, end = _sub_blocks(self.data, data_at + 1)
        if end == data_at + 2:
            raise GifStructureError("a frame without image data")
        self.keep(data_at + 1, end, Kind.IMAGE, "image data")
        self.model.frames += 1
        return end


class GifHandler(FormatHandler):
    """GIF87a and GIF89a, animated or not."""

    name = "GIF"
    mime_type = "image/gif"
    extension = "gif"
    mime_types = frozenset({"image/gif"})
    pillow_formats = frozenset({"GIF"})
    leftover_group: ClassVar[str] = "GIF-blocks"
    structure_tags = STRUCTURE_TAGS
    ranged_audit: ClassVar[bool] = False  # markers / sub-block sizes lie inside the image data

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:6] in (b"GIF87a", b"GIF89a")

    def check_decodes(self, path: Path, policy: ScrubPolicy) -> None:
        """The byte model checks the block structure; whether the LZW data decodes needs a decoder."""
        check_frames_decode(path, policy.max_pixels)

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> GifModel:
        model = GifModel(format=self.name, size=len(data), frames=0)
        end = _Walk(data, model, policy).run()
        if not model.frames:
            raise GifStructureError("no image in the file")
        if end < len(data):
            model.add(end, len(data), Kind.METADATA, "bytes after the trailer")
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, GifModel)
        view = memoryview(data)
        return b"".join(block if isinstance(block, bytes) else view[block[0] : block[1]] for block in model.blocks)
