"""Budgets of the PNG, GIF, WebP and TIFF walkers and of the pixel probe (issue 18): crafted files are refused with a
reason naming the budget, or cleaned with bounded memory. Memory is measured in a fresh process (peak RSS)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from exif_scrubber import Outcome, Scrubber

from .raster_support import peak_rss_mib, png_chunk

SCRUB = """
import sys
from pathlib import Path
from exif_scrubber import Scrubber, ScrubPolicy
with Scrubber(ScrubPolicy()) as scrubber:
    report = scrubber.scrub_file(Path(sys.argv[1]), Path(sys.argv[2]))
print(report.outcome.value, report.orientation, report.reason)
"""


def bilevel_png_bomb(path: Path, side: int = 40_000) -> None:
    """A valid 1-bit ``side`` x ``side`` PNG (1.6 gigapixels, ~200 KB on disk) with its eXIf after the image data
    (where Pillow's getexif() loads the whole image to find it) and a text chunk to remove."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + side // 8)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0"  # Orientation 6
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"eXIf", exif)
        + png_chunk(b"tEXt", b"Comment\0where it was taken")
        + png_chunk(b"IEND", b"")
    )


def test_a_gigapixel_png_is_probed_from_its_headers_only(tmp_path: Path) -> None:
    """Pillow's getexif() decoded all 1.6 gigapixels (1.57 GiB); the probe reads the late eXIf without decoding."""
    source, target = tmp_path / "bomb.png", tmp_path / "out.png"
    bilevel_png_bomb(source)
    rss, output = peak_rss_mib(SCRUB, str(source), str(target))
    assert output.startswith("cleaned 6 "), output  # the orientation after the image data is read
    assert rss < 300, f"peak memory {rss} MiB"
    assert b"where it was taken" not in target.read_bytes()


def test_too_many_png_chunks_for_the_file_size_are_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    idat = zlib.compress(b"\0\0")
    path = tmp_path / "chunks.png"
    empty = png_chunk(b"prVt", b"")
    tail = png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + empty * 40_000 + tail)
    report = scrubber.scrub_file(path, tmp_path / "out.png")
    assert report.outcome is Outcome.FAILED
    assert "too many PNG chunks for the file's size (over 23750)" in str(report.reason)


def tiny_frames_gif(count: int) -> bytes:
    """A 1x1 GIF of ``count`` frames (14 bytes each)."""
    screen = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c\0\0\0\0\x01\x00\x01\x00\x00\x02\x02\x4c\x01\x00"  # clear, 0, end at 3 bits
    return screen + frame * count + b"\x3b"


def test_too_many_gif_frames_for_the_file_size_are_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "frames.gif"
    path.write_bytes(tiny_frames_gif(40_000))
    report = scrubber.scrub_file(path, tmp_path / "out.gif")
    assert report.outcome is Outcome.FAILED
    assert "too many GIF blocks for the file's size (over 29375)" in str(report.reason)


def test_a_large_animated_gif_is_cleaned_within_the_decode_budget(tmp_path: Path) -> None:
    """Two 9000x9000 frames (a 120 KB file): Pillow's decode of both took 1.5 GiB; above the decode budget the
    walker's own proof (every LZW code followed) stands, and memory stays low."""
    from PIL import Image

    frames = [Image.new("P", (9000, 9000), index) for index in range(2)]
    for frame in frames:
        frame.putpalette(bytes(range(256)) * 3)
    source, target = tmp_path / "big.gif", tmp_path / "out.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], comment=b"where it was taken")
    del frames
    rss, output = peak_rss_mib(SCRUB, str(source), str(target))
    assert output.startswith("cleaned "), output
    assert rss < 400, f"peak memory {rss} MiB"
    assert b"where it was taken" not in target.read_bytes()
