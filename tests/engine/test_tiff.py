"""TIFF as devices and tools write it: SubIFDs (images kept, previews dropped), XPosition/YPosition, resolution,
old-style JPEG; and the budgets of the walker. Files are made by the test-side writer (tiff_support.py); Pillow
decodes every page and ExifTool reads the output (independent oracles)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.reading import read

from . import hostile
from . import tiff_support as tiff
from .raster_support import assert_cleaned_without, frames, peak_rss_mib, token

MAKE = (0x010F, 2, b"Canon EOS\0")


def _exiftool(scrubber: Scrubber, path: Path) -> dict[str, object]:
    return {f"{t.group}:{t.name}": t.value for t in read(scrubber.pool, str(path)).tags}


def test_a_subifd_holding_an_image_is_kept_and_a_preview_is_dropped(scrubber: Scrubber, tmp_path: Path) -> None:
    secret = token()
    main = tiff.rgb_page(16, 12, 1, MAKE, (0x010E, 2, secret + b"\0"))
    image = tiff.rgb_page(16, 12, 3, (0x00FE, 4, (0,)))
    preview = tiff.rgb_page(4, 3, 5, (0x00FE, 4, (1,)))
    main.sub_ifds = [image, preview]
    source, target = tmp_path / "sub.tif", tmp_path / "out.tif"
    source.write_bytes(tiff.build([main]))
    data = assert_cleaned_without(scrubber, source, target, secret)
    assert image.strips[0] in data, "the SubIFD image's pixels are copied"
    assert preview.strips[0] not in data, "the preview is gone"
    tags = _exiftool(scrubber, target)
    assert tags["SubIFD:ImageWidth"] == 16 and "SubIFD1:ImageWidth" not in tags


def test_an_old_style_subfiletype_preview_is_dropped_too(scrubber: Scrubber, tmp_path: Path) -> None:
    main = tiff.rgb_page(16, 12, 1, MAKE)
    preview = tiff.rgb_page(4, 3, 5, (0x00FF, 3, (2,)))
    main.sub_ifds = [preview]
    source, target = tmp_path / "sub.tif", tmp_path / "out.tif"
    source.write_bytes(tiff.build([main]))
    assert scrubber.scrub_file(source, target).outcome is Outcome.CLEANED
    assert preview.strips[0] not in target.read_bytes() and frames(source) == frames(target)


def test_position_and_resolution_are_kept_and_page_name_dropped(scrubber: Scrubber, tmp_path: Path) -> None:
    secret = token()
    page = tiff.rgb_page(16, 12, 1, (0x011E, 5, ((3, 2),)), (0x011F, 5, ((7, 4),)), (0x011D, 2, secret + b"\0"), MAKE)
    page.entries = [e for e in page.entries if e[0] not in (0x011A, 0x011B)]
    page.entries += [(0x011A, 5, ((300, 1),)), (0x011B, 5, ((300, 1),))]
    source, target = tmp_path / "pos.tif", tmp_path / "out.tif"
    source.write_bytes(tiff.build([page]))
    assert_cleaned_without(scrubber, source, target, secret)
    tags = _exiftool(scrubber, target)
    assert tags["IFD0:XPosition"] == 1.5 and tags["IFD0:YPosition"] == 1.75
    assert tags["IFD0:XResolution"] == 300 and tags["IFD0:ResolutionUnit"] == 2
    assert "IFD0:PageName" not in tags
    with Image.open(source) as before, Image.open(target) as after:
        assert before.info["dpi"] == after.info["dpi"] == (300.0, 300.0)


def _ojpeg(*, segment: bytes = b"") -> bytes:
    """An old-style JPEG-in-TIFF (Compression 6): the whole JPEG stream is JPEGInterchangeFormat and the strip."""
    buffer = io.BytesIO()
    hostile.pixels((64, 48)).save(buffer, "JPEG", quality=85)
    jpeg = buffer.getvalue()
    jpeg = jpeg[:2] + segment + jpeg[2:]
    entries: list[tuple[int, int, object]] = [
        (0x100, 3, (64,)), (0x101, 3, (48,)), (0x102, 3, (8, 8, 8)), (0x103, 3, (6,)), (0x106, 3, (6,)),
        (0x115, 3, (3,)), (0x116, 3, (48,)), (0x200, 3, (1,)), MAKE,
    ]  # fmt: skip
    layout = tiff.build([tiff.Ifd(list(entries), strips=[jpeg])])
    at = layout.index(jpeg)
    entries += [(0x201, 4, (at,)), (0x202, 4, (len(jpeg),))]
    return tiff.build([tiff.Ifd(list(entries), strips=[jpeg])])


def test_old_style_jpeg_in_tiff_is_cleaned(scrubber: Scrubber, tmp_path: Path) -> None:
    source, target = tmp_path / "ojpeg.tif", tmp_path / "out.tif"
    source.write_bytes(_ojpeg())
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert frames(source) == frames(target)
    assert "IFD0:Make" not in _exiftool(scrubber, target)


def test_an_old_style_jpeg_stream_with_metadata_inside_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    source = tmp_path / "ojpeg.tif"
    source.write_bytes(_ojpeg(segment=hostile.segment(0xE1, b"Exif\0\0GPS 48.85N")))
    report = scrubber.scrub_file(source, tmp_path / "out.tif")
    assert report.outcome is Outcome.FAILED
    assert "old-style JPEG stream with a segment 0xE1 inside" in str(report.reason)


def test_too_many_strips_for_the_file_size_are_refused_within_memory(tmp_path: Path) -> None:
    """16 MB of strip offsets and counts (2,000,000 strips of one byte): 1.26 GiB before; refused by the budget."""
    count = 2_000_000
    page = tiff.rgb_page(count, 1, 0)
    page.entries = [e for e in page.entries if e[0] not in (0x0102, 0x0106, 0x0115)]
    page.entries += [(0x0102, 3, (8,)), (0x0106, 3, (1,)), (0x0115, 3, (1,)), (0x0116, 3, (1,))]
    page.entries = [e for e in page.entries if e[0] != 0x0101] + [(0x0101, 4, (count,))]
    page.entries = [e for e in page.entries if e[0] != 0x0100] + [(0x0100, 3, (1,))]
    page.entries = [e for e in page.entries if e[0] != 0x0116] + [(0x0116, 3, (1,))]
    page.strips = []
    data = bytearray(tiff.build([page]))
    strips_at = len(data)
    data += bytes(count)
    offsets = struct.pack(f"<{count}I", *range(strips_at, strips_at + count))
    counts = struct.pack(f"<{count}I", *([1] * count))
    offsets_at = len(data)
    data += offsets + counts
    ifd = struct.unpack_from("<I", data, 4)[0]
    entries = struct.unpack_from("<H", data, ifd)[0]
    extra = struct.pack("<HHII", 0x0111, 4, count, offsets_at) + struct.pack(
        "<HHII", 0x0117, 4, count, offsets_at + 4 * count
    )
    table = data[ifd + 2 : ifd + 2 + 12 * entries] + extra
    rows = sorted(table[i : i + 12] for i in range(0, len(table), 12))
    data += b"\0" * (len(data) % 2)
    new_ifd = len(data)
    data += struct.pack("<H", entries + 2) + b"".join(rows) + bytes(4)
    struct.pack_into("<I", data, 4, new_ifd)
    source = tmp_path / "strips.tif"
    source.write_bytes(bytes(data))
    code = """
    import sys
    from pathlib import Path
    from exif_scrubber import Scrubber, ScrubPolicy
    with Scrubber(ScrubPolicy()) as scrubber:
        report = scrubber.scrub_file(Path(sys.argv[1]), Path(sys.argv[2]))
    print(report.outcome.value, report.reason)
    """
    rss, output = peak_rss_mib(code, str(source), str(tmp_path / "out.tif"))
    assert output.startswith("failed malformed TIFF: too many strips and tiles for the file's size (over "), output
    assert rss < 300, f"peak memory {rss} MiB"


def test_subifds_nested_too_deep_are_refused_without_recursion(scrubber: Scrubber, tmp_path: Path) -> None:
    top = tiff.rgb_page(8, 6, 0, MAKE)
    level = top
    for depth in range(6):
        sub = tiff.rgb_page(8, 6, depth + 1, (0x00FE, 4, (0,)))
        level.sub_ifds = [sub]
        level = sub
    source = tmp_path / "deep.tif"
    source.write_bytes(tiff.build([top]))
    report = scrubber.scrub_file(source, tmp_path / "out.tif")
    assert report.outcome is Outcome.FAILED and "SubIFDs nested deeper than 4 levels" in str(report.reason)


@pytest.mark.parametrize("order", ["<", ">"])
def test_both_byte_orders_are_rebuilt_with_identical_pages(scrubber: Scrubber, tmp_path: Path, order: str) -> None:
    secret = token()
    pages = [tiff.rgb_page(16, 12, seed, (0x0131, 2, secret + b"\0")) for seed in range(3)]
    source, target = tmp_path / "pages.tif", tmp_path / "out.tif"
    source.write_bytes(tiff.build(pages, order))
    assert_cleaned_without(scrubber, source, target, secret)
    assert len(frames(target)) == 3
