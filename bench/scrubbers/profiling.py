"""Where the engine's time goes, step by step, and which Python functions cost the most.

:class:`StepTimer` wraps (in the benchmark's worker process only, after the timed runs) the engine's steps with
timers: the warm ExifTool's commands, the parsing of its output, the leftover rules, the byte-model walks, the
proof hash, the rewrite, Pillow's probe and the file copies and writes. A step running inside another (the
ExifTool command inside a read) keeps its own time; what no step covers is "the rest". The engine is not
edited; :meth:`StepTimer.uninstall` puts everything back. :func:`top_functions` is one run under ``cProfile``.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import exif_scrubber.engine as engine_module
from exif_scrubber import Scrubber
from exif_scrubber.bytemodel import ByteModel
from exif_scrubber.formats import HANDLERS

REST = "rest (Python: temp folders, mmap, verification logic, report)"
STEPS: tuple[tuple[Any, str, str], ...] = (
    (engine_module, "read", "ExifTool output parsing (JSON to tags)"),
    (engine_module, "find_leftovers", "leftover rules (Python)"),
    (engine_module, "probe", "Pillow probe (header: size, mode, frames, orientation)"),
    (ByteModel, "proof_hash", "proof hash (SHA-256 over image data, Python hashlib)"),
    (shutil, "copyfile", "file copies (input in, output out)"),
    (Path, "write_bytes", "writing the clean copy"),
    *((handler, "walk", "byte-model walks (Python)") for handler in HANDLERS),
    *((handler, "rewrite", "rewrite (Python)") for handler in HANDLERS),
    *((handler, "check_decodes", "decode check (Pillow)") for handler in HANDLERS),
)
"""(object, attribute, step) wrapped by :class:`StepTimer`."""
EXIFTOOL = "ExifTool commands (warm -stay_open process, round trip)"


class StepTimer:
    """Accumulates wall time per step while installed."""

    def __init__(self, scrubber: Scrubber, extra: tuple[tuple[Any, str, str], ...] = ()) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._nested: list[float] = []
        self._undo: list[tuple[Any, str, Any]] = []
        self._patch(scrubber.pool, "execute", EXIFTOOL)
        for owner, name, step in (*STEPS, *extra):
            self._patch(owner, name, step)

    def _patch(self, owner: Any, name: str, step: str) -> None:
        original = vars(owner).get(name)  # None when inherited (a class) or found on the class (an instance)
        self._undo.append((owner, name, original))
        setattr(owner, name, self._timed(step, getattr(owner, name)))

    def uninstall(self) -> None:
        """Restore every wrapped attribute (inherited ones are removed again)."""
        for owner, name, original in reversed(self._undo):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._undo.clear()

    def _timed(self, step: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._nested.append(0.0)
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                inner = self._nested.pop()
                if self._nested:
                    self._nested[-1] += elapsed
                self.ms[step] += elapsed - inner
                self.calls[step] += 1

        return wrapper

    def summary(self, total_ms: float, runs: int) -> dict[str, Any]:
        """Per-run milliseconds by step, the rest included."""
        steps = {k: round(v / runs, 2) for k, v in sorted(self.ms.items(), key=lambda kv: -kv[1])}
        steps[REST] = round(max(total_ms - sum(self.ms.values()), 0.0) / runs, 2)
        return {
            "per_run_ms": steps,
            "calls_per_run": {k: round(v / runs, 2) for k, v in self.calls.items()},
            "total_per_run_ms": round(total_ms / runs, 2),
            "runs": runs,
        }


def profile_steps(scrubber: Scrubber, jobs: list[tuple[Path, Path]], runs: int) -> dict[str, Any]:
    """``runs`` passes over ``jobs`` with the steps timed; the per-file summary."""
    timer = StepTimer(scrubber)
    total = 0.0
    try:
        for _ in range(runs):
            for src, dst in jobs:
                started = time.perf_counter()
                scrubber.scrub_file(src, dst)
                total += (time.perf_counter() - started) * 1000
    finally:
        timer.uninstall()
    return timer.summary(total, runs * len(jobs))


def top_functions(scrubber: Scrubber, src: Path, dst: Path, limit: int = 12) -> list[dict[str, Any]]:
    """One scrub under ``cProfile``: the functions with the most own time (cProfile's overhead included)."""
    profiler = cProfile.Profile()
    profiler.enable()
    scrubber.scrub_file(src, dst)
    profiler.disable()
    return top_of(profiler, limit)


def top_of(profiler: cProfile.Profile, limit: int = 12) -> list[dict[str, Any]]:
    """The functions with the most own time in ``profiler``'s record."""
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in table.items():
        where = f"{Path(filename).name}:{line}" if line else "built-in"
        rows.append(
            {
                "function": f"{function} ({where})",
                "calls": calls,
                "own_ms": round(own * 1000, 2),
                "cumulative_ms": round(cumulative * 1000, 2),
            }
        )
    rows.sort(key=lambda r: -float(r["own_ms"]))
    return rows[:limit]
