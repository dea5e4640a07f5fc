"""``exif-scrub clean FILE --out-dir OUT`` never maps a file it does not own: the user's file is copied into the
run's private folder (refused if it changes while read), so truncating it mid-scrub cannot kill the run with
SIGBUS; relative symbolic links named on the command line resolve as the user named them."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from exif_scrubber import localcopy
from exif_scrubber.cli import cli
from exif_scrubber.localcopy import CHANGED

from .conftest import SampleFactory

TRUNCATE_MID_SCRUB = """
import sys
from pathlib import Path

from exif_scrubber import engine
from exif_scrubber.cli import main

victim = Path(sys.argv[1])
walk_and_read = engine.Scrubber._side


def truncated_first(self, handler, path, data, **kwargs):
    # The engine's copy of the input is mapped by now: the user cuts their file to nothing, as a crashed writer,
    # a log rotation or an editor's save would. A mapping of the user's own file would die with SIGBUS here.
    if victim.stat().st_size:
        with victim.open("r+b") as handle:
            handle.truncate(0)
    return walk_and_read(self, handler, path, data, **kwargs)


engine.Scrubber._side = truncated_first
sys.argv = ["exif-scrub", *sys.argv[2:]]
main()
"""


def _pixels(data: bytes | Path) -> tuple[str, tuple[int, int], bytes]:
    """Decoded by Pillow, as displayed (orientation applied): the independent view of the image data."""
    with Image.open(data if isinstance(data, Path) else io.BytesIO(data)) as image:
        shown = ImageOps.exif_transpose(image)
        return shown.mode, shown.size, shown.tobytes()


def test_a_file_truncated_during_the_scrub_does_not_crash_the_run(sample: SampleFactory, tmp_path: Path) -> None:
    victim = sample("JPEG", size=(640, 480))
    original = victim.read_bytes()
    second = sample("PNG")
    script = tmp_path / "truncate_mid_scrub.py"
    script.write_text(TRUNCATE_MID_SCRUB)
    out = tmp_path / "out"
    command = [sys.executable, str(script), str(victim), "clean", str(victim), str(second), "--out-dir", str(out)]

    run = subprocess.run([*command, "--workers", "1"], capture_output=True, text=True, timeout=120, check=False)

    assert run.returncode == 0, (run.returncode, run.stderr)  # -7 (SIGBUS) when the user's file was mapped
    assert victim.stat().st_size == 0  # the truncation did happen, mid-scrub
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["cleaned", "cleaned"] and "2 cleaned" in lines[-1]
    output = (out / victim.name).read_bytes()
    assert b"Canon" not in output and b"GPS" not in output  # the snapshot read before the cut, scrubbed
    assert _pixels(output) == _pixels(original)
    assert (out / second.name).is_file()  # the run went on


def test_a_file_that_shrinks_while_it_is_copied_is_a_one_line_failure(
    sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = sample("JPEG", size=(640, 480))
    real_copy = localcopy.copy_bytes

    def shrinking_copy(source: Any, target: Any) -> None:
        target.write(source.read(1000))
        target.flush()
        with victim.open("r+b") as handle:  # the writer cuts the file while the scrubber is reading it
            handle.truncate(1000)
        real_copy(source, target)

    monkeypatch.setattr(localcopy, "copy_bytes", shrinking_copy)
    out = tmp_path / "out"

    result = CliRunner().invoke(cli, ["clean", str(victim), "--out-dir", str(out)])

    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line == f"exif-scrub: failed: {victim}: {CHANGED}"
    assert CHANGED.startswith("changed while it was being read; left as it is")
    assert not out.exists() or not any(out.iterdir())


def test_relative_symbolic_links_named_on_the_command_line_resolve(
    sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "here"
    (root / "sub").mkdir(parents=True)
    target = root / "target.jpg"
    shutil.copy(sample("JPEG"), target)
    before = target.read_bytes()
    (root / "sub" / "up.jpg").symlink_to(Path("..") / "target.jpg")
    (root / "beside.jpg").symlink_to("target.jpg")
    monkeypatch.chdir(root)

    result = CliRunner().invoke(cli, ["clean", "sub/up.jpg", "beside.jpg", "--out-dir", "out"])

    assert result.exit_code == 0, result.output
    for name in ("up.jpg", "beside.jpg"):
        written = root / "out" / name
        assert not written.is_symlink() and written.is_file()
        assert b"Canon" not in written.read_bytes()
        assert _pixels(written) == _pixels(before)
    assert target.read_bytes() == before and os.readlink(root / "beside.jpg") == "target.jpg"
