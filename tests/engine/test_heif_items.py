"""Secondary HEIF images carry their own Exif/XMP: blanked in place, offsets untouched."""

from __future__ import annotations

from pathlib import Path

import pillow_heif
import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats.heif_items import (
    EMPTY_XMP,
    HeifStructureError,
    empty_exif_payload,
    padded_xmp_payload,
    read_layout,
    read_payload,
)
from scrub_demo.samples import make_pixels


def _exif_with_gps() -> bytes:
    image = make_pixels((8, 8))
    exif = image.getexif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model 9000"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 30.0)
    return exif.tobytes()


def _two_image_heic(path: Path) -> Path:
    heif = pillow_heif.from_pillow(make_pixels((64, 48), seed=1))
    heif.info["exif"] = _exif_with_gps()
    second = heif.add_from_pillow(make_pixels((64, 48), seed=2))
    second.info["exif"] = _exif_with_gps()
    heif.save(str(path), quality=80)
    return path


def test_layout_finds_the_secondary_exif(tmp_path: Path) -> None:
    data = _two_image_heic(tmp_path / "two.heic").read_bytes()
    layout = read_layout(data)
    exif_items = [item for item in layout.items.values() if item.is_exif]
    assert len(exif_items) == 2
    assert sum(not layout.describes_primary(item) for item in exif_items) == 1
    assert all(b"SecretCam" in read_payload(data, item) for item in exif_items)


def test_secondary_image_metadata_is_blanked(scrubber: Scrubber, tmp_path: Path) -> None:
    source = _two_image_heic(tmp_path / "two.heic")
    target = tmp_path / "clean.heic"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert any("blanked" in note for note in report.notes)
    data = target.read_bytes()
    assert b"SecretCam" not in data
    assert scrubber.scan(target).clean
    assert report.verification is not None and report.verification.frames_kept


def test_payload_helpers_keep_lengths() -> None:
    original = b"\0\0\0\0" + b"MM\0*\0\0\0\x08" + b"x" * 100
    blank = empty_exif_payload(original)
    assert len(blank) == len(original) and b"x" not in blank
    assert len(padded_xmp_payload(EMPTY_XMP, 500)) == 500
    with pytest.raises(HeifStructureError):
        padded_xmp_payload(EMPTY_XMP, 10)


def test_truncated_item_table_is_an_error(tmp_path: Path) -> None:
    data = _two_image_heic(tmp_path / "two.heic").read_bytes()
    with pytest.raises(HeifStructureError):
        read_layout(data[: len(data) // 2])
