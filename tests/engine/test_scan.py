"""The leftover scan the audit uses: options that make it cheaper must not change its verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exif_scrubber import Scrubber

from .conftest import SampleFactory


def test_scan_in_place_gives_the_same_result(sample: SampleFactory, scrubber: Scrubber) -> None:
    source = sample("JPEG")
    copied = scrubber.scan(source, image_hash=True)
    in_place = scrubber.scan(source, copy=False, image_hash=True)
    assert copied == in_place and "GPS" in in_place.leftovers and in_place.image_hash
    assert scrubber.scan(source).image_hash is None  # the audit does not pay for a hash it does not report


def test_unsafe_names_are_copied_even_when_copy_is_false(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = tmp_path / "touch pwned |"
    shutil.copy(sample("PNG"), hostile)
    seen: list[str] = []
    original = scrubber.pool.execute

    def spy(args, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(args)
        return original(args, **kwargs)

    monkeypatch.setattr(scrubber.pool, "execute", spy)
    monkeypatch.chdir(tmp_path)
    result = scrubber.scan(hostile, copy=False)
    assert "GPS" in result.leftovers
    assert str(hostile) not in seen and not (tmp_path / "pwned").exists()


def test_unsupported_and_unreadable(scrubber: Scrubber, tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("hello")
    assert scrubber.scan(text).unsupported
    broken = tmp_path / "b.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    result = scrubber.scan(broken)
    assert result.error and not result.clean
