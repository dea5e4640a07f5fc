"""What a run walks: --include/--exclude, never its own --out-dir, and every link or special file listed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from exif_scrubber.cli import cli

from .conftest import SampleFactory


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_include_and_exclude_globs(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for relative in ("a.jpg", "b.png", "sub/c.JPG", "thumbs/d.jpg", "sub/thumbs/e.jpg"):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample("PNG" if relative.endswith("png") else "JPEG"), folder / relative)
    args = ["clean", str(folder), "--out-dir", str(tmp_path / "out"), "--include", "*.jpg", "--exclude", "thumbs/*"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert _files(tmp_path / "out") == {"photos/a.jpg", "photos/sub/c.JPG", "photos/sub/thumbs/e.jpg"}
    assert result.stdout.splitlines()[-1].endswith("; 2 excluded by --include/--exclude")
    deep = runner.invoke(cli, ["inspect", str(folder), "--exclude", "*/thumbs/*", "--exclude", "thumbs/*"])
    assert deep.exit_code == 0 and "e.jpg" not in deep.stdout and "d.jpg" not in deep.stdout


def test_out_dir_inside_the_input_folder_is_not_walked(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(sample("JPEG"), folder / "a.jpg")
    for _ in range(2):
        result = runner.invoke(cli, ["clean", str(folder), "--out-dir", str(folder / "out")])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1].startswith("1 file: 1 cleaned")
    assert _files(folder) == {"a.jpg", "out/photos/a.jpg"}


def test_links_and_fifos_in_folders_are_listed_as_skipped(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(sample("JPEG"), folder / "a.jpg")
    (folder / "link.jpg").symlink_to(folder / "a.jpg")
    (folder / "linked-folder").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe.jpg")
    result = runner.invoke(cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"skipped       {folder}/link.jpg  (symbolic link, not followed)" in lines
    assert f"skipped       {folder}/linked-folder  (symbolic link, not followed)" in lines
    assert f"skipped       {folder}/pipe.jpg  (not a regular file (a FIFO))" in lines
    assert lines[-1].startswith("4 files: 1 cleaned, 3 skipped")


@pytest.mark.timeout(60)
def test_a_fifo_named_on_the_command_line_fails_with_its_kind(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    for command in (["inspect"], ["clean", "--in-place"], ["clean", "--out-dir", str(tmp_path / "out")]):
        result = runner.invoke(cli, [*command, str(fifo)])
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines() == [f"exif-scrub: unreadable: {fifo}: not a regular file (a FIFO)"]
    missing = runner.invoke(cli, ["inspect", str(tmp_path / "missing.jpg")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr
