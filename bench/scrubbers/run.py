"""Run the contenders on one group of inputs, interleaved: repetition by repetition, each contender in turn.

Per repetition every contender handles the whole group once (a generated photo, or the whole corpus), in an
order that rotates from one repetition to the next (A B C, B C A, C A B ...), so slow drifts of a shared
machine (other jobs, page cache, CPU frequency) fall on every contender alike. Every contender is pinned to
the same CPU set. The warm in-process contenders (engine, Pillow) live in a worker process for the whole
group; ``exiftool -all=`` and ``exif-scrub clean`` start a process per run, as users run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .cli_run import CliRun, run_cli
from .contenders import exiftool_args, exiftool_peak_kb, pillow_memory_estimate
from .inputs import REPO, BenchInput
from .machine import load_average
from .pinning import spawn
from .worker import Worker, WorkerError

MEM_LIMIT_BYTES = 16 * 1024**3
"""Address-space cap of the Pillow workers: never more than 16 GiB."""
PILLOW_SKIP_ABOVE_BYTES = 12 * 1024**3
"""A Pillow run whose estimated need is above this is skipped (and listed as skipped)."""
CLI1, CLI2 = "exif-scrub clean --workers 1", "exif-scrub clean --workers 2"
ENGINE, EXIFTOOL, EXIFTOOL2 = "engine", "exiftool", "exiftool x2 parallel"
PILLOW, PILLOW_KEEP = "pillow", "pillow-keep"
Kind = Literal["cli", "worker", "exiftool"]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Spec:
    """One contender of a group: how it runs, on which CPUs, how many repetitions."""

    name: str
    kind: Kind
    cpus: tuple[int, ...]
    reps: int
    worker: str | None = None
    """The in-process contender a ``worker`` runs (``engine``, ``pillow``, ``pillow-keep``)."""
    lanes: int = 1
    """CLI ``--workers`` or parallel ``exiftool`` processes."""
    evaluated: bool = True


@dataclass
class FileRecord:
    """One input of one contender: its output and every timed run."""

    src: Path
    dst: Path
    latencies_s: list[float] = field(default_factory=list)
    produced: bool = False
    detail: str | None = None


@dataclass
class Measurement:
    """One contender on one group of inputs."""

    spec: Spec
    group: str
    files: list[FileRecord] = field(default_factory=list)
    rep_seconds: list[float] = field(default_factory=list)
    """Per repetition: the whole group's time (a command's wall time, or the sum of per-file times)."""
    commands: list[dict[str, Any]] = field(default_factory=list)
    """Per repetition of a CLI command: wall, start-up, shut-down, per-file sum, outcomes, sampled peak."""
    memory: dict[str, Any] = field(default_factory=dict)
    startup: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def contender(self) -> str:
        return self.spec.name


@dataclass
class Context:
    """What every group run needs."""

    out_root: Path
    warm: dict[str, Path]
    """A tiny photo per format (with the metadata recipe), run untimed first by every contender."""
    exiftool: str
    log: Log
    schedule: list[dict[str, Any]] = field(default_factory=list)
    """Every run in the order it happened (group, repetition, contender)."""


@dataclass
class Group:
    """Inputs measured together, the contenders and how the CLI sees them."""

    name: str
    inputs: list[BenchInput]
    specs: list[Spec]
    warm_format: str = "JPEG"
    folder: Path | None = None
    """The corpus folder (the CLI is given the folder itself); None: a folder of links is made."""
    excludes: tuple[str, ...] = ()
    profile_runs: int = 0


def run_group(group: Group, ctx: Context) -> list[Measurement]:
    """Every contender of ``group``, interleaved; the workers' memory and the engine's profile at the end."""
    measurements = {spec.name: _measurement(spec, group, ctx) for spec in group.specs}
    specs = [s for s in group.specs if not measurements[s.name].skipped]
    load_before = load_average()
    workers: dict[str, Worker] = {}
    try:
        for spec in specs:
            if spec.kind == "worker":
                workers[spec.name] = _start_worker(spec, group, ctx, measurements[spec.name])
        cli_inputs = _cli_inputs(group, ctx) if any(s.kind == "cli" for s in specs) else []
        for rep in range(max((s.reps for s in specs), default=0)):
            turn = [s for s in _rotated(specs, rep) if rep < s.reps and s.name not in _failed(measurements)]
            for spec in turn:
                ctx.schedule.append({"group": group.name, "rep": rep, "contender": spec.name})
                m = measurements[spec.name]
                try:
                    if spec.kind == "worker":
                        _worker_rep(workers[spec.name], m)
                    elif spec.kind == "exiftool":
                        _exiftool_rep(m, ctx.exiftool)
                    else:
                        _cli_rep(m, cli_inputs, group, ctx)
                except WorkerError as exc:
                    m.errors.append(str(exc))
        _finish_workers(workers, measurements, group)
    finally:
        for worker in workers.values():
            worker.kill()
    _exiftool_memory(measurements, ctx.exiftool)
    load_after = load_average()
    ctx.log(f"  {group.name}: load {load_before} -> {load_after}")
    for m in measurements.values():
        m.memory.setdefault("load_before", load_before)
        m.memory.setdefault("load_after", load_after)
    return list(measurements.values())


def _rotated(specs: Sequence[Spec], rep: int) -> list[Spec]:
    shift = rep % len(specs) if specs else 0
    return [*specs[shift:], *specs[:shift]]


def _failed(measurements: dict[str, Measurement]) -> set[str]:
    return {name for name, m in measurements.items() if m.errors}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()


def _measurement(spec: Spec, group: Group, ctx: Context) -> Measurement:
    m = Measurement(spec, group.name)
    out = ctx.out_root / _slug(spec.name) / _slug(group.name)
    for item in group.inputs:
        if spec.worker == PILLOW_KEEP and item.format != "JPEG":
            continue  # JPEG quantisation tables only exist in JPEGs
        reason = _pillow_skip(item) if spec.worker in (PILLOW, PILLOW_KEEP) else None
        if reason:
            m.skipped.append({"input": item.path.name, "why": reason})
            continue
        m.files.append(FileRecord(item.path, out / item.path.name))
    if not m.files and not m.skipped:
        m.skipped.append({"input": group.name, "why": "no applicable input"})
    return m


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


# ---------------------------------------------------------------------- in-process contenders


def _start_worker(spec: Spec, group: Group, ctx: Context, m: Measurement) -> Worker:
    assert spec.worker is not None
    limit = MEM_LIMIT_BYTES if spec.worker != ENGINE else None
    log = ctx.out_root / "logs" / f"{_slug(spec.name)}-{_slug(group.name)}.log"
    worker = Worker(spec.worker, spec.cpus, [ctx.warm[group.warm_format]], log, mem_limit=limit)
    m.startup = {"open_s": worker.ready["open_s"], "warmup_s": worker.ready["warmup_s"]}
    return worker


def _worker_rep(worker: Worker, m: Measurement) -> None:
    total = 0.0
    for record in m.files:
        answer = worker.run(record.src, record.dst)
        if "error" in answer:
            raise WorkerError(answer["error"])
        record.latencies_s.append(answer["seconds"])
        record.produced, record.detail = bool(answer["produced"]), answer["detail"]
        total += answer["seconds"]
    m.rep_seconds.append(total)


def _finish_workers(workers: dict[str, Worker], measurements: dict[str, Measurement], group: Group) -> None:
    for name, worker in workers.items():
        m = measurements[name]
        if m.spec.worker == ENGINE and group.profile_runs and not m.errors:
            jobs = [[str(r.src), str(r.dst)] for r in m.files if r.produced]
            if jobs:
                answer = worker.ask({"op": "profile", "jobs": jobs, "runs": group.profile_runs, "top": True})
                m.profile = answer if "error" not in answer else None
        m.memory.update(worker.close())


# ---------------------------------------------------------------------- exiftool -all=, one process per file


def _exiftool_rep(m: Measurement, exiftool: str) -> None:
    if m.spec.lanes > 1:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=m.spec.lanes) as lanes:
            list(lanes.map(lambda record: _exiftool_once(record, exiftool, m.spec.cpus), m.files))
        m.rep_seconds.append(time.perf_counter() - started)
        return
    m.rep_seconds.append(sum(_exiftool_once(record, exiftool, m.spec.cpus) for record in m.files))


def _exiftool_once(record: FileRecord, exiftool: str, cpus: Sequence[int]) -> float:
    record.dst.parent.mkdir(parents=True, exist_ok=True)
    record.dst.unlink(missing_ok=True)  # ExifTool never overwrites an existing -o file
    started = time.perf_counter()
    process = spawn(
        exiftool_args(exiftool, record.src, record.dst), cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, err = process.communicate()
    seconds = time.perf_counter() - started
    record.latencies_s.append(seconds)
    record.produced = record.dst.exists()
    text = err.decode("utf-8", "replace").strip().splitlines()
    record.detail = None if record.produced else (text or ["no output"])[0][:200]
    return seconds


def _exiftool_memory(measurements: dict[str, Measurement], exiftool: str, largest: int = 10) -> None:
    """ExifTool's own peak RSS on the ``largest`` inputs of each one-process-per-file row (untimed runs)."""
    for m in measurements.values():
        if m.spec.kind != "exiftool" or m.spec.lanes > 1 or not m.files:
            continue
        biggest = sorted(m.files, key=lambda r: -r.src.stat().st_size)[:largest]
        with tempfile.TemporaryDirectory(prefix="bench-peak-") as scratch:
            peaks = [exiftool_peak_kb(exiftool, r.src, Path(scratch) / f"peak{r.src.suffix}") for r in biggest]
        m.memory["children_hwm_kb"] = max((p for p in peaks if p is not None), default=0)
        m.memory["measured_on"] = f"the {len(biggest)} largest inputs"


# ---------------------------------------------------------------------- exif-scrub clean


def _cli_inputs(group: Group, ctx: Context) -> list[Path]:
    """What the CLI is given: the warm-up file first, then the corpus folder, or a folder of links to the
    group's inputs (names keep the order: warm-up first)."""
    warm = ctx.warm[group.warm_format]
    if group.folder is not None:
        return [warm, group.folder]
    folder = ctx.out_root / "cli-inputs" / _slug(group.name)
    folder.mkdir(parents=True, exist_ok=True)
    _link(warm, folder / f"{0:04d}-warmup{warm.suffix}")
    for index, item in enumerate(group.inputs, start=1):
        _link(item.path, folder / f"{index:04d}-{item.path.name}")
    return [folder]


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _cli_outputs(m: Measurement, paths: Sequence[Path], out_dir: Path, group: Group) -> list[Path]:
    """Where the CLI writes each input of the group (in the order it handles them)."""
    if group.folder is not None:
        return [out_dir / group.folder.name / r.src.name for r in m.files]
    position = {item.path: index for index, item in enumerate(group.inputs, start=1)}
    return [out_dir / paths[0].name / f"{position[r.src]:04d}-{r.src.name}" for r in m.files]


def _cli_rep(m: Measurement, paths: list[Path], group: Group, ctx: Context) -> None:
    out_dir = ctx.out_root / _slug(m.spec.name) / _slug(group.name)
    shutil.rmtree(out_dir, ignore_errors=True)  # the last repetition's outputs are the ones evaluated
    run = run_cli(
        paths,
        out_dir,
        workers=m.spec.lanes,
        cpus=m.spec.cpus,
        warmups=1,
        expected=1 + len(m.files),
        excludes=group.excludes,
    )
    m.commands.append(_command_record(run))
    m.rep_seconds.append(run.wall_s)
    if run.error:
        m.errors.append(f"{m.spec.name}: {run.error}")
        return
    if m.spec.lanes > 1:  # files finish out of order: only the whole command's time means something
        for record, dst in zip(m.files, _cli_outputs(m, paths, out_dir, group), strict=True):
            record.dst, record.produced = dst, dst.exists()
        return
    per_file = run.per_file_s
    outcomes = [line.outcome for line in run.lines[1:]]
    for record, dst, seconds, outcome in zip(
        m.files, _cli_outputs(m, paths, out_dir, group), per_file, outcomes, strict=True
    ):
        record.dst = dst
        record.latencies_s.append(seconds)
        record.produced = dst.exists()
        record.detail = None if outcome in ("cleaned", "already_clean") else outcome


def _command_record(run: CliRun) -> dict[str, Any]:
    return {
        "wall_s": run.wall_s,
        "startup_s": run.startup_s,
        "per_file_sum_s": sum(run.per_file_s),
        "shutdown_s": run.shutdown_s,
        "exit_code": run.exit_code,
        "outcomes": dict(run.outcomes),
        "sampled_tree_peak_kb": run.peak_kb,
        "error": run.error,
    }


def scratch_root() -> Path:
    """Where outputs go during a run (removed afterwards unless kept)."""
    base = REPO / "bench" / ".cache"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=base))
