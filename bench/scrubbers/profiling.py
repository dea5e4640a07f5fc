"""Where the engine's time goes: ExifTool commands by kind, Pillow probes, file copies, the rest (Python).

Wraps (in the benchmark's child process only) the pool's ``execute``, the engine's ``probe``,
``shutil.copyfile`` and the format handlers' Python walkers with timers. The engine itself is not edited.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import exif_scrubber.engine as engine_module
from exif_scrubber import Scrubber
from exif_scrubber.formats import HANDLERS
from exif_scrubber.reading import READ_ARGS

_WALKERS = ("walk", "rewrite")


def command_kind(args: Sequence[str]) -> str:
    """Which step an ExifTool command belongs to."""
    if "-o" in args:
        return "exiftool write"
    if "-ImageDataHash" in args:
        return "exiftool read + ImageDataHash"
    if "-overwrite_original" in args:
        return "exiftool targeted fix"
    return "exiftool other"


class StepTimer:
    """Accumulates wall time per step while installed; :meth:`reset` after the warm-up."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._nested: list[float] = []
        pool = scrubber.pool
        self._execute = pool.execute
        pool.execute = self._timed("exiftool", self._execute, kind=command_kind)  # type: ignore[method-assign]
        setattr(engine_module, "probe", self._timed("pillow probe", getattr(engine_module, "probe")))  # noqa: B009, B010
        setattr(shutil, "copyfile", self._timed("file copies", shutil.copyfile))  # noqa: B010
        for handler in HANDLERS:
            for name in _WALKERS:
                label = "format walkers (Python)" if name == "walk" else "format rewrites (Python)"
                setattr(handler, name, self._timed(label, getattr(handler, name)))

    def _timed(self, label: str, func: Callable[..., Any], kind: Callable[..., str] | None = None) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._nested.append(0.0)
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                inner = self._nested.pop()
                if self._nested:  # a step inside a step (a walker running ExifTool): each keeps its own time
                    self._nested[-1] += elapsed
                step = kind(args[0]) if kind and args else label
                self.ms[step] += elapsed - inner
                self.calls[step] += 1

        return wrapper

    def reset(self) -> None:
        """Forget what was timed so far."""
        self.ms.clear()
        self.calls.clear()

    def hash_cost_ms(self, path: Path, repeats: int = 3) -> dict[str, float]:
        """Median time of one engine read of ``path`` with and without ``-ImageDataHash``."""
        with_hash = [*READ_ARGS, str(path)]
        without = [*(a for a in READ_ARGS if a != "-ImageDataHash"), str(path)]
        times: dict[str, list[float]] = {"read with hash": [], "read without hash": []}
        for _ in range(repeats):
            for label, args in (("read with hash", with_hash), ("read without hash", without)):
                started = time.perf_counter()
                self._execute(args)
                times[label].append((time.perf_counter() - started) * 1000)
        return {label: round(statistics.median(values), 2) for label, values in times.items()}

    def summary(self, total_ms: float, runs: int) -> dict[str, Any]:
        """Per-run milliseconds by step, the Python remainder included."""
        steps = {k: round(v / runs, 2) for k, v in sorted(self.ms.items(), key=lambda kv: -kv[1])}
        steps["rest (Python: JSON parsing, verification, temp files)"] = round(
            max(total_ms - sum(self.ms.values()), 0.0) / runs, 2
        )
        return {
            "per_run_ms": steps,
            "calls_per_run": {k: v / runs for k, v in self.calls.items()},
            "total_per_run_ms": round(total_ms / runs, 2),
        }
