"""Turn measurements into rows and the targets (met or not), for the JSON and the markdown."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import cost
from .run import CLI1, CLI2, ENGINE, EXIFTOOL, EXIFTOOL2, PILLOW, Measurement

CONTENDER_NOTES = {
    CLI1: "the real CLI command, one process over a folder (the warm-up file first), 1 file at a time: "
    "per-file time = gap between two files' output lines; start-up = spawn to the warm-up file's line",
    ENGINE: "this project's engine in a warm process (1 ExifTool -stay_open process): `Scrubber.scrub_file`, "
    "scrub + full proof, per file",
    EXIFTOOL: "`exiftool -all= -o OUT IN`, one process per file, sequential, the same pinned ExifTool",
    PILLOW: "original design: `list(getdata())` + `Image.new` + `putdata`, `save(format=image.format)`",
    "pillow-keep": "same, saved with the source JPEG's quantisation tables and subsampling (= quality='keep')",
    CLI2: "the CLI with 2 workers over the corpus (whole command)",
    EXIFTOOL2: "`exiftool -all=` per file in 2 parallel lanes",
}

MEMORY_NOTE = (
    "Peak memory (MiB): in-process contenders = the worker's own peak RSS (`VmHWM`, with its imports) + the largest "
    "peak RSS of the processes it started (the engine's warm ExifTool), read before they stop; `exiftool` = the "
    "largest peak RSS of `exiftool -all=` (an extra untimed run on the 10 largest inputs under "
    "`/usr/bin/time -f %M`); `exif-scrub clean` = the largest summed RSS of the command's process tree, sampled "
    "every 20 ms. `getrusage().ru_maxrss` is not used: on Linux it survives `exec`, so a child spawned (via vfork) "
    "by a big process reports that process's peak."
)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def peak_mb(m: Measurement) -> float | None:
    """Peak memory of the contender in MiB, as :data:`MEMORY_NOTE` defines it."""
    if m.commands:
        return max(int(c["sampled_tree_peak_kb"]) for c in m.commands) / 1024
    if "self_hwm_kb" in m.memory:
        return (int(m.memory["self_hwm_kb"]) + int(m.memory.get("children_hwm_kb", 0))) / 1024
    if m.memory.get("children_hwm_kb"):
        return int(m.memory["children_hwm_kb"]) / 1024
    return None


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summarize(m: Measurement) -> dict[str, Any]:
    """One table row of a measurement."""
    row: dict[str, Any] = {
        "contender": m.contender,
        "group": m.group,
        "cpus": list(m.spec.cpus),
        "reps": len(m.rep_seconds),
        "inputs": len(m.files),
        "skipped": m.skipped,
        "load_before": m.memory.get("load_before"),
        "load_after": m.memory.get("load_after"),
    }
    if m.errors:
        row["error"] = "; ".join(m.errors)[:300]
    if not m.files or not m.rep_seconds:
        return row
    samples = [s for f in m.files for s in f.latencies_s]
    seconds = statistics.median(m.rep_seconds)
    bytes_in = sum(f.src.stat().st_size for f in m.files)
    produced = [f for f in m.files if f.produced]
    evals = [m.evaluations[str(f.dst)] for f in produced if str(f.dst) in m.evaluations]
    peak = peak_mb(m)
    files_s = statistics.median(c["per_file_sum_s"] for c in m.commands) if m.commands else seconds
    # Lambda runs a warm engine: a command's start-up is not part of the cost of a file
    estimate = cost.estimate(files_s / len(m.files), peak) if peak is not None and produced else None
    psnrs = [e["psnr_db"] for e in evals if e.get("psnr_db") is not None]
    row.update(
        produced=len(produced),
        seconds=round(seconds, 4),
        rep_seconds=[round(s, 4) for s in m.rep_seconds],
        per_file_sum_s=_round(_median([c["per_file_sum_s"] for c in m.commands])) if m.commands else round(seconds, 4),
        startup_s=_round(_median([c["startup_s"] for c in m.commands]))
        if m.commands
        else _round(m.startup.get("open_s", 0) + m.startup.get("warmup_s", 0))
        if m.startup
        else None,
        shutdown_s=_round(_median([c["shutdown_s"] for c in m.commands])) if m.commands else None,
        files_per_s=round(len(m.files) / seconds, 3),
        mb_per_s=round(bytes_in / 1e6 / seconds, 2),
        p50_s=round(percentile(samples, 50), 4) if samples else None,
        p95_s=round(percentile(samples, 95), 4) if samples else None,
        runs=len(samples),
        peak_mb=_round(peak, 1),
        bytes_out_over_in=round(sum(e["bytes_out"] for e in evals) / sum(e["bytes_in"] for e in evals), 4)
        if evals and all("bytes_in" in e for e in evals)
        else None,
        evaluated=len(evals),
        identical=sum(e.get("identical") is True for e in evals),
        psnr_min_db=min(psnrs) if psnrs else None,
        leftover_files=sum(bool(e.get("leftovers")) for e in evals),
        leftover_tags=sum(e.get("leftovers", 0) for e in evals),
        format_kept=sum(e.get("format_kept") is True for e in evals),
        orientation_kept=sum(e.get("orientation_kept") is True for e in evals),
        frames_kept=sum(e.get("frames_kept") is True for e in evals),
        failures=dict(Counter((f.detail or "no output")[:90] for f in m.files if not f.produced).most_common(6)),
        lambda_memory_mb=estimate.memory_mb if estimate else None,
        lambda_usd_per_million=estimate.usd_per_million if estimate else None,
    )
    if m.profile:
        row["profile"] = m.profile
    return row


@dataclass(frozen=True)
class Target:
    """One target: ``slow / fast`` (higher is better) or ``fast / slow`` (lower is better) on ``metric``."""

    name: str
    group: str
    fast: str
    slow: str
    metric: str
    target: float
    better: str  # "higher" or "lower"
    before: str
    inputs: str


TARGETS = (
    Target(
        "exif-scrub clean --workers 1 vs Pillow putdata, per file (Pillow / CLI)",
        "12MP JPEG", CLI1, PILLOW, "p50_s", 25.0, "higher", "9x", "generated 12 MP JPEG",
    ),
    Target(
        "exif-scrub clean --workers 1 vs exiftool -all= per file (CLI / exiftool)",
        "12MP JPEG", CLI1, EXIFTOOL, "p50_s", 0.6, "lower", "1.42 (180 vs 127 ms)", "generated 12 MP JPEG",
    ),
    Target(
        "exif-scrub clean --workers 1 vs exiftool -all= per file (CLI / exiftool)",
        "24MP JPEG", CLI1, EXIFTOOL, "p50_s", 0.6, "lower", "3.03 (370 vs 122 ms)", "generated 24 MP JPEG",
    ),
    Target(
        "exif-scrub clean --workers 1 vs exiftool -all= per file (CLI / exiftool)",
        "12MP PNG", CLI1, EXIFTOOL, "p50_s", 0.6, "lower", "1.06 (3.3 vs 3.1 s)", "generated 12 MP PNG",
    ),
    Target(
        "corpus, one core each: exiftool -all= per file (sum) / exif-scrub clean --workers 1 (whole command, "
        "start-up included)",
        "corpus", CLI1, EXIFTOOL, "seconds", 6.0, "higher", "4.7x", "the corpus",
    ),
)  # fmt: skip
"""The scrubber targets; the audit's is added by :func:`audit_target`."""


def _find(rows: Sequence[dict[str, Any]], contender: str, group: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["contender"] == contender and r["group"] == group and "seconds" in r), None)


def evaluate_target(target: Target, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The measured ratio of ``target`` and whether it is met (None when not measured)."""
    fast, slow = _find(rows, target.fast, target.group), _find(rows, target.slow, target.group)
    result: dict[str, Any] = {
        "target_name": target.name,
        "group": target.group,
        "inputs": target.inputs,
        "target": target.target,
        "better": target.better,
        "before": target.before,
        "metric": target.metric,
    }
    if fast is None or slow is None or not fast.get(target.metric) or not slow.get(target.metric):
        return {**result, "value": None, "met": None, "note": "not measured in this run"}
    broken = [side["error"] for side in (fast, slow) if side.get("error")]
    if broken:
        return {**result, "value": None, "met": None, "note": f"not measured: {broken[0][:200]}"}
    a, b = fast[target.metric], slow[target.metric]
    value = b / a if target.better == "higher" else a / b
    met = value >= target.target if target.better == "higher" else value <= target.target
    return {
        **result,
        "value": round(value, 3),
        "met": met,
        "fast": {"contender": target.fast, target.metric: a, "cpus": fast["cpus"], "reps": fast["reps"]},
        "slow": {"contender": target.slow, target.metric: b, "cpus": slow["cpus"], "reps": slow["reps"]},
    }


def audit_target(audit: dict[str, Any] | None) -> dict[str, Any]:
    """The audit's target from :mod:`bench.audit_bench`'s result."""
    base = {
        "target_name": "exif-audit objects/s / naive audit objects/s (same bucket, same CPUs)",
        "group": "audit",
        "inputs": "the corpus in a moto S3 bucket",
        "target": 10.0,
        "better": "higher",
        "before": "3.8x",
        "metric": "objects_per_s",
    }
    run = (audit or {}).get("runs", {}).get("s3")
    if not run:
        return {**base, "value": None, "met": None, "note": "not measured in this run"}
    return {
        **base,
        "value": round(run["speedup"], 3),
        "met": run["speedup"] >= 10.0,
        "fast": {"contender": "exif-audit", "objects_per_s": round(run["exif-audit"]["objects_per_s"], 2)},
        "slow": {"contender": "naive audit", "objects_per_s": round(run["naive"]["objects_per_s"], 2)},
    }


def context_ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same comparisons for the warm engine (no start-up), the other inputs and two cores: context only."""
    out = []

    def add(name: str, group: str, fast: str, slow: str, metric: str, better: str = "higher") -> None:
        a, b = _find(rows, fast, group), _find(rows, slow, group)
        if a and b and a.get(metric) and b.get(metric):
            value = b[metric] / a[metric] if better == "higher" else a[metric] / b[metric]
            out.append({"comparison": name, "group": group, "value": round(value, 3), "fast": a[metric],
                        "slow": b[metric], "metric": metric})  # fmt: skip

    for group in dict.fromkeys(r["group"] for r in rows if not r["group"].startswith("corpus")):
        add("Pillow / CLI, per file p50", group, CLI1, PILLOW, "p50_s")
        add("CLI / exiftool, per file p50", group, CLI1, EXIFTOOL, "p50_s", "lower")
        add("engine warm / exiftool, per file p50", group, ENGINE, EXIFTOOL, "p50_s", "lower")
        add("Pillow / engine warm, per file p50", group, ENGINE, PILLOW, "p50_s")
    add("exiftool (sum) / CLI per-file sum (start-up excluded)", "corpus", CLI1, EXIFTOOL, "per_file_sum_s")
    add("exiftool (sum) / engine warm (sum)", "corpus", ENGINE, EXIFTOOL, "seconds")
    add("exiftool x2 parallel / CLI --workers 2 (both on 2 CPUs)", "corpus, 2 cores", CLI2, EXIFTOOL2, "seconds")
    add("engine peak memory / Pillow peak memory [issue 2: <= 0.2]", "12MP JPEG", ENGINE, PILLOW, "peak_mb", "lower")
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(map(str, cpus))


def _row_cells(r: dict[str, Any]) -> list[str]:
    if "seconds" not in r:
        why = r.get("error") or "; ".join(s["why"] for s in r.get("skipped", [])) or "not run"
        return [r["contender"], r["group"], _cpus(r["cpus"]), why] + [""] * 13
    ev = r.get("evaluated", 0)
    fidelity = f"{r.get('identical', 0)}/{ev}"
    if r.get("psnr_min_db") is not None:
        fidelity += f" (PSNR min {r['psnr_min_db']:.1f} dB)"
    return [
        r["contender"],
        r["group"],
        _cpus(r["cpus"]),
        f"{r.get('produced', 0)}/{r['inputs']}",
        str(r["reps"]),
        _fmt(r.get("seconds")),
        ms(r.get("startup_s")),
        ms(r.get("p50_s")),
        ms(r.get("p95_s")),
        _fmt(r.get("mb_per_s")),
        _fmt(r.get("peak_mb"), 4),
        _fmt(r.get("bytes_out_over_in")),
        fidelity,
        f"{r.get('leftover_files', 0)} ({r.get('leftover_tags', 0)} tags)" if ev else "-",
        f"{r.get('format_kept', 0)}/{r.get('orientation_kept', 0)}/{r.get('frames_kept', 0)}" if ev else "-",
        _fmt(r.get("lambda_memory_mb")),
        f"${r['lambda_usd_per_million']:,.2f}" if r.get("lambda_usd_per_million") else "-",
    ]


TABLE_HEAD = (
    "| contender | input | CPUs | produced | reps | s per rep (median) | start-up | p50 per file | p95 per file "
    "| MB/s | peak MiB | bytes out/in | pixels identical | leftover files | format/orientation/frames kept "
    "| Lambda MB | est. $ per 1M |\n" + "|---" * 17 + "|"
)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The markdown table of ``rows``."""
    return "\n".join([TABLE_HEAD, *("| " + " | ".join(_row_cells(r)) + " |" for r in rows)])


def _side(side: dict[str, Any] | None, metric: str) -> str:
    if not side:
        return "-"
    value = side[metric]
    if metric == "objects_per_s":
        shown = f"{value:,.1f} objects/s"
    elif metric == "seconds":
        shown = f"{value:.2f} s"
    else:
        shown = ms(value)
    return f"{side['contender']}: {shown}"


def target_table(targets: Sequence[dict[str, Any]]) -> str:
    """The headline: each target, the measured ratio, met or not."""
    lines = [
        "| target | inputs | measured (fast side) | measured (slow side) | ratio | target | before | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        met = {True: "**met**", False: "**NOT met**", None: "not measured"}[t["met"]]
        ratio = "-" if t["value"] is None else f"{t['value']:.3g}" + ("x" if t["better"] == "higher" else "")
        goal = f">= {t['target']:g}x" if t["better"] == "higher" else f"<= {t['target']:g}"
        lines.append(
            f"| {t['target_name']} | {t['inputs']} | {_side(t.get('fast'), t['metric'])} | "
            f"{_side(t.get('slow'), t['metric'])} | {ratio} | {goal} | {t['before']} | {met} |"
        )
    return "\n".join(lines)


def context_table(items: Sequence[dict[str, Any]]) -> str:
    """Context ratios (no target)."""
    lines = ["| input | comparison | ratio |", "|---|---|---|"]
    lines += [f"| {i['group']} | {i['comparison']} | {i['value']:.3g} |" for i in items]
    return "\n".join(lines)


def profile_table(row: dict[str, Any]) -> str:
    """Where the engine's time goes, per file, for one row with a profile."""
    profile = row["profile"]["profile"]
    total = profile["total_per_run_ms"]
    lines = [
        f"Engine (`scrub_file`, warm) on **{row['group']}**: {total:.1f} ms per file with the steps timed "
        f"({profile['runs']} runs; the untimed p50 above was {ms(row.get('p50_s'))}):",
        "",
        "| step | ms per file | share | calls per file |",
        "|---|---|---|---|",
    ]
    for step, step_ms in profile["per_run_ms"].items():
        calls = profile["calls_per_run"].get(step)
        lines.append(f"| {step} | {step_ms:.1f} | {step_ms / total:.0%} | {_fmt(calls)} |")
    top = row["profile"].get("top")
    if top:
        lines += [
            "",
            "<details><summary>Top functions by own time, one run under cProfile</summary>",
            "",
            "| function | calls | own ms | cumulative ms |",
            "|---|---|---|---|",
            *(f"| `{t['function']}` | {t['calls']} | {t['own_ms']} | {t['cumulative_ms']} |" for t in top),
            "",
            "</details>",
        ]
    return "\n".join(lines)
