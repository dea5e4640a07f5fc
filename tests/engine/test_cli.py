"""``exif-scrub``: exit codes, file names ExifTool must never see, JSON reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from exif_scrubber.cli import cli

from .conftest import SampleFactory


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_clean_to_out_dir_keeps_names_and_exits_zero(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    source = sample("JPEG")
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(source, folder / "sub" / "a b ünï.jpg")
    result = runner.invoke(cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "photos" / "sub" / "a b ünï.jpg").exists()
    assert "cleaned" in result.output


def test_hostile_file_names_are_never_handed_to_exiftool(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ["touch pwned |", "-all=.jpg", "x |", "--help.jpg"]
    for name in names:
        shutil.copy(sample("JPEG"), tmp_path / name)
    result = runner.invoke(cli, ["clean", "--out-dir", "out", "--", *names])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "pwned").exists()
    for name in names:
        assert (tmp_path / "out" / name).exists()


def test_failed_files_exit_one_with_one_line_each(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    good = sample("PNG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(sample("JPEG").read_bytes()[:-200])
    result = runner.invoke(cli, ["clean", str(good), str(truncated), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    failed_lines = [line for line in result.stderr.splitlines() if line.startswith("exif-scrub:")]
    reason = "malformed JPEG: no EOI marker: the JPEG is truncated"
    assert failed_lines == [f"exif-scrub: unreadable: {truncated}: {reason}"]
    assert (tmp_path / "out" / good.name).exists()
    assert not (tmp_path / "out" / "truncated.jpg").exists()


def test_an_empty_file_is_unsupported_not_a_failure(runner: CliRunner, tmp_path: Path) -> None:
    """An empty upload is not an image: left alone and listed, as exif-audit lists it (exit 0)."""
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result = runner.invoke(cli, ["clean", str(empty), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"unsupported   {empty}  (empty file (0 bytes): not an image)"
    assert not (tmp_path / "out" / "empty.jpg").exists()
    strict = runner.invoke(cli, ["inspect", str(empty), "--fail-on-unsupported", "--json"])
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)["files"][0]["outcome"] == "unsupported"


def test_usage_errors_exit_two(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(cli, ["clean", str(tmp_path)]).exit_code == 2  # neither --out-dir nor --in-place
    assert runner.invoke(cli, ["clean", str(tmp_path / "missing.jpg"), "--in-place"]).exit_code == 2


def test_json_reports(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    source = sample("WEBP")
    result = runner.invoke(cli, ["clean", str(source), "--out-dir", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["complete"] is True and document["stopped_by"] is None and document["error"] is None
    assert document["totals"] == {
        "listed": 1, "done": 1, "not_done": 0, "cleaned": 1, "already_clean": 0, "unsupported": 0, "unreadable": 0,
        "failed": 0, "skipped": 0, "access_errors": 0, "excluded": 0, "bytes_before": source.stat().st_size,
        "bytes_after": (tmp_path / "o" / source.name).stat().st_size,
    }  # fmt: skip
    (report,) = document["files"]
    assert report["outcome"] == "cleaned" and report["verified"] is True
    assert report["verification"]["image_hash_before"] == report["verification"]["image_hash_after"]
    assert report["removed"]["GPS"] >= 4


def test_inspect_shows_what_would_go_and_writes_nothing(runner: CliRunner, sample: SampleFactory) -> None:
    source = sample("TIFF")
    before = source.read_bytes()
    result = runner.invoke(cli, ["inspect", str(source)])
    assert result.exit_code == 0
    assert "would clean" in result.output and "(remove " in result.output and "GPS" in result.output
    assert source.read_bytes() == before


def test_in_place(runner: CliRunner, sample: SampleFactory) -> None:
    source = sample("HEIC")
    result = runner.invoke(cli, ["clean", "--in-place", str(source)])
    assert result.exit_code == 0, result.output
    assert b"Canon" not in source.read_bytes()
