"""PNG: text chunks, eXIf, tIME, iCCP and private chunks."""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import StructureError
from ..policy import ScrubPolicy
from .base import FormatHandler, ScrubContext, cut_trailing_bytes

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STRUCTURE_CHUNKS = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"sBIT",
        b"pHYs",
        b"bKGD",
        b"hIST",
        b"acTL",
        b"fcTL",
        b"fdAT",
        b"cICP",
        b"mDCV",
        b"cLLI",
        b"eXIf",
        b"orNT",
        b"XMP",
    }
)


_XMP_KEYWORD = b"XML:com.adobe.xmp\0"


class PngStructureError(StructureError):
    """The chunk structure of the PNG cannot be followed."""


def walk_chunks(data: bytes) -> tuple[list[bytes], int]:
    """Return the chunk types in order and the offset just past IEND.

    The XMP packet (an ``iTXt`` chunk with keyword ``XML:com.adobe.xmp``) is reported as ``XMP``:
    its tags are checked one by one against the policy.
    """
    if not data.startswith(SIGNATURE):
        raise PngStructureError("no PNG signature")
    pos = len(SIGNATURE)
    kinds = []
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise PngStructureError(f"chunk {kind!r} is truncated")
        is_xmp = kind == b"iTXt" and data[pos + 8 : pos + 8 + len(_XMP_KEYWORD)] == _XMP_KEYWORD
        kinds.append(b"XMP" if is_xmp else kind)
        pos = end
        if kind == b"IEND":
            return kinds, pos
    raise PngStructureError("no IEND chunk")


class PngHandler(FormatHandler):
    """PNG and APNG."""

    name = "PNG"
    mime_type = "image/png"
    extension = "png"
    mime_types = frozenset({"image/png", "image/apng"})
    pillow_formats = frozenset({"PNG"})

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def post_process(self, path: Path, ctx: ScrubContext) -> None:
        """Cut bytes after IEND (data hidden behind the image)."""
        _, end = walk_chunks(path.read_bytes())
        cut_trailing_bytes(path, end, ctx, "IEND")

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        kinds, _ = walk_chunks(path.read_bytes())
        allowed = set(_STRUCTURE_CHUNKS)
        if not policy.strip_icc:
            allowed.add(b"iCCP")
        if policy.keep_c2pa:
            allowed.add(b"caBX")
        found = sorted({k.decode("latin-1") for k in kinds if k not in allowed})
        return {"PNG-chunks": found} if found else {}
