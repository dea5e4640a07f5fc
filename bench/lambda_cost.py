"""What the deployed stack costs per million photos, from the latest benchmark: ``python -m bench.lambda_cost``.

Reads bench/results/scrubbers.json (the warm engine's median seconds per photo, per size and format, one CPU) and
bench/results/audit_bench.json (exif-audit's per-object work), counts the S3 requests and Lambda invocations the
handler makes per object by running it against moto (scrub, trial and report-only audit), and writes
bench/results/lambda_cost.json and .md; docs/cost.md quotes them and tests/test_docs.py keeps the quotes equal.
tests/bench/test_lambda_cost.py recomputes this file from the latest results and recounts the requests, so the
figures cannot drift from what was measured.

The model, stated so that it can be checked:

* Lambda gives a function ``MemorySize / 1769`` of a vCPU below 1,769 MB. Single-threaded work that took ``t``
  seconds on one full core takes ``t * 1769 / MemorySize`` there, so its GB-seconds are ``t * 1769 / 1024``
  whatever the memory setting below 1,769 MB (CPU_GB_S_PER_CORE_SECOND). A Lambda vCPU is not this benchmark
  machine's core: an estimate, to be checked against the function's own REPORT lines.
* Waiting for S3 is billed too, at the memory setting (the stack's default MemorySize, 1,024 MB): ASSUMED, not
  measured here (no AWS account), at IO_SECONDS_PER_REQUEST per request and IO_BYTES_PER_SECOND per byte moved.
* List prices: PRICES, US East (N. Virginia), with their source and date.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MEMORY_MB = 1024
"""template.yaml's default MemorySize (tests/bench/test_lambda_cost.py checks)."""
FULL_VCPU_MB = 1769
CPU_GB_S_PER_CORE_SECOND = FULL_VCPU_MB / 1024
IO_SECONDS_PER_REQUEST = 0.025
IO_BYTES_PER_SECOND = 100e6
PRICES = {
    "lambda_x86_64_usd_per_gb_s": 0.0000166667,
    "lambda_arm64_usd_per_gb_s": 0.0000133334,
    "lambda_usd_per_million_requests": 0.20,
    "s3_put_copy_post_list_usd_per_1000": 0.005,
    "s3_get_head_and_other_usd_per_1000": 0.0004,
    "s3_delete_usd_per_1000": 0.0,
    "batch_operations_usd_per_job": 0.25,
    "batch_operations_usd_per_million_objects": 1.00,
    "inventory_usd_per_million_objects_listed": 0.0025,
}
PRICE_SOURCE = (
    "AWS list prices, US East (N. Virginia), first tiers, S3 Standard: the Lambda, S3 (requests, Batch Operations, "
    "Inventory) pricing pages as recorded on 2026-12-06 from copies of those pages (this machine cannot reach "
    "aws.amazon.com: check the live pages before quoting); the Lambda x86_64 figures are bench/scrubbers/cost.py's"
)
PUT_CLASS = {"PutObject", "CopyObject", "PutObjectTagging", "ListObjectsV2", "ListObjectVersions"}
"""S3 requests billed at the PUT/COPY/POST/LIST rate; DELETE is free; everything else at the GET rate."""
FREE = {"DeleteObject", "DeleteObjectVersion"}
GROUPS = ("12MP JPEG", "24MP JPEG", "12MP PNG", "24MP PNG", "12MP WEBP", "24MP WEBP", "12MP HEIC", "corpus")


def latest(name: str, results: Path = RESULTS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((results / name).read_text(encoding="utf-8"))
    return data


# ---------------------------------------------------------------- requests per object (handler on moto)
@contextmanager
def _moto() -> Iterator[Any]:
    import os

    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    try:
        with mock_aws():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def count_requests() -> dict[str, dict[str, Any]]:
    """S3 operations and Lambda invocations per uploaded photo, as the handler makes them (versioned bucket,
    evidence in a bucket of its own): a scrub (the upload's event, then its own write-back's event), a trial and a
    report-only audit of one version."""
    import boto3

    from exif_scrubber import Scrubber, ScrubPolicy
    from exif_scrubber.s3.processor import ObjectScrubber
    from handler.config import HandlerConfig
    from scrub_demo.samples import make_sample

    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, Scrubber(ScrubPolicy()) as scrubber, _moto():
        photo = make_sample(scrubber.pool, Path(tmp) / "in", "holiday", "JPEG").read_bytes()
        base = HandlerConfig(policy=ScrubPolicy(), work_dir=Path(tmp), evidence_prefix="evidence/",
                             evidence_bucket="evidence", delete_original_version=True)  # fmt: skip
        modes = {"scrub": base, "trial": replace(base, trial=True), "audit": replace(base, report_only=True,
                 evidence_prefix=None, evidence_bucket=None, delete_original_version=False)}  # fmt: skip
        for mode, config in modes.items():
            client = boto3.client("s3", region_name="us-east-1")
            for bucket in ("photos", "evidence"):
                client.create_bucket(Bucket=bucket)
            client.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
            version = client.put_object(Bucket="photos", Key="up/a.jpg", Body=photo)["VersionId"]
            calls: list[str] = []
            client.meta.events.register("before-call.s3", _recorder(calls))
            processor = ObjectScrubber(client, scrubber, config)
            first = processor.process("photos", "up/a.jpg", version_id=version)
            invocations = 1
            if first.new_version_id:  # our write-back raises an event of its own: one HEAD ends it
                processor.process("photos", "up/a.jpg", version_id=first.new_version_id)
                invocations = 2
            counts = Counter(calls)
            out[mode] = {"status": first.status.value, "invocations": invocations, "s3": dict(sorted(counts.items()))}
            for bucket in ("photos", "evidence"):
                _empty(client, bucket)
    return out


def _recorder(calls: list[str]) -> Any:
    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    return record


def _empty(client: Any, bucket: str) -> None:
    listing = client.list_object_versions(Bucket=bucket)
    for entry in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
        client.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    client.delete_bucket(Bucket=bucket)


def s3_usd_per_million(s3: dict[str, int]) -> float:
    """The request charge of one object's S3 calls, times a million."""
    put = sum(n for op, n in s3.items() if op in PUT_CLASS)
    get = sum(n for op, n in s3.items() if op not in PUT_CLASS and op not in FREE)
    return 1000 * (
        put * PRICES["s3_put_copy_post_list_usd_per_1000"] + get * PRICES["s3_get_head_and_other_usd_per_1000"]
    )


# ---------------------------------------------------------------- the model
def per_photo(seconds: float, size: int, requests: dict[str, Any], moved: int) -> dict[str, Any]:
    """GB-seconds and dollars per million for one photo of ``size`` bytes that took ``seconds`` on one core."""
    calls = sum(requests["s3"].values())
    cpu = seconds * CPU_GB_S_PER_CORE_SECOND
    io = (calls * IO_SECONDS_PER_REQUEST + moved * size / IO_BYTES_PER_SECOND) * MEMORY_MB / 1024
    out: dict[str, Any] = {"gb_s_cpu": round(cpu, 4), "gb_s_s3_wait": round(io, 4), "gb_s": round(cpu + io, 4)}
    invocations = requests["invocations"] * PRICES["lambda_usd_per_million_requests"]
    s3 = s3_usd_per_million(requests["s3"])
    for arch in ("x86_64", "arm64"):
        compute = 1e6 * (cpu + io) * PRICES[f"lambda_{arch}_usd_per_gb_s"]
        out[f"usd_per_million_{arch}"] = {
            "lambda": round(compute + invocations, 2), "s3_requests": round(s3, 2),
            "total": round(compute + invocations + s3, 2),
        }  # fmt: skip
    return out


def compute(scrubbers: dict[str, Any], audit: dict[str, Any], requests: dict[str, Any]) -> dict[str, Any]:
    """lambda_cost.json's content from the two measured results and the request counts."""
    engine = {row["group"]: row for row in scrubbers["rows"] if row["contender"] == "engine"}
    sizes = {item["group"]: item for item in scrubbers["generated_inputs"]}
    corpus_bytes = audit["bytes"] / audit["objects"]
    rows = []
    for group in (g for g in GROUPS if g in engine):
        size = int(sizes[group]["bytes"]) if group in sizes else round(corpus_bytes)
        seconds = engine[group]["p50_s"]
        rows.append({"group": group, "bytes": size, "seconds_one_core": seconds,
                     "scrub": per_photo(seconds, size, requests["scrub"], moved=2),
                     "trial": per_photo(seconds, size, requests["trial"], moved=1)})  # fmt: skip
    profile = audit["profile"]
    audit_seconds = sum(ms for step, ms in profile["per_object_ms"].items() if not step.startswith("S3 ")) / 1000
    audit_row = per_photo(audit_seconds, round(corpus_bytes), requests["audit"], moved=1)
    batch = PRICES["batch_operations_usd_per_million_objects"]
    inventory = PRICES["inventory_usd_per_million_objects_listed"]
    reaudit = {
        "per_run_usd_per_million_objects": {
            arch: round(audit_row[f"usd_per_million_{arch}"]["total"] + batch + inventory, 2)
            for arch in ("x86_64", "arm64")
        },
        "per_run_fixed_usd": PRICES["batch_operations_usd_per_job"],
        "daily_inventory_usd_per_million_objects_per_month": round(30 * inventory, 3),
    }  # fmt: skip
    return {
        "generated_by": "python -m bench.lambda_cost",
        "measured": {
            "scrubbers": {
                "file": "bench/results/scrubbers.json",
                "commit": scrubbers["commit"]["git_commit"],
                "date": scrubbers["machine"]["date_utc"],
                "cpu": scrubbers["machine"]["cpu"],
            },
            "audit": {
                "file": "bench/results/audit_bench.json",
                "commit": audit["commit"]["git_commit"],
                "objects": audit["objects"],
                "per_object_seconds_without_s3": round(audit_seconds, 4),
            },
        },
        "model": {
            "memory_mb": MEMORY_MB,
            "full_vcpu_mb": FULL_VCPU_MB,
            "cpu_gb_s_per_core_second": round(CPU_GB_S_PER_CORE_SECOND, 4),
            "assumed_s3_seconds_per_request": IO_SECONDS_PER_REQUEST,
            "assumed_s3_bytes_per_second": IO_BYTES_PER_SECOND,
        },
        "prices": {**PRICES, "region": "us-east-1", "source": PRICE_SOURCE},
        "requests_per_object": requests,
        "scrubber": rows,
        "audit_per_object": {"bytes": round(corpus_bytes), "seconds_one_core": round(audit_seconds, 4), **audit_row},
        "reaudit": reaudit,
    }


# ---------------------------------------------------------------- report
def markdown(cost: dict[str, Any]) -> str:
    measured, model = cost["measured"], cost["model"]
    lines = [
        "# Lambda and S3 cost per million photos",
        "",
        f"Generated by `{cost['generated_by']}` from {measured['scrubbers']['file']} (commit "
        f"{measured['scrubbers']['commit'][:7]}, {measured['scrubbers']['date']}, {measured['scrubbers']['cpu']}) "
        f"and {measured['audit']['file']}; prices: {cost['prices']['source']}. Memory {model['memory_mb']} MB; "
        f"CPU GB-s = seconds on one core x {model['cpu_gb_s_per_core_second']}; S3 wait ASSUMED at "
        f"{model['assumed_s3_seconds_per_request'] * 1000:.0f} ms per request and "
        f"{model['assumed_s3_bytes_per_second'] / 1e6:.0f} MB/s.",
        "",
        "| photo | bytes | s on one core | scrub GB-s (CPU + S3 wait) | scrub $/1M x86_64 (Lambda + S3) "
        "| scrub $/1M arm64 | trial $/1M arm64 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in cost["scrubber"]:
        scrub, trial = row["scrub"], row["trial"]
        x86, arm = scrub["usd_per_million_x86_64"], scrub["usd_per_million_arm64"]
        lines.append(
            f"| {row['group']} | {row['bytes']:,} | {row['seconds_one_core']} | {scrub['gb_s']} "
            f"({scrub['gb_s_cpu']} + {scrub['gb_s_s3_wait']}) "
            f"| {x86['total']} ({x86['lambda']} + {x86['s3_requests']}) "
            f"| {arm['total']} | {trial['usd_per_million_arm64']['total']} |"
        )
    lines += ["", "Requests per object (measured on moto):", ""]
    for mode, counted in cost["requests_per_object"].items():
        ops = ", ".join(f"{op} {n}" for op, n in counted["s3"].items())
        lines.append(f"- {mode}: {counted['invocations']} invocation(s); S3 {ops}")
    audit, reaudit = cost["audit_per_object"], cost["reaudit"]
    lines += [
        "",
        f"Audit (report-only function) per object: {audit['gb_s']} GB-s, "
        f"${audit['usd_per_million_arm64']['total']} per million on arm64. Scheduled re-audit, per run: "
        f"${reaudit['per_run_fixed_usd']} plus ${reaudit['per_run_usd_per_million_objects']['arm64']} per million "
        f"object versions (arm64); the daily inventory ${reaudit['daily_inventory_usd_per_million_objects_per_month']}"
        " per million objects a month.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    opts = parser.parse_args(argv)
    cost = compute(latest("scrubbers.json", opts.results), latest("audit_bench.json", opts.results), count_requests())
    (opts.results / "lambda_cost.json").write_text(json.dumps(cost, indent=1) + "\n", encoding="utf-8")
    (opts.results / "lambda_cost.md").write_text(markdown(cost), encoding="utf-8")
    print(markdown(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
