"""Benchmark of exif-audit against a naive audit, in the same run, on the corpus.

    .venv/bin/python bench/audit_bench.py [--corpus ../shared/corpus] [--workers 16]

Targets: moto's S3 server on 127.0.0.1 (a random free port) and a local folder. The naive audit
does what a script would: list, then for each object a full GET and one ``exiftool`` process
(the engine's ``READ_ARGS``: ``-j -G3:1 -a -ee -n`` and ImageDataHash, without ``-u``, which makes
each parse cheaper than exif-audit's on files with big maker notes) whose tags go through the same
leftover definition. Writes
``bench/results/audit_bench.md`` and ``.json``. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from exif_scrubber.audit.listing import list_local, list_s3
from exif_scrubber.audit.scan import Auditor
from moto.server import ThreadedMotoServer

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.exiftool_process import locate_exiftool
from exif_scrubber.leftovers import find_leftovers, parse_exiftool_json

HERE = Path(__file__).resolve().parent
NAIVE_ARGS = (
    "-j",
    "-G3:1",
    "-a",
    "-ee",
    "-n",
    "-api",
    "ImageHashType=SHA256",
    "-all:all",
    "--System:all",
    "-ImageDataHash",
)
"""What a script would ask ExifTool for each object: every tag, embedded documents, the image-data hash."""
BUCKET = "bench-corpus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds() -> float:
    """CPU time of this process (all threads, moto's server included) and of its reaped children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(run: Any, *args: Any) -> dict[str, Any]:
    """``run(*args)`` with the CPU seconds it used and the 1-minute load average before it."""
    load, cpu = os.getloadavg()[0], _cpu_seconds()
    result: dict[str, Any] = run(*args)
    result["cpu_s"] = _cpu_seconds() - cpu
    result["load_before"] = load
    return result


def naive(refs: list[Any], read: Any) -> dict[str, Any]:
    """Sequential full reads, one exiftool process per object."""
    exiftool = str(locate_exiftool())
    policy = ScrubPolicy()
    started, bytes_read, leaking = time.perf_counter(), 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, ref in enumerate(refs):
            data = read(ref)
            bytes_read += len(data)
            path = Path(tmp) / f"obj{n}"
            path.write_bytes(data)
            out = subprocess.run([exiftool, *NAIVE_ARGS, str(path)], capture_output=True, text=True).stdout
            docs = parse_exiftool_json(out) if out.strip() else [[]]
            leaking += bool(find_leftovers(docs[0], policy))
            path.unlink()
    seconds = time.perf_counter() - started
    return {
        "objects": len(refs),
        "seconds": seconds,
        "objects_per_s": len(refs) / seconds,
        "bytes_read": bytes_read,
        "leaking": leaking,
    }


def ours(refs: list[Any], client: Any, workers: int) -> dict[str, Any]:
    """exif-audit's path: ranged reads, bounded concurrency, warm ExifTool pool (started inside the timing)."""
    started = time.perf_counter()
    with Scrubber(ScrubPolicy(), pool_size=2) as scrubber, Auditor(scrubber, client=client) as auditor:
        results = list(auditor.audit_all(iter(refs), workers))
    seconds = time.perf_counter() - started
    return {
        "objects": len(results),
        "seconds": seconds,
        "objects_per_s": len(results) / seconds,
        "bytes_read": sum(r.bytes_read for r in results),
        "leaking": sum(r.status.value == "leaking" for r in results),
        "ranged_objects": sum(r.ranged for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.iterdir() if p.is_file() and p.suffix.lower() not in (".json", ".tsv", ".md"))
    total = sum(p.stat().st_size for p in files)
    runs: dict[str, Any] = {}

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=boto3.session.Config(max_pool_connections=args.workers + 4),
        )
        client.create_bucket(Bucket=BUCKET)
        for path in files:
            client.put_object(Bucket=BUCKET, Key=f"corpus/{path.name}", Body=path.read_bytes())
        refs = list(list_s3(client, BUCKET, "corpus/"))
        runs["moto"] = {
            "naive": measured(naive, refs, lambda r: client.get_object(Bucket=r.bucket, Key=r.key)["Body"].read()),
            "exif-audit": measured(ours, refs, client, args.workers),
        }
    finally:
        server.stop()
    local_refs = list(list_local(args.corpus))
    local_refs = [r for r in local_refs if Path(r.key) in set(files)]
    runs["local"] = {
        "naive": measured(naive, local_refs, lambda r: Path(r.key).read_bytes()),
        "exif-audit": measured(ours, local_refs, None, args.workers),
    }
    for run in runs.values():
        run["speedup"] = run["exif-audit"]["objects_per_s"] / run["naive"]["objects_per_s"]
        run["bytes_ratio"] = run["exif-audit"]["bytes_read"] / run["naive"]["bytes_read"]
    report = {
        "corpus": str(args.corpus),
        "objects": len(files),
        "bytes": total,
        "workers": args.workers,
        "machine": f"{platform.machine()}, {platform.python_version()}, {_cpus()} CPUs",
        "runs": runs,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "audit_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "audit_bench.md").write_text(markdown(report))
    print(markdown(report))


def _cpus() -> int:
    return os.cpu_count() or 0


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# exif-audit benchmark",
        "",
        f"Corpus: {report['objects']} files, {report['bytes']:,} bytes ({report['corpus']}). "
        f"Machine: {report['machine']}. exif-audit: {report['workers']} workers, 2 warm ExifTool processes.",
        "Naive: sequential full GET/read, one `exiftool` process per object.",
        "CPU s: this process (all threads, moto's server included) and its ExifTool children; load: the",
        "1-minute load average before the run (the machine is shared).",
        "",
        "| target | audit | objects/s | seconds | CPU s | load | bytes read | leaking | speed-up | bytes vs naive |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target, run in report["runs"].items():
        for name in ("naive", "exif-audit"):
            r = run[name]
            extra = (f"{run['speedup']:.1f}x", f"{run['bytes_ratio']:.0%}") if name == "exif-audit" else ("", "")
            lines.append(
                f"| {target} | {name} | {r['objects_per_s']:.1f} | {r['seconds']:.1f} | "
                f"{r.get('cpu_s', 0):.1f} | {r.get('load_before', 0):.1f} | "
                f"{r['bytes_read']:,} | {r['leaking']} | {extra[0]} | {extra[1]} |"
            )
    lines += ["", "Targets: >= 10x the naive objects/s, <= 50% of its bytes read.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
