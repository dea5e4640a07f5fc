"""Pillow's view of a JPEG file, with its images counted independently of Pillow's format heuristics.

Pillow opens an MPF file as an MPO (one frame per MP entry) or as a plain JPEG (one frame) depending on whether an
``APP1`` holds the text ``hdrgm:Version="``: the same Ultra HDR file is one frame or two depending on how the
last tool wrote its XMP. The engine compares image counts, so this module counts them without that heuristic:
Pillow's own MP index reader gives the entries, and each secondary image is opened by Pillow on its own, from its
entry's offset (headers only, nothing is decoded). The engine's walker is a different implementation of the same
reading, so the two check each other.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import JpegImagePlugin

from ..pixels import PixelProbe, probe

MAX_HEAD = 16 * 1024 * 1024
"""Bytes read from the start of a secondary image to open its headers (segments before the first scan)."""


def probe_jpeg(path: Path) -> PixelProbe:
    """Pillow's view of the primary image (format, size, mode, orientation), frames counted from the MP index."""
    return replace(probe(path), frames=mp_images(path))


def mp_images(path: Path) -> int:
    """The images of the file: the primary, plus each MP entry whose bytes Pillow opens as a JPEG image."""
    with warnings.catch_warnings(), path.open("rb") as handle:
        warnings.simplefilter("ignore")
        try:
            primary = JpegImagePlugin.JpegImageFile(handle)
            mp: dict[int, Any] | None = primary._getmp()
        except Exception:
            return 1  # not an MP file as Pillow reads it
        if not mp or 0xB002 not in mp:
            return 1
        base = int(primary.info.get("mpoffset", 0))
        found = 1
        for entry in mp[0xB002][1:]:
            handle.seek(base + int(entry["DataOffset"]))
            found += _opens(handle.read(min(int(entry["Size"]), MAX_HEAD)))
        return found


def _opens(head: bytes) -> int:
    """1 when Pillow reads the headers of a JPEG image at the start of ``head``, else 0."""
    try:
        JpegImagePlugin.JpegImageFile(io.BytesIO(head))
    except Exception:
        return 0
    return 1
