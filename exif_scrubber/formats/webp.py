"""WebP: EXIF, XMP and unknown RIFF chunks."""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import StructureError
from ..policy import ScrubPolicy
from .base import FormatHandler

_KNOWN_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "})


def walk_chunks(data: bytes) -> list[bytes]:
    """Return the top-level RIFF chunk types of a WebP file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise StructureError("not a RIFF/WEBP file")
    pos, kinds = 12, []
    while pos + 8 <= len(data):
        kind, size = struct.unpack_from("<4sI", data, pos)
        kinds.append(kind)
        pos += 8 + size + (size & 1)
    return kinds


class WebpHandler(FormatHandler):
    """Lossy, lossless, extended and animated WebP."""

    name = "WEBP"
    mime_type = "image/webp"
    extension = "webp"
    mime_types = frozenset({"image/webp"})
    pillow_formats = frozenset({"WEBP"})
    compare_frames = False  # ExifTool's ImageDataHash covers VP8/VP8L/ALPH/ANIM/ANMF chunks

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        known = _KNOWN_CHUNKS - ({b"ICCP"} if policy.strip_icc else set())
        unknown = sorted({k.decode("latin-1") for k in walk_chunks(path.read_bytes()) if k not in known})
        return {"RIFF-chunks": unknown} if unknown else {}
