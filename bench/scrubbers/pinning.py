"""The same cores for every contender: processes are started pinned to one CPU set.

Linux keeps the affinity mask per thread and a new process inherits the mask of the thread that started it,
so :func:`spawn` narrows the calling thread's mask for the instant of ``Popen`` and widens it again: the
contender (and everything it starts, e.g. ExifTool) is pinned from its first instruction, while the benchmark's
own process (which only waits and reads timestamps) stays free to run elsewhere.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

CAN_PIN = hasattr(os, "sched_setaffinity")


def available_cpus() -> tuple[int, ...]:
    """The CPUs this process may run on."""
    if not CAN_PIN:
        return tuple(range(os.cpu_count() or 1))
    return tuple(sorted(os.sched_getaffinity(0)))


def parse_cpus(spec: str | None, *, default_count: int = 1) -> tuple[int, ...]:
    """``"1"``, ``"0,1"`` or ``"0-1"`` (None: the last ``default_count`` available CPUs)."""
    available = available_cpus()
    if not spec:
        return available[-default_count:]
    cpus: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    missing = sorted(cpus - set(available))
    if missing:
        raise ValueError(f"CPUs {missing} are not available to this process (available: {list(available)})")
    return tuple(sorted(cpus))


def others(cpus: Sequence[int]) -> tuple[int, ...]:
    """The available CPUs outside ``cpus`` (all of them when nothing is left)."""
    rest = tuple(c for c in available_cpus() if c not in cpus)
    return rest or available_cpus()


@contextmanager
def pinned(cpus: Sequence[int] | None) -> Iterator[None]:
    """Run the body with the calling thread restricted to ``cpus`` (None: unchanged)."""
    if cpus is None or not CAN_PIN:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def spawn(args: Sequence[str], cpus: Sequence[int] | None, **popen: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(args, **popen)`` whose process runs on ``cpus`` only (never through a shell)."""
    with pinned(cpus):
        return subprocess.Popen(list(args), **popen)


def affinity_of(pid: int) -> tuple[int, ...] | None:
    """The CPUs ``pid`` may run on (None when unknown)."""
    if not CAN_PIN:
        return None
    try:
        return tuple(sorted(os.sched_getaffinity(pid)))
    except OSError:
        return None
