"""Canonical forms of small fields (issue 19) too short to hold a whole planted token: a value no decoder accepts is
found by the audit's scan and removed, a value in range stays, and the pixels decode as before (Pillow).

The places that can hold a whole token are in ``hostile.py`` (PNG, GIF, WebP, TIFF cases)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber

from . import hostile
from .raster_support import frames, png_chunks


def _png_with(*chunks: bytes, mode: str = "RGB") -> bytes:
    return hostile.png_insert(hostile.png(mode=mode), *chunks)


PNG_DROPPED: dict[str, tuple[Callable[[], bytes], bytes]] = {
    "pHYs of an unknown unit": (lambda: _png_with(hostile.chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 7))), b"pHYs"),
    "pHYs density past 2^31 - 1": (
        lambda: _png_with(hostile.chunk(b"pHYs", struct.pack(">IIB", 0x8000_0000, 2835, 1))),
        b"pHYs",
    ),
    "gAMA of zero": (lambda: _png_with(hostile.chunk(b"gAMA", bytes(4))), b"gAMA"),
    "sRGB of an unknown intent": (lambda: _png_with(hostile.chunk(b"sRGB", b"\x09")), b"sRGB"),
    "sBIT of zero bits": (lambda: _png_with(hostile.chunk(b"sBIT", b"\x00\x08\x08")), b"sBIT"),
    "sBIT past the bit depth": (lambda: _png_with(hostile.chunk(b"sBIT", b"\x09\x08\x08")), b"sBIT"),
    "bKGD sample past the bit depth": (lambda: _png_with(hostile.chunk(b"bKGD", b"\x01\x00\0\0\0\0")), b"bKGD"),
    "bKGD index past the palette": (lambda: _png_with(hostile.chunk(b"bKGD", b"\x30"), mode="P"), b"bKGD"),
    "tRNS in an image with an alpha channel": (
        lambda: _png_with(hostile.chunk(b"tRNS", b"\0\1\0\2\0\3"), mode="RGBA"),
        b"tRNS",
    ),
    "cICP with a matrix PNG does not allow": (lambda: _png_with(hostile.chunk(b"cICP", b"\x09\x10\x09\x01")), b"cICP"),
    "cLLI above 10000 cd/m2": (lambda: _png_with(hostile.chunk(b"cLLI", b"TOKENxyz")), b"cLLI"),
}


@pytest.mark.parametrize("name", list(PNG_DROPPED))
def test_a_png_display_value_decoders_ignore_is_removed(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    build, kind = PNG_DROPPED[name]
    source = tmp_path / "in.png"
    source.write_bytes(build())
    assert kind in [k for k, _ in png_chunks(source.read_bytes())]
    assert not scrubber.scan(source).clean
    target = tmp_path / "out.png"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert kind not in [k for k, _ in png_chunks(target.read_bytes())]
    assert frames(source) == frames(target)


PNG_KEPT = {
    "pHYs 300 dpi": hostile.chunk(b"pHYs", struct.pack(">IIB", 11811, 11811, 1)),
    "pHYs aspect ratio only": hostile.chunk(b"pHYs", struct.pack(">IIB", 2, 1, 0)),
    "gAMA 1/2.2": hostile.chunk(b"gAMA", struct.pack(">I", 45455)),
    "cHRM of sRGB": hostile.chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    "sRGB perceptual": hostile.chunk(b"sRGB", b"\0"),
    "sBIT 5-6-5": hostile.chunk(b"sBIT", b"\x05\x06\x05"),
    "bKGD grey-blue": hostile.chunk(b"bKGD", b"\0\x20\0\x40\0\xa0"),
    "cLLI 1000/400 cd/m2": hostile.chunk(b"cLLI", struct.pack(">II", 10_000_000, 4_000_000)),
}


@pytest.mark.parametrize("name", list(PNG_KEPT))
def test_png_display_values_in_range_are_kept_as_they_are(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    """Resolution, gamma, chromaticities ... are display data: kept (the file is already clean)."""
    source = tmp_path / "in.png"
    source.write_bytes(_png_with(PNG_KEPT[name]))
    report = scrubber.scrub_file(source, tmp_path / "out.png")
    assert report.outcome is Outcome.ALREADY_CLEAN, (report.outcome, report.leftovers_before)
    assert PNG_KEPT[name] in (tmp_path / "out.png").read_bytes()
