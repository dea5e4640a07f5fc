"""Supported formats, recognised by magic bytes only (never by file name)."""

from __future__ import annotations

from .base import FormatHandler
from .gif import GifHandler
from .heif import AvifHandler, HeicHandler
from .jpeg import JpegHandler
from .mp4 import M4vHandler, MovHandler, Mp4Handler, ThreeGpHandler
from .png import PngHandler
from .raw import raw_camera_format
from .tiff import TiffHandler
from .webp import WebpHandler

HANDLERS: tuple[type[FormatHandler], ...] = (
    JpegHandler,
    PngHandler,
    WebpHandler,
    GifHandler,
    TiffHandler,
    AvifHandler,
    HeicHandler,
    MovHandler,
    M4vHandler,
    ThreeGpHandler,
    Mp4Handler,
)
HEAD_BYTES = 64
"""How many leading bytes :func:`sniff` and :func:`raw_camera_format` need."""


def sniff(head: bytes) -> FormatHandler | None:
    """The handler for a file whose first :data:`HEAD_BYTES` bytes are ``head``, or None."""
    for handler in HANDLERS:
        if handler.matches(head):
            return handler()
    return None


__all__ = ["HANDLERS", "HEAD_BYTES", "FormatHandler", "raw_camera_format", "sniff"]
