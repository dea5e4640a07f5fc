"""How many bytes a PNG's image data must inflate to (filter bytes included), from its header alone."""

from __future__ import annotations

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _scanlines(width: int, height: int, bits_per_pixel: int) -> int:
    if width == 0 or height == 0:
        return 0
    return height * (1 + (width * bits_per_pixel + 7) // 8)


def expected_image_bytes(width: int, height: int, depth: int, colour: int, interlace: int) -> int:
    """Inflated size of the image data of a ``width`` x ``height`` image (Adam7 when ``interlace`` is 1)."""
    bits = depth * _CHANNELS[colour]
    if not interlace:
        return _scanlines(width, height, bits)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        total += _scanlines(max(0, (width - x0 + dx - 1) // dx), max(0, (height - y0 + dy - 1) // dy), bits)
    return total
