"""What a process tree uses, read from ``/proc``: peak resident memory, sampled RSS of a whole tree.

``VmHWM`` is the high-water mark of a process's own resident memory. ``getrusage``'s ``ru_maxrss`` is not used:
on Linux it survives ``exec``, so a process spawned (through vfork) by a big one reports the big one's peak.
"""

from __future__ import annotations

import os
import threading

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def hwm_kb(pid: int) -> int:
    """``VmHWM`` of ``pid`` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads)."""
    kids: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task.name}/children") as handle:
                kids += [int(k) for k in handle.read().split()]
    except OSError:
        pass
    return kids


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    found, frontier = [], children(pid)
    while frontier:
        child = frontier.pop()
        found.append(child)
        frontier += children(child)
    return found


def rss_kb(pid: int) -> int:
    """Current resident memory of ``pid`` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_kb(root: int) -> int:
    """Summed RSS of ``root`` and its descendants."""
    return rss_kb(root) + sum(rss_kb(pid) for pid in descendants(root))


class TreeSampler(threading.Thread):
    """Polls the summed RSS of the tree under ``root`` until stopped; keeps the peak (KiB)."""

    def __init__(self, root: int, interval_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval_s = interval_s
        self.peak_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.root))
            self._halt.wait(self.interval_s)

    def stop(self) -> int:
        """Stop sampling; the peak in KiB."""
        self._halt.set()
        self.join()
        return self.peak_kb
