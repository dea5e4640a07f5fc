"""``python -m bench.scrubbers``: run every scrubber on the same files and write ``bench/results/``.

.venv/bin/python -m bench.scrubbers [--corpus DIR | --no-corpus] [--sizes 12MP,24MP,48MP]
                                    [--formats JPEG,PNG,WEBP,HEIC] [--reps 5] [--quick] [--keep-outputs]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exif_scrubber.exiftool_process import ExifToolPool

from . import cost, report
from .contenders import PER_FILE, literal_keep_error
from .inputs import CACHE, DEFAULT_CORPUS, FORMATS, REPO, SIZES, corpus_inputs, generated_inputs, warmup_inputs
from .machine import describe, load_average
from .run import MEM_LIMIT_BYTES, PILLOW_SKIP_ABOVE_BYTES, Measurement, batch, evaluate, per_file, scratch_root

RESULTS = REPO / "bench" / "results"
COMMAND = "make bench"


@dataclass
class Config:
    """What one run measures."""

    corpus: Path | None = DEFAULT_CORPUS
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(SIZES))
    formats: Sequence[str] = FORMATS
    reps: int = 5
    """Timed runs per generated file for the engine and exiftool."""
    pillow_reps: Mapping[str, int] = field(default_factory=lambda: {"12MP": 3})
    """Timed Pillow runs per generated file by size label (1 when not listed: minutes and GBs per run)."""
    pillow_budget_s: float = 420.0
    """A Pillow run estimated (from the smaller size of the same format) above this is skipped."""
    input_cache: Path | None = None
    keep_outputs: bool = False


def _log(message: str) -> None:
    print(message, flush=True)


def collect(config: Config, log: Any = _log) -> dict[str, Any]:
    """Run every contender on every input and return the full result (what ``scrubbers.json`` holds)."""
    started = time.perf_counter()
    load_before = load_average()
    log(f"load average before: {load_before}")
    with ExifToolPool(size=1) as pool:
        exiftool_version = "{}.{:02d}".format(*pool.version)
        cache = config.input_cache or CACHE
        warm = warmup_inputs(pool, cache / "warmup", config.formats)
        log("inputs: generating (or reusing cached) photos")
        input_problems: list[dict[str, str]] = []
        generated = generated_inputs(
            pool, sizes=config.sizes, formats=config.formats, cache=cache / "inputs", problems=input_problems
        )
    corpus = corpus_inputs(config.corpus) if config.corpus else []
    corpus_note = (
        f"{len(corpus)} files of {config.corpus}"
        if corpus
        else f"corpus not found at {config.corpus}: generated inputs only"
        if config.corpus
        else "corpus not used (--no-corpus)"
    )
    log(f"corpus: {corpus_note}")
    out_root = scratch_root()
    measurements: list[Measurement] = []
    try:
        if corpus:
            for contender in PER_FILE:
                log(f"corpus: {contender}")
                measurements.append(
                    per_file(contender, "corpus", corpus, out_root, [warm["JPEG"]], 1, profile=contender == "engine")
                )
            for command, workers in (("cli", 2), ("cli", 1), ("exiftool", 2)):
                log(f"corpus: {command} x{workers}")
                m = batch(command, workers, "corpus", corpus, out_root)
                m.evaluated = (command, workers) == ("cli", 2)
                measurements.append(m)
        pillow_s_per_mp: dict[tuple[str, str], float] = {}  # (contender, format) -> seconds per megapixel
        for item in generated:
            label = item.group.split()[0]
            for contender in PER_FILE:
                if contender == "pillow-keep" and item.format != "JPEG":
                    continue  # JPEG quantisation tables only exist in JPEGs
                reps = config.pillow_reps.get(label, 1) if contender.startswith("pillow") else config.reps
                rate = pillow_s_per_mp.get((contender, str(item.format)))
                if rate is not None and item.megapixels and rate * item.megapixels > config.pillow_budget_s:
                    m = Measurement(contender, item.group, "per_file", [])
                    m.skipped.append(
                        {
                            "input": item.path.name,
                            "why": (
                                f"time bound: {rate:.2f} s/MP measured on the smaller {item.format} in this run, "
                                f"so about "
                                f"{rate * item.megapixels:.0f} s here, over the {config.pillow_budget_s:.0f} s bound"
                            ),
                        }
                    )
                    measurements.append(m)
                    log(f"{item.group}: {contender} skipped (time bound)")
                    continue
                log(f"{item.group}: {contender} x{reps}")
                m = per_file(
                    contender,
                    item.group,
                    [item],
                    out_root,
                    [warm[str(item.format)]],
                    reps,
                    profile=contender == "engine",
                )
                measurements.append(m)
                files = m.result.get("files", [])
                if contender.startswith("pillow") and files and item.megapixels:
                    pillow_s_per_mp[(contender, str(item.format))] = min(files[0]["latencies_s"]) / item.megapixels
        log("evaluating outputs (pixels, format, orientation, frames, leftovers by the engine's scan)")
        evaluate(measurements, log)
        keep_message = literal_keep_error(warm["JPEG"], out_root / "keep-check.jpg")
    finally:
        if not config.keep_outputs:
            shutil.rmtree(out_root, ignore_errors=True)
    rows = [report.summarize(m) for m in measurements if m.inputs]
    skipped = [{"contender": "all", "group": "inputs", **p} for p in input_problems]
    skipped += [{"contender": m.contender, "group": m.group, **s} for m in measurements for s in m.skipped]
    corpus_files = _corpus_files(measurements)
    return {
        "machine": {**describe(exiftool_version), "load_before": load_before, "load_after": load_average()},
        "command": COMMAND,
        "corpus": corpus_note,
        "generated_inputs": [i.to_dict() for i in generated],
        "contenders": report.CONTENDER_NOTES,
        "memory_note": report.MEMORY_NOTE,
        "pillow_bounds": {
            "address_space_limit_gib": MEM_LIMIT_BYTES >> 30,
            "skip_when_estimate_over_gib": PILLOW_SKIP_ABOVE_BYTES >> 30,
            "reps_by_size": dict(config.pillow_reps),
            "default_reps": 1,
            "time_bound_s": config.pillow_budget_s,
        },
        "engine_reps": config.reps,
        "pillow_literal_quality_keep": keep_message,
        "lambda_price": {
            "usd_per_gb_s": cost.PRICE_PER_GB_S,
            "usd_per_million_requests": cost.PRICE_PER_MILLION_REQUESTS,
            "source": cost.PRICE_SOURCE,
        },
        "rows": rows,
        "ratios": report.ratios(rows),
        "skipped": skipped,
        "corpus_files": corpus_files,
        "total_run_s": round(time.perf_counter() - started, 1),
    }


def _corpus_files(measurements: Sequence[Measurement]) -> list[dict[str, Any]]:
    """Per corpus file and contender: produced, seconds, leftovers, pixels (for the JSON only)."""
    out = []
    for m in measurements:
        if m.group != "corpus":
            continue
        for f in m.result.get("files", []):
            e = m.evaluations.get(f["dst"], {})
            out.append(
                {
                    "contender": m.contender,
                    "file": Path(f["src"]).name,
                    "produced": f["produced"],
                    "seconds": round(f["latencies_s"][0], 4),
                    "detail": f["detail"],
                    "leftovers": e.get("leftovers"),
                    "identical": e.get("identical"),
                    "psnr_db": e.get("psnr_db"),
                }
            )
    return out


def markdown(payload: dict[str, Any], charts: Sequence[str]) -> str:
    """The human-readable results."""
    mc = payload["machine"]
    rows = payload["rows"]
    lines = [
        "# Scrubber benchmark",
        "",
        f"Written by `{payload['command']}` (`bench/scrubbers/`) on {mc['date_utc']}, commit {mc['git_commit']}"
        f"{' (the engine had uncommitted changes)' if mc.get('engine_uncommitted_changes') else ''}, "
        f"in {payload['total_run_s']:.0f} s. Every figure below comes from this one run, on the same files.",
        "",
        f"**Machine:** {mc['cpu']}, {mc['cores']} cores, {mc['memory_gib']} GiB RAM, {mc['os']}; "
        f"Python {mc['python']}, "
        f"ExifTool {mc['exiftool']} (project build), Pillow {mc['pillow']}, pillow-heif {mc['pillow_heif']} "
        f"(libheif {mc['libheif']}). Load average (1/5/15 min) before {mc['load_before']}, after {mc['load_after']} "
        "(the machine is shared; 2 cores).",
        "",
        f"**Inputs:** {payload['corpus']}; generated photos "
        + ", ".join(sorted({i["group"] for i in payload["generated_inputs"]}, key=_group_order))
        + " with GPS, camera make/model, serial numbers, timestamps, IPTC, XMP, comment, EXIF thumbnail (JPEG) and "
        "Orientation 6.",
        "",
        "**Contenders:**",
        "",
        *(f"- `{k}`: {v}" for k, v in payload["contenders"].items()),
        "- `exif-scrub clean --workers N`: the CLI over the whole corpus in one command (process start, ExifTool "
        "start, scrub and verification of every file); `exiftool x2 parallel`: `exiftool -all=` per file in 2 lanes.",
        "",
        f"Timed runs: engine and exiftool {payload['engine_reps']} per generated file after one untimed warm-up "
        "run on a tiny file of the same format; Pillow "
        + ", ".join(f"{n} per {s} file" for s, n in payload["pillow_bounds"]["reps_by_size"].items())
        + ", 1 per larger file; the corpus once per file. p50/p95 are over all timed runs of the row.",
        "",
        "## Issue 2's targets, from this run",
        "",
        report.ratio_table(payload["ratios"][:6]),
        "",
        "## Corpus",
        "",
        report.table([r for r in rows if r["group"] == "corpus"]),
        "",
        "Pixels identical = decoded pixels byte-equal to the input's (all frames up to 64 M pixels in all, else the "
        "first); PSNR is over RGB(A) where they differ. Leftovers = the engine's `scan` of each output (the audit's "
        "definition). Kept = counts of outputs whose Pillow format, displayed orientation, and frame count equal the "
        "input's. `exif-scrub clean --workers 1` and `exiftool x2 parallel` outputs are not re-evaluated (same "
        "commands as `--workers 2` and `exiftool`).",
        "",
        "## Generated photos",
        "",
        report.table([r for r in rows if r["group"] != "corpus"]),
        "",
    ]
    lines += [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    lines += ["", "## All ratios", "", report.ratio_table(payload["ratios"]), ""]
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        lines += [
            "## Where the engine's time goes",
            "",
            "Measured in the engine's child process by timing the ExifTool commands (by kind), Pillow probes, "
            "file copies and the format walkers; the rest is Python.",
            "",
        ]
        shown = ("corpus", "12MP JPEG", "48MP JPEG", "12MP PNG", "12MP HEIC", "12MP WEBP")
        for r in sorted((r for r in profiled if r["group"] in shown), key=lambda r: shown.index(r["group"])):
            lines += [report.profile_table(r), ""]
    lines += [
        "## Memory",
        "",
        payload["memory_note"],
        "",
        "## Lambda cost (estimate)",
        "",
        f"Price: {payload['lambda_price']['source']}. Memory setting = peak memory rounded up to 64 MB (at least "
        "128 MB); duration = the measured mean seconds per file on this machine (total s / files). Lambda gives "
        "less than one vCPU below 1,769 MB, so real durations at small settings are longer: an estimate, "
        "not a quote.",
        "",
        "## Pillow bounds and skips",
        "",
        f"Pillow children run under a {payload['pillow_bounds']['address_space_limit_gib']} GiB address-space "
        f"limit; a run estimated above {payload['pillow_bounds']['skip_when_estimate_over_gib']} GiB, or above "
        f"{payload['pillow_bounds']['time_bound_s']:.0f} s (extrapolated per megapixel from the smaller size "
        "of the same format in this run), is skipped. "
        f"Literal `quality='keep'` on the re-created image: "
        f"{payload['pillow_literal_quality_keep'] or 'accepted'}.",
        "",
    ]
    if payload["skipped"]:
        lines += [f"- skipped {s['contender']} on {s['input']}: {s['why']}" for s in payload["skipped"]]
    else:
        lines.append("Nothing was skipped.")
    failures = [(r["contender"], r["group"], r["failures"]) for r in rows if r.get("failures")]
    if failures:
        lines += ["", "## Files without output (most common reasons)", ""]
        for contender, group, reasons in failures:
            lines.append(f"- {contender} @ {group}: " + "; ".join(f"{n}x {why}" for why, n in reasons.items()))
    lines += ["", f"Reproduce: `{payload['command']}` (raw figures: `scrubbers.json`).", ""]
    return "\n".join(lines)


def _group_order(group: str) -> tuple[int, int]:
    size = group.split()[0]
    sizes = list(SIZES)
    fmt = group.split()[-1]
    return (sizes.index(size) if size in sizes else 99, FORMATS.index(fmt) if fmt in FORMATS else 99)


def write(payload: dict[str, Any], directory: Path = RESULTS, *, charts: bool = True) -> list[Path]:
    """Write ``scrubbers.json``, ``scrubbers.md`` and the PNG charts into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    drawn: list[Path] = []
    if charts:
        from .charts import draw

        drawn = draw(payload["rows"], directory)
    json_path = directory / "scrubbers.json"
    json_path.write_text(json.dumps(payload, indent=1, default=str) + "\n")
    md_path = directory / "scrubbers.md"
    md_path.write_text(markdown(payload, [str(p) for p in drawn]))
    return [md_path, json_path, *drawn]


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Scrubbers side by side on the same files, in one run.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--sizes", default=",".join(SIZES), help="of " + ", ".join(SIZES))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--reps", type=int, default=5, help="timed runs per generated file (engine, exiftool)")
    parser.add_argument("--quick", action="store_true", help="12MP only, 2 runs: a check that it all works")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep-outputs", action="store_true")
    args = parser.parse_args(argv)
    sizes = ["12MP"] if args.quick else [s for s in args.sizes.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}")
    config = Config(
        corpus=None if args.no_corpus else args.corpus,
        sizes={s: SIZES[s] for s in sizes},
        formats=[f.upper() for f in args.formats.split(",") if f],
        reps=2 if args.quick else args.reps,
        pillow_reps={"12MP": 1 if args.quick else 3},
        keep_outputs=args.keep_outputs,
    )
    payload = collect(config)
    for path in write(payload, args.results):
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    for item in payload["ratios"][:6]:
        print(f"{item['comparison']}: {item['value']} (met: {item['met']})")


if __name__ == "__main__":
    main()
