"""Plan and run the measurements: every contender in a child process of its own, one after another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.exiftool_process import locate_exiftool

from .contenders import PER_FILE, pillow_memory_estimate
from .evaluate import compare_all
from .inputs import REPO, BenchInput

MEM_LIMIT_BYTES = 16 * 1024**3
"""Address-space cap of the Pillow children: never more than 16 GiB."""
PILLOW_SKIP_ABOVE_BYTES = 12 * 1024**3
"""A Pillow run whose estimated need is above this is skipped (and listed as skipped)."""
CHILD_TIMEOUT_S = 3600


@dataclass
class Measurement:
    """One contender on one group of inputs, as the child reported it."""

    contender: str
    group: str
    kind: str  # "per_file" or "batch"
    inputs: list[BenchInput]
    result: dict[str, Any] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per output path: fidelity (evaluate.compare) and ``leftovers`` (engine scan)."""
    skipped: list[dict[str, str]] = field(default_factory=list)
    evaluated: bool = True

    @property
    def key(self) -> str:
        """``contender @ group``."""
        return f"{self.contender} @ {self.group}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()


def run_child(spec: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run ``spec`` in ``python -m bench.scrubbers.child`` and return its result (or an ``error``)."""
    scratch.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = scratch / "spec.json", scratch / "result.json"
    spec = {**spec, "scratch": str(scratch)}
    spec_path.write_text(json.dumps(spec))
    result_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.scrubbers.child", str(spec_path), str(result_path)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"child timed out after {CHILD_TIMEOUT_S} s"}
    if done.returncode != 0 or not result_path.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"child exit {done.returncode}: {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def _pillow_skip(item: BenchInput) -> str | None:
    if item.megapixels is None:
        return None
    from PIL import Image

    with Image.open(item.path) as image:
        needed = pillow_memory_estimate(*image.size, len(image.getbands()))
    if needed > PILLOW_SKIP_ABOVE_BYTES:
        bound = PILLOW_SKIP_ABOVE_BYTES >> 30
        return f"estimated {needed / 1024**3:.1f} GiB for list(getdata()) is over the {bound} GiB bound"
    return None


def per_file(
    contender: str,
    group: str,
    inputs: Sequence[BenchInput],
    out_root: Path,
    warmup: Sequence[Path],
    reps: int,
    *,
    profile: bool = False,
) -> Measurement:
    """``contender`` on each input (the applicable ones), ``reps`` timed runs each, in one child."""
    from .contenders import make

    probe = make(contender) if contender.startswith("pillow") else None
    measurement = Measurement(contender, group, "per_file", [])
    jobs = []
    for item in inputs:
        if probe is not None and not probe.applies(item.format):
            continue
        reason = _pillow_skip(item) if probe is not None else None
        if reason:
            measurement.skipped.append({"input": item.path.name, "why": reason})
            continue
        measurement.inputs.append(item)
        dst = out_root / contender / _slug(group) / item.path.name
        jobs.append({"src": str(item.path), "dst": str(dst), "reps": reps})
    if not jobs:
        return measurement
    spec = {
        "kind": "per_file",
        "contender": contender,
        "jobs": jobs,
        "warmup": [str(p) for p in warmup],
        "exiftool": str(locate_exiftool()),
        "profile": profile,
        "mem_limit_bytes": MEM_LIMIT_BYTES if probe is not None else None,
    }
    measurement.result = run_child(spec, out_root / "scratch" / contender / _slug(group))
    return measurement


def batch(command: str, workers: int, group: str, inputs: Sequence[BenchInput], out_root: Path) -> Measurement:
    """A whole set at once: ``exif-scrub clean`` (``cli``) or ``exiftool -all=`` in ``workers`` lanes."""
    name = f"exif-scrub clean --workers {workers}" if command == "cli" else f"exiftool x{workers} parallel"
    out_dir = out_root / _slug(name) / _slug(group)
    jobs = [{"src": str(i.path), "dst": str(out_dir / i.path.name)} for i in inputs]
    spec = {
        "kind": "batch",
        "command": command,
        "workers": workers,
        "jobs": jobs,
        "out_dir": str(out_dir),
        "exiftool": str(locate_exiftool()),
    }
    measurement = Measurement(name, group, "batch", list(inputs))
    measurement.result = run_child(spec, out_root / "scratch" / _slug(name) / _slug(group))
    return measurement


def evaluate(measurements: Sequence[Measurement], log: Callable[[str], None]) -> None:
    """Fidelity of every produced output (worker processes) and its leftovers (the engine's scan)."""
    outputs: dict[str, list[tuple[Measurement, str]]] = {}
    for m in measurements:
        if not m.evaluated:
            continue
        for file in m.result.get("files", []):
            if file["produced"] and Path(file["dst"]).exists():
                outputs.setdefault(file["src"], []).append((m, file["dst"]))
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as processes:
        futures = {src: processes.submit(compare_all, src, [dst for _, dst in outs]) for src, outs in outputs.items()}
        with Scrubber(ScrubPolicy(), pool_size=2) as scrubber, ThreadPoolExecutor(max_workers=2) as threads:
            pairs = [pair for outs in outputs.values() for pair in outs]
            scans = list(threads.map(lambda pair: scrubber.scan(Path(pair[1])), pairs))
        for (m, dst), scan in zip(pairs, scans, strict=True):
            m.evaluations[dst] = {
                "leftovers": sum(len(v) for v in scan.leftovers.values()),
                "leftover_groups": sorted(scan.leftovers),
                "scan_error": scan.error,
            }
        for src, future in futures.items():
            try:
                results = future.result()
            except Exception as exc:  # a decoder crash must not lose the whole run
                results = [{"identical": None, "note": f"evaluation failed: {exc}"}] * len(outputs[src])
            for (m, dst), fidelity in zip(outputs[src], results, strict=True):
                m.evaluations[dst].update(fidelity)
    log(f"  evaluated {sum(len(o) for o in outputs.values())} outputs in {time.perf_counter() - started:.0f} s")


def scratch_root() -> Path:
    """Where outputs go during a run (removed afterwards unless kept)."""
    base = REPO / "bench" / ".cache"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=base))


__all__ = ["PER_FILE", "Measurement", "batch", "evaluate", "per_file", "run_child", "scratch_root"]
