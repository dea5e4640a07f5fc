"""GIF: the byte model of a GIF87a/GIF89a file, and its rewrite.

Structure: the header, logical screen descriptor and global colour table; graphic control extensions of
exactly one 4-byte sub-block (reserved bits zero, no transparency index unless the flag is set) that an image
follows; the NETSCAPE2.0/ANIMEXTS1.0 loop extension of exactly the sub-block ``01 lo hi``; image descriptors
(reserved bits zero), local colour tables and LZW code sizes; the trailer. Image data: each frame's LZW code
stream up to its end code (:mod:`.gif_lzw`), written in sub-blocks of 255 bytes. Colour tables are cut to the
entries pixels use (every pixel comes from a literal code), the transparency index and, for Pillow, the background
entry: cut to the power of two that holds the highest, the others zeroed.
Kept item: the ICC profile application extension (ICCRGBG1012), reduced and re-split. Metadata: comments,
plain-text extensions, XMP and every other application extension, extra sub-blocks in a kept extension, bytes after
an LZW end code, sub-blocks of other sizes, colour table entries no pixel can use, reserved bits, a graphic control
extension no image follows, bytes after the trailer. Refused: LZW codes no decoder accepts or that code more pixels
than the frame holds, two graphic control extensions for one image.

ExifTool has no ``ImageDataHash`` for GIF; the proof hash here covers what decides the pixels and their
display (screen, palettes, frame timing and transparency, image descriptors and LZW code streams, loop count).
Budget: at most ``BLOCK_BUDGET_BASE + size // BYTES_PER_BLOCK`` blocks (extensions and frames).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, Span
from ..errors import StructureError
from ..kept import icc as kept_icc
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..pixels import check_frames_decode
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags
from .gif_lzw import LzwError, follow

_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_ICC_APP = b"ICCRGBG1012"
BLOCK_BUDGET_BASE = 20_000
BYTES_PER_BLOCK = 64
"""A file may hold ``BLOCK_BUDGET_BASE + size // BYTES_PER_BLOCK`` blocks (each costs the walker a few hundred bytes
of memory and Pillow a frame to decode; the smallest frame takes 14 bytes)."""


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


@dataclass(frozen=True, slots=True)
class Lzw:
    """One frame's LZW data in the output: ``length`` bytes of the sub-blocks that start at ``at``, re-split into
    sub-blocks of 255 bytes (the same code stream, without what follows its end code)."""

    at: int
    length: int
    canonical: bool
    """The input's sub-blocks are already 255 bytes each and hold nothing after the end code."""


@dataclass
class GifModel(ByteModel):
    """A walked GIF: the byte model plus the kept blocks in output order."""

    blocks: list[tuple[int, int] | bytes | Lzw] = field(default_factory=list)
    """The output: ranges of the input copied as they are, canonical bytes written instead, or LZW data."""

    def proof_hash(self, data: Buffer) -> str:
        """The proof of :class:`ByteModel` and the LZW code stream of every frame (its bytes, not its sub-blocks)."""
        digest = hashlib.sha256(super().proof_hash(data).encode())
        for block in self.blocks:
            if isinstance(block, Lzw):
                digest.update(block.length.to_bytes(8, "big"))
                for part in _payload_parts(data, block.at, block.length):
                    digest.update(part)
        return digest.hexdigest()


def budget_of(size: int) -> int:
    """How many blocks (extensions and images) a file of ``size`` bytes may hold."""
    return BLOCK_BUDGET_BASE + size // BYTES_PER_BLOCK


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


def _payload_parts(data: Buffer, pos: int, length: int) -> Iterator[Buffer]:
    """The first ``length`` payload bytes of the sub-blocks that start at ``pos``, in pieces."""
    view = memoryview(data)
    while length > 0:
        size = data[pos]
        take = min(size, length)
        yield view[pos + 1 : pos + 1 + take]
        length -= take
        pos += 1 + size


def _split(payload: Buffer) -> bytes:
    """``payload`` as data sub-blocks of at most 255 bytes, terminated."""
    out = bytearray()
    for start in range(0, len(payload), 255):
        part = payload[start : start + 255]
        out += bytes([len(part)]) + part
    return bytes(out + b"\0")


def canonical_table(table: bytes, used: bytes | bytearray) -> bytes:
    """A colour table with only the entries a pixel (or the transparency or background index) uses: cut to the
    smallest power of two of entries (at least 2) that holds the highest, the others zero. Pillow opens a GIF whose
    table is the identity grey ramp as greyscale, not palette: a ramp stays a ramp (cut, never zeroed; it holds no
    chosen byte), and a table that would become one keeps its size, zero entries after it."""
    entries = len(table) // 3
    highest = max((index for index in range(min(entries, len(used))) if used[index]), default=0)
    kept = 2
    while kept <= highest:
        kept *= 2
    kept = min(kept, entries)
    if _grey_ramp(table):
        return table[: 3 * kept]
    canonical = b"".join(table[3 * i : 3 * i + 3] if i < len(used) and used[i] else b"\0\0\0" for i in range(kept))
    if _grey_ramp(canonical):
        return canonical + bytes(len(table) - len(canonical))
    return canonical


def _grey_ramp(table: bytes) -> bool:
    return all(table[i] == table[i + 1] == table[i + 2] == i // 3 for i in range(0, len(table), 3))


def _table_bits(size: int) -> int:
    """The 3-bit size field of a colour table of ``size`` bytes."""
    return (size // 3).bit_length() - 2


@dataclass
class _Frame:
    """What the walker has seen since the last image: the graphic control extension that applies to the next one."""

    control: tuple[int, bytes, int] | None = None
    """Where it starts, its canonical bytes and its place in the output blocks."""
    transparent: int = -1


class _Walk:
    """Walks the blocks of a GIF, labelling them and collecting the output blocks."""

    def __init__(self, data: Buffer, model: GifModel, policy: ScrubPolicy) -> None:
        self.data, self.model, self.policy = data, model, policy
        self.icc_seen = False
        self.budget = budget_of(len(data))
        self.frame = _Frame()
        self.global_used = bytearray(256)
        """The entries of the global colour table that frames without a local table (and the background) use."""
        self.global_table: tuple[int, int] | None = None
        self.background = -1
        """The background index every colour table must keep (Pillow reads it from the frame's table), or -1."""

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
            self.global_table = (13, end)
            self.background = data[11]  # Pillow paints disposed areas with that entry
        if end > len(data):
            raise GifStructureError("the global colour table is cut off")
        self.keep(0, 6, Kind.STRUCTURE, "GIF header", proof=False)
        screen = bytes(data[6:13])
        if not flags & 0x80 and screen[5]:  # a background index without a table: no decoder reads it
            screen = screen[:5] + b"\0" + screen[6:]
        clean = screen == bytes(data[6:13])
        label = "logical screen" if clean else "background index without a table"
        self.model.add(6, 13, Kind.STRUCTURE if clean else Kind.METADATA, label)
        self.model.blocks.append(screen)
        if self.global_table:
            self.model.add(13, end, Kind.STRUCTURE, "global colour table")
            self.model.blocks.append(bytes(data[13:end]))
        return end

    def run(self) -> int:
        pos = self.header()
        count = 0
        while pos < len(self.data):
            count += 1
            if count > self.budget:
                raise Refusal(f"too many GIF blocks for the file's size (over {self.budget})")
            kind = self.data[pos]
            if kind == 0x3B:
                self.drop_control("graphic control extension no image uses")
                self.keep(pos, pos + 1, Kind.STRUCTURE, "trailer", proof=False)
                self.finish_global_table()
                return pos + 1
            if kind == 0x21 and pos + 2 <= len(self.data):
                pos = self.extension(pos)
            elif kind == 0x2C:
                pos = self.image(pos)
            else:
                raise GifStructureError(f"unknown block 0x{kind:02x} at offset {pos}")
        raise GifStructureError("no GIF trailer: the GIF is truncated")

    def finish_global_table(self) -> None:
        """The global colour table cut to the entries frames and the background can use, the screen's size bits to
        match."""
        if self.global_table is None:
            return
        start, end = self.global_table
        table = bytes(self.data[start:end])
        if self.background >= 0:
            self.global_used[self.background] = 1
        canonical = canonical_table(table, self.global_used)
        screen = self.model.blocks[1]
        assert isinstance(screen, bytes)
        screen = screen[:4] + bytes([(screen[4] & 0xF8) | _table_bits(len(canonical))]) + screen[5:]
        self.model.blocks[1:3] = [screen, canonical]
        self.model.proof[:0] = [screen, canonical]
        if canonical != table:
            spans = self.model.spans
            position = next(i for i, span in enumerate(spans) if span.start == start)
            spans[position] = Span(start, end, Kind.METADATA, "colour table entries no pixel can use")

    def extension(self, pos: int) -> int:
        label = self.data[pos + 1]
        blocks, end = _sub_blocks(self.data, pos + 2)
        first = bytes(self.data[blocks[0][0] : blocks[0][1]]) if blocks else b""
        if label == 0xF9:
            return self.control(pos, end, blocks)
        if label == 0xFF and first in _LOOP_APPS and len(blocks) >= 2:
            return self.loop(pos, end, blocks)
        if label == 0xFF and first == _ICC_APP and not self.icc_seen and not self.policy.strip_icc:
            return self.icc(pos, end, blocks)
        name = {0xFE: "comment", 0x01: "plain text"}.get(label)
        if label == 0xFF:
            name = "XMP" if first == b"XMP DataXMP" else "ICC profile" if first == _ICC_APP else "application"
        self.model.add(pos, end, Kind.METADATA, f"{name or f'extension 0x{label:02x}'} extension")
        return end

    def drop_control(self, label: str) -> None:
        """A graphic control extension waiting for an image that does not come: no decoder uses it."""
        if self.frame.control is not None:
            start, _, index = self.frame.control
            position = next(i for i, span in enumerate(self.model.spans) if span.start == start)
            span = self.model.spans[position]
            self.model.spans[position] = Span(span.start, span.end, Kind.METADATA, label)
            del self.model.blocks[index]
            self.frame = _Frame()

    def control(self, pos: int, end: int, blocks: list[tuple[int, int]]) -> int:
        """A graphic control extension: one 4-byte sub-block, 3 reserved bits zero, the transparency index zero
        unless the transparency flag is set."""
        if len(blocks) != 1 or blocks[0][1] - blocks[0][0] != 4:
            self.model.add(pos, end, Kind.METADATA, "graphic control extension of the wrong size")
            return end
        if self.frame.control is not None:
            raise GifStructureError("two graphic control extensions for one image (decoders disagree on which applies)")
        flags, delay, index = self.data[pos + 3], bytes(self.data[pos + 4 : pos + 6]), self.data[pos + 6]
        canonical = b"\x21\xf9\x04" + bytes([flags & 0x1F]) + delay + bytes([index if flags & 1 else 0]) + b"\0"
        clean = canonical == bytes(self.data[pos:end])
        label = "graphic control extension" if clean else "graphic control extension reserved fields"
        self.model.add(pos, end, Kind.STRUCTURE if clean else Kind.METADATA, label)
        self.frame.control = (pos, canonical, len(self.model.blocks))
        self.model.blocks.append((pos, end) if clean else canonical)
        self.frame.transparent = index if flags & 1 else -1
        return end

    def loop(self, pos: int, end: int, blocks: list[tuple[int, int]]) -> int:
        """The NETSCAPE2.0/ANIMEXTS1.0 loop count: exactly the sub-block ``01 lo hi`` (anything else is not read as
        a loop count: the extension is metadata)."""
        start, stop = blocks[1]
        if stop - start != 3 or self.data[start] != 1:
            self.model.add(pos, end, Kind.METADATA, "application extension")
            return end
        canonical = bytes(self.data[pos:stop]) + b"\0"
        self.model.proof.append(canonical)
        if stop + 1 == end:
            self.keep(pos, end, Kind.STRUCTURE, "loop count extension", proof=False)
        else:
            self.model.add(pos, end, Kind.METADATA, "loop count extension extra sub-blocks")
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
        data = self.data
        if pos + 11 > len(data):
            raise GifStructureError("an image descriptor is cut off")
        width, height = (
            int.from_bytes(data[pos + 5 : pos + 7], "little"),
            int.from_bytes(data[pos + 7 : pos + 9], "little"),
        )
        flags = data[pos + 9]
        table_end = pos + 10 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
        if table_end >= len(data):
            raise GifStructureError("a local colour table is cut off")
        code_size = data[table_end]
        if not 1 <= code_size <= 11:
            raise GifStructureError(f"an LZW code size of {code_size}: the image data is corrupt")
        stream, end, literals = self.lzw(table_end + 1, code_size, width * height)
        used = bytearray(literals.ljust(256, b"\0")[:256])
        for index in (self.frame.transparent, self.background):
            if index >= 0:
                used[index] = 1
        if flags & 0x80:
            self.descriptor(pos, table_end, used)
        else:
            self.global_used = bytearray(a | b for a, b in zip(self.global_used, used, strict=True))
            self.descriptor(pos, table_end, b"")
        if self.frame.control is not None:
            self.model.proof.append(self.frame.control[1])
        self.frame = _Frame()
        self.image_data(table_end + 1, end, stream)
        self.model.frames += 1
        return end

    def descriptor(self, pos: int, table_end: int, used: bytes | bytearray) -> None:
        """The image descriptor with its reserved bits zero, its local colour table reduced to the ``used`` entries."""
        data = self.data
        head, table = bytes(data[pos : pos + 10]), bytes(data[pos + 10 : table_end])
        flags = head[9] & 0xE7
        if table:
            table = canonical_table(table, used)
            flags = (flags & 0xF8) | _table_bits(len(table))
        canonical = head[:9] + bytes([flags]) + table + bytes([data[table_end]])
        self.model.proof.append(canonical)
        self.model.blocks.append(canonical)
        if head[9] & 0x18:
            self.model.add(pos, table_end + 1, Kind.METADATA, "image descriptor reserved bits")
        elif canonical[10:-1] != bytes(data[pos + 10 : table_end]):
            self.model.add(pos, pos + 10, Kind.STRUCTURE, "image descriptor")
            self.model.add(pos + 10, table_end, Kind.METADATA, "colour table entries no pixel can use")
            self.model.add(table_end, table_end + 1, Kind.STRUCTURE, "LZW code size")
        else:
            self.model.add(pos, table_end + 1, Kind.STRUCTURE, "image descriptor")

    def lzw(self, at: int, code_size: int, pixels: int) -> tuple[Lzw, int, bytes]:
        """Follow the LZW data of a frame whose sub-blocks start at ``at``: the stream up to its end code, where the
        sub-blocks end, and the colour indices its pixels use."""
        blocks, end = _sub_blocks(self.data, at)
        if not blocks:
            raise GifStructureError("a frame without image data")
        payload = b"".join(bytes(self.data[s:e]) for s, e in blocks)
        try:
            stream = follow(payload, code_size, pixels)
        except LzwError as exc:
            raise GifStructureError(str(exc)) from None
        if stream.overrun:
            raise GifStructureError("the LZW data codes more pixels than its frame holds")
        canonical = all(e - s == 255 for s, e in blocks[:-1]) and stream.length == len(payload)
        return Lzw(at, stream.length, canonical), end, stream.used

    def image_data(self, at: int, end: int, stream: Lzw) -> None:
        """The sub-blocks of a frame: the code stream is image data, bytes after its end code are metadata (the
        rewrite re-splits the stream into sub-blocks of 255 bytes)."""
        self.model.blocks.append(stream)
        if stream.canonical:
            self.model.add(at, end, Kind.IMAGE, "image data")
            return
        cut, left = at, stream.length
        while left > 0 and left >= self.data[cut]:
            left -= self.data[cut]
            cut += 1 + self.data[cut]
        cut += 1 + left if left else 0
        if cut == end - 1:  # all of it is the code stream: only the sub-block sizes differ
            self.model.add(at, at + 1, Kind.METADATA, "LZW sub-blocks not of 255 bytes")
            self.model.add(at + 1, end, Kind.IMAGE, "image data")
            return
        self.model.add(at, cut, Kind.IMAGE, "image data")
        self.model.add(cut, end - 1, Kind.METADATA, "bytes after the LZW end code")
        self.model.add(end - 1, end, Kind.STRUCTURE, "sub-block terminator")


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
    file_suffixes = (".gif",)

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
        view, out = memoryview(data), bytearray()
        for block in model.blocks:
            if isinstance(block, Lzw):
                out += _split(b"".join(_payload_parts(data, block.at, block.length)))
            else:
                out += block if isinstance(block, bytes) else view[block[0] : block[1]]
        return bytes(out)
