"""GIF: comment extensions and application extensions (XMP, ICC); an own image-data hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StructureError
from ..policy import ScrubPolicy
from .base import FormatHandler, ScrubContext, cut_trailing_bytes

_DISPLAY_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_ICC_APP = b"ICCRGBG1012"


class GifStructureError(StructureError):
    """The block structure of the GIF cannot be followed."""


@dataclass
class GifWalk:
    """What a walk through a GIF's blocks found."""

    image_hash: str
    extensions: list[str] = field(default_factory=list)
    end: int = 0


def _sub_blocks(data: bytes, pos: int) -> tuple[bytes, int]:
    """Concatenate the data sub-blocks starting at ``pos``; return them and the offset after them."""
    chunks: list[bytes] = []
    while True:
        if pos >= len(data):
            raise GifStructureError("truncated data sub-blocks")
        size = data[pos]
        pos += 1
        if size == 0:
            return b"".join(chunks), pos
        chunks.append(data[pos : pos + size])
        pos += size


def walk(data: bytes) -> GifWalk:
    """Walk every block; hash what decides the pixels and their display (screen, palettes,
    frame timing and transparency, image descriptors and LZW data, loop count)."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise GifStructureError("no GIF header")
    digest = hashlib.sha256(data[6:13])
    flags = data[10]
    pos = 13
    if flags & 0x80:
        table = 3 << ((flags & 7) + 1)
        digest.update(data[pos : pos + table])
        pos += table
    result = GifWalk(image_hash="")
    while pos < len(data):
        kind = data[pos]
        if kind == 0x3B:
            result.end = pos + 1
            result.image_hash = digest.hexdigest()
            return result
        if kind == 0x21:
            if pos + 2 > len(data):
                raise GifStructureError("truncated extension")
            label = data[pos + 1]
            body, after = _sub_blocks(data, pos + 2)
            # graphic control, plain text and the loop count change what is shown: hashed, kept
            if label in (0xF9, 0x01) or (label == 0xFF and body[:11] in _DISPLAY_APPS):
                digest.update(data[pos:after])
            elif label == 0xFF:
                name = body[:11].decode("latin-1")
                result.extensions.append("ICC" if body[:11] == _ICC_APP else f"Application({name})")
            elif label == 0xFE:
                result.extensions.append("Comment")
            else:
                result.extensions.append(f"Extension(0x{label:02x})")
            pos = after
        elif kind == 0x2C:
            if pos + 10 > len(data):
                raise GifStructureError("truncated image descriptor")
            local = data[pos + 9]
            end = pos + 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0)
            digest.update(data[pos : end + 1])  # descriptor, local palette, LZW code size
            lzw, after = _sub_blocks(data, end + 1)
            digest.update(lzw)
            pos = after
        else:
            raise GifStructureError(f"unknown block 0x{kind:02x} at offset {pos}")
    raise GifStructureError("no GIF trailer")


class GifHandler(FormatHandler):
    """GIF87a and GIF89a, animated or not."""

    name = "GIF"
    mime_type = "image/gif"
    extension = "gif"
    mime_types = frozenset({"image/gif"})
    pillow_formats = frozenset({"GIF"})
    keeps_orientation_in_exif = False
    compare_frames = False  # the own image-data hash covers every frame

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:6] in (b"GIF87a", b"GIF89a")

    def _copy_back(self, ctx: ScrubContext) -> list[str]:
        return []

    def _colour_args(self, ctx: ScrubContext) -> list[str]:
        return []

    def image_data_hash(self, path: Path) -> str | None:
        """ExifTool has no ImageDataHash for GIF: hash the image blocks ourselves."""
        return walk(path.read_bytes()).image_hash

    def post_process(self, path: Path, ctx: ScrubContext) -> None:
        cut_trailing_bytes(path, walk(path.read_bytes()).end, ctx, "the GIF trailer")

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        data = path.read_bytes()
        walked = walk(data)
        found = sorted({e for e in walked.extensions if not (e == "ICC" and not policy.strip_icc)})
        if data[walked.end :].strip(b"\0"):
            found.append(f"Trailer({len(data) - walked.end} bytes)")
        return {"GIF-blocks": found} if found else {}
