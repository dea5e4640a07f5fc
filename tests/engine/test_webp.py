"""WebP: a simple file with an ICC profile is upgraded to the extended format and still decodes; reserved fields are
zeroed; images decoders refuse are refused. Pillow (libwebp) decodes input and output: the independent oracle."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from exif_scrubber import Outcome, Scrubber

from . import hostile
from .raster_support import exiftool_finds, frames, token

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def simple(mode: str, *, lossless: bool) -> list[tuple[bytes, bytes]]:
    """The chunks of a simple-format WebP (one VP8 or VP8L chunk)."""
    image = hostile.pixels().convert(mode)
    if mode == "RGBA":
        image.putalpha(hostile.pixels().convert("L"))
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=lossless, quality=80)
    chunks = hostile.webp_chunks(buffer.getvalue())
    assert [fourcc for fourcc, _ in chunks] in ([b"VP8 "], [b"VP8L"])
    return chunks


@pytest.mark.parametrize(("mode", "lossless"), [("RGB", False), ("RGB", True), ("RGBA", True)])
def test_a_simple_webp_followed_by_an_icc_profile_is_upgraded_to_vp8x_and_decodes(
    scrubber: Scrubber, tmp_path: Path, mode: str, lossless: bool
) -> None:
    secret = token()
    exif = hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]) + secret  # a Make, no orientation
    source = tmp_path / "simple.webp"
    source.write_bytes(hostile.webp_build([*simple(mode, lossless=lossless), (b"ICCP", SRGB), (b"EXIF", exif)]))
    target = tmp_path / "out.webp"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    chunks = hostile.webp_chunks(target.read_bytes())
    assert [fourcc for fourcc, _ in chunks][:2] == [b"VP8X", b"ICCP"]
    flags, canvas = chunks[0][1][0], chunks[0][1][4:]
    assert flags & 0x20 and not flags & 0x02
    assert bool(flags & 0x10) == (mode == "RGBA")
    with Image.open(source) as before, Image.open(target) as after:
        assert canvas == (before.width - 1).to_bytes(3, "little") + (before.height - 1).to_bytes(3, "little")
        assert (before.mode, before.size, before.tobytes()) == (after.mode, after.size, after.tobytes())
        assert after.info.get("icc_profile")
    assert secret not in target.read_bytes() and not exiftool_finds(scrubber, target, secret)
    assert scrubber.scan(target).clean


def test_a_simple_webp_whose_exif_turns_the_image_stays_simple(scrubber: Scrubber, tmp_path: Path) -> None:
    """Upgrading would make readers apply an orientation they ignore today: the file stays simple, its profile and
    EXIF after the image, where they were."""
    exif = hostile.tiff_header_ifd([(0x0112, 3, 1, b"\0\x06"), (0x010F, 2, 4, b"Cam\0")])
    source = tmp_path / "simple.webp"
    source.write_bytes(hostile.webp_build([*simple("RGB", lossless=False), (b"ICCP", SRGB), (b"EXIF", exif)]))
    target = tmp_path / "out.webp"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert [fourcc for fourcc, _ in hostile.webp_chunks(target.read_bytes())] == [b"VP8 ", b"ICCP", b"EXIF"]
    assert frames(source) == frames(target)


def _with_vp8x(change: int | None = None, reserved: bytes | None = None) -> bytes:
    chunks = hostile.webp_chunks(hostile.webp(orientation=6))
    payload = chunks[0][1]
    payload = bytes([payload[0] | (change or 0)]) + (reserved or payload[1:4]) + payload[4:]
    return hostile.webp_build([(b"VP8X", payload), *chunks[1:]])


def _animation(change_frame_flags: int = 0) -> bytes:
    chunks = hostile.webp_chunks(hostile.webp(animated=True))
    return hostile.webp_build(
        [(f, p[:15] + bytes([p[15] | change_frame_flags]) + p[16:]) if f == b"ANMF" else (f, p) for f, p in chunks]
    )


def _alpha_flags(bits: int) -> bytes:
    data = hostile.webp_raw_alpha(b"")
    return hostile.webp_replace(data, b"ALPH", lambda p: bytes([p[0] | bits]) + p[1:])


NOT_CANONICAL = {
    "VP8X reserved bytes": (lambda: _with_vp8x(reserved=b"T\x4fK"), b"VP8X", lambda p: p[1:4] == bytes(3)),
    "ANMF reserved flag bits": (lambda: _animation(0xFC), b"ANMF", lambda p: p[15] & 0xFC == 0),
}


@pytest.mark.parametrize("name", list(NOT_CANONICAL))
def test_reserved_fields_are_zeroed(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    build, fourcc, canonical = NOT_CANONICAL[name]
    source = tmp_path / "in.webp"
    source.write_bytes(build())
    assert not scrubber.scan(source).clean
    target = tmp_path / "out.webp"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    payloads = [p for f, p in hostile.webp_chunks(target.read_bytes()) if f == fourcc]
    assert payloads and all(canonical(p) for p in payloads)
    assert frames(source) == frames(target)


REFUSED = {
    "VP8X reserved flag bits": lambda: _with_vp8x(change=0x40),
    "VP8X of the wrong size": lambda: hostile.webp_replace(hostile.webp(orientation=6), b"VP8X", lambda p: p + b"xy"),
    "a second image in an extended still file": lambda: hostile.webp_add((b"VP8 ", b"x" * 30)),
    "an image outside the frames of an animation": lambda: hostile.webp_build(
        [*hostile.webp_chunks(hostile.webp(animated=True)), (b"VP8L", b"x" * 30)]
    ),
    "a frame with two images": lambda: hostile.webp_frame_with((b"VP8 ", b"x" * 30)),
    "ALPH reserved bits": lambda: _alpha_flags(0xC0),
    "an uncompressed ALPH shorter than the image": lambda: hostile.webp_replace(
        hostile.webp_raw_alpha(b""), b"ALPH", lambda p: p[:100]
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_what_decoders_refuse_is_refused_with_a_reason(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    source = tmp_path / "in.webp"
    source.write_bytes(REFUSED[name]())
    target = tmp_path / "out.webp"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.FAILED and str(report.reason).startswith("malformed WEBP: ")
    assert not target.exists()
