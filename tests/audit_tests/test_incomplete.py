"""Reports that cannot lie (issue 18): an interrupted or crashed exif-audit run writes a report that says it is
incomplete (verdict INCOMPLETE, never PASS; the number not scanned) and exits 128+N or 3, never 0 or 1; a crash
while one object is scanned makes that object unreadable and the audit goes on to report the others."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exif_scrubber.audit import cli as audit_cli
from exif_scrubber.audit import report as audit_report
from exif_scrubber.audit.listing import ListingError, ObjectRef

from exif_scrubber import Scrubber
from exif_scrubber.engine import ScanResult
from tests.video_support import encode_movie, insert_into

from .conftest import GPS_TAGS, exiftool_write, make_jpeg
from .test_cli import run

FILES = 1500


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 1,500 small clean JPEGs: a complete audit of it would PASS."""
    folder = tmp_path_factory.mktemp("many")
    data = make_jpeg(folder / "seed.jpg").read_bytes()
    (folder / "seed.jpg").unlink()
    for index in range(FILES):
        (folder / f"photo{index:04}.jpg").write_bytes(data)
    return folder


def _audit(*args: str | Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "exif_scrubber.audit", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(report: Path, process: subprocess.Popen[str], marker: str, timeout: float = 60) -> None:
    """Until the streamed report holds its first object rows (the audit has started on the folder)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report.exists() and report.read_text(errors="replace").count(marker) >= 2:
            return
        assert process.poll() is None, "the audit ended before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError("the audit wrote no row")


def _interrupt(report: Path, fmt: str, signum: signal.Signals, folder: Path) -> tuple[int, str, str]:
    process = _audit(folder, "--format", fmt, "-o", report, "--max-workers", "1")
    _wait_for_rows(report, process, ",clean," if fmt == "csv" else '"status": "clean"')
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.mark.timeout(300)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_csv_report_says_incomplete(many: Path, tmp_path: Path, signum: signal.Signals) -> None:
    report = tmp_path / "report.csv"
    code, out, err = _interrupt(report, "csv", signum, many)
    assert code == 128 + signum, err
    text = report.read_text()
    lines = text.splitlines()
    assert lines[-1] == "# summary.complete: false"  # the last line says it, whatever cut the run short
    comments = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))))
    assert comments["summary.verdict"] == "INCOMPLETE" and comments["summary.stopped_by"] == signum.name
    assert 0 < len(rows) < FILES and {r["status"] for r in rows} == {"clean"}
    assert int(comments["summary.scanned"]) == len(rows)
    assert int(comments["summary.not_scanned"]) == FILES - len(rows) and comments["summary.not_scanned_exact"] == "true"
    assert "PASS" not in text + out + err
    assert "INCOMPLETE" in out and "Traceback" not in err


@pytest.mark.timeout(300)
def test_an_interrupted_json_report_is_valid_and_says_incomplete(many: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out, err = _interrupt(report, "json", signal.SIGINT, many)
    assert code == 130, err
    doc = json.loads(report.read_text())  # valid JSON, not a document cut off
    assert doc["complete"] is False
    summary = doc["summary"]
    assert (summary["complete"], summary["verdict"], summary["stopped_by"]) == (False, "INCOMPLETE", "SIGINT")
    assert 0 < len(doc["objects"]) == summary["scanned"] < FILES
    assert summary["not_scanned"] == FILES - summary["scanned"]
    assert "PASS" not in report.read_text() + out + err


@pytest.mark.timeout(300)
def test_an_interrupted_table_does_not_claim_everything_was_read(many: Path, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = [sys.executable, "-m", "exif_scrubber.audit", str(many), "--max-workers", "1"]
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not list(temp.glob("exif-audit-*")) and time.monotonic() < deadline:  # its work folder: scanning starts
        assert process.poll() is None
        time.sleep(0.02)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "PASS" not in out and "100%" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("INCOMPLETE: stopped by SIGINT after")]
    scanned = int(line.split(" after ")[1].split(" ")[0].replace(",", ""))
    assert 0 < scanned < FILES and line.endswith(f"; {FILES - scanned:,} not scanned")
    assert "complete: false" in out.splitlines()
    assert list(temp.iterdir()) == []  # the work folder and its copies are gone


# ------------------------------------------------------------------ crashes


def _leaking_jpeg(path: Path) -> Path:
    make_jpeg(path)
    exiftool_write(path, *GPS_TAGS)
    return path


def test_a_crash_on_one_object_makes_it_unreadable_and_the_audit_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _leaking_jpeg(folder / "b-leaking.jpg")
    make_jpeg(folder / "a-crash.jpg")
    make_jpeg(folder / "c-clean.jpg")
    original = Scrubber.scan
    calls: list[str] = []

    def scan(self: Scrubber, path: Path, **kwargs: Any) -> ScanResult:
        calls.append(path.name)
        if len(calls) == 1:  # the first object scanned (a-crash.jpg: one worker, listing order)
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, path, **kwargs)

    monkeypatch.setattr(Scrubber, "scan", scan)
    code, out, err = run(str(folder), "--format", "json", "--max-workers", "1")
    assert code == 1, err
    doc = json.loads(out)
    rows = {Path(r["key"]).name: r for r in doc["objects"]}
    assert rows["a-crash.jpg"]["status"] == "unreadable"
    assert rows["a-crash.jpg"]["error"] == "unexpected error (RecursionError)"
    assert rows["b-leaking.jpg"]["status"] == "leaking" and "location" in rows["b-leaking.jpg"]["categories"]
    assert rows["c-clean.jpg"]["status"] == "clean"
    assert doc["complete"] is True and doc["summary"]["verdict"] == "FAIL" and doc["summary"]["failing"] == 2
    assert "Traceback" not in err


def _deeply_nested_movie(path: Path, depth: int = 5000) -> Path:
    """A movie whose video track holds edts boxes nested ``depth`` deep (issue 18: the walker recursed)."""
    encode_movie(path, "mp4", audio=False, frames=4)
    nested = b""
    for _ in range(depth):
        nested = struct.pack(">I", 8 + len(nested)) + b"edts" + nested
    path.write_bytes(insert_into(path.read_bytes(), [b"moov", (b"trak", 0)], nested))
    return path


@pytest.mark.timeout(300)
def test_a_hostile_file_beside_a_leaking_jpeg_never_passes(tmp_path: Path) -> None:
    """A real run (its own process) over a movie nested 5,000 deep and a leaking JPEG: the JPEG is reported, the
    movie is never clean whatever the walker makes of it (a depth limit, a crash, or the nested boxes dropped whole,
    as the movie walker does: it enters only the containers it knows), the verdict is FAIL."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _deeply_nested_movie(folder / "hostile.mp4")
    _leaking_jpeg(folder / "leaking.jpg")
    for fmt in ("json", "table"):
        process = _audit(folder, "--format", fmt)
        out, err = process.communicate(timeout=240)
        assert process.returncode == 1, err
        assert "PASS" not in out + err and "Traceback" not in err
        if fmt == "json":
            doc = json.loads(out)
            rows = {Path(r["key"]).name: r for r in doc["objects"]}
            hostile = rows["hostile.mp4"]  # refused, or read with the nested boxes dropped whole: never clean
            assert (hostile["status"], bool(hostile["error"])) in (("unreadable", True), ("leaking", False)), hostile
            assert rows["leaking.jpg"]["status"] == "leaking" and "GPS" in rows["leaking.jpg"]["leftovers"]
            assert doc["complete"] is True and doc["summary"]["verdict"] == "FAIL"
        else:
            assert "leaking.jpg" in out and "hostile.mp4" in out and "exif-audit: FAIL: 2 of 2" in out


def test_an_internal_error_ends_the_run_with_exit_3_and_an_incomplete_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(6):
        make_jpeg(folder / f"p{index}.jpg")
    written: list[str] = []
    original = audit_report.JsonWriter.row

    def row(self: audit_report.JsonWriter, result: audit_report.ObjectResult) -> None:
        if len(written) == 2:
            raise ValueError("a bug in the report writer")
        written.append(result.key)
        original(self, result)

    monkeypatch.setattr(audit_report.JsonWriter, "row", row)
    code, out, err = run(str(folder), "--format", "json", "--max-workers", "1")
    assert code == 3
    doc = json.loads(out)
    assert doc["complete"] is False and len(doc["objects"]) == 2
    summary = doc["summary"]
    assert summary["verdict"] == "INCOMPLETE" and summary["stopped_by"] == "internal error (ValueError)"
    assert summary["scanned"] == 3 and summary["not_scanned"] == 3 and summary["not_scanned_exact"] is True
    assert err.splitlines()[-1] == (
        "exif-audit: internal error (ValueError): a bug in the report writer; the report is incomplete"
    )
    assert "Traceback" not in err


def test_a_listing_that_fails_midway_leaves_an_incomplete_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = make_jpeg(tmp_path / "photo.jpg")

    def failing_listing(root: Path, **_: Any) -> Iterator[ObjectRef]:
        yield ObjectRef("", str(photo), photo.stat().st_size)
        raise ListingError("cannot list the folder any further: Input/output error")

    monkeypatch.setattr(audit_cli, "list_local", failing_listing)
    code, out, err = run(str(tmp_path), "--format", "csv")
    assert code == 2
    lines = out.splitlines()
    assert lines[-2:] == ["# summary.verdict: INCOMPLETE", "# summary.complete: false"]
    assert "# summary.not_scanned_exact: false" in lines  # the rest of the listing is unknown: "at least 0"
    assert "cannot list the folder any further" in err and "Traceback" not in err


def test_nothing_starts_after_a_stop(tmp_path: Path, scrubber: Scrubber) -> None:
    from exif_scrubber.audit.listing import list_local
    from exif_scrubber.audit.scan import Auditor

    for index in range(5):
        make_jpeg(tmp_path / f"p{index}.jpg")
    refs = iter(list_local(tmp_path))
    with Auditor(scrubber) as auditor:
        assert list(auditor.audit_all(refs, 2, stop=lambda: True)) == []
        assert (auditor.listed, auditor.done, auditor.listing_exhausted) == (1, 0, False)
    assert sum(1 for _ in refs) == 4  # the rest of the listing is still there to be counted
