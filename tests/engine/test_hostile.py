"""Clean means every byte is accounted for: a unique token planted where metadata can hide, in every format.

For each place (a block ExifTool cannot parse, bytes nothing references, padding, free text inside a kept
item), the scan the audit uses reports the input as not clean, and the token is in no output: the file is
cleaned (pixels identical) or, where the hiding place is inside the image data itself, refused with a reason.
"""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from exif_scrubber.audit.cli import main as audit_main
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.reading import read

from . import hostile

CASES: dict[str, tuple[str, dict[str, Callable[[bytes], bytes]]]] = {
    "JPEG": ("jpg", hostile.JPEG_CASES),
    "PNG": ("png", hostile.PNG_CASES),
    "WEBP": ("webp", hostile.WEBP_CASES),
    "GIF": ("gif", hostile.GIF_CASES),
    "TIFF": ("tif", hostile.TIFF_CASES),
    "HEIC": ("heic", hostile.HEIF_CASES),
    "AVIF": ("avif", hostile.AVIF_CASES),
}
PARAMS = [pytest.param(fmt, name, id=f"{fmt}: {name}") for fmt, (_, cases) in CASES.items() for name in cases]


def token() -> bytes:
    return b"TOKEN-" + secrets.token_hex(8).encode()


def planted(tmp_path: Path, image_format: str, name: str, secret: bytes) -> Path:
    extension, cases = CASES[image_format]
    data = cases[name](secret)
    assert secret[:16] in data, "the fixture must carry the token, or this test proves nothing"
    path = tmp_path / f"hostile.{extension}"
    path.write_bytes(data)
    return path


def decoded(path: Path) -> bytes:
    with warnings.catch_warnings(), Image.open(path) as image:
        warnings.simplefilter("ignore")  # Pillow complains about the hostile input's EXIF; only its pixels matter
        return image.convert("RGBA").tobytes()


@pytest.mark.parametrize(("image_format", "name"), PARAMS)
def test_a_planted_token_is_found_and_is_in_no_output(
    scrubber: Scrubber, tmp_path: Path, image_format: str, name: str
) -> None:
    secret = token()
    source = planted(tmp_path, image_format, name, secret)
    assert not scrubber.scan(source).clean, "the audit's scan must see the hiding place"
    target = tmp_path / "out" / source.name
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    data = target.read_bytes()
    assert secret[:16] not in data and secret[6:] not in data
    assert scrubber.scan(target).clean
    assert decoded(source) == decoded(target)
    independent = read(scrubber.pool, str(target), extra=("-ee",))
    assert not [t for t in independent.tags if secret[6:].decode() in str(t.value)]


@pytest.mark.parametrize("name", list(hostile.REFUSED_PNG_CASES))
def test_data_hidden_inside_image_data_is_refused(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    secret = token()
    source = tmp_path / "hidden.png"
    source.write_bytes(hostile.REFUSED_PNG_CASES[name](secret))
    target = tmp_path / "out.png"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.FAILED and "after the end of the compressed image data" in str(report.reason)
    assert not target.exists()
    assert secret.decode() not in str(report.reason)


def test_the_audit_reports_every_hostile_file_leaking(tmp_path: Path) -> None:
    folder = tmp_path / "bucket"
    folder.mkdir()
    count = 0
    for image_format, (extension, cases) in CASES.items():
        for index, build in enumerate(cases.values()):
            (folder / f"{image_format.lower()}-{index}.{extension}").write_bytes(build(token()))
            count += 1
    result = CliRunner().invoke(audit_main, [str(folder), "--format", "json", "-q"], catch_exceptions=False)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)["objects"]
    assert len(rows) == count
    assert {row["status"] for row in rows} == {"leaking"}, [r for r in rows if r["status"] != "leaking"]


def test_a_simple_format_webp_stays_simple_and_keeps_its_orientation(scrubber: Scrubber, tmp_path: Path) -> None:
    """A WebP without VP8X but with an EXIF chunk (as some tools write): cleaned, still without VP8X (conforming
    readers ignore its EXIF, so adding VP8X would change what they show), the Orientation kept in canonical EXIF."""
    secret = token()
    source = tmp_path / "simple.webp"
    source.write_bytes(hostile.webp_simple_with_exif(6, secret))
    target = tmp_path / "out.webp"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    data = target.read_bytes()
    assert b"VP8X" not in data and secret not in data and b"Cam" not in data
    orientation = [t.value for t in read(scrubber.pool, str(target)).tags if t.name == "Orientation"]
    assert orientation == [6]
    assert decoded(source) == decoded(target)
