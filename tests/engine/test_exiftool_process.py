"""Finding ExifTool, refusing old ones, and surviving crashes and hangs."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from exif_scrubber import Outcome, Scrubber, exiftool_process
from exif_scrubber.errors import (
    ExifToolArgumentError,
    ExifToolCrashed,
    ExifToolNotFound,
    ExifToolTimeout,
    ExifToolVersionError,
)
from exif_scrubber.exiftool_process import ExifToolPool, check_version, locate_exiftool, parse_version

from .conftest import SampleFactory


def test_version_gate() -> None:
    assert check_version("13.54", Path("x")) == (13, 54)
    assert check_version("13.59\n", Path("x")) == (13, 59)
    with pytest.raises(ExifToolVersionError, match=r"12\.57 .* too old"):
        check_version("12.57", Path("/usr/bin/exiftool"))
    with pytest.raises(ExifToolVersionError):
        parse_version("not a version")


def test_the_pinned_exiftool_is_used_and_new_enough(scrubber: Scrubber) -> None:
    assert scrubber.pool.version >= (13, 54)


def test_exiftool_path_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = locate_exiftool()
    monkeypatch.setenv("EXIFTOOL_PATH", str(real))
    assert locate_exiftool() == real
    monkeypatch.setenv("EXIFTOOL_PATH", str(tmp_path / "missing"))
    with pytest.raises(ExifToolNotFound, match="EXIFTOOL_PATH"):
        locate_exiftool()


def _pids(pool: ExifToolPool) -> list[int]:
    return [tool._process.pid for tool in pool._all if tool.running and tool._process is not None]


def test_a_killed_process_is_replaced_transparently(sample: SampleFactory, tmp_path: Path) -> None:
    with Scrubber() as scrubber:
        source = sample("JPEG")
        assert scrubber.scrub_file(source, tmp_path / "a.jpg").outcome is Outcome.CLEANED
        for pid in _pids(scrubber.pool):
            os.kill(pid, signal.SIGKILL)
        assert scrubber.scrub_file(source, tmp_path / "b.jpg").outcome is Outcome.CLEANED
        assert scrubber.pool.restarts >= 1


def test_a_hung_command_times_out_and_the_next_one_works() -> None:
    with ExifToolPool(timeout_s=30) as pool:
        with pytest.raises(ExifToolTimeout):
            pool.execute(["-ver"], timeout_s=0.000001)
        assert pool.execute(["-ver"]).stdout.startswith("13.")


def test_the_engine_is_safe_to_share_between_threads(sample: SampleFactory, tmp_path: Path) -> None:
    sources = [sample(fmt, seed=i) for i, fmt in enumerate(["JPEG", "PNG", "WEBP", "TIFF"] * 3)]
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    with Scrubber(pool_size=2) as scrubber:

        def work(index: int, source: Path) -> None:
            report = scrubber.scrub_file(source, tmp_path / "out" / f"{index}-{source.name}")
            with lock:
                outcomes.append(report.outcome)

        threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(sources)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(scrubber.pool._all) == 2
    assert outcomes == [Outcome.CLEANED] * len(sources)


def test_racing_threads_never_start_more_processes_than_the_pool_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen threads released at once on a fresh pool of two: the size check and the growth are one step.
    Making a process object is slowed down so that a check-then-grow race would show every time."""

    class SlowToMake(exiftool_process._GuardedExifTool):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(exiftool_process, "_GuardedExifTool", SlowToMake)
    with ExifToolPool(size=2) as pool:
        barrier = threading.Barrier(16)

        def work() -> None:
            barrier.wait()
            pool.execute(["-ver"])

        threads = [threading.Thread(target=work) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(pool._all) == 2


def test_an_exiftool_that_dies_at_start_fails_fast(tmp_path: Path) -> None:
    broken = tmp_path / "exiftool"
    broken.write_text("#!/usr/bin/env python3\nimport sys\nsys.exit(1)\n")
    broken.chmod(0o755)
    with pytest.raises(ExifToolCrashed, match="did not start"):
        ExifToolPool(broken, timeout_s=5)


def test_a_process_that_fails_to_start_in_warm_up_leaves_none_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting the second of two processes fails (say, out of file descriptors): warm_up says so, and both go
    back to the idle queue, so the next command starts what it needs instead of waiting forever."""
    with ExifToolPool(size=2) as pool:
        real_run = exiftool_process._GuardedExifTool.run
        failing = [True]

        def run_or_fail(self: Any) -> None:
            if failing[0]:
                raise OSError(24, "Too many open files")
            real_run(self)

        monkeypatch.setattr(exiftool_process._GuardedExifTool, "run", run_or_fail)
        with pytest.raises(ExifToolCrashed, match=r"did not start: OSError: .*Too many open files"):
            pool.warm_up()

        assert len(pool._all) == 2 and pool._idle.qsize() == 2  # every process is back: nobody waits on a ghost
        failing[0] = False
        answers = [pool.execute(["-ver"]).stdout for _ in range(3)]
        assert all(answer.startswith("13.") for answer in answers)
        pool.warm_up()
        assert len(_pids(pool)) == 2


@pytest.mark.parametrize("char", ["\n", "\r", "\0"], ids=["LF", "CR", "NUL"])
def test_an_argument_that_would_split_in_the_argument_stream_is_refused(char: str, tmp_path: Path) -> None:
    """Arguments reach ExifTool one per line (``-@ -``): ``"x\\n-o\\n/elsewhere"`` would be three arguments."""
    target = tmp_path / "written-by-injection.txt"
    with ExifToolPool() as pool:
        with pytest.raises(ExifToolArgumentError, match="holds a"):
            pool.execute(["-ver", f"x{char}-w{char}{target}"])
        assert pool.execute(["-ver"]).stdout.startswith("13.")  # nothing was sent: the stream is still in step
    assert not target.exists()


def test_the_engine_reports_a_refused_argument_as_a_one_line_failure(sample: SampleFactory, tmp_path: Path) -> None:
    work = tmp_path / "line\nbreak"
    work.mkdir()
    with Scrubber(work_dir=work) as scrubber:
        report = scrubber.scrub_file(sample("JPEG"), tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED
    assert report.reason is not None and "line break" in report.reason and "\n" not in report.reason
    assert not (tmp_path / "out.jpg").exists()
