"""Fail closed: an output that is not provably identical and clean is thrown away, whatever wrote it."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats import jpeg as jpeg_format
from exif_scrubber.formats.jpeg import JpegHandler
from exif_scrubber.formats.png import PngHandler

from .conftest import SampleFactory


def _patched_rewrite(monkeypatch: pytest.MonkeyPatch, handler: type, change: Any) -> None:
    original = handler.rewrite

    def rewrite(self: Any, model: Any, data: Any, policy: Any) -> bytes:
        return bytes(change(original(self, model, data, policy)))

    monkeypatch.setattr(handler, "rewrite", rewrite)


def test_changed_image_data_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flip(clean: bytes) -> bytes:
        data = bytearray(clean)
        data[-10] ^= 0x01  # one bit inside the entropy-coded data
        return bytes(data)

    _patched_rewrite(monkeypatch, JpegHandler, flip)
    target = tmp_path / "out.jpg"
    report = scrubber.scrub_file(sample("JPEG"), target)
    assert report.outcome is Outcome.FAILED
    assert "image data hash changed" in str(report.reason)
    assert not target.exists()


def _text_chunk(text: bytes) -> bytes:
    body = b"Comment\0" + text
    return struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))


def test_metadata_that_survives_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patched_rewrite(monkeypatch, PngHandler, lambda clean: clean[:-12] + _text_chunk(b"still here") + clean[-12:])
    target = tmp_path / "out.png"
    report = scrubber.scrub_file(sample("PNG"), target)
    assert report.outcome is Outcome.FAILED
    assert "metadata that cannot be removed" in str(report.reason) and "tEXt" in str(report.reason)
    assert not target.exists()


def test_a_failed_in_place_scrub_leaves_the_original_byte_for_byte(
    sample: SampleFactory, scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patched_rewrite(monkeypatch, PngHandler, lambda clean: clean[:-12] + _text_chunk(b"added") + clean[-12:])
    source = sample("PNG")
    original = source.read_bytes()
    assert scrubber.scrub_file(source, source).outcome is Outcome.FAILED
    assert source.read_bytes() == original


def test_lost_orientation_is_refused(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jpeg_format, "build_exif", lambda values: b"")  # as plain "exiftool -all=" would
    report = scrubber.scrub_file(sample("JPEG"), tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED
    assert "orientation changed" in str(report.reason)


def test_an_unparsed_block_kept_in_the_output_is_refused_even_if_exiftool_sees_nothing(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The byte model, not ExifTool, defines clean: an APP9 segment ExifTool does not list still fails."""
    segment = b"\xff\xe9" + struct.pack(">H", 2 + 24) + b"GPS 48.8584N 2.2945E x1y2"[:24]
    _patched_rewrite(monkeypatch, JpegHandler, lambda clean: clean[:2] + segment + clean[2:])
    target = tmp_path / "out.jpg"
    report = scrubber.scrub_file(sample("JPEG"), target)
    assert report.outcome is Outcome.FAILED
    assert "APP9" in str(report.reason) and not target.exists()
