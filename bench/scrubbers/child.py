"""The child process that runs one contender: ``python -m bench.scrubbers.child SPEC.json RESULT.json``.

A fresh process per measurement. Peak memory is read per process as ``VmHWM`` (the high-water mark
of resident memory of the process's own address space): of this Python process at the end, of the
engine's warm ExifTool before it is stopped, and of each ``exiftool -all=`` process through
``/usr/bin/time -f %M`` (a small C program, so nothing big is inherited). ``getrusage``'s
``ru_maxrss`` is recorded too but not used: on Linux it survives ``exec``, so a process spawned
(through vfork) by a big one reports the big one's peak. Batch runs sample the summed RSS of all
the processes below the child every 20 ms.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _maxrss_kb() -> dict[str, int]:
    return {
        "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "self_hwm_kb": hwm_kb(os.getpid()),
    }


def hwm_kb(pid: int) -> int:
    """``VmHWM`` of ``pid`` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_per_file(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm up untimed, then time ``run`` on every job, ``reps`` times each."""
    from .contenders import make

    contender = make(spec["contender"], spec.get("exiftool"))
    contender.open()
    timer = None
    if spec.get("profile") and spec["contender"] == "engine":
        from .profiling import StepTimer

        timer = StepTimer(contender.scrubber)  # type: ignore[attr-defined]
    scratch = Path(spec["scratch"])
    for index, warm in enumerate(spec.get("warmup", [])):
        contender.run(Path(warm), scratch / f"warmup-{index}{Path(warm).suffix}")
    if timer:
        timer.reset()
    files, timed_ms, runs = [], 0.0, 0
    started_all = time.perf_counter()
    for job in spec["jobs"]:
        src, dst = Path(job["src"]), Path(job["dst"])
        dst.parent.mkdir(parents=True, exist_ok=True)
        latencies, outcome = [], None
        for _ in range(job.get("reps", 1)):
            if spec["contender"] != "engine":
                dst.unlink(missing_ok=True)
            started = time.perf_counter()
            outcome = contender.run(src, dst)
            latencies.append(time.perf_counter() - started)
        timed_ms += sum(latencies) * 1000
        runs += len(latencies)
        assert outcome is not None
        files.append(
            {
                "src": str(src),
                "dst": str(dst),
                "produced": outcome.produced,
                "detail": outcome.detail,
                "latencies_s": latencies,
                "extra": outcome.extra,
            }
        )
    wall = time.perf_counter() - started_all
    exiftool_hwm = 0
    if spec["contender"] == "engine":
        exiftool_hwm = contender.exiftool_hwm_kb()  # type: ignore[attr-defined]
    elif spec["contender"] == "exiftool":  # one more, untimed run per file, to read its peak memory
        peaks = [
            contender.peak_kb(Path(j["src"]), scratch / f"peak{Path(j['src']).suffix}")  # type: ignore[attr-defined]
            for j in spec["jobs"]
        ]
        exiftool_hwm = max((p for p in peaks if p is not None), default=0)
    profile = None
    if timer and runs:
        profile = timer.summary(timed_ms, runs)
        profile["hash_cost_ms"] = timer.hash_cost_ms(Path(spec["jobs"][0]["src"]))
    contender.close()
    return {"files": files, "wall_s": wall, "profile": profile, "exiftool_hwm_kb": exiftool_hwm, **_maxrss_kb()}


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task.name}/children") as handle:
                kids += [int(k) for k in handle.read().split()]
    except OSError:
        pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss_kb(root: int) -> int:
    """Summed RSS of the descendants of ``root`` (from /proc; ``root`` itself is counted by getrusage)."""
    total, frontier = 0, _children(root)
    while frontier:
        pid = frontier.pop()
        total += _rss_kb(pid)
        frontier += _children(pid)
    return total


class TreeSampler(threading.Thread):
    """Polls the summed RSS of this process's descendants until stopped; keeps the peak."""

    def __init__(self, interval_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))
            self._halt.wait(self.interval_s)

    def stop(self) -> int:
        """Stop sampling and return the peak in KiB."""
        self._halt.set()
        self.join()
        return self.peak_kb


def run_batch(spec: dict[str, Any]) -> dict[str, Any]:
    """A whole set in one go: ``exif-scrub clean`` (``cli``) or ``exiftool -all=`` in N parallel lanes."""
    jobs = spec["jobs"]
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    sampler = TreeSampler()
    sampler.start()
    started = time.perf_counter()
    if spec["command"] == "cli":
        cli = Path(sys.executable).parent / "exif-scrub"
        args = [
            str(cli),
            "clean",
            *(j["src"] for j in jobs),
            "--out-dir",
            str(out_dir),
            "--json",
            "--workers",
            str(spec["workers"]),
        ]
        done = subprocess.run(args, capture_output=True, text=True)
        wall = time.perf_counter() - started
        reports = {r["source"]: r for r in json.loads(done.stdout)}
        files = []
        for job in jobs:
            report = reports.get(job["src"], {})
            files.append(
                {
                    "src": job["src"],
                    "dst": job["dst"],
                    "produced": Path(job["dst"]).exists(),
                    "detail": report.get("reason"),
                    "latencies_s": [report.get("timings_ms", {}).get("total", 0.0) / 1000],
                    "extra": {"outcome": report.get("outcome"), "verified": report.get("verified")},
                }
            )
        exit_code = done.returncode
    else:
        from .contenders import ExifToolPerFile

        tool = ExifToolPerFile(spec.get("exiftool"))

        def one(job: dict[str, Any]) -> dict[str, Any]:
            begun = time.perf_counter()
            outcome = tool.run(Path(job["src"]), Path(job["dst"]))
            return {
                "src": job["src"],
                "dst": job["dst"],
                "produced": outcome.produced,
                "detail": outcome.detail,
                "latencies_s": [time.perf_counter() - begun],
                "extra": {},
            }

        with ThreadPoolExecutor(max_workers=spec["workers"]) as lanes:
            files = list(lanes.map(one, jobs))
        wall = time.perf_counter() - started
        exit_code = 0
    return {
        "files": files,
        "wall_s": wall,
        "exit_code": exit_code,
        "sampled_tree_peak_kb": sampler.stop(),
        **_maxrss_kb(),
    }


def main() -> None:
    """Entry point of the child."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    if spec.get("mem_limit_bytes"):
        limit = int(spec["mem_limit_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result = run_batch(spec) if spec["kind"] == "batch" else run_per_file(spec)
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
