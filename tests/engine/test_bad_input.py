"""Bad input gets a reason, never a traceback, never an output, and never reaches ExifTool
unless it is one of the supported formats."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber

from .conftest import SampleFactory


@pytest.fixture
def executed(scrubber: Scrubber, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every ExifTool command run through the engine's pool during the test."""
    calls: list[list[str]] = []
    original = scrubber.pool.execute

    def spy(args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(args))
        return original(args, **kwargs)

    monkeypatch.setattr(scrubber.pool, "execute", spy)
    return calls


def _scrub(scrubber: Scrubber, path: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    target = tmp_path / "out" / path.name
    report = scrubber.scrub_file(path, target)
    assert not target.exists(), "a refused file must never produce an output"
    assert report.reason
    return report


def test_empty_file(scrubber: Scrubber, tmp_path: Path, executed: list[list[str]]) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    report = _scrub(scrubber, path, tmp_path)
    assert report.outcome is Outcome.UNSUPPORTED and "empty" in str(report.reason)  # not an image: left alone
    assert executed == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.jpg", b"just some text, not a picture\n"),
        ("scan.djvu.jpg", b"AT&TFORM\x00\x00\x01\x00DJVUINFO" + b"\0" * 64),  # DjVu: ExifTool once had an RCE there
        ("doc.png", b"%PDF-1.7\n" + b"\0" * 64),
        ("video.heic", b"\0\0\0\x18ftypxyzw\0\0\0\0xyzwabcd" + b"\0" * 64),  # an ISO file of no known brand
    ],
)
def test_unsupported_content_never_reaches_exiftool(
    scrubber: Scrubber, tmp_path: Path, executed: list[list[str]], name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report = _scrub(scrubber, path, tmp_path)
    assert report.outcome is Outcome.UNSUPPORTED
    assert "not a supported image format" in str(report.reason)
    assert executed == []


def test_truncated_jpeg(sample: SampleFactory, scrubber: Scrubber, tmp_path: Path) -> None:
    source = sample("JPEG", size=(200, 150))
    data = source.read_bytes()
    source.write_bytes(data[: len(data) * 2 // 3])
    report = _scrub(scrubber, source, tmp_path)
    assert report.outcome is Outcome.FAILED
    assert "EOI" in str(report.reason) or "truncated" in str(report.reason).lower()


def test_truncated_png(sample: SampleFactory, scrubber: Scrubber, tmp_path: Path) -> None:
    source = sample("PNG", size=(200, 150))
    data = source.read_bytes()
    source.write_bytes(data[: len(data) - 40])
    assert _scrub(scrubber, source, tmp_path).outcome is Outcome.FAILED


def test_malformed_bigtiff_is_refused_before_exiftool(
    scrubber: Scrubber, tmp_path: Path, executed: list[list[str]]
) -> None:
    path = tmp_path / "big.tif"
    path.write_bytes(b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", 16) + b"\0" * 64)
    report = _scrub(scrubber, path, tmp_path)
    assert report.outcome is Outcome.FAILED and str(report.reason).startswith("malformed TIFF")
    assert executed == []


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_header_that_declares_more_pixels_than_the_data_holds_is_refused(
    scrubber: Scrubber, tmp_path: Path, executed: list[list[str]]
) -> None:
    path = tmp_path / "bomb.png"
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)  # 1.6 gigapixels, a few hundred bytes on disk
    idat = zlib.compress(b"\0" * 1000)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )
    report = _scrub(scrubber, path, tmp_path)
    assert report.outcome is Outcome.FAILED
    # deflate expands at most 1032 times: 17 bytes cannot hold 4.8 GB, so nothing is even inflated
    assert "cannot inflate to the 4800040000 bytes IHDR declares" in str(report.reason)
    assert executed == [], "nothing is decoded and ExifTool never sees it"


def test_image_data_shorter_than_the_header_declares_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "short.png"
    header = struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0)  # 30,100 bytes of scanlines declared
    idat = zlib.compress(bytes(range(256)) * 40)  # 10,240 bytes, incompressible enough to pass the ratio bound
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )
    report = _scrub(scrubber, path, tmp_path)
    assert report.outcome is Outcome.FAILED
    assert "image data holds 10240 of the 30100 bytes IHDR declares" in str(report.reason)


def test_garbage_after_jpeg_header(scrubber: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "garbage.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    assert _scrub(scrubber, path, tmp_path).outcome is Outcome.FAILED


def test_reasons_do_not_leak_temp_paths(scrubber: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "garbage.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    report = _scrub(scrubber, path, tmp_path)
    assert "exif-scrub-" not in str(report.reason)
