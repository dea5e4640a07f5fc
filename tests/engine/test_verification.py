"""Fail closed: an output that is not provably identical and clean is thrown away."""

from __future__ import annotations

from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats.base import ScrubContext
from exif_scrubber.formats.jpeg import JpegHandler
from exif_scrubber.formats.png import PngHandler

from .conftest import SampleFactory


def test_changed_image_data_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def corrupt(self: JpegHandler, path: Path, ctx: ScrubContext) -> None:
        data = bytearray(path.read_bytes())
        data[-10] ^= 0x01  # one bit inside the entropy-coded data
        path.write_bytes(bytes(data))

    monkeypatch.setattr(JpegHandler, "post_process", corrupt)
    source = sample("JPEG")
    target = tmp_path / "out.jpg"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.FAILED
    assert "image data hash changed" in str(report.reason)
    assert not target.exists()


def test_metadata_that_survives_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PngHandler, "write_args", lambda self, ctx: ["-Software=still here"])
    monkeypatch.setattr(PngHandler, "targeted_args", lambda self, leftovers: [])
    source = sample("PNG")
    target = tmp_path / "out.png"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.FAILED
    assert "metadata that cannot be removed" in str(report.reason) and "GPS" in str(report.reason)
    assert not target.exists()


def test_a_failed_in_place_scrub_leaves_the_original_byte_for_byte(
    sample: SampleFactory, scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PngHandler, "write_args", lambda self, ctx: ["-Comment=added"])
    monkeypatch.setattr(PngHandler, "targeted_args", lambda self, leftovers: [])
    source = sample("PNG")
    original = source.read_bytes()
    assert scrubber.scrub_file(source, source).outcome is Outcome.FAILED
    assert source.read_bytes() == original


def test_lost_orientation_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScrubContext, "orientation_args", lambda self: [])  # plain "exiftool -all="
    source = sample("JPEG")
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED
    assert "orientation changed" in str(report.reason)
