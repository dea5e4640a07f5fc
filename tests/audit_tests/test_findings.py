"""Findings in the reader's words (issue 20): what is planted where is reported under the category an auditor knows,
JSON and CSV carry category and detail, the table shows categories and fits a terminal (abbreviated version ids,
details behind --verbose), and ExifTool's warnings are never shown as a leaking group nor echo the file."""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.video_support import Plants, encode_movie

from .conftest import BUCKET, GPS_TAGS, exiftool_write, make_jpeg
from .test_cli import run

PLANTED: dict[str, tuple[tuple[str, ...], str]] = {
    "exif-gps.jpg": (GPS_TAGS, "location"),
    "xmp-gps.jpg": (("-XMP-exif:GPSLatitude=10.5", "-XMP-exif:GPSLatitudeRef=N"), "location"),
    "iptc-city.jpg": (("-IPTC:City=Lyon",), "location"),
    "artist.jpg": (("-IFD0:Artist=Jane Doe",), "people and owners"),
    "creator.jpg": (("-XMP-dc:Creator=Jane Doe",), "people and owners"),
    "serial.jpg": (("-ExifIFD:SerialNumber=SN-12345",), "device identity and serial numbers"),
    "date.jpg": (("-ExifIFD:DateTimeOriginal=2024:05:06 07:08:09",), "dates and times"),
    "comment.jpg": (("-ExifIFD:UserComment=meet me at noon",), "free text and comments"),
    "software.jpg": (("-IFD0:Software=PhotoTool 9",), "software and edit history"),
}


def _png_with_text_after_idat(path: Path, token: bytes) -> Path:
    """A PNG whose text chunk follows the image data: ExifTool warns about it (a block the engine keeps)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "PNG")
    data = buffer.getvalue()
    body = b"Comment\0" + token
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body + zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
    end = data.rindex(b"IEND") - 4
    path.write_bytes(data[:end] + chunk + data[end:])
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("planted")
    for name, (tags, _) in PLANTED.items():
        exiftool_write(make_jpeg(folder / name), *tags)
    thumbnail = make_jpeg(folder / "thumb-source.jpg", (32, 24))
    exiftool_write(make_jpeg(folder / "thumbnail.jpg"), f"-ThumbnailImage<={thumbnail}")
    thumbnail.unlink()
    trailer = make_jpeg(folder / "trailer.jpg")
    trailer.write_bytes(trailer.read_bytes() + b"TOKEN-TRAILER-9917" * 8)
    encode_movie(folder / "movie.mov", "mov", plants=Plants(), audio=False, frames=4)
    _png_with_text_after_idat(folder / "warning.png", b"TOKEN-WARNING-5521")
    return folder


def test_what_is_planted_is_reported_under_its_category(planted: Path) -> None:
    code, out, _ = run(str(planted), "--format", "json")
    assert code == 1
    rows = {Path(r["key"]).name: r for r in json.loads(out)["objects"]}
    expected = {name: category for name, (_, category) in PLANTED.items()}
    expected |= {
        "thumbnail.jpg": "embedded thumbnails and previews",
        "trailer.jpg": "unparsed bytes",
        "movie.mov": "location",  # Apple's location key
        "warning.png": "structure that cannot be verified",
    }
    for name, category in expected.items():
        row = rows[name]
        assert row["status"] == "leaking", name
        assert category in row["categories"], (name, row["categories"])
        assert {f["category"] for f in row["findings"]} == set(row["categories"])
        assert {(f["group"], f["name"]) for f in row["findings"]} == {
            (group, tag) for group, tags in row["leftovers"].items() for tag in tags
        }  # every leftover has a category, nothing more, nothing less


def test_exiftool_warnings_are_unverifiable_structure_in_its_own_words(planted: Path) -> None:
    code, out, _ = run(str(planted / "warning.png"), "--format", "json")
    assert code == 1
    (row,) = json.loads(out)["objects"]
    summary = json.loads(out)["summary"]
    assert "ExifTool-warnings" not in summary["leaking_by_group"]  # not a group that leaks
    assert summary["leaking_by_category"]["structure that cannot be verified"] == 1
    warnings = [f for f in row["findings"] if f["group"] == "ExifTool-warnings"]
    assert warnings and {f["category"] for f in warnings} == {"structure that cannot be verified"}
    assert all("Text/EXIF chunk(s) found after PNG IDAT" in f["name"] for f in warnings)
    table = run(str(planted / "warning.png"))[1]
    assert "ExifTool-warnings" not in table and "unverifiable" in table
    verbose = " ".join(run(str(planted / "warning.png"), "--verbose")[1].split())
    assert "structure that cannot be verified: ExifTool warning: Text/EXIF chunk(s) found after PNG IDAT" in verbose
    assert "ExifTool-warnings" not in verbose
    for output in (out, table, verbose):
        assert "TOKEN-WARNING" not in output  # the file's own bytes are never echoed


def test_csv_carries_the_categories_beside_the_detail(planted: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    assert run(str(planted), "--format", "csv", "-o", str(target))[0] == 1
    lines = [line for line in target.read_text().splitlines() if not line.startswith("#")]
    rows = {Path(r["key"]).name: r for r in csv.DictReader(lines)}
    assert rows["exif-gps.jpg"]["categories"] == "location"
    assert rows["exif-gps.jpg"]["leftovers"].startswith("JPEG: APP1 EXIF; GPS: ")
    assert rows["serial.jpg"]["categories"] == "device identity and serial numbers"
    summary = {
        line[2:].split(": ", 1)[0]: line.split(": ", 1)[1]
        for line in target.read_text().splitlines()
        if line.startswith("# summary.")
    }
    assert json.loads(summary["summary.leaking_by_category"])["location"] == 4


@pytest.mark.parametrize("columns", [100, 120])
def test_the_table_fits_a_terminal_one_row_per_object(
    s3: Any, planted: Path, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    names = sorted(p.name for p in planted.iterdir())
    versions = {}
    for name in names:
        versions[name] = s3.put_object(Bucket=BUCKET, Key=f"uploads/{name}", Body=(planted / name).read_bytes())[
            "VersionId"
        ]
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(f"s3://{BUCKET}/uploads/")
    assert code == 1
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    for name in names:  # every object on exactly one line, with its version abbreviated
        (line,) = [line for line in lines if f"uploads/{name}" in line]
        assert f" {versions[name][:8]}… " in line and versions[name] not in line
        assert "leaking" in line
    rows = lines[lines.index(next(line for line in lines if "───" in line)) + 1 :]
    rows = rows[: rows.index(next(line for line in rows if not line.strip()))]
    if columns >= 120:  # nothing wraps: one line per object
        assert len(rows) == len(names) and all("uploads/" in row for row in rows)
    assert "GPSLatitude" not in out and "APP1 EXIF" not in out  # technical names are behind --verbose
    verbose = run(f"s3://{BUCKET}/uploads/", "--verbose")[1]
    assert all(version in verbose for version in versions.values()) and "GPS: GPSVersionID" in verbose


def test_a_local_table_names_files_inside_the_folder(planted: Path) -> None:
    out = run(str(planted))[1]
    assert f"Objects that are not clean (in {planted})" in " ".join(out.split())
    assert f"{planted}/exif-gps.jpg" not in out and " exif-gps.jpg " in out


@pytest.mark.parametrize("category", ["location", "people", "thumbnails", "unparsed"])
def test_fail_on_takes_the_categories_the_reports_show(planted: Path, category: str) -> None:
    _, out, _ = run(str(planted), "--format", "json")
    objects = json.loads(out)["objects"]
    names = {"location": "location", "people": "people and owners", "thumbnails": "embedded thumbnails and previews"}
    wanted = names.get(category, "unparsed bytes")
    expected = sum(wanted in row["categories"] for row in objects)
    assert expected >= 1
    code, out, _ = run(str(planted), "--fail-on", category, "-q")
    assert code == 1 and f"exif-audit: FAIL: {expected} of {len(objects)} object(s) fail (--fail-on {category})" in out


def test_the_table_escapes_control_characters_in_names(tmp_path: Path) -> None:
    name = "evil\x1b[31m\u202e\ngpj.jpg"
    exiftool_write(make_jpeg(tmp_path / name), *GPS_TAGS)
    for args in ((), ("--verbose",)):
        code, out, _ = run(str(tmp_path), *args)
        assert code == 1
        assert "\x1b" not in out and "\u202e" not in out
        assert "evil\\x1b[31m\\u202e\\ngpj.jpg" in out


def test_a_file_name_that_is_not_utf8_does_not_break_a_csv_report(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    exiftool_write(make_jpeg(Path(os.fsdecode(bytes(folder) + b"/bad\xff.jpg"))), *GPS_TAGS)
    report = tmp_path / "report.csv"
    code, _, err = run(str(folder), "--format", "csv", "-o", str(report))
    assert code == 1, err
    data = report.read_bytes()
    assert b"/bad\xff.jpg," in data and data.endswith(b"# summary.complete: true\n")  # the name's own bytes
