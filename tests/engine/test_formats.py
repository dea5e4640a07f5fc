"""Every supported format: injected metadata goes, pixels and display stay byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.reading import read
from scrub_demo.samples import MetadataRecipe

from .conftest import SampleFactory

FORMATS = ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "HEIC", "AVIF"]


def decoded(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(path) as image:
        return image.mode, image.size, image.tobytes()


@pytest.mark.parametrize("image_format", FORMATS)
def test_injected_metadata_is_removed_and_pixels_are_identical(
    image_format: str, sample: SampleFactory, scrubber: Scrubber, tmp_path: Path
) -> None:
    source = sample(image_format)
    before = scrubber.scan(source)
    assert before.leftovers, "the fixture must carry metadata, or this test proves nothing"
    assert "GPS" in before.leftovers or image_format == "GIF"

    target = tmp_path / "out" / source.name
    report = scrubber.scrub_file(source, target)

    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.verified
    assert report.verification is not None and report.verification.hash_equal
    after = scrubber.scan(target)
    assert after.clean, after.leftovers
    assert decoded(source) == decoded(target)
    assert report.bytes_after is not None and report.bytes_after < report.bytes_before


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "TIFF", "HEIC"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_is_kept(
    image_format: str, orientation: int, sample: SampleFactory, scrubber: Scrubber, tmp_path: Path
) -> None:
    source = sample(image_format, recipe=MetadataRecipe(orientation=orientation))
    target = tmp_path / source.name
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.orientation == orientation
    assert report.verification is not None and report.verification.orientation_kept
    reading = read(scrubber.pool, str(target))
    assert [t.value for t in reading.tags if t.group == "IFD0" and t.name == "Orientation"] == [orientation]


def test_thumbnail_comment_and_iptc_are_gone_from_jpeg(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path
) -> None:
    source = sample("JPEG")
    groups_before = scrubber.scan(source).leftovers
    assert {"IFD1", "IPTC", "JPEG"} <= set(groups_before)  # thumbnail, IPTC, COM segment
    target = tmp_path / "clean.jpg"
    assert scrubber.scrub_file(source, target).outcome is Outcome.CLEANED
    data = target.read_bytes()
    for secret in (b"Rue Example", b"083024001234", b"Canon", b"alice-laptop", b"Photoshop 3.0"):
        assert secret not in data


def test_already_clean_file_is_not_rewritten(sample: SampleFactory, scrubber: Scrubber, tmp_path: Path) -> None:
    source = sample(
        "PNG",
        recipe=MetadataRecipe(
            gps=False,
            camera=False,
            serial=False,
            timestamps=False,
            iptc=False,
            xmp=False,
            comment=False,
            thumbnail=False,
            copyright=False,
            orientation=None,
        ),
    )
    original = source.read_bytes()
    report = scrubber.scrub_file(source, source)
    assert report.outcome is Outcome.ALREADY_CLEAN
    assert report.verification is None
    assert source.read_bytes() == original


def test_in_place_scrub_replaces_the_file_atomically(sample: SampleFactory, scrubber: Scrubber) -> None:
    source = sample("JPEG")
    report = scrubber.scrub_file(source, source)
    assert report.outcome is Outcome.CLEANED
    assert scrubber.scan(source).clean
    assert not [p for p in source.parent.iterdir() if p.name.startswith(".exif-scrub-")]


def test_inspect_writes_nothing(sample: SampleFactory, scrubber: Scrubber) -> None:
    source = sample("WEBP")
    original = source.read_bytes()
    listing = sorted(source.parent.iterdir())
    report = scrubber.inspect(source)
    assert report.outcome is Outcome.CLEANED
    assert report.removed.get("GPS", 0) >= 4
    assert source.read_bytes() == original
    assert sorted(source.parent.iterdir()) == listing
