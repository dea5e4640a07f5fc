"""One set of outcomes across exif-scrub and exif-audit (issue 20): empty, unsupported (raw formats too), unreadable,
access errors (exit 2 in both) and skipped links and FIFOs are named, counted and explained the same way; the
local audit lists links and FIFOs instead of dropping them."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exif_scrubber.cli import cli as scrub_cli

from .conftest import GPS_TAGS, exiftool_write, make_jpeg
from .test_cli import run


def _dng(path: Path) -> Path:
    """A TIFF that declares itself a DNG (DNGVersion): a raw camera file, recognised by the TIFF walker."""
    from PIL import Image

    Image.new("RGB", (16, 16), (10, 20, 30)).save(path, "TIFF")
    exiftool_write(path, "-DNGVersion=1.4.0.0", "-Make=TestCam")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """One of each: clean, leaking, empty, not an image, truncated, raw (CR2 signature and DNG), a link, a FIFO."""
    folder = tmp_path / "photos"
    folder.mkdir()
    make_jpeg(folder / "clean.jpg")
    leaking = make_jpeg(folder / "leaking.jpg")
    exiftool_write(leaking, *GPS_TAGS)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_bytes(b"not an image\n")
    (folder / "truncated.jpg").write_bytes((folder / "clean.jpg").read_bytes()[:-300])
    (folder / "canon.cr2").write_bytes(b"II*\0\x10\0\0\0CR\x02\0" + bytes(64))
    _dng(folder / "raw.dng")
    (folder / "link.jpg").symlink_to(folder / "leaking.jpg")
    os.mkfifo(folder / "pipe.jpg")
    return folder


EXPECTED = {
    "clean.jpg": ("clean", "already_clean", None),
    "leaking.jpg": ("leaking", "would_clean", None),
    "empty.jpg": ("unsupported", "unsupported", "empty file (0 bytes): not an image"),
    "notes.txt": ("unsupported", "unsupported", "not a supported image format"),
    "truncated.jpg": ("unreadable", "unreadable", "malformed JPEG: "),
    "canon.cr2": ("unsupported", "unsupported", "raw camera format (Canon CR2), not supported"),
    "raw.dng": ("unsupported", "unsupported", "raw camera format (DNG), not supported"),
    "link.jpg": ("skipped", "skipped", "symbolic link, not followed"),
    "pipe.jpg": ("skipped", "skipped", "not a regular file (a FIFO)"),
}


@pytest.mark.timeout(120)
def test_both_tools_name_and_explain_each_case_the_same_way(mixed: Path) -> None:
    code, out, _ = run(str(mixed), "--format", "json")
    assert code == 1  # the leak and the unreadable file
    audit = {Path(r["key"]).name: (r["status"], r["error"]) for r in json.loads(out)["objects"]}
    scrub = subprocess.run(
        [sys.executable, "-c", "from exif_scrubber.cli import main; main()", "inspect", str(mixed), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert scrub.returncode == 1, scrub.stderr  # the unreadable file
    scrubbed = {Path(r["source"]).name: (r["outcome"], r["reason"]) for r in json.loads(scrub.stdout)["files"]}
    assert set(audit) == set(scrubbed) == set(EXPECTED)
    for name, (status, outcome, reason) in EXPECTED.items():
        assert (audit[name][0], scrubbed[name][0]) == (status, outcome), name
        if reason is not None:  # the same words in both tools
            assert audit[name][1] == scrubbed[name][1] and audit[name][1].startswith(reason), name
    counts = json.loads(out)["summary"]
    assert (counts["unsupported"], counts["unreadable"], counts["skipped"]) == (4, 1, 2)
    totals = scrub.stderr.splitlines()[-1]
    assert totals.startswith("9 files: 1 would be cleaned, 1 already clean, 4 unsupported, 1 unreadable, 2 skipped")


def test_links_and_fifos_in_a_folder_are_listed_and_pass_unless_asked(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    make_jpeg(folder / "a.jpg")
    (folder / "link.jpg").symlink_to(folder / "a.jpg")
    (folder / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(folder / "sub" / "pipe.jpg")
    code, out, _ = run(str(folder), "--format", "json")
    assert code == 0
    rows = {r["key"]: r for r in json.loads(out)["objects"]}
    assert {key: (r["status"], r["error"]) for key, r in rows.items() if r["status"] != "clean"} == {
        f"{folder}/link.jpg": ("skipped", "symbolic link, not followed"),
        f"{folder}/linked-folder": ("skipped", "symbolic link, not followed"),
        f"{folder}/sub/pipe.jpg": ("skipped", "not a regular file (a FIFO)"),
    }
    assert run(str(folder), "--fail-on", "skipped", "-q")[0] == 1
    code, out, _ = run(str(folder), "--exclude", "sub/*")
    assert code == 0 and "pipe.jpg" not in out and "link.jpg" in out


def _refusing(monkeypatch: pytest.MonkeyPatch, refused: Path, call: str = "open") -> None:
    """The file system refuses ``refused`` (as for another user's file; these tests run as root)."""
    original = getattr(os, call)

    def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(path, int) and Path(os.fsdecode(path)) == refused:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, call, guarded)


def test_an_access_error_exits_2_in_both_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    make_jpeg(folder / "a.jpg")
    secret = make_jpeg(folder / "secret.jpg")
    _refusing(monkeypatch, secret)
    code, out, err = run(str(folder), "--format", "json")
    assert code == 2
    row = next(r for r in json.loads(out)["objects"] if r["key"].endswith("secret.jpg"))
    assert (row["status"], row["access_error"], row["error"]) == ("unreadable", True, "I/O error: Permission denied")
    assert json.loads(out)["summary"]["access_errors"] == 1 and "1 object(s) could not be read" in err
    result = CliRunner().invoke(scrub_cli, ["inspect", str(folder), "--json"])
    assert result.exit_code == 2
    (entry,) = [r for r in json.loads(result.stdout)["files"] if r["source"].endswith("secret.jpg")]
    assert (entry["outcome"], entry["access_error"]) == ("unreadable", True)
    assert entry["reason"] == "cannot read it: Permission denied"
    assert "1 unreadable" in result.stderr and "1 access error" in result.stderr


def test_a_folder_that_cannot_be_read_is_an_access_error_in_both_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    (folder / "private").mkdir(parents=True)
    make_jpeg(folder / "a.jpg")
    make_jpeg(folder / "private" / "b.jpg")
    _refusing(monkeypatch, folder / "private", "scandir")
    code, out, _ = run(str(folder), "--format", "json")
    assert code == 2
    row = next(r for r in json.loads(out)["objects"] if r["key"].endswith("private"))
    assert (row["status"], row["error"], row["access_error"]) == (
        "unreadable",
        "cannot read the folder: Permission denied",
        True,
    )
    result = CliRunner().invoke(scrub_cli, ["inspect", str(folder)])
    assert result.exit_code == 2
    assert f"exif-scrub: unreadable: {folder}/private: cannot read the folder: Permission denied" in result.stderr


def test_a_dng_is_unsupported_in_the_audit_also_from_s3(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="audit-test", Key="raw.dng", Body=_dng(tmp_path / "raw.dng").read_bytes())
    code, out, _ = run("s3://audit-test", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)["objects"]
    assert (row["status"], row["error"]) == ("unsupported", "raw camera format (DNG), not supported")
    assert run("s3://audit-test", "--fail-on", "unsupported", "-q")[0] == 1


def test_an_empty_file_is_unsupported_in_the_lambda_path_too(tmp_path: Path) -> None:
    """The engine's scrub and scan agree (the Lambda and exif-scrub use the first, the audit the second)."""
    from exif_scrubber import Outcome, Scrubber

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with Scrubber() as scrubber:
        report = scrubber.scrub_file(empty, tmp_path / "out.jpg")
        scan = scrubber.scan(empty)
    assert (report.outcome, report.reason) == (Outcome.UNSUPPORTED, "empty file (0 bytes): not an image")
    assert scan.unsupported and scan.reason == report.reason and not (tmp_path / "out.jpg").exists()


def test_the_raw_cr2_signature_needs_no_exiftool(tmp_path: Path) -> None:
    path = tmp_path / "x.cr2"
    path.write_bytes(b"II*\0\x10\0\0\0CR\x02\0" + struct.pack("<I", 0) + bytes(60))
    code, out, _ = run(str(path), "--format", "json")
    assert code == 0 and json.loads(out)["objects"][0]["error"] == "raw camera format (Canon CR2), not supported"
