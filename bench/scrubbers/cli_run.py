"""The real ``exif-scrub clean`` command, timed from outside by the lines it prints.

The CLI prints one line per file the moment the file is done (stdout, or stderr for a failure). The benchmark
timestamps every line as it arrives, so one command gives: start-up (process start, imports, ExifTool start
and the tiny warm-up files given first) = spawn to the last warm-up file's line; per-file time = the gap
between two consecutive files' lines (``--workers 1`` handles one file at a time); shut-down = last line to exit.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .pinning import spawn
from .procs import TreeSampler

VERBS = {"cleaned": "cleaned", "clean": "already_clean", "unsupported": "unsupported", "skipped": "skipped"}
"""The first word of a per-file stdout line (``cli_text.result_line``) and the outcome it stands for."""
FAILURE_PREFIXES = {"exif-scrub: failed: ": "failed", "exif-scrub: unreadable: ": "unreadable"}
"""The stderr line of a refused file (``cli_text.failure_line``) and the outcome it stands for."""
CLI = Path(sys.executable).parent / "exif-scrub"
TIMEOUT_S = 3600.0


@dataclass
class FileLine:
    """One per-file line: when it arrived (seconds after spawn) and the outcome it reports."""

    at_s: float
    outcome: str


@dataclass
class CliRun:
    """One ``exif-scrub clean`` command."""

    wall_s: float
    lines: list[FileLine]
    warmups: int
    exit_code: int
    peak_kb: int = 0
    error: str | None = None
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def startup_s(self) -> float | None:
        """Spawn to the last warm-up file's line (None without warm-up files)."""
        return self.lines[self.warmups - 1].at_s if self.warmups and len(self.lines) >= self.warmups else None

    @property
    def per_file_s(self) -> list[float]:
        """Gap before each file's line, for the files after the warm-ups (the first measured from the last
        warm-up's line, or from the spawn when there is none)."""
        times = [0.0, *(line.at_s for line in self.lines)]
        return [times[i + 1] - times[i] for i in range(self.warmups, len(self.lines))]

    @property
    def shutdown_s(self) -> float:
        return self.wall_s - (self.lines[-1].at_s if self.lines else 0.0)

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(line.outcome for line in self.lines[self.warmups :])


def classify(line: str, stream: str) -> str | None:
    """The outcome a printed line reports, or None for other lines (totals, warnings)."""
    if stream == "stderr":
        return next((outcome for prefix, outcome in FAILURE_PREFIXES.items() if line.startswith(prefix)), None)
    return VERBS.get(line[:13].strip()) if line[13:14] == " " else None


def run_cli(
    paths: Sequence[Path],
    out_dir: Path,
    *,
    workers: int,
    cpus: Sequence[int] | None,
    warmups: int,
    expected: int,
    excludes: Sequence[str] = (),
) -> CliRun:
    """``exif-scrub clean PATH... --out-dir OUT --workers N`` pinned to ``cpus``; ``warmups`` = how many of the
    first files are warm-ups; ``expected`` = files in all (a different count of per-file lines is an error)."""
    args = [str(CLI), "clean", *map(str, paths), "--out-dir", str(out_dir), "--workers", str(workers)]
    for pattern in excludes:
        args += ["--exclude", pattern]
    started = time.perf_counter()
    process = spawn(args, cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sampler = TreeSampler(process.pid)
    sampler.start()
    lines, tail = _read_lines(process, started)
    exit_code = process.wait()
    wall = time.perf_counter() - started
    run = CliRun(wall, lines, warmups, exit_code, sampler.stop(), stderr_tail=tail)
    if len(lines) != expected:
        run.error = f"expected {expected} per-file lines, got {len(lines)}: {' | '.join(tail[-3:])}"
    elif exit_code not in (0, 1):
        run.error = f"exit code {exit_code}: {' | '.join(tail[-3:])}"
    return run


def _read_lines(process: subprocess.Popen[bytes], started: float) -> tuple[list[FileLine], list[str]]:
    """Per-file lines with their arrival times, and the last other stderr lines (for error messages)."""
    assert process.stdout is not None and process.stderr is not None
    streams = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
    pending = {fd: b"" for fd in streams}
    lines: list[FileLine] = []
    tail: list[str] = []
    deadline = started + TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            events = selector.select(timeout=max(deadline - time.perf_counter(), 0.0))
            if not events:
                process.kill()
                tail.append(f"timed out after {TIMEOUT_S:.0f} s")
                break
            for key, _ in events:
                fd = int(key.fd)
                block = os.read(fd, 65536)
                now = time.perf_counter() - started
                if not block:
                    selector.unregister(fd)
                    continue
                *complete, pending[fd] = (pending[fd] + block).split(b"\n")
                for raw in complete:
                    text = raw.decode("utf-8", "replace")
                    outcome = classify(text, streams[fd])
                    if outcome is not None:
                        lines.append(FileLine(now, outcome))
                    elif streams[fd] == "stderr":
                        tail = [*tail[-9:], text[:200]]
    return lines, tail
