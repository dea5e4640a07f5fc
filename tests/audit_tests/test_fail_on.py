"""--fail-on is a CI gate: every name must be able to match something (else exit 2), families and pseudo-groups
match what they say; --list-groups, --version; the verdict line; local unsupported files."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from exif_scrubber.audit import groups
from exif_scrubber.audit.exiftool_groups import FAMILY1

from exif_scrubber import __version__
from exif_scrubber.exiftool_process import locate_exiftool

from .conftest import BUCKET, exiftool_write, make_jpeg
from .test_cli import run, upload


@pytest.mark.parametrize("names", ["EXIFF", "FOO", "GPS,FOO", "Gps-location", "leak", "X"])
def test_a_name_that_can_match_nothing_is_a_usage_error(s3: Any, images: dict[str, bytes], names: str) -> None:
    upload(s3, images, "gps.jpg")
    code, out, err = run(f"s3://{BUCKET}", "--fail-on", names, "-q")
    assert code == 2, (out, err)
    assert "unknown group name(s)" in err
    for valid in ("leaking", "unreadable", "unsupported", "EXIF", "GPS", "MakerNotes", "Comment", "Trailer"):
        assert valid in err
    assert "Traceback" not in err and out == ""


def test_the_issue_example_exif_is_a_family_and_fails_the_run(s3: Any, images: dict[str, bytes]) -> None:
    """`--fail-on EXIF` exited 0 over leaking objects: EXIF is now the family of the EXIF IFDs, GPS, maker notes."""
    upload(s3, images, "gps.jpg", "clean.jpg")
    code, out, _ = run(f"s3://{BUCKET}", "--fail-on", "EXIF")
    assert code == 1
    assert "exif-audit: FAIL: 1 of 2 object(s) fail (--fail-on EXIF)" in out
    assert run(f"s3://{BUCKET}", "--fail-on", "exif", "-q")[0] == 1  # case-insensitive
    assert run(f"s3://{BUCKET}", "--fail-on", "IPTC,XMP", "-q")[0] == 0


def test_suggests_the_close_name(s3: Any) -> None:
    code, _, err = run(f"s3://{BUCKET}", "--fail-on", "MakerNote")  # prefixes end at a non-letter: matches nothing
    assert code == 2 and "MakerNote (did you mean MakerNotes?)" in err
    code, _, err = run(f"s3://{BUCKET}", "--fail-on", "Photshop")
    assert code == 2 and "Photshop (did you mean Photoshop?)" in err


def test_families_match_what_they_document(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    xmp_gps = make_jpeg(folder / "xmp-gps.jpg")
    exiftool_write(xmp_gps, "-XMP-exif:GPSLatitude=10.5", "-XMP-exif:GPSLatitudeRef=N")
    comment = make_jpeg(folder / "comment.jpg")
    exiftool_write(comment, "-ExifIFD:UserComment=secret-token-71")
    assert run(str(folder), "--fail-on", "GPS", "-q", "--include", "xmp-gps.jpg")[0] == 1
    assert run(str(folder), "--fail-on", "EXIF", "-q", "--include", "xmp-gps.jpg")[0] == 0
    assert run(str(folder), "--fail-on", "XMP", "-q", "--include", "xmp-gps.jpg")[0] == 1
    assert run(str(folder), "--fail-on", "Comment", "-q", "--include", "comment.jpg")[0] == 1
    assert run(str(folder), "--fail-on", "Comment", "-q", "--include", "xmp-gps.jpg")[0] == 0
    assert run(str(folder), "--fail-on", "leaking", "-q")[0] == 1


def test_family_matchers() -> None:
    assert groups.matches("MakerNotes", "Canon") and groups.matches("EXIF", "Apple")
    assert groups.matches("EXIF", "IFD1") and groups.matches("EXIF", "SubIFD2") and not groups.matches("EXIF", "XMP-dc")
    assert groups.matches("GPS", "QuickTime", ["GPSCoordinates"]) and not groups.matches("GPS", "IFD0", ["Make"])
    assert groups.matches("Trailer", "JPEG", ["Trailer(120 bytes)"]) and not groups.matches("Trailer", "JPEG", ["COM"])
    assert groups.matches("XMP", "XMP-dc") and not groups.matches("XMP", "XMPToolkit")
    assert groups.matches("ICC", "ICC_Profile") and groups.matches("IFD", "IFD0")


def test_unsupported_files_in_a_folder_are_listed_and_fail_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_bytes(b"not an image\n")
    (tmp_path / "empty.jpg").write_bytes(b"")
    make_jpeg(tmp_path / "clean.jpg")
    code, out, _ = run(str(tmp_path))
    assert code == 0
    assert "notes.txt" in out and "empty.jpg" in out and "unsupported" in out
    assert "exif-audit: PASS: 0 of 3 object(s) fail" in out
    code, out, _ = run(str(tmp_path), "--fail-on", "unsupported")
    assert code == 1 and "exif-audit: FAIL: 2 of 3 object(s) fail (--fail-on unsupported)" in out


def test_empty_objects_read_the_same_from_s3_and_a_folder(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="empty.jpg", Body=b"")
    (tmp_path / "empty.jpg").write_bytes(b"")
    code_s3, out_s3, _ = run(f"s3://{BUCKET}", "--format", "csv")
    code_local, out_local, _ = run(str(tmp_path), "--format", "csv")
    assert code_s3 == code_local == 0
    row_s3 = next(line for line in out_s3.splitlines() if "empty.jpg" in line)
    row_local = next(line for line in out_local.splitlines() if "empty.jpg" in line)
    assert row_s3.split(",")[5:] == row_local.split(",")[5:]
    assert ",unsupported,,,,,empty file (0 bytes): not an image," in row_s3


def test_list_groups_and_version() -> None:
    code, out, _ = run("--list-groups")
    assert code == 0
    for name in ("leaking", "unsupported", "EXIF", "MakerNotes", "XMP-dc", "IFD0", "GIF-blocks", "PNG-chunks"):
        assert f"  {name}" in out
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"exif-audit {__version__}"


def test_the_vocabulary_is_the_pinned_exiftools() -> None:
    listed = subprocess.run(
        [str(locate_exiftool()), "-listg1"], check=True, capture_output=True, text=True
    ).stdout.split()[4:]  # "Groups in family 1:"
    assert set(listed) == FAMILY1


def test_json_report_has_a_header_and_names_each_objects_bytes(s3: Any, images: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    upload(s3, images, "gps.jpg")
    head = s3.head_object(Bucket=BUCKET, Key="photos/gps.jpg")
    code, out, err = run(f"s3://{BUCKET}/photos/", "--format", "json", "--fail-on", "GPS,unsupported")
    assert code == 1
    doc = json.loads(out)
    header = doc["header"]
    assert header["tool"] == "exif-audit" and header["target"] == f"s3://{BUCKET}/photos/"
    assert header["policy"]["fingerprint"] == "p1;icc" and header["policy"]["strip_icc"] is False
    assert header["versions"] == {"exif-scrubber": __version__, "exiftool": "13.59"}
    assert header["options"]["fail_on"] == ["GPS", "unsupported"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", header["started"])
    assert doc["summary"]["finished"] >= header["started"] and doc["summary"]["verdict"] == "FAIL"
    (row,) = doc["objects"]
    assert row["etag"] == head["ETag"].strip('"') and row["version_id"] == head["VersionId"]
    assert row["bucket"] == BUCKET
    assert "exif-audit: FAIL" in err  # stdout stays pure JSON


def test_csv_report_is_framed_by_its_header_and_totals(s3: Any, images: dict[str, bytes], tmp_path: Path) -> None:
    upload(s3, images, "gps.jpg", "clean.jpg")
    target = tmp_path / "audit.csv"
    assert run(f"s3://{BUCKET}", "--format", "csv", "-o", str(target))[0] == 1
    lines = target.read_text().splitlines()
    comments = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert comments["tool"] == "exif-audit" and comments["target"] == f"s3://{BUCKET}"
    assert comments["version.exiftool"] == "13.59" and comments["policy.fingerprint"] == "p1;icc"
    assert comments["summary.verdict"] == "FAIL" and comments["summary.leaking"] == "1"
    assert "started" in comments and "summary.finished" in comments
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    etags = {r["key"]: r["etag"] for r in rows}
    assert etags["photos/gps.jpg"] == s3.head_object(Bucket=BUCKET, Key="photos/gps.jpg")["ETag"].strip('"')
