"""``python -m bench.scrubbers`` (``make bench``): the scrubbers and the audit side by side, in one run.

.venv/bin/python -m bench.scrubbers [--corpus DIR | --no-corpus] [--sizes 12MP,24MP] [--formats JPEG,PNG,WEBP,HEIC]
                                    [--reps 9] [--corpus-reps 3] [--cpus 1] [--no-audit] [--quick] [--keep-outputs]

Writes ``bench/results/scrubbers.{md,json}``, the charts and ``audit_bench.{md,json}`` (``--quick``: under
``bench/.cache/results-quick``). Nothing asserts a time: the results say which target is met.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exif_scrubber.exiftool_process import ExifToolPool, locate_exiftool

from . import cost, report
from .contenders import literal_keep_error
from .evaluate import evaluate_outputs
from .inputs import (
    CACHE,
    DEFAULT_CORPUS,
    FORMATS,
    NOT_IMAGES,
    REPO,
    SIZES,
    BenchInput,
    corpus_inputs,
    generated_inputs,
    warmup_inputs,
)
from .machine import commit, compile_bytecode, describe, load_average
from .markdown import markdown
from .pinning import available_cpus, parse_cpus
from .run import (
    CLI1,
    CLI2,
    ENGINE,
    EXIFTOOL,
    EXIFTOOL2,
    MEM_LIMIT_BYTES,
    PILLOW,
    PILLOW_KEEP,
    PILLOW_SKIP_ABOVE_BYTES,
    Context,
    Group,
    Measurement,
    Spec,
    run_group,
    scratch_root,
)

RESULTS = REPO / "bench" / "results"
QUICK_RESULTS = CACHE / "results-quick"
COMMAND = "make bench"
Log = Callable[[str], None]


@dataclass
class Config:
    """What one run measures."""

    corpus: Path | None = DEFAULT_CORPUS
    corpus_limit: int | None = None
    """Use only this many corpus files (spread over the sorted list), for --quick."""
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {k: SIZES[k] for k in ("12MP", "24MP")})
    formats: Sequence[str] = FORMATS
    reps: int = 9
    """Interleaved repetitions per generated photo (CLI, engine, exiftool)."""
    corpus_reps: int = 3
    pillow_reps: Mapping[str, int] = field(default_factory=lambda: {"12MP JPEG": 9})
    """Pillow repetitions by group (1 when not listed: seconds to minutes and GBs per run)."""
    pillow_on_corpus: bool = True
    two_cores: bool = True
    """Also the corpus through ``exif-scrub clean --workers 2`` and ``exiftool`` in 2 lanes, on 2 CPUs."""
    cpus: tuple[int, ...] = field(default_factory=lambda: parse_cpus(None))
    """The CPU set of every headline contender."""
    pillow_budget_s: float = 420.0
    """A Pillow run estimated (from the smaller size of the same format) above this is skipped."""
    profile_runs: int = 3
    audit: bool = True
    audit_reps: int = 3
    input_cache: Path | None = None
    keep_outputs: bool = False


def _log(message: str) -> None:
    print(message, flush=True)


def _inputs(config: Config, log: Log) -> tuple[dict[str, Path], list[BenchInput], list[dict[str, str]]]:
    cache = config.input_cache or CACHE
    problems: list[dict[str, str]] = []
    with ExifToolPool(size=1) as pool:
        warm = warmup_inputs(pool, cache / "warmup", config.formats)
        log("inputs: generating (or reusing cached) photos")
        generated = generated_inputs(
            pool, sizes=config.sizes, formats=config.formats, cache=cache / "inputs", problems=problems
        )
    return warm, generated, problems


def _corpus(config: Config) -> tuple[list[BenchInput], str]:
    if config.corpus is None:
        return [], "corpus not used (--no-corpus)"
    files = corpus_inputs(config.corpus)
    if not files:
        return [], f"corpus not found at {config.corpus}: generated inputs only"
    if config.corpus_limit and len(files) > config.corpus_limit:
        files = files[:: len(files) // config.corpus_limit][: config.corpus_limit]
        return files, f"{len(files)} files spread over {config.corpus} (--quick subset)"
    return files, f"{len(files)} files of {config.corpus}"


def generated_group(item: BenchInput, config: Config) -> Group:
    """The contenders on one generated photo, all on ``config.cpus``."""
    cpus, reps = config.cpus, config.reps
    pillow = config.pillow_reps.get(item.group, 1)
    specs = [
        Spec(CLI1, "cli", cpus, reps),
        Spec(ENGINE, "worker", cpus, reps, worker=ENGINE),
        Spec(EXIFTOOL, "exiftool", cpus, reps),
        Spec(PILLOW, "worker", cpus, pillow, worker=PILLOW),
    ]
    if item.format == "JPEG":
        specs.append(Spec(PILLOW_KEEP, "worker", cpus, pillow, worker=PILLOW_KEEP))
    return Group(item.group, [item], specs, warm_format=str(item.format), profile_runs=config.profile_runs)


def corpus_groups(files: list[BenchInput], config: Config) -> list[Group]:
    """The corpus on one CPU (headline), and on two (context)."""
    assert config.corpus is not None
    cpus, reps = config.cpus, config.corpus_reps
    whole = len(files) == len(corpus_inputs(config.corpus))
    folder = config.corpus if whole else None  # a subset is given to the CLI as a folder of links
    excludes = tuple(f"*{suffix}" for suffix in NOT_IMAGES)
    specs = [Spec(CLI1, "cli", cpus, reps), Spec(ENGINE, "worker", cpus, reps, worker=ENGINE)]
    specs.append(Spec(EXIFTOOL, "exiftool", cpus, reps))
    if config.pillow_on_corpus:
        specs += [
            Spec(PILLOW, "worker", cpus, 1, worker=PILLOW),
            Spec(PILLOW_KEEP, "worker", cpus, 1, worker=PILLOW_KEEP),
        ]
    groups = [Group("corpus", files, specs, folder=folder, excludes=excludes, profile_runs=1)]
    both = tuple(available_cpus()[-2:])
    if config.two_cores and len(both) == 2:
        two = [
            Spec(CLI2, "cli", both, max(reps - 1, 1), lanes=2, evaluated=False),
            Spec(EXIFTOOL2, "exiftool", both, max(reps - 1, 1), lanes=2, evaluated=False),
        ]
        groups.append(Group("corpus, 2 cores", files, two, folder=folder, excludes=excludes))
    return groups


def _pillow_time_bound(group: Group, rates: dict[str, float], budget: float) -> list[dict[str, str]]:
    """Drop Pillow from ``group`` when the rate measured on a smaller photo of the same format says it would take
    longer than ``budget``; the skips, for the report."""
    item = group.inputs[0]
    rate = rates.get(str(item.format))
    if rate is None or not item.megapixels or rate * item.megapixels <= budget:
        return []
    group.specs = [s for s in group.specs if s.worker not in (PILLOW, PILLOW_KEEP)]
    why = (
        f"time bound: {rate:.2f} s/MP measured on the smaller {item.format} in this run, so about "
        f"{rate * item.megapixels:.0f} s here, over the {budget:.0f} s bound"
    )
    return [{"contender": PILLOW, "group": group.name, "input": item.path.name, "why": why}]


def collect(config: Config, log: Log = _log) -> dict[str, Any]:
    """Run every group and the audit; the full result (what ``scrubbers.json`` holds)."""
    started = time.perf_counter()
    revision = commit()  # before anything else: what this run measures
    load_before = load_average()
    log(f"commit {revision['git_commit']}{' (dirty tree)' if revision['tree_dirty'] else ''}; load {load_before}")
    compile_bytecode()
    warm, generated, problems = _inputs(config, log)
    corpus, corpus_note = _corpus(config)
    log(f"corpus: {corpus_note}; contenders pinned to CPU(s) {list(config.cpus)}")
    ctx = Context(scratch_root(), warm, str(locate_exiftool()), log)
    measurements: list[Measurement] = []
    skipped = [{"contender": "all", "group": "inputs", **p} for p in problems]
    rates: dict[str, float] = {}  # Pillow seconds per megapixel by format, from the smaller photos
    try:
        groups = [generated_group(item, config) for item in generated]
        groups += corpus_groups(corpus, config) if corpus else []
        for group in groups:
            if group.inputs[0].megapixels:
                skipped += _pillow_time_bound(group, rates, config.pillow_budget_s)
            log(f"{group.name}: " + ", ".join(f"{s.name} x{s.reps}" for s in group.specs))
            done = run_group(group, ctx)
            measurements += done
            _learn_pillow_rate(group, done, rates)
        log("evaluating outputs (pixels, format, orientation, frames, leftovers by the engine's scan)")
        evaluate_outputs(measurements, log)
        keep_message = literal_keep_error(warm["JPEG"], ctx.out_root / "keep-check.jpg")
    finally:
        if not config.keep_outputs:
            shutil.rmtree(ctx.out_root, ignore_errors=True)
    audit = _audit(config, corpus, log)
    rows = [report.summarize(m) for m in measurements]
    skipped += [{"contender": m.contender, "group": m.group, **s} for m in measurements for s in m.skipped]
    targets = [report.evaluate_target(t, rows) for t in report.TARGETS] + [report.audit_target(audit)]
    with ExifToolPool(size=1) as pool:
        exiftool_version = "{}.{:02d}".format(*pool.version)
    return {
        "commit": revision,
        "machine": {**describe(exiftool_version), "load_before": load_before, "load_after": load_average()},
        "cpus": list(config.cpus),
        "command": COMMAND,
        "corpus": corpus_note,
        "generated_inputs": [i.to_dict() for i in generated],
        "contenders": report.CONTENDER_NOTES,
        "memory_note": report.MEMORY_NOTE,
        "reps": {"generated": config.reps, "corpus": config.corpus_reps, "pillow": dict(config.pillow_reps)},
        "schedule": ctx.schedule,
        "pillow_bounds": {
            "address_space_limit_gib": MEM_LIMIT_BYTES >> 30,
            "skip_when_estimate_over_gib": PILLOW_SKIP_ABOVE_BYTES >> 30,
            "time_bound_s": config.pillow_budget_s,
        },
        "pillow_literal_quality_keep": keep_message,
        "lambda_price": {
            "usd_per_gb_s": cost.PRICE_PER_GB_S,
            "usd_per_million_requests": cost.PRICE_PER_MILLION_REQUESTS,
            "source": cost.PRICE_SOURCE,
        },
        "targets": targets,
        "context_ratios": report.context_ratios(rows),
        "rows": rows,
        "audit": audit,
        "skipped": skipped,
        "total_run_s": round(time.perf_counter() - started, 1),
    }


def _learn_pillow_rate(group: Group, done: Sequence[Measurement], rates: dict[str, float]) -> None:
    item = group.inputs[0]
    for m in done:
        if m.spec.worker == PILLOW and item.megapixels and m.files and m.files[0].latencies_s:
            rates[str(item.format)] = min(m.files[0].latencies_s) / item.megapixels


def _audit(config: Config, corpus: list[BenchInput], log: Log) -> dict[str, Any] | None:
    if not config.audit or not corpus or config.corpus is None:
        return None
    from bench import audit_bench

    log("audit: naive vs exif-audit")
    return audit_bench.run(
        [i.path for i in corpus],
        config.corpus,
        cpus=config.cpus,
        reps=config.audit_reps,
        local=config.two_cores,
        two_cpus=config.two_cores,
        log=log,
    )


def write(payload: dict[str, Any], directory: Path = RESULTS, *, charts: bool = True) -> list[Path]:
    """Write ``scrubbers.json``, ``scrubbers.md``, the charts and the audit's results into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    drawn: list[Path] = []
    if charts:
        from .charts import draw

        try:
            drawn = draw(payload["rows"], directory)
        except ImportError as exc:  # matplotlib comes with the bench extra (`make bench` installs it)
            print(f"no charts: {exc}")
    json_path = directory / "scrubbers.json"
    json_path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    md_path = directory / "scrubbers.md"
    md_path.write_text(markdown(payload, [p.name for p in drawn]))
    written = [md_path, json_path, *drawn]
    if payload.get("audit"):
        from bench import audit_bench

        written += audit_bench.write(payload["audit"], directory)
    return written


def config_from(args: argparse.Namespace) -> Config:
    """The run ``args`` ask for."""
    sizes = ["12MP", "24MP"] if args.quick else [s for s in args.sizes.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        raise ValueError(f"unknown sizes {unknown}")
    quick = args.quick
    return Config(
        corpus=None if args.no_corpus else args.corpus,
        corpus_limit=40 if quick else None,
        sizes={s: SIZES[s] for s in sizes},
        formats=["JPEG", "PNG"] if quick else [f.upper() for f in args.formats.split(",") if f],
        reps=2 if quick else args.reps,
        corpus_reps=1 if quick else args.corpus_reps,
        pillow_reps={"12MP JPEG": 1 if quick else args.reps},
        pillow_on_corpus=not quick,
        two_cores=not quick,
        cpus=parse_cpus(args.cpus),
        profile_runs=1 if quick else 3,
        audit=not args.no_audit,
        audit_reps=1 if quick else args.corpus_reps,
        keep_outputs=args.keep_outputs,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Scrubbers and audits side by side, in one run.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--sizes", default="12MP,24MP", help="of " + ", ".join(SIZES))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--reps", type=int, default=9, help="interleaved repetitions per generated photo")
    parser.add_argument("--corpus-reps", type=int, default=3, help="interleaved repetitions over the corpus")
    parser.add_argument("--cpus", help="CPU set of every headline contender, e.g. 1 or 0-1 (default: the last CPU)")
    parser.add_argument("--no-audit", action="store_true", help="skip the audit benchmark")
    parser.add_argument(
        "--quick", action="store_true", help="a check that it all works: 12/24 MP JPEG+PNG, 2 reps, 40 corpus files"
    )
    parser.add_argument("--results", type=Path, help=f"default {RESULTS} ({QUICK_RESULTS} with --quick)")
    parser.add_argument("--keep-outputs", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    payload = collect(config)
    for path in write(payload, args.results or (QUICK_RESULTS if args.quick else RESULTS)):
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    for t in payload["targets"]:
        print(f"{t['group']}: {t['target_name']}: {t['value']} (target {t['target']}, met: {t['met']})")


if __name__ == "__main__":
    main()
