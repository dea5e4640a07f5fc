"""Turn measurements into rows, issue 2's ratios, markdown and JSON."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import cost
from .run import Measurement

CONTENDER_NOTES = {
    "engine": "this project's engine, warm (1 ExifTool -stay_open process), scrub + verification, per file",
    "exiftool": "`exiftool -all= -o OUT IN`, one process per file, sequential",
    "pillow": "original design: `list(getdata())` + `Image.new` + `putdata`, `save(format=image.format)`",
    "pillow-keep": "same, saved with the source JPEG's quantisation tables and subsampling (= quality='keep')",
}


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
    """Peak memory of the contender in MB (MiB), as defined in :data:`MEMORY_NOTE`."""
    r = m.result
    if "self_hwm_kb" not in r:
        return None
    if m.kind == "batch":
        return int(r.get("sampled_tree_peak_kb", 0)) / 1024
    return (int(r["self_hwm_kb"]) + int(r.get("exiftool_hwm_kb", 0))) / 1024


MEMORY_NOTE = (
    "Each contender runs in a fresh child process. Peak memory = the child's own peak RSS (`VmHWM`: the Python "
    "process running the contender, with its imports) + the peak RSS of the largest ExifTool process it used: the "
    "warm `-stay_open` ExifTool of `engine` (its `VmHWM`, read before it is stopped), or the biggest "
    "`exiftool -all=` process of `exiftool` (one extra untimed run per file under `/usr/bin/time -f %M`); "
    "nothing for Pillow. Each term at its own peak, so the sum bounds what was resident at once from above. "
    "Whole-set runs (`exif-scrub clean`, `exiftool x2 parallel`): the largest summed RSS of all processes of the "
    "command, sampled every 20 ms. In MiB. `getrusage(...).ru_maxrss` is in the JSON too (`self_maxrss_mb`, "
    "`children_maxrss_mb`) but not used: on Linux it survives `exec`, so a child spawned (via vfork) by a big "
    "process reports that process's peak (the first trial run showed 389 MiB for every child of a 389 MiB parent)."
)


def summarize(m: Measurement) -> dict[str, Any]:
    """One table row of a measurement."""
    files = m.result.get("files", [])
    row: dict[str, Any] = {
        "contender": m.contender,
        "group": m.group,
        "kind": m.kind,
        "inputs": len(files),
        "skipped": m.skipped,
    }
    if "error" in m.result:
        row["error"] = m.result["error"]
        return row
    if not files:
        return row
    samples = [s for f in files for s in f["latencies_s"]]
    per_file_median = [statistics.median(f["latencies_s"]) for f in files]
    seconds = m.result["wall_s"] if m.kind == "batch" else sum(per_file_median)
    bytes_in = sum(Path(f["src"]).stat().st_size for f in files)
    produced = [f for f in files if f["produced"]]
    evals = [m.evaluations[f["dst"]] for f in produced if f["dst"] in m.evaluations]
    peak = peak_mb(m)
    mean_s = seconds / len(files)
    estimate = cost.estimate(mean_s, peak) if peak is not None and produced else None
    psnrs = [e["psnr_db"] for e in evals if e.get("psnr_db") is not None]
    row.update(
        produced=len(produced),
        seconds=round(seconds, 3),
        files_per_s=round(len(files) / seconds, 3),
        mb_per_s=round(bytes_in / 1e6 / seconds, 2),
        p50_s=round(percentile(samples, 50), 4),
        p95_s=round(percentile(samples, 95), 4),
        runs=len(samples),
        peak_mb=round(peak, 1) if peak is not None else None,
        self_hwm_mb=round(m.result["self_hwm_kb"] / 1024, 1),
        exiftool_hwm_mb=round(m.result.get("exiftool_hwm_kb", 0) / 1024, 1),
        self_maxrss_mb=round(m.result["self_maxrss_kb"] / 1024, 1),
        children_maxrss_mb=round(m.result["children_maxrss_kb"] / 1024, 1),
        bytes_out_over_in=round(sum(e["bytes_out"] for e in evals) / sum(e["bytes_in"] for e in evals), 4)
        if evals and "bytes_in" in evals[0]
        else None,
        evaluated=len(evals),
        identical=sum(e.get("identical") is True for e in evals),
        psnr_min_db=min(psnrs) if psnrs else None,
        psnr_median_db=round(statistics.median(psnrs), 2) if psnrs else None,
        leftover_files=sum(bool(e.get("leftovers")) for e in evals),
        leftover_tags=sum(e.get("leftovers", 0) for e in evals),
        format_kept=sum(e.get("format_kept") is True for e in evals),
        orientation_kept=sum(e.get("orientation_kept") is True for e in evals),
        frames_kept=sum(e.get("frames_kept") is True for e in evals),
        failures=dict(Counter((f["detail"] or "no output")[:90] for f in files if not f["produced"]).most_common(6)),
        lambda_memory_mb=estimate.memory_mb if estimate else None,
        lambda_usd_per_million=estimate.usd_per_million if estimate else None,
    )
    if m.result.get("profile"):
        row["profile"] = m.result["profile"]
    if "sampled_tree_peak_kb" in m.result:
        row["sampled_tree_peak_mb"] = round(m.result["sampled_tree_peak_kb"] / 1024, 1)
    return row


def _find(rows: Sequence[dict[str, Any]], contender: str, group: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["contender"] == contender and r["group"] == group and "seconds" in r), None)


def ratios(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 2's speed targets, and the same comparisons for context, from this run's rows."""
    out: list[dict[str, Any]] = []

    def add(
        name: str,
        fast: dict[str, Any] | None,
        slow: dict[str, Any] | None,
        metric: str,
        target: float | None,
        better: str,
    ) -> None:
        if fast is None or slow is None or not fast.get(metric) or not slow.get(metric):
            out.append(
                {"comparison": name, "value": None, "target": target, "met": None, "note": "not measured in this run"}
            )
            return
        value = slow[metric] / fast[metric] if better == "higher" else fast[metric] / slow[metric]
        met = None if target is None else (value >= target if better == "higher" else value <= target)
        out.append(
            {
                "comparison": name,
                "value": round(value, 3),
                "target": target,
                "met": met,
                "fast": f"{fast['contender']} @ {fast['group']}: {fast[metric]}",
                "slow": f"{slow['contender']} @ {slow['group']}: {slow[metric]}",
                "metric": metric,
            }
        )

    corpus_et = _find(rows, "exiftool", "corpus")
    add(
        "corpus: exiftool -all= per file (s) / exif-scrub clean incl. verification (s) [issue 2: >= 4x]",
        _find(rows, "exif-scrub clean --workers 2", "corpus"),
        corpus_et,
        "seconds",
        4.0,
        "higher",
    )
    add(
        "corpus, one core each: exiftool per file / exif-scrub clean --workers 1",
        _find(rows, "exif-scrub clean --workers 1", "corpus"),
        corpus_et,
        "seconds",
        None,
        "higher",
    )
    add(
        "corpus, both on 2 cores: exiftool x2 parallel / exif-scrub clean --workers 2",
        _find(rows, "exif-scrub clean --workers 2", "corpus"),
        _find(rows, "exiftool x2 parallel", "corpus"),
        "seconds",
        None,
        "higher",
    )
    add(
        "corpus: exiftool per file / engine warm (sum of per-file times)",
        _find(rows, "engine", "corpus"),
        corpus_et,
        "seconds",
        None,
        "higher",
    )
    add(
        "12MP JPEG: Pillow putdata p50 / engine p50 [issue 2: >= 20x]",
        _find(rows, "engine", "12MP JPEG"),
        _find(rows, "pillow", "12MP JPEG"),
        "p50_s",
        20.0,
        "higher",
    )
    add(
        "12MP JPEG: engine peak memory / Pillow putdata peak memory [issue 2: <= 0.2]",
        _find(rows, "engine", "12MP JPEG"),
        _find(rows, "pillow", "12MP JPEG"),
        "peak_mb",
        0.2,
        "lower",
    )
    for group in sorted({r["group"] for r in rows if r["group"] != "corpus"}):
        add(
            f"{group}: Pillow putdata p50 / engine p50",
            _find(rows, "engine", group),
            _find(rows, "pillow", group),
            "p50_s",
            None,
            "higher",
        )
        add(
            f"{group}: exiftool per file p50 / engine p50",
            _find(rows, "engine", group),
            _find(rows, "exiftool", group),
            "p50_s",
            None,
            "higher",
        )
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _row_cells(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [r["contender"], r["group"], f"error: {r['error']}"] + [""] * 12
    ev = r.get("evaluated", 0)
    fidelity = f"{r.get('identical', 0)}/{ev}"
    if r.get("psnr_min_db") is not None:
        fidelity += f" (PSNR min {r['psnr_min_db']:.1f} dB)"
    return [
        r["contender"],
        r["group"],
        f"{r.get('produced', 0)}/{r['inputs']}",
        _fmt(r.get("seconds")),
        _fmt(r.get("files_per_s")),
        _fmt(r.get("mb_per_s")),
        _fmt(r.get("p50_s")),
        _fmt(r.get("p95_s")),
        _fmt(r.get("peak_mb"), 4),
        _fmt(r.get("bytes_out_over_in")),
        fidelity,
        f"{r.get('leftover_files', 0)} ({r.get('leftover_tags', 0)} tags)" if ev else "-",
        f"{r.get('format_kept', 0)}/{r.get('orientation_kept', 0)}/{r.get('frames_kept', 0)}" if ev else "-",
        _fmt(r.get("lambda_memory_mb")),
        f"${r['lambda_usd_per_million']:,.2f}" if r.get("lambda_usd_per_million") else "-",
    ]


TABLE_HEAD = (
    "| contender | input | produced | total s | files/s | MB/s | p50 s | p95 s | peak MiB | bytes out/in "
    "| pixels identical | leftover files | format/orientation/frames kept | Lambda MB | est. $ per 1M |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The markdown table of ``rows``."""
    return "\n".join([TABLE_HEAD, *("| " + " | ".join(_row_cells(r)) + " |" for r in rows)])


def ratio_table(items: Sequence[dict[str, Any]]) -> str:
    """The markdown table of the ratios."""
    lines = ["| comparison | ratio | target | met |", "|---|---|---|---|"]
    for item in items:
        met = {True: "**yes**", False: "**no**", None: "-"}[item["met"]]
        value = (
            "-"
            if item["value"] is None
            else f"{item['value']:.3g}x"
            if item.get("metric") != "peak_mb"
            else f"{item['value']:.3g}"
        )
        lines.append(f"| {item['comparison']} | {value} | {_fmt(item['target'])} | {met} |")
    return "\n".join(lines)


def profile_table(row: dict[str, Any]) -> str:
    """Where the engine's time goes, per run, for one row with a profile."""
    profile = row["profile"]
    total = profile["total_per_run_ms"]
    lines = [
        f"Engine on **{row['group']}**, {total:.1f} ms per file on average:",
        "",
        "| step | ms per file | share | calls per file |",
        "|---|---|---|---|",
    ]
    for step, ms in profile["per_run_ms"].items():
        calls = profile["calls_per_run"].get(step)
        lines.append(f"| {step} | {ms:.1f} | {ms / total:.0%} | {_fmt(calls)} |")
    hashing = profile.get("hash_cost_ms")
    if hashing:
        lines.append("")
        lines.append(
            f"One engine read of the first input: {hashing['read with hash']:.1f} ms with `-ImageDataHash`, "
            f"{hashing['read without hash']:.1f} ms without it."
        )
    return "\n".join(lines)
