"""The fields of PNG's fixed-size chunks, and the values a decoder accepts in each (PNG 3rd edition, libpng).

A chunk whose values are outside these ranges is ignored by decoders (libpng drops an out-of-range ``cHRM``, a
``pHYs`` of unknown unit, a ``bKGD`` index past the palette): such values are free bytes, so the walker removes
the chunk. Values inside the ranges are display data and stay; what they can still carry is counted in
docs/threat-model.md.
"""

from __future__ import annotations

import struct

PNG_INT_MAX = 0x7FFFFFFF
"""PNG four-byte unsigned integers are limited to 2^31 - 1."""
CHROMATICITY_ONE = 100_000
"""``cHRM`` stores x and y times 100000; libpng ignores a chunk with a value above 1.0."""
MDCV_ONE = 50_000
"""``mDCV`` stores chromaticities in units of 0.00002."""
LUMINANCE_MAX = 100_000_000
"""``mDCV``/``cLLI`` luminance in units of 0.0001 cd/m2: 10000 cd/m2, the most SMPTE ST 2084 can code."""

FIXED_SIZES = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9, b"cICP": 4, b"mDCV": 24, b"cLLI": 8}
SBIT_SIZES = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
BKGD_SIZES = {0: 2, 4: 2, 2: 6, 6: 6, 3: 1}
TRNS_SIZES = {0: 2, 2: 6}
BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
"""The bit depths each colour type allows."""


def display_size(kind: bytes, colour: int) -> int | None:
    """The size of a display chunk for an image of ``colour`` type, or None when ``kind`` is not one."""
    if kind == b"sBIT":
        return SBIT_SIZES.get(colour)
    if kind == b"bKGD":
        return BKGD_SIZES.get(colour)
    return FIXED_SIZES.get(kind)


def display_problem(kind: bytes, payload: bytes, depth: int, colour: int, palette: int) -> str | None:
    """Why decoders ignore the display chunk ``kind`` with this exact-size ``payload``, or None when its values are
    in range. ``palette`` is the number of palette entries kept (for a ``bKGD`` index)."""
    if kind in (b"gAMA", b"cHRM", b"pHYs", b"cLLI", b"mDCV"):
        return _numbers_problem(kind, payload)
    if kind == b"sRGB":
        return None if payload[0] <= 3 else "unknown rendering intent"
    if kind == b"cICP":
        return None if payload[2] == 0 and payload[3] <= 1 else "matrix or range not allowed in PNG"
    if kind == b"sBIT":
        most = 8 if colour == 3 else depth
        return None if all(1 <= bits <= most for bits in payload) else "significant bits out of range"
    if kind == b"bKGD":
        return _background_problem(payload, depth, colour, palette)
    return None


def _numbers_problem(kind: bytes, payload: bytes) -> str | None:
    if kind == b"gAMA":
        (gamma,) = struct.unpack(">I", payload)
        return None if 0 < gamma <= PNG_INT_MAX else "gamma out of range"
    if kind == b"cHRM":
        values = struct.unpack(">8I", payload)
        return None if all(v <= CHROMATICITY_ONE for v in values) else "chromaticity above 1.0"
    if kind == b"pHYs":
        x, y, unit = struct.unpack(">IIB", payload)
        return None if x <= PNG_INT_MAX and y <= PNG_INT_MAX and unit <= 1 else "unknown unit or density out of range"
    if kind == b"cLLI":
        return None if all(v <= LUMINANCE_MAX for v in struct.unpack(">2I", payload)) else "light level out of range"
    values = struct.unpack(">8H2I", payload)  # mDCV
    chromaticities_ok = all(v <= MDCV_ONE for v in values[:8])
    luminance_ok = values[9] <= values[8] <= LUMINANCE_MAX
    return None if chromaticities_ok and luminance_ok else "mastering display values out of range"


def _background_problem(payload: bytes, depth: int, colour: int, palette: int) -> str | None:
    if colour == 3:
        return None if payload[0] < palette else "background index past the palette"
    samples = struct.unpack(f">{len(payload) // 2}H", payload)
    return None if all(v < (1 << depth) for v in samples) else "background sample above the bit depth"


def transparency_problem(colour: int) -> str | None:
    """Why decoders ignore a ``tRNS`` in an image of ``colour`` type (one with an alpha channel), or None. (A grey or
    truecolour sample above the bit depth stays: libpng matches no pixel with it, Pillow masks it to the bit depth,
    so removing or masking it would change what one of them shows; it leaves at most 3 bytes of choice.)"""
    return "transparency chunk in an image with an alpha channel" if colour not in TRNS_SIZES else None
