"""An interrupted or broken ``exif-scrub`` run never reports more than it did: the totals line and the JSON document
say ``incomplete`` with the number left, the exit code is 128+N on signal N and 3 on an internal error; a file whose
handling crashes is that file's failure and the run goes on. (``--in-place`` under a signal: test_cli_inplace.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image

from exif_scrubber import Scrubber, ScrubReport
from exif_scrubber.cli import cli
from exif_scrubber.cli_text import Printer
from exif_scrubber.walk import Entry, Walker

from .cli_support import cli_command
from .conftest import SampleFactory

PHOTOS = 40


@pytest.fixture
def photos(sample: SampleFactory, tmp_path: Path) -> tuple[Path, bytes]:
    folder = tmp_path / "photos"
    folder.mkdir()
    original = sample("JPEG", size=(640, 480)).read_bytes()
    for index in range(PHOTOS):
        (folder / f"photo{index:02}.jpg").write_bytes(original)
    return folder, original


def _pixels(path: Path) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def _first_output(out: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until the run has written its first file (the JSON mode prints nothing before the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if out.is_dir() and any(p.suffix == ".jpg" for p in out.iterdir()):
            return
        time.sleep(0.02)
    raise AssertionError("the run wrote no file")


def _check_outputs(out: Path, original: bytes, written: list[str]) -> None:
    """Exactly the files reported cleaned are there, whole and clean (raw bytes and Pillow's decode)."""
    assert sorted(p.name for p in out.iterdir()) == sorted(written)  # no temp file, no partial output
    reference = out.parent.parent / "reference.jpg"
    reference.write_bytes(original)
    for name in written:
        data = (out / name).read_bytes()
        assert b"Canon" not in data and _pixels(out / name) == _pixels(reference)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_out_dir_run_stopped_by_a_signal_says_incomplete(
    photos: tuple[Path, bytes], tmp_path: Path, signum: signal.Signals
) -> None:
    folder, original = photos
    out = tmp_path / "out"
    command = cli_command("clean", folder, "--out-dir", out, "--workers", "1")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        process.send_signal(signum)
        rest, errors = process.communicate(timeout=120)
    lines = [first, *rest.splitlines()]
    assert process.returncode == 128 + signum, errors
    cleaned = [line.split()[1] for line in lines if line.startswith("cleaned")]
    assert 1 <= len(cleaned) < PHOTOS and errors == ""
    counts, _, incomplete = lines[-1].split("; ")
    assert counts == f"{len(cleaned)} file{'s' * (len(cleaned) > 1)}: {len(cleaned)} cleaned"
    assert incomplete == f"incomplete: stopped by {signum.name}, {PHOTOS - len(cleaned)} not started"
    _check_outputs(out / "photos", original, [Path(name).name for name in cleaned])


@pytest.mark.timeout(180)
def test_a_json_run_stopped_by_ctrl_c_says_incomplete_and_no_file_fails(
    photos: tuple[Path, bytes], tmp_path: Path
) -> None:
    """Ctrl-C at a terminal signals the whole process group, ExifTool included: ExifTool runs in a session of its
    own, so the file in progress still finishes instead of failing with a killed ExifTool."""
    folder, original = photos
    out = tmp_path / "out"
    command = cli_command("clean", folder, "--out-dir", out, "--workers", "2", "--json")
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        _first_output(out / "photos", process)
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    document = json.loads(stdout)
    files = document["files"]
    assert document["complete"] is False and document["stopped_by"] == "SIGINT" and document["error"] is None
    assert [f["outcome"] for f in files] == ["cleaned"] * len(files) and 1 <= len(files) < PHOTOS
    totals = document["totals"]
    assert (totals["listed"], totals["done"], totals["not_done"]) == (PHOTOS, len(files), PHOTOS - len(files))
    assert stderr.splitlines() == [
        f"{len(files)} file{'s' * (len(files) > 1)}: {len(files)} cleaned; "
        f"{totals['bytes_before']:,} -> {totals['bytes_after']:,} bytes; "
        f"incomplete: stopped by SIGINT, {PHOTOS - len(files)} not started"
    ]
    _check_outputs(out / "photos", original, [Path(f["source"]).name for f in files])


@pytest.fixture
def crash_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``crash_on(name)``: the engine raises RecursionError (as a 5,000-deep box nest once did) on that file."""
    original = Scrubber.scrub_file
    names: list[str] = []

    def scrub_file(self: Scrubber, src: Path, dst: Path | None = None, **kwargs: Any) -> ScrubReport:
        if Path(src).name in names:
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, src, dst, **kwargs)

    monkeypatch.setattr(Scrubber, "scrub_file", scrub_file)
    yield names.append


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_crash_on_one_file_fails_that_file_and_the_run_goes_on(
    sample: SampleFactory, tmp_path: Path, crash_on: Any, as_json: bool
) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(sample("JPEG"), folder / name)
    crash_on("b.jpg")

    result = CliRunner().invoke(
        cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out"), "--workers", "1", *(["--json"] * as_json)]
    )

    assert result.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "out" / "three").iterdir()) == ["a.jpg", "c.jpg"]
    failure = f"exif-scrub: failed: {folder / 'b.jpg'}: unexpected error (RecursionError)"
    if as_json:
        document = json.loads(result.stdout)
        assert document["complete"] is True and document["totals"]["failed"] == 1
        assert [f["outcome"] for f in document["files"]] == ["cleaned", "failed", "cleaned"]
        assert document["files"][1]["reason"] == "unexpected error (RecursionError)"
        (totals_line,) = result.stderr.splitlines()  # with --json the totals line alone goes to stderr
        assert totals_line.startswith("3 files: 2 cleaned, 1 failed; ") and "incomplete" not in totals_line
    else:
        assert result.stderr.splitlines() == [failure]
        assert result.stdout.splitlines()[-1].startswith("3 files: 2 cleaned, 1 failed; ")
        assert "incomplete" not in result.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_internal_error_outside_any_file_says_incomplete_and_exits_3(
    sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(sample("JPEG"), folder / name)
    original_add = Printer.add

    def add_then_break(self: Printer, result: Any, *args: Any, **kwargs: Any) -> None:
        if self.totals.done == 1:
            raise RuntimeError("a bug in the printer")
        original_add(self, result, *args, **kwargs)

    monkeypatch.setattr(Printer, "add", add_then_break)

    result = CliRunner().invoke(
        cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out"), "--workers", "1", *(["--json"] * as_json)]
    )

    assert result.exit_code == 3
    assert "Traceback" not in result.output
    totals_line = (result.stderr if as_json else result.stdout).splitlines()[-1]
    assert totals_line.startswith("1 file: 1 cleaned; ")
    assert totals_line.endswith("; incomplete: internal error (RuntimeError), 2 not done")
    if as_json:
        document = json.loads(result.stdout)
        assert document["complete"] is False and document["error"] == "internal error (RuntimeError)"
        assert document["totals"]["not_done"] == 2 and len(document["files"]) == 1


def test_a_stop_while_the_files_are_listed_says_so(sample: SampleFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signal handling starts before the walk: a Ctrl-C while a large tree is listed ends the run with totals,
    never a KeyboardInterrupt traceback; no file is started after it."""
    first, second = sample("JPEG"), sample("PNG")

    def entries(self: Walker, paths: Any) -> Iterator[Entry]:
        yield Entry(first, Path(first.name))
        os.kill(os.getpid(), signal.SIGINT)  # handled by the run's stop handler: no KeyboardInterrupt
        yield Entry(second, Path(second.name))

    monkeypatch.setattr(Walker, "entries", entries)

    result = CliRunner().invoke(cli, ["inspect", str(first), str(second)])

    assert result.exit_code == 130
    assert result.stdout.splitlines() == [
        "0 files: nothing to do; incomplete: stopped by SIGINT while the files were being listed, 1 not started"
    ]
