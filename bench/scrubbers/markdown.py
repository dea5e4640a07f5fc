"""``scrubbers.md``: the targets first, then how they were measured, the tables, the profile and the notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import report
from .run import CLI1, ENGINE

PROFILED_FIRST = ("12MP JPEG", "24MP JPEG", "12MP PNG", "corpus")


def _header(payload: dict[str, Any]) -> list[str]:
    c, mc = payload["commit"], payload["machine"]
    dirty = (
        f"the tree had uncommitted changes ({', '.join(c['changed_paths'][:6])})"
        if c["tree_dirty"]
        else "the tree was clean"
    )
    return [
        "# Scrubber benchmark",
        "",
        f"Written by `{payload['command']}` (`bench/scrubbers/`) on {mc['date_utc']} in "
        f"{payload['total_run_s']:.0f} s. "
        f"Commit `{c['git_commit']}`, read at the start of the run; {dirty}. Every figure comes from this one run.",
        "",
        f"**Machine:** {mc['cpu']}, {mc['cores']} cores, {mc['memory_gib']} GiB RAM, {mc['os']}; Python "
        f"{mc['python']}, ExifTool {mc['exiftool']} (project build), Pillow {mc['pillow']}, pillow-heif "
        f"{mc['pillow_heif']} (libheif {mc['libheif']}). Load average (1/5/15 min) before {mc['load_before']}, "
        f"after {mc['load_after']}: the machine is shared with other jobs (per group in `scrubbers.json`).",
        "",
        f"**Same cores:** every headline contender is a process pinned to CPU(s) {payload['cpus']} (affinity set "
        "before it starts, inherited by ExifTool and everything else it starts); the `corpus, 2 cores` rows pin both "
        "contenders to the same 2 CPUs. The project's modules are compiled to bytecode before the run, as "
        "`pip install` does.",
        "",
        "**Interleaved:** per repetition each contender handles the group once (a photo, or the whole corpus), in "
        "an order that rotates from one repetition to the next; figures are medians over repetitions. Repetitions: "
        f"{payload['reps']['generated']} per generated photo, {payload['reps']['corpus']} over the corpus, Pillow "
        + ", ".join(f"{n} on {g}" for g, n in payload["reps"]["pillow"].items())
        + " and 1 elsewhere. The full order is `schedule` in `scrubbers.json`.",
        "",
        f"**Inputs:** {payload['corpus']}; generated photos "
        + ", ".join(dict.fromkeys(i["group"] for i in payload["generated_inputs"]))
        + " with GPS, camera make/model, serial numbers, timestamps, IPTC, XMP, comment, EXIF thumbnail (JPEG) and "
        "Orientation 6. Each contender first handles a tiny photo of the same format, untimed.",
        "",
        "**Contenders:**",
        "",
        *(f"- `{k}`: {v}" for k, v in payload["contenders"].items()),
        "",
    ]


def _startup(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "## Start-up, shown separately",
        "",
        "`exif-scrub clean`: spawn to the warm-up file's line (Python, imports, ExifTool start, one tiny file) and "
        "last line to exit; not in the per-file times above. Engine: creating the warm `Scrubber` (ExifTool "
        "start, `warm_up`) and its first tiny file, in its worker.",
        "",
        "| input | CLI start-up (median) | CLI shut-down | CLI whole command (median) | engine start-up "
        "| load (1 min) before -> after the group |",
        "|---|---|---|---|---|---|",
    ]
    for group in dict.fromkeys(r["group"] for r in rows):
        cli = next((r for r in rows if r["group"] == group and r["contender"] == CLI1 and "seconds" in r), None)
        engine = next((r for r in rows if r["group"] == group and r["contender"] == ENGINE and "seconds" in r), None)
        if cli or engine:
            c, e = cli or {}, engine or {}
            lines.append(
                f"| {group} | {report.ms(c.get('startup_s'))} | {report.ms(c.get('shutdown_s'))}"
                f" | {report.ms(c.get('seconds'))} | {report.ms(e.get('startup_s'))} | {_load(c or e)} |"
            )
    return [*lines, ""]


def _load(row: dict[str, Any]) -> str:
    before, after = row.get("load_before"), row.get("load_after")
    return f"{before[0]:.2f} -> {after[0]:.2f}" if before and after else "-"


def _corpus(rows: Sequence[dict[str, Any]]) -> list[str]:
    corpus = [r for r in rows if r["group"].startswith("corpus")]
    if not corpus:
        return []
    lines = ["## Corpus", "", report.table(corpus), ""]
    cli = next((r for r in corpus if r["contender"] == CLI1 and "seconds" in r), None)
    if cli:
        lines += [
            f"`{CLI1}` over the corpus: {cli['seconds']:.2f} s for the whole command = start-up "
            f"{report.ms(cli['startup_s'])} + files {cli['per_file_sum_s']:.2f} s + shut-down "
            f"{report.ms(cli['shutdown_s'])} (medians). Rows in seconds per repetition: the whole command for the "
            "CLI rows and `exiftool x2 parallel`, the sum of per-file times for `engine`, `exiftool` and Pillow.",
            "",
        ]
    lines += [
        "Pixels identical = decoded pixels byte-equal to the input's (all frames up to 64 M pixels in all, else the "
        "first); PSNR over RGB(A) where they differ. Leftovers = the engine's `scan` of each output (the audit's "
        "definition). Kept = outputs whose Pillow format, displayed orientation and frame count equal the input's. "
        "The 2-core rows are not re-evaluated (same commands).",
        "",
    ]
    return lines


def _profiles(rows: Sequence[dict[str, Any]]) -> list[str]:
    profiled = [r for r in rows if r.get("profile")]
    if not profiled:
        return []
    order = {g: i for i, g in enumerate(PROFILED_FIRST)}
    profiled.sort(key=lambda r: order.get(r["group"], len(order)))
    lines = [
        "## Where the engine's time goes",
        "",
        "After the timed runs, in the engine's worker: each step wrapped with a timer (the engine is not edited). "
        "ExifTool commands = round trips to the warm process; parsing = turning its JSON into tags; a step inside "
        "another keeps its own time; the rest is the engine's own Python. The timers add a little.",
        "",
    ]
    for row in profiled:
        lines += [report.profile_table(row), ""]
    return lines


def _notes(payload: dict[str, Any]) -> list[str]:
    bounds = payload["pillow_bounds"]
    lines = [
        "## Memory",
        "",
        payload["memory_note"],
        "",
        "## Lambda cost (estimate)",
        "",
        f"Price: {payload['lambda_price']['source']}. Memory setting = peak memory rounded up to 64 MB (at least "
        "128 MB); duration = the measured median seconds per file on this machine (for `exif-scrub clean`: without "
        "its start-up, as a warm Lambda container has none). Lambda gives less than one "
        "vCPU below 1,769 MB, so real durations at small settings are longer: an estimate, not a quote.",
        "",
        "## Pillow bounds and skips",
        "",
        f"Pillow workers run under a {bounds['address_space_limit_gib']} GiB address-space limit; a run estimated "
        f"above {bounds['skip_when_estimate_over_gib']} GiB, or above {bounds['time_bound_s']:.0f} s (extrapolated "
        "per megapixel from the smaller photo of the same format in this run), is skipped. Literal "
        f"`quality='keep'` on the re-created image: {payload['pillow_literal_quality_keep'] or 'accepted'}.",
        "",
    ]
    if payload["skipped"]:
        lines += [f"- skipped {s['contender']} on {s['input']} ({s['group']}): {s['why']}" for s in payload["skipped"]]
    else:
        lines.append("Nothing was skipped.")
    failures = [(r["contender"], r["group"], r["failures"]) for r in payload["rows"] if r.get("failures")]
    if failures:
        lines += ["", "## Files without output (most common reasons)", ""]
        for contender, group, reasons in failures:
            lines.append(f"- {contender} @ {group}: " + "; ".join(f"{n}x {why}" for why, n in reasons.items()))
    errors = [(r["contender"], r["group"], r["error"]) for r in payload["rows"] if r.get("error")]
    if errors:
        lines += ["", "## Errors", "", *(f"- {c} @ {g}: {e}" for c, g, e in errors)]
    return lines


def _audit(payload: dict[str, Any]) -> list[str]:
    audit = payload.get("audit")
    if not audit:
        return ["## Audit", "", "Not run (`--no-audit`, or no corpus).", ""]
    s3 = audit["runs"]["s3"]
    return [
        "## Audit",
        "",
        f"`exif-audit` {s3['exif-audit']['objects_per_s']:.1f} objects/s against the naive audit's "
        f"{s3['naive']['objects_per_s']:.1f} on the same moto bucket ({audit['objects']} objects), both pinned "
        f"to CPU(s) {audit['cpus']} (exif-audit: {audit['workers']} concurrent reads, "
        f"{audit['exiftool_processes']} ExifTool processes on those CPUs; the server on {audit['server_cpus']}). "
        "Details: [audit_bench.md](audit_bench.md).",
        "",
    ]


def markdown(payload: dict[str, Any], charts: Sequence[str]) -> str:
    """The human-readable results."""
    rows = payload["rows"]
    lines = _header(payload)
    lines += ["## Targets, from this run", "", report.target_table(payload["targets"]), ""]
    lines += [
        "Per-file figures are medians (p50) over the interleaved repetitions; the CLI's per-file time excludes its "
        "start-up (next section), `exiftool`'s includes its own process start (one process per file is that "
        "contender). The corpus target compares whole commands: the CLI's start-up is included.",
        "",
    ]
    lines += _startup(rows)
    lines += _corpus(rows)
    lines += ["## Generated photos", "", report.table([r for r in rows if not r["group"].startswith("corpus")]), ""]
    lines += [f"![{name.removesuffix('.png')}]({name})" for name in charts]
    lines += ["", *_profiles(rows)]
    lines += ["## Context ratios (no target)", "", report.context_table(payload["context_ratios"]), ""]
    lines += _audit(payload)
    lines += _notes(payload)
    lines += ["", f"Reproduce: `{payload['command']}` (raw figures: `scrubbers.json`).", ""]
    return "\n".join(lines)
