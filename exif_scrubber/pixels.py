"""What Pillow sees of an image: format, size, mode, frames, orientation (and frame pixels)."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

pillow_heif.register_heif_opener()  # HEIF/HEIC decoding (Pillow decodes AVIF itself)

ORIENTATION_TAG = 0x0112
FRAME_DIGEST_PIXEL_BUDGET = 64_000_000
"""Multi-frame files up to this many pixels in all get every frame's decoded pixels compared."""


class ProbeError(ValueError):
    """Pillow cannot read the image (corrupt, truncated, unsupported variant or too large)."""


@dataclass(frozen=True)
class PixelProbe:
    """Pillow's view of an image file."""

    format: str
    size: tuple[int, int]
    mode: str
    frames: int
    orientation: int | None
    frame_digests: tuple[str, ...] | None = None


def probe(path: Path, *, max_pixels: int, digest_frames: bool = True) -> PixelProbe:
    """Open ``path`` with Pillow (header only, plus decoded frames of small multi-frame files)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ProbeError(f"{width}x{height} pixels is over the limit of {max_pixels} (decompression bomb)")
                frames = int(getattr(image, "n_frames", 1))
                digests = None
                if digest_frames and frames > 1 and width * height * frames <= FRAME_DIGEST_PIXEL_BUDGET:
                    digests = _frame_digests(image, frames)
                return PixelProbe(
                    format=str(image.format),
                    size=(width, height),
                    mode=image.mode,
                    frames=frames,
                    orientation=_orientation(image),
                    frame_digests=digests,
                )
    except Image.DecompressionBombError:
        raise ProbeError("over Pillow's pixel limit (decompression bomb)") from None
    except ProbeError:
        raise
    except UnidentifiedImageError:
        raise ProbeError("Pillow cannot identify the image (corrupt, truncated or not an image)") from None
    except Exception as exc:
        raise ProbeError(f"Pillow cannot read the image: {exc}") from None


def _orientation(image: Image.Image) -> int | None:
    if image.format == "HEIF":
        value = image.info.get("original_orientation")
        return int(value) if value else None
    value = image.getexif().get(ORIENTATION_TAG)  # EXIF, or XMP tiff:Orientation as a fallback
    return int(value) if value else None


def _frame_digests(image: Image.Image, frames: int) -> tuple[str, ...]:
    digests = []
    for index in range(frames):
        image.seek(index)
        frame = image.convert("RGBA") if image.mode == "P" else image
        digests.append(hashlib.sha256(frame.tobytes()).hexdigest())
    image.seek(0)
    return tuple(digests)
