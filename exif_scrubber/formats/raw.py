"""Raw camera formats: recognised so that they are refused up front with the right reason.

Raw files hold sensor data and maker structures that no lossless metadata rewrite can account for byte by
byte (ExifTool itself advises against rewriting raw files other than DNG). Formats with a signature of their
own are recognised here from the first bytes; TIFF-based raws (NEF, ARW, DNG, PEF, ...) by the TIFF walker,
from a CFA or LinearRaw image or a DNGVersion tag.
"""

from __future__ import annotations

from .base import Refusal

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"II\x1a\0\0\0HEAPCCDR", "Canon CRW"),
    (0, b"FUJIFILMCCD-RAW", "Fujifilm RAF"),
    (0, b"IIRO", "Olympus ORF"),
    (0, b"IIRS", "Olympus ORF"),
    (0, b"MMOR", "Olympus ORF"),
    (0, b"IIU\0", "Panasonic RW2"),
    (0, b"FOVb", "Sigma X3F"),
    (0, b"\0MRM", "Minolta MRW"),
    (0, b"ARRI\x12\x34\x56\x78", "ARRI"),
)


class RawCameraFormat(Refusal):
    """A raw camera file: not supported (the engine reports it as unsupported, not as failed)."""


def raw_camera_format(head: bytes) -> str | None:
    """The name of the raw camera format whose signature ``head`` starts with, or None."""
    for offset, signature, name in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return name
    if head[:4] in (b"II*\0", b"MM\0*"):
        if head[8:11] == b"CR\x02":
            return "Canon CR2"
        if head[8:12] in (b"IIII", b"MMMM"):
            return "Phase One IIQ"
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        return "Canon CR3"
    return None
