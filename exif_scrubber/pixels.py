"""What Pillow sees of an image, from its headers only: format, size, mode, frames, orientation.

This is the independent check beside the engine's own byte model; it never decodes pixels, so no pixel
limit applies and memory stays flat for a 200-megapixel photo (or a 1.6-gigapixel PNG bomb). Pillow's own
``getexif()`` loads a PNG whose eXIf is not before the image data (to read the chunks after it); the probe reads
those chunks with Pillow's PNG chunk reader instead, skipping the image data. The one decode the engine does (that
every GIF frame decodes, :func:`check_frames_decode`) keeps a pixel limit.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image, PngImagePlugin, UnidentifiedImageError

pillow_heif.register_heif_opener()  # HEIF/HEIC headers (Pillow reads AVIF itself)

ORIENTATION_TAG = 0x0112
PNG_TEXT_LIMIT = 64 * 1024 * 1024
"""Pillow refuses to open PNGs whose iCCP inflates past ``MAX_TEXT_CHUNK`` (1 MB by default); real profiles reach
1.15 MB. The engine inflates and checks such chunks itself, bounded, before Pillow sees the file."""
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, PNG_TEXT_LIMIT)

_NO_LIMIT = threading.Lock()


class ProbeError(ValueError):
    """Pillow cannot read the image's headers (corrupt, truncated or an unsupported variant)."""


@dataclass(frozen=True)
class PixelProbe:
    """Pillow's view of an image file."""

    format: str
    size: tuple[int, int]
    mode: str
    frames: int
    orientation: int | None
    """The EXIF orientation Pillow reads, 1..8 (values outside that range are shown as 1, so they count as 1)."""


@contextmanager
def _headers_only() -> Iterator[None]:
    """Pillow's decompression-bomb check is for decoding: reading headers must not trip it."""
    with _NO_LIMIT:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def probe(path: Path) -> PixelProbe:
    """Open ``path`` with Pillow and read its headers (no pixel is decoded)."""
    try:
        with warnings.catch_warnings(), _headers_only():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return PixelProbe(
                    format=str(image.format),
                    size=image.size,
                    mode=image.mode,
                    frames=int(getattr(image, "n_frames", 1)),
                    orientation=_orientation(image, path),
                )
    except UnidentifiedImageError:
        raise ProbeError("Pillow cannot identify the image (corrupt, truncated or not an image)") from None
    except Exception as exc:
        raise ProbeError(f"Pillow cannot read the image headers ({type(exc).__name__})") from None


def _orientation(image: Image.Image, path: Path) -> int | None:
    # HEIF: the orientation pillow-heif read before applying it; others: EXIF, or XMP tiff:Orientation
    if image.format == "HEIF":
        value = image.info.get("original_orientation")
    elif isinstance(image, PngImagePlugin.PngImageFile) and "exif" not in image.info:
        image.info = _png_info(path)  # what PngImageFile.getexif() would load the whole image to read
        value = Image.Image.getexif(image).get(ORIENTATION_TAG)
    else:
        value = image.getexif().get(ORIENTATION_TAG)
    if not value:
        return None
    number = int(value)
    return number if 1 <= number <= 8 else 1


_PNG_IMAGE_CHUNKS = frozenset({b"IDAT", b"fdAT", b"fcTL", b"acTL"})


def _png_info(path: Path) -> dict[str | tuple[int, int], Any]:
    """Pillow's ``info`` of a PNG as it stands once every chunk up to IEND has been read (what its ``load()`` reads
    after decoding the image data), by Pillow's own chunk readers; image data and animation chunks are skipped."""
    with path.open("rb") as handle:
        handle.seek(8)
        stream = PngImagePlugin.PngStream(handle)
        while True:
            kind, pos, length = stream.read()
            if kind == b"IEND":
                return stream.im_info
            if kind not in _PNG_IMAGE_CHUNKS:
                with suppress(AttributeError):  # a chunk Pillow has no reader for
                    stream.call(kind, pos, length)
            handle.seek(pos + length + 4)


DECODE_MEMORY_BUDGET = 384 * 1024 * 1024
"""Bytes Pillow may use to decode every frame of a GIF (:func:`check_frames_decode`)."""
DECODE_BYTES_PER_PIXEL = (4, 20)
"""What Pillow's GIF decoder holds per pixel of the screen (measured, Pillow 13): one frame (palette image and
copies), more frames (RGB(A) frames after the first, the disposal and previous-frame copies)."""


def check_frames_decode(path: Path, max_pixels: int) -> bool:
    """Decode every frame (GIF): a file no decoder can open is refused, not passed as clean. Returns False without
    decoding when that would take more than ``max_pixels`` pixels (time) or more than :data:`DECODE_MEMORY_BUDGET`
    (memory): the walker has followed every LZW code of every frame already, and the decode is the independent
    second opinion, within its budgets."""
    try:
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("ignore")
            width, height = image.size
            frames = int(getattr(image, "n_frames", 1))
            too_long = width * height * frames > max_pixels
            if too_long or width * height * DECODE_BYTES_PER_PIXEL[frames > 1] > DECODE_MEMORY_BUDGET:
                return False
            for index in range(frames):
                image.seek(index)
                image.load()
    except ProbeError:
        raise
    except Exception as exc:
        raise ProbeError(f"the image data does not decode ({type(exc).__name__})") from None
    return True
