"""Where ``exif-audit``'s time goes per object, on the benchmark's bucket.

    python -m bench.audit_profile --endpoint URL --bucket B --prefix P   (prints one JSON line)

Runs the audit's own per-object path in this process (the CLI's ``Scrubber``, one ExifTool per usable CPU, its
``Auditor.audit_safely``, which ``audit_all`` calls from its threads) on one object at a time, on this thread,
so wall time can be split into steps: S3 GETs (botocore and the moto server's answer), the fetch (the
format's walker over the ranged reads, the sparse copy), and the engine's scan (walk, ExifTool's reading,
parsing, leftover rules). Then the CPU seconds of this process and of its ExifTool processes, and a second
pass under ``cProfile`` for the functions with the most own time.
The audit's code is not edited; the timers are removed afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import statistics
import time
from typing import Any

from exif_scrubber.audit import scan as scan_module
from exif_scrubber.audit.listing import list_s3

from bench.scrubbers.procs import descendants
from bench.scrubbers.profiling import EXIFTOOL, StepTimer, top_of
from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.exiftool_process import usable_cpus

AUDIT_STEPS = (
    (scan_module.S3Object, "_get", "S3 GETs (botocore + the moto server's answer)"),
    (scan_module, "fetch", "fetch: lazy walk over ranged reads, sparse copy (Python)"),
)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from ``/proc/PID/stat``."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


def profile(client: Any, bucket: str, prefix: str) -> dict[str, Any]:
    """Two passes over the bucket, one object at a time: steps timed, then under ``cProfile``."""
    started = time.perf_counter()
    refs = list(list_s3(client, bucket, prefix))
    listing_s = time.perf_counter() - started
    scrubber = Scrubber(ScrubPolicy(), pool_size=usable_cpus())  # as exif-audit: one ExifTool per CPU it may use
    with scrubber, scan_module.Auditor(scrubber, client=client) as auditor:
        scrubber.pool.warm_up()
        own = resource.getrusage(resource.RUSAGE_SELF)
        exiftool_before = sum(_cpu_s(pid) for pid in descendants(os.getpid()))
        timer = StepTimer(scrubber, AUDIT_STEPS)
        started = time.perf_counter()
        slowest: list[tuple[float, float, str]] = []
        try:
            results = []
            for ref in refs:  # audit_all's per-object call, on this thread
                begun, exiftool_ms = time.perf_counter(), timer.ms[EXIFTOOL]
                results.append(auditor.audit_safely(ref))
                took = (time.perf_counter() - begun) * 1000
                slowest.append((took, timer.ms[EXIFTOOL] - exiftool_ms, ref.key.rsplit("/", 1)[-1]))
        finally:
            timer.uninstall()
        total_ms = (time.perf_counter() - started) * 1000
        after = resource.getrusage(resource.RUSAGE_SELF)
        exiftool_cpu = sum(_cpu_s(pid) for pid in descendants(os.getpid())) - exiftool_before
        profiler = cProfile.Profile()
        profiler.enable()
        for ref in refs:
            auditor.audit_safely(ref)
        profiler.disable()
    summary = timer.summary(total_ms, len(results))
    return {
        "objects": len(results),
        "listing_s": round(listing_s, 3),
        "one_at_a_time_s": round(total_ms / 1000, 3),
        "per_object_ms": summary["per_run_ms"],
        "calls_per_object": summary["calls_per_run"],
        "python_cpu_s": round(after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime, 3),
        "exiftool_cpu_s": round(exiftool_cpu, 3),
        "per_object_total_ms": _spread([t for t, _, _ in slowest]),
        "slowest": [
            {"object": name, "ms": round(took, 1), "exiftool_ms": round(et, 1)}
            for took, et, name in sorted(slowest, reverse=True)[:6]
        ],
        "top": top_of(profiler, 15),
    }


def main() -> None:
    """Command-line entry point (credentials come from the environment the benchmark sets)."""
    import boto3

    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    client = boto3.client("s3", endpoint_url=args.endpoint)
    print(json.dumps(profile(client, args.bucket, args.prefix)))


if __name__ == "__main__":
    main()
