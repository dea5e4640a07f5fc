"""The engine at another commit against the engine of this tree, side by side in one run.

``python -m bench.versus --base REV`` extracts ``REV`` (``git archive``) into ``bench/.cache/versus/SHA`` and
starts two warm engine workers (:mod:`bench.scrubbers.worker`, ``Scrubber.scrub_file`` with the full proof,
one ExifTool process each, the same ExifTool), both pinned to the same CPU(s). Every input is scrubbed by
both, file by file, repetition by repetition, in an order that alternates, so a busy moment of the shared
machine falls on both. Per input the median over repetitions; per group the ratio this tree / base (lower
is faster). The corpus group compares the sums of the per-file medians. Results go to
``bench/results/versus.{json,md}``.

This is how "speed within N % of commit REV" is checked: the machine's speed drifts from hour to hour, so
figures from two runs on different days cannot decide a 10 % question; one interleaved run can.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scrubbers.inputs import (
    CACHE,
    DEFAULT_CORPUS,
    REPO,
    BenchInput,
    corpus_inputs,
    generated_inputs,
    warmup_inputs,
)
from bench.scrubbers.machine import commit, describe, load_average
from bench.scrubbers.pinning import parse_cpus
from bench.scrubbers.worker import Worker
from exif_scrubber.exiftool_process import ExifToolPool, locate_exiftool

RESULTS = REPO / "bench" / "results"
SIDES = ("base", "head")


@dataclass
class Timing:
    """One input's seconds per side, over the repetitions."""

    item: BenchInput
    seconds: dict[str, list[float]] = field(default_factory=lambda: {side: [] for side in SIDES})
    errors: dict[str, str] = field(default_factory=dict)

    def median(self, side: str) -> float | None:
        return statistics.median(self.seconds[side]) if self.seconds[side] else None


def git(*args: str) -> str:
    """A git command in this repository (list arguments, no shell)."""
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def extract(rev: str) -> tuple[str, Path]:
    """``rev``'s tree under ``bench/.cache/versus/SHA`` (once): its full commit id and the folder."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    folder = CACHE / "versus" / sha
    if not (folder / "exif_scrubber").is_dir():
        archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=REPO, check=True, capture_output=True)
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
    return sha, folder


def imported_from(tree: Path) -> str:
    """Where a worker started on ``tree`` imports the engine from (checked: not this tree's by accident)."""
    code = "import exif_scrubber; print(exif_scrubber.__file__)"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


SHARED_MEMORY = Path("/dev/shm")
"""Outputs go here when it exists: a write to memory, not to a disk whose write-back may fall on either side."""


def measure(
    inputs: Sequence[BenchInput], trees: dict[str, Path], cpus: Sequence[int], reps: int, log: Path
) -> list[Timing]:
    """Every input by both sides, ``reps`` times, alternating which side goes first."""
    with ExifToolPool(size=1) as pool:
        warmups = list(warmup_inputs(pool).values())
    workers = {side: Worker("engine", cpus, warmups, log, repo=trees[side]) for side in SIDES}
    out = Path(tempfile.mkdtemp(prefix="bench-versus-", dir=SHARED_MEMORY if SHARED_MEMORY.is_dir() else None))
    timings = [Timing(item) for item in inputs]
    try:
        for rep in range(reps):
            for index, timing in enumerate(timings):
                order = SIDES if (rep + index) % 2 == 0 else SIDES[::-1]
                for side in order:
                    dst = out / side / f"{index}{timing.item.path.suffix}"
                    dst.unlink(missing_ok=True)
                    answer = workers[side].run(timing.item.path, dst)
                    if "error" in answer:
                        timing.errors[side] = str(answer["error"])
                    else:
                        timing.seconds[side].append(float(answer["seconds"]))
            print(f"  repetition {rep + 1}/{reps} done", flush=True)
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(out, ignore_errors=True)
    return timings


def summarise(timings: Sequence[Timing]) -> list[dict[str, Any]]:
    """Per group: base and head seconds (median per file; summed over the corpus) and head / base."""
    groups: dict[str, list[Timing]] = {}
    for timing in timings:
        groups.setdefault(timing.item.group, []).append(timing)
    rows = []
    for group, members in groups.items():
        both = [t for t in members if t.median("base") is not None and t.median("head") is not None]
        base = sum(t.median("base") or 0.0 for t in both)
        head = sum(t.median("head") or 0.0 for t in both)
        rows.append(
            {
                "group": group,
                "files": len(members),
                "timed": len(both),
                "base_s": round(base, 4),
                "head_s": round(head, 4),
                "head_over_base": round(head / base, 3) if base else None,
                "errors": {str(t.item.path.name): t.errors for t in members if t.errors},
            }
        )
    return rows


def markdown(payload: dict[str, Any], within: float) -> str:
    """The results page."""
    lines = [
        "# Engine speed: this tree against an earlier commit",
        "",
        f"Written by `python -m bench.versus` on {payload['finished']} UTC in {payload['total_s']:.0f} s. "
        f"Base `{payload['base']}`, head `{payload['head']}`"
        f"{' (the engine had uncommitted changes)' if payload['dirty'] else ' (the engine as committed)'}. "
        "Both engines in warm worker processes "
        f"pinned to CPU(s) {payload['cpus']}, outputs written to memory where /dev/shm exists, the same "
        f"ExifTool ({payload['exiftool']}); every input scrubbed by "
        f"both, {payload['reps']} repetitions, alternating which goes first; medians per file. Load average "
        f"before {payload['load_before']}, after {payload['load_after']} (shared machine).",
        "",
        "| group | files | base | head | head / base | within " + f"{within:.0%} |",
        "|---|---|---|---|---|---|",
    ]
    for row in payload["rows"]:
        ratio = row["head_over_base"]
        verdict = "-" if ratio is None else ("yes" if ratio <= 1 + within else "**no**")
        lines.append(
            f"| {row['group']} | {row['timed']}/{row['files']} | {row['base_s'] * 1000:.1f} ms | "
            f"{row['head_s'] * 1000:.1f} ms | {ratio} | {verdict} |"
        )
    lines += ["", "The corpus row sums the per-file medians of the files both sides handled without an error."]
    errors = {row["group"]: row["errors"] for row in payload["rows"] if row["errors"]}
    if errors:
        lines += ["", "Errors (a file one side could not handle is left out of both sums):", ""]
        lines += [f"- {group}: {json.dumps(items)[:600]}" for group, items in errors.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", required=True, help="the commit to compare with (any git revision)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cpus", help="CPU set of both workers (default: the last CPU)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--within", type=float, default=0.10, help="the allowed slow-down, as a fraction")
    parser.add_argument("--no-generated", action="store_true", help="the corpus only (no 12/24 MP photos)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    head = git("rev-parse", "HEAD")
    dirty = commit()["engine_changed"]
    base, base_tree = extract(args.base)
    trees = {"base": base_tree, "head": REPO}
    for side, tree in trees.items():
        where = imported_from(tree)
        if not where.startswith(str(tree)):
            parser.error(f"the {side} worker would import the engine from {where}, not from {tree}")
    os.environ["EXIFTOOL_PATH"] = str(locate_exiftool())
    cpus = parse_cpus(args.cpus)
    with ExifToolPool(size=1) as pool:
        generated = [] if args.no_generated else generated_inputs(pool)
        inputs = generated + [i for i in corpus_inputs(args.corpus) if i.format]
        machine = describe(".".join(map(str, pool.version)))
    load_before = load_average()
    timings = measure(inputs, trees, cpus, args.reps, CACHE / "versus" / "workers.log")
    payload = {
        "base": base,
        "head": head,
        "dirty": dirty,
        "cpus": list(cpus),
        "reps": args.reps,
        "exiftool": os.environ["EXIFTOOL_PATH"],
        "machine": machine,
        "load_before": load_before,
        "load_after": load_average(),
        "rows": summarise(timings),
        "finished": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "total_s": time.perf_counter() - started,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "versus.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (args.results / "versus.md").write_text(markdown(payload, args.within))
    print(markdown(payload, args.within))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
