"""Canonical forms of small fields (issue 19) too short to hold a whole planted token: a value no decoder accepts is
found by the audit's scan and removed, a value in range stays, and the pixels decode as before (Pillow).

The places that can hold a whole token are in ``hostile.py`` (PNG, GIF, WebP, TIFF cases)."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

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


# ---------------------------------------------------------------------- GIF


def _gif_with_control(flags: int, index: int) -> bytes:
    data = hostile.gif(animated=True)
    at = data.index(b"\x21\xf9\x04")
    return data[: at + 3] + bytes([flags]) + data[at + 4 : at + 6] + bytes([index]) + data[at + 7 :]


def _gif_descriptor_bits(bits: int) -> bytes:
    data = hostile.gif()
    pos, _, _ = hostile.gif_first_image(data)
    return data[: pos + 9] + bytes([data[pos + 9] | bits]) + data[pos + 10 :]


def _gif_blocks_of(size: int) -> bytes:
    data = hostile.gif()
    _, at, end = hostile.gif_first_image(data)
    payload = hostile.gif_lzw_payload(data, at, end)
    blocks = b"".join(bytes([len(payload[i : i + size])]) + payload[i : i + size] for i in range(0, len(payload), size))
    return data[:at] + blocks + b"\0" + data[end:]


def _gif_without_table(background: int) -> bytes:
    """A GIF without a global colour table (its frame has a local one) whose screen names a background index."""
    data = hostile.gif()
    size = 3 << ((data[10] & 7) + 1)
    table = data[13 : 13 + size]
    pos, _, _ = hostile.gif_first_image(data)
    descriptor = data[pos : pos + 9] + bytes([0x80 | (data[10] & 7)]) + table
    rest = data[pos + 10 :]
    return data[:10] + bytes([data[10] & 0x70, background]) + data[12:13] + data[13 + size : pos] + descriptor + rest


GIF_NOT_CANONICAL: dict[str, Callable[[], bytes]] = {
    "graphic control extension reserved bits": lambda: _gif_with_control(0xE0, 0),
    "transparency index without the transparency flag": lambda: _gif_with_control(0x04, 0x54),
    "image descriptor reserved bits": lambda: _gif_descriptor_bits(0x18),
    "LZW sub-blocks of 254 bytes": lambda: _gif_blocks_of(254),
    "LZW sub-blocks of 7 bytes": lambda: _gif_blocks_of(7),
    "a background index without a colour table": lambda: _gif_without_table(0x54),
    "a graphic control extension no image follows": lambda: hostile.gif_before_trailer(
        b"\x21\xf9\x04\x01\x0a\x00\x05\x00"
    ),
}


@pytest.mark.parametrize("name", list(GIF_NOT_CANONICAL))
def test_a_gif_field_in_no_canonical_form_is_rewritten(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    source = tmp_path / "in.gif"
    source.write_bytes(GIF_NOT_CANONICAL[name]())
    assert not scrubber.scan(source).clean
    target = tmp_path / "out.gif"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert frames(source) == frames(target)
    out = target.read_bytes()
    assert scrubber.scan(target).clean
    _, at, _ = hostile.gif_first_image(out)
    sizes, pos = [], at
    while out[pos]:
        sizes.append(out[pos])
        pos += 1 + out[pos]
    assert all(size == 255 for size in sizes[:-1])


def test_unused_colour_table_entries_are_zeroed_and_the_table_cut(scrubber: Scrubber, tmp_path: Path) -> None:
    """Pillow writes a 20-colour image with a 32-entry table and LZW code size 8 (any index up to 255 could appear):
    the walker follows the code stream to the indices pixels actually use, keeps those entries and drops the others."""
    buffer = io.BytesIO()
    hostile.pixels().convert("P", palette=Image.Palette.ADAPTIVE, colors=20).save(buffer, "GIF")
    data = buffer.getvalue()
    size = 3 << ((data[10] & 7) + 1)
    assert size == 96
    table = bytearray(data[13 : 13 + size])
    table[-3:] = b"\x54\x4f\x4b"  # the last entry: no pixel uses it (the picture has fewer colours)
    source = tmp_path / "in.gif"
    source.write_bytes(data[:13] + bytes(table) + data[13 + size :])
    target = tmp_path / "out.gif"
    assert not scrubber.scan(source).clean
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    out = target.read_bytes()
    assert b"\x54\x4f\x4b" not in out[13 : 13 + (3 << ((out[10] & 7) + 1))]
    assert frames(source) == frames(target)


GIF_REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "codes past the last pixel": (
        lambda: _gif_codes_past_the_frame(),
        "the LZW data codes more pixels than its frame holds",
    ),
    "two graphic control extensions for one image": (
        lambda: _gif_two_controls(),
        "two graphic control extensions for one image",
    ),
    "an LZW code past the dictionary": (lambda: _gif_bad_code(), "an LZW code past the dictionary"),
}


def _gif_lzw(codes: list[int], code_size: int = 2) -> bytes:
    """Pack LZW ``codes`` with the widths a decoder expects (no clear codes in the middle)."""
    width, next_code, out, bits = code_size + 1, (1 << code_size) + 2, 0, 0
    for position, code in enumerate(codes):
        out |= code << bits
        bits += width
        if position > 1 and code != (1 << code_size) + 1:  # every code after the first adds an entry
            next_code += 1
            if next_code == 1 << width and width < 12:
                width += 1
    return out.to_bytes((bits + 7) // 8, "little")


def _gif_one_frame(lzw: bytes, width: int = 2, height: int = 2) -> bytes:
    screen = b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x81\x00\x00"
    table = b"\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\xff\x00"  # black, white, red, green
    descriptor = b"\x2c\0\0\0\0" + width.to_bytes(2, "little") + height.to_bytes(2, "little") + b"\x00\x02"
    return screen + table + descriptor + hostile.sub_blocks(lzw) + b"\x3b"


def _gif_codes_past_the_frame() -> bytes:
    # 2x2 pixels: clear, then 6 literal pixels (2 past the frame), then the end code
    return _gif_one_frame(_gif_lzw([4, 0, 1, 0, 1, 1, 0, 5]))


def _gif_bad_code() -> bytes:
    return _gif_one_frame(_gif_lzw([4, 0, 7, 5]))


def _gif_two_controls() -> bytes:
    data = hostile.gif(animated=True)
    at = data.index(b"\x21\xf9\x04")
    return data[:at] + data[at : at + 8] + data[at:]


def test_the_lzw_packer_of_these_tests_makes_what_pillow_decodes(tmp_path: Path) -> None:
    path = tmp_path / "ok.gif"
    path.write_bytes(_gif_one_frame(_gif_lzw([4, 0, 1, 1, 0, 5])))
    black, white = b"\0\0\0\xff", b"\xff\xff\xff\xff"
    assert frames(path)[0][2] == black + white + white + black


@pytest.mark.parametrize("name", list(GIF_REFUSED))
def test_lzw_data_decoders_would_not_read_whole_is_refused(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    build, reason = GIF_REFUSED[name]
    source = tmp_path / "in.gif"
    source.write_bytes(build())
    report = scrubber.scrub_file(source, tmp_path / "out.gif")
    assert report.outcome is Outcome.FAILED and reason in str(report.reason), report.reason
    assert not (tmp_path / "out.gif").exists()
