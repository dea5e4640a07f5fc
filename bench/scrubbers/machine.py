"""What the benchmark ran on: CPU, cores, memory, load, and the versions of everything measured."""

from __future__ import annotations

import compileall
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from .inputs import REPO


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit() -> dict[str, Any]:
    """The commit the run measures (``git rev-parse HEAD``) and whether the tree differs from it, read at the
    start of a run."""
    changed = (_git("status", "--porcelain") or "").splitlines()
    paths = [line.split(maxsplit=1)[-1] for line in changed]  # "XY path" (the first line's spaces are stripped)
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "tree_dirty": bool(changed),
        "changed_paths": paths[:20],
        "engine_changed": any(p.startswith(("exif_scrubber/", "audit/")) for p in paths),
    }


def describe(exiftool_version: str) -> dict[str, Any]:
    """The machine and software versions, for the results."""
    import PIL
    import pillow_heif

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "exiftool": exiftool_version,
        "pillow": PIL.__version__,
        "pillow_heif": pillow_heif.__version__,
        "libheif": pillow_heif.libheif_version(),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def compile_bytecode() -> None:
    """Compile the project's modules to bytecode first, as ``pip install`` does for an installed package: an
    editable install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module at every start-up,
    which no user's installed CLI does."""
    for folder in ("exif_scrubber", "audit"):
        compileall.compile_dir(REPO / folder, quiet=1)
