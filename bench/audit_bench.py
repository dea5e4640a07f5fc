"""``exif-audit`` against a naive audit on the same bucket, interleaved, on the same CPUs.

    .venv/bin/python -m bench.audit_bench [--corpus ../shared/corpus] [--reps 3] [--cpus 1] [--workers 16]
                                          [--no-local] [--quick]

The bucket is a moto S3 server (a process of its own on the other CPUs, so both audits talk to the same server
without sharing their cores with it) holding the corpus. Contenders, each a process pinned to the same CPU set:

* naive (:mod:`bench.audit_naive`): list, full GET, one ``exiftool`` process per object asking for all tags,
  ``-ee`` and ``ImageDataHash``, sequential;
* ``exif-audit s3://... --max-workers 16``: the real command (ranged GETs, warm ExifTool processes);
* ``exif-audit`` on an empty prefix: its start-up (imports, ExifTool start, one listing), shown separately.

Per repetition each runs once, in an order that rotates. Also on a local folder (``--no-local`` to skip).
Writes ``bench/results/audit_bench.{md,json}``. ``--clean`` audits a scrubbed bucket instead (what a deployment's
re-audit reads): the corpus and ``../shared/devices`` cleaned by the engine, copied under new names until it holds
at least ``--objects`` objects; results in ``audit_bench_clean.{md,json}``. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.scrubbers.inputs import DEFAULT_CORPUS, NOT_IMAGES, REPO, corpus_inputs
from bench.scrubbers.machine import commit, compile_bytecode, load_average
from bench.scrubbers.pinning import available_cpus, others, parse_cpus, spawn

RESULTS = REPO / "bench" / "results"
BUCKET = "bench-corpus"
PREFIX = "corpus/"
BIN = Path(sys.executable).parent
TARGET_SPEEDUP = 10.0
Log = Callable[[str], None]


def _log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(cpus: Sequence[int], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A moto S3 server on 127.0.0.1 (pinned to ``cpus``); returns it and its URL once it answers."""
    port = free_port()
    log = (work / "moto.log").open("wb")
    server = spawn(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], cpus, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"moto_server did not start (see {work / 'moto.log'})")


def _env(work: Path) -> dict[str, str]:
    """Dummy credentials for the local moto server; no real AWS configuration is read."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(work / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
    }


def upload(url: str, files: Sequence[Path], work: Path) -> None:
    """The corpus into ``s3://bench-corpus/corpus/``."""
    import boto3

    env = _env(work)
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    for path in files:
        client.put_object(Bucket=BUCKET, Key=PREFIX + path.name, Body=path.read_bytes())


def timed(args: list[str], cpus: Sequence[int], work: Path) -> dict[str, Any]:
    """Run ``args`` pinned to ``cpus``: wall seconds, CPU seconds (its whole tree, from ``wait4``), exit code,
    stdout."""
    out, err = work / "stdout.txt", work / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        process = spawn(args, cpus, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=_env(work))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "exit_code": process.returncode,
        "stdout": out.read_text(errors="replace"),
        "stderr_tail": err.read_text(errors="replace").strip().splitlines()[-3:],
    }


def naive_args(target: str, url: str, folder: Path) -> list[str]:
    base = [sys.executable, "-m", "bench.audit_naive"]
    if target == "s3":
        return [*base, "--endpoint", url, "--bucket", BUCKET, "--prefix", PREFIX]
    return [*base, "--folder", str(folder), *(a for s in NOT_IMAGES for a in ("--skip-suffix", s))]


def audit_args(target: str, url: str, folder: Path, report: Path, workers: int, prefix: str = PREFIX) -> list[str]:
    args = [str(BIN / "exif-audit")]
    if target == "s3":
        args += [f"s3://{BUCKET}/{prefix}", "--endpoint-url", url]
    else:
        args += [str(folder), *(a for s in NOT_IMAGES for a in ("--exclude", f"*{s}"))]
    return [*args, "--max-workers", str(workers), "--format", "json", "--output", str(report), "--quiet"]


def _naive(target: str, url: str, folder: Path, cpus: Sequence[int], work: Path) -> dict[str, Any]:
    run = timed(naive_args(target, url, folder), cpus, work)
    lines = run.pop("stdout").strip().splitlines()
    if run["exit_code"] != 0 or not lines:
        return {**run, "error": f"exit {run['exit_code']}: {' | '.join(run['stderr_tail'])}"}
    return {**run, **json.loads(lines[-1])}


def _exif_audit(
    target: str, url: str, folder: Path, cpus: Sequence[int], work: Path, workers: int, prefix: str = PREFIX
) -> dict[str, Any]:
    report = work / "audit.json"
    report.unlink(missing_ok=True)
    run = timed(audit_args(target, url, folder, report, workers, prefix), cpus, work)
    run.pop("stdout")
    if run["exit_code"] not in (0, 1) or not report.exists():
        return {**run, "error": f"exit {run['exit_code']}: {' | '.join(run['stderr_tail'])}"}
    summary = json.loads(report.read_text())["summary"]
    return {
        **run,
        "objects": summary["scanned"],
        "bytes_read": summary["bytes_read"],
        "leaking": summary["leaking"],
        "unreadable": summary["unreadable"],
        "audit_seconds": summary["seconds"],
    }


def run(
    files: Sequence[Path],
    folder: Path,
    *,
    cpus: Sequence[int],
    reps: int = 3,
    workers: int = 16,
    local: bool = True,
    two_cpus: bool = True,
    log: Log = _log,
) -> dict[str, Any]:
    """Both audits on the same objects (``files`` of ``folder``), ``reps`` interleaved repetitions each."""
    started = time.perf_counter()
    compile_bytecode()  # as an installed exif-audit has it
    load_before = load_average()
    runs: dict[str, Any] = {}
    if local and sorted(files) != sorted(i.path for i in corpus_inputs(folder)):
        local = False  # the folder holds more than the objects measured: only the bucket is comparable
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as tmp:
        work = Path(tmp)
        server, url = start_moto(others(cpus), work)
        try:
            upload(url, files, work)
            for label, target, where in _targets(cpus, local, two_cpus):
                contenders: dict[str, Callable[[], dict[str, Any]]] = {
                    "naive": partial(_naive, target, url, folder, where, work),
                    "exif-audit": partial(_exif_audit, target, url, folder, where, work, workers),
                }
                if label == "s3":
                    contenders["exif-audit start-up"] = partial(
                        _exif_audit, target, url, folder, where, work, workers, prefix="empty-prefix/"
                    )
                runs[label] = {"cpus": list(where), **_interleaved(contenders, reps, log, label)}
            log("  audit: where exif-audit's time goes (one object at a time)")
            where_time = _profile(url, cpus, work)
        finally:
            server.kill()
            server.wait()
    for result in runs.values():
        result["speedup"] = result["exif-audit"]["objects_per_s"] / result["naive"]["objects_per_s"]
        result["bytes_ratio"] = result["exif-audit"]["bytes_read"] / max(result["naive"]["bytes_read"], 1)
    return {
        "commit": commit(),
        "corpus": str(folder),
        "objects": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "cpus": list(cpus),
        "server_cpus": list(others(cpus)),
        "workers": workers,
        "exiftool_processes": min(workers, len(cpus)),  # exif-audit starts one per CPU it may use
        "reps": reps,
        "load_before": load_before,
        "load_after": load_average(),
        "runs": runs,
        "profile": where_time,
        "total_run_s": round(time.perf_counter() - started, 1),
    }


def _targets(cpus: Sequence[int], local: bool, two_cpus: bool) -> list[tuple[str, str, Sequence[int]]]:
    """(label, target, CPUs) of each comparison: the bucket on the benchmark's CPUs (the headline), the local
    folder, and the bucket with both audits on every CPU (the server shares them)."""
    out: list[tuple[str, str, Sequence[int]]] = [("s3", "s3", cpus)]
    if local:
        out.append(("local", "local", cpus))
    if two_cpus and len(available_cpus()) > len(cpus):
        out.append((f"s3, {len(available_cpus())} CPUs shared with the server", "s3", available_cpus()))
    return out


def _profile(url: str, cpus: Sequence[int], work: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.audit_profile", "--endpoint", url, "--bucket", BUCKET, "--prefix", PREFIX]
    run = timed(args, cpus, work)
    lines = run["stdout"].strip().splitlines()
    if run["exit_code"] != 0 or not lines:
        return {"error": f"exit {run['exit_code']}: {' | '.join(run['stderr_tail'])}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _interleaved(
    contenders: dict[str, Callable[[], dict[str, Any]]], reps: int, log: Log, target: str
) -> dict[str, Any]:
    """``reps`` rounds, each contender once per round, the order rotating; the median round per contender."""
    names = list(contenders)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    order = []
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            result = contenders[name]()
            samples[name].append(result)
            order.append(name)
            log(f"  audit {target} rep {rep + 1}: {name} {result['seconds']:.2f} s" + _problem(result))
    out: dict[str, Any] = {"order": order}
    for name, results in samples.items():
        good = [r for r in results if "error" not in r] or results
        seconds = statistics.median(r["seconds"] for r in good)
        median = min(good, key=lambda r: abs(r["seconds"] - seconds))
        out[name] = {
            **median,
            "seconds": seconds,
            "rep_seconds": [round(r["seconds"], 3) for r in results],
            "objects_per_s": median.get("objects", 0) / seconds if seconds else 0.0,
            "errors": [r["error"] for r in results if "error" in r],
        }
    return out


def _problem(result: dict[str, Any]) -> str:
    return f" ({result['error']})" if "error" in result else ""


def markdown(report: dict[str, Any]) -> str:
    """The human-readable results."""
    c = report["commit"]
    lines = [
        "# exif-audit benchmark",
        "",
        f"Commit `{c['git_commit']}`{' (tree had uncommitted changes)' if c['tree_dirty'] else ''}, read at the "
        f"start of the run. Corpus: {report['objects']} files, {report['bytes']:,} bytes ({report['corpus']}).",
        f"Every contender is a process pinned to CPU(s) {report['cpus']} (the `CPUs` column); the moto S3 server "
        f"runs pinned to CPU(s) {report['server_cpus']}. exif-audit: `--max-workers {report['workers']}` "
        f"(concurrent reads), {report['exiftool_processes']} warm ExifTool processes, all on those same CPU(s). "
        "Naive: list, full GET, one `exiftool -ee -ImageDataHash` process per object, sequential. "
        f"{report['reps']} interleaved repetitions (order rotating); median shown. Load average before "
        f"{report['load_before']}, after {report['load_after']} (shared machine).",
        "",
        "| target | CPUs | audit | objects/s | seconds (median) | per repetition | CPU s | bytes read | leaking "
        "| unreadable | speed-up | bytes vs naive |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target, result in report["runs"].items():
        for name in ("naive", "exif-audit", "exif-audit start-up"):
            if name not in result:
                continue
            r = result[name]
            extra = (f"{result['speedup']:.1f}x", f"{result['bytes_ratio']:.0%}") if name == "exif-audit" else ("", "")
            rate = f"{r['objects_per_s']:.1f}" if name != "exif-audit start-up" else "-"
            reps = ", ".join(map(str, r["rep_seconds"]))
            lines.append(
                f"| {target} | {','.join(map(str, result['cpus']))} | {name} | {rate} | {r['seconds']:.2f} | {reps} | "
                f"{r['cpu_s']:.1f} | {r.get('bytes_read', 0):,} | {r.get('leaking', '-')} | "
                f"{r.get('unreadable', '-')} | {extra[0]} | {extra[1]} |"
            )
    s3 = report["runs"].get("s3")
    if s3:
        met = "met" if s3["speedup"] >= TARGET_SPEEDUP else "NOT met"
        lines += [
            "",
            f"**Target: exif-audit >= {TARGET_SPEEDUP:g}x the naive audit's objects/s on the same bucket: "
            f"{s3['speedup']:.1f}x, {met}.** (Before this rebuild: 3.8x.) Bytes read: {s3['bytes_ratio']:.0%} of "
            "the naive audit's (target <= 50%).",
            "",
            f"exif-audit's start-up (process, imports, ExifTool, one empty listing): "
            f"{s3['exif-audit start-up']['seconds']:.2f} s, included in its seconds above.",
        ]
    lines += _profile_lines(report.get("profile"))
    lines += [
        "",
        "Leaking counts differ by definition: the naive audit applies the leftover rules to ExifTool's tags only; "
        "exif-audit adds the byte model's findings (blocks ExifTool does not name) and counts files it cannot "
        "walk as unreadable.",
        "",
        "Reproduce: `.venv/bin/python -m bench.audit_bench` (also part of `make bench`).",
        "",
    ]
    return "\n".join(lines)


def _profile_lines(profile: dict[str, Any] | None) -> list[str]:
    if not profile:
        return []
    if "error" in profile:
        return ["", f"Profile of exif-audit failed: {profile['error']}"]
    total = sum(profile["per_object_ms"].values())
    lines = [
        "",
        "## Where exif-audit's time goes",
        "",
        f"`bench/audit_profile.py`: the audit's per-object path (`Auditor.audit_safely`, the CLI's Scrubber with "
        f"one ExifTool process per CPU) on one object at a time over the same bucket, pinned to the same CPU(s): "
        f"{profile['one_at_a_time_s']:.2f} s for {profile['objects']} objects ({total:.1f} ms per object; listing "
        f"{profile['listing_s']:.2f} s). CPU over that pass: this process {profile['python_cpu_s']:.2f} s (Python, "
        f"botocore), its ExifTool processes {profile['exiftool_cpu_s']:.2f} s. On one CPU, waiting for ExifTool or "
        "the server is time ExifTool or the server used.",
        "",
        "| step | ms per object | share | calls per object |",
        "|---|---|---|---|",
    ]
    for step, ms in profile["per_object_ms"].items():
        calls = profile["calls_per_object"].get(step, "-")
        lines.append(f"| {step} | {ms:.2f} | {ms / total:.0%} | {calls} |")
    spread = profile["per_object_total_ms"]
    lines += [
        "",
        f"Per object: median {spread['median']} ms, p90 {spread['p90']} ms, max {spread['max']} ms. Slowest: "
        + "; ".join(f"{s['object']} {s['ms']} ms (ExifTool {s['exiftool_ms']} ms)" for s in profile["slowest"])
        + ".",
        "",
        "<details><summary>Top functions by own time (a second pass under cProfile)</summary>",
        "",
        "| function | calls | own ms | cumulative ms |",
        "|---|---|---|---|",
        *(f"| `{t['function']}` | {t['calls']} | {t['own_ms']} | {t['cumulative_ms']} |" for t in profile["top"]),
        "",
        "</details>",
    ]
    return lines


DEVICES = REPO.parent / "shared" / "devices"


def clean_bucket(sources: Sequence[Path], folder: Path, objects: int, log: Log = _log) -> list[Path]:
    """``sources`` scrubbed by the engine into ``folder`` (the accepted ones), copied under new names until it
    holds at least ``objects`` files: a bucket a deployment has cleaned."""
    from exif_scrubber import Scrubber

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    cleaned: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="clean-bucket-") as tmp, Scrubber() as scrubber:
        for source in sources:
            target = Path(tmp) / source.name
            if scrubber.scrub_file(source, target).ok and target.exists():
                cleaned.append(target)
        log(f"  clean bucket: {len(cleaned)} of {len(sources)} files accepted, copied to {objects}+ objects")
        made: list[Path] = []
        copy = 0
        while len(made) < objects:
            for path in cleaned:
                made.append(folder / f"c{copy}-{path.name}")
                made[-1].write_bytes(path.read_bytes())
            copy += 1
    return made


def write(report: dict[str, Any], directory: Path = RESULTS, name: str = "audit_bench") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}.json", directory / f"{name}.md"]
    paths[0].write_text(json.dumps(report, indent=1, default=str) + "\n")
    paths[1].write_text(markdown(report))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cpus", help="CPU set of the contenders (default: the last CPU)")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--no-local", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1 repetition on 40 files, S3 only")
    parser.add_argument("--results", type=Path)
    parser.add_argument("--clean", action="store_true", help="a scrubbed bucket (corpus and devices, cleaned)")
    parser.add_argument("--objects", type=int, default=560, help="objects in the --clean bucket")
    args = parser.parse_args()
    files = [i.path for i in corpus_inputs(args.corpus)]
    if not files:
        parser.error(f"no corpus at {args.corpus}")
    folder = args.corpus
    if args.clean:
        devices = [i.path for i in corpus_inputs(DEVICES)]
        folder = REPO / "bench" / ".cache" / "clean-bucket"
        files = clean_bucket([*files, *devices], folder, args.objects)
    if args.quick:
        files = files[:: max(len(files) // 40, 1)][:40]
    report = run(
        files,
        folder,
        cpus=parse_cpus(args.cpus),
        reps=1 if args.quick else args.reps,
        workers=args.workers,
        local=not (args.no_local or args.quick),
        two_cpus=not args.quick,
    )
    results = args.results or (REPO / "bench" / ".cache" / "results-quick" if args.quick else RESULTS)
    for path in write(report, results, "audit_bench_clean" if args.clean else "audit_bench"):
        print(f"wrote {path}")
    print(markdown(report))


if __name__ == "__main__":
    main()
