"""``exif-scrub clean --in-place``: only regular files with one name, only if unchanged, ownership and times
kept; a stop signal ends the run with a report, no temp copies and every file either cleaned or untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from exif_scrubber import Scrubber, ScrubReport
from exif_scrubber.cli import cli

from .cli_support import cli_command
from .conftest import SampleFactory


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_a_symbolic_link_is_refused_and_both_ends_stay(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path
) -> None:
    target = sample("JPEG")
    before = target.read_bytes()
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    result = runner.invoke(cli, ["clean", "--in-place", str(link)])
    assert result.exit_code == 1
    assert "is a symbolic link" in result.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_bytes() == before


def test_other_hard_links_are_refused_unless_asked(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    first = sample("JPEG")
    before = first.read_bytes()
    second = tmp_path / "second-name.jpg"
    os.link(first, second)
    refused = runner.invoke(cli, ["clean", "--in-place", str(first)])
    assert refused.exit_code == 1 and "has 1 other hard link(s)" in refused.stderr
    assert first.read_bytes() == before and os.stat(first).st_nlink == 2

    broken = runner.invoke(cli, ["clean", "--in-place", "--break-hard-links", str(first)])
    assert broken.exit_code == 0, broken.output
    assert "its 1 other hard link(s) keep the original" in broken.stdout
    assert b"Canon" not in first.read_bytes() and second.read_bytes() == before
    assert os.stat(first).st_nlink == 1


@pytest.mark.parametrize("how", ["renamed over", "rewritten"])
def test_a_file_changed_during_the_scrub_is_left_as_it_is(
    runner: CliRunner, sample: SampleFactory, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = sample("JPEG")
    newer = sample("PNG").read_bytes()  # someone else's new upload
    original = Scrubber.scrub_file

    def replace_meanwhile(self: Scrubber, src: Path, dst: Path | None = None, **kwargs: object) -> ScrubReport:
        if how == "renamed over":
            path.with_suffix(".new").write_bytes(newer)
            path.with_suffix(".new").replace(path)
        else:
            path.write_bytes(newer)
        return original(self, src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Scrubber, "scrub_file", replace_meanwhile)
    result = runner.invoke(cli, ["clean", "--in-place", str(path)])
    assert result.exit_code == 1
    assert "changed while it was being scrubbed; left as it is" in result.stderr
    assert path.read_bytes() == newer
    assert not list(path.parent.glob(".exif-scrub-*"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file another owner")
def test_owner_group_mode_and_times_are_kept(runner: CliRunner, sample: SampleFactory) -> None:
    path = sample("JPEG")
    os.chown(path, 4321, 8765)
    path.chmod(0o640)
    os.utime(path, ns=(1_000_000_000_123_456_789, 1_000_000_001_987_654_321))
    result = runner.invoke(cli, ["clean", "--in-place", str(path)])
    assert result.exit_code == 0, result.output
    info = path.stat()
    assert b"Canon" not in path.read_bytes()
    assert (info.st_uid, info.st_gid, oct(info.st_mode & 0o7777)) == (4321, 8765, oct(0o640))
    assert (info.st_atime_ns, info.st_mtime_ns) == (1_000_000_000_123_456_789, 1_000_000_001_987_654_321)


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float = 60) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no line starting with {prefix!r} while the run was going on")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_finishes_the_current_file_cleans_up_and_reports(
    sample: SampleFactory, scrubber: Scrubber, tmp_path: Path, signum: signal.Signals
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    original = sample("JPEG", size=(640, 480)).read_bytes()
    names = [f"photo{i:02}.jpg" for i in range(40)]
    for name in names:
        (folder / name).write_bytes(original)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = cli_command("clean", "--in-place", "--workers", "1", folder)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        first = _wait_for_line(process, "cleaned")
        process.send_signal(signum)
        rest, errors = process.communicate(timeout=120)
    lines = [first, *rest.splitlines()]
    assert process.returncode == 128 + signum, errors
    cleaned = [line.split()[1] for line in lines if line.startswith("cleaned")]
    assert 1 <= len(cleaned) < len(names)
    counts, sizes, stopped = lines[-1].split("; ")
    assert counts == f"{len(cleaned)} file{'s' * (len(cleaned) > 1)}: {len(cleaned)} cleaned" and "bytes" in sizes
    assert stopped == f"incomplete: stopped by {signum.name}, {len(names) - len(cleaned)} not started"
    assert list(temp.iterdir()) == []  # no copy of an original left behind
    assert sorted(p.name for p in folder.iterdir()) == names  # no half-written temp file
    for name in names:
        data = (folder / name).read_bytes()
        if str(folder / name) in cleaned:
            assert scrubber.scan(folder / name).clean
        else:
            assert data == original
