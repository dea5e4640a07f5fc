"""The naive audit a script would do, as the benchmark's baseline for ``exif-audit``.

    python -m bench.audit_naive (--endpoint URL --bucket B --prefix P | --folder DIR) [--skip-suffix .md ...]

List the objects, GET each one whole, run one ``exiftool`` process per object asking for every tag, embedded
documents (``-ee``) and the image-data hash, and call the object leaking when any tag is outside the allowlist the
format's handler gives for that file (the same leftover rules ``exif-audit`` applies to ExifTool's reading; the
handler's walk that the list comes from reads the file in memory). Prints one JSON line: objects, bytes read,
leaking, unreadable.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from exif_scrubber import ScrubPolicy
from exif_scrubber.allowlist import Allowlist
from exif_scrubber.errors import StructureError
from exif_scrubber.exiftool_process import locate_exiftool
from exif_scrubber.formats import sniff
from exif_scrubber.formats.base import Refusal
from exif_scrubber.leftovers import find_leftovers, parse_exiftool_json

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


def s3_objects(endpoint: str, bucket: str, prefix: str) -> Iterator[bytes]:
    """Every object under ``prefix``, listed then read whole."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()


def folder_objects(folder: Path, skip: tuple[str, ...]) -> Iterator[bytes]:
    """Every file of ``folder`` (sorted) whose suffix is not in ``skip``, read whole."""
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() not in skip:
            yield path.read_bytes()


def audit(objects: Iterator[bytes]) -> dict[str, Any]:
    """One ``exiftool`` process per object; the totals."""
    exiftool = str(locate_exiftool())
    policy = ScrubPolicy()
    totals = {"objects": 0, "bytes_read": 0, "leaking": 0, "unreadable": 0}
    with tempfile.TemporaryDirectory(prefix="naive-audit-") as tmp:
        for n, data in enumerate(objects):
            totals["objects"] += 1
            totals["bytes_read"] += len(data)
            path = Path(tmp) / f"object-{n}"
            path.write_bytes(data)
            out = subprocess.run([exiftool, *NAIVE_ARGS, str(path)], capture_output=True, text=True).stdout
            documents = parse_exiftool_json(out) if out.strip() else []
            tags = documents[0] if documents else []
            if not tags or any(t.group == "ExifTool" and t.name == "Error" for t in tags):
                totals["unreadable"] += 1
            elif find_leftovers(tags, _allowlist(data, policy)):
                totals["leaking"] += 1
            path.unlink()
    return totals


def _allowlist(data: bytes, policy: ScrubPolicy) -> Allowlist:
    """The allowlist of the file's format handler for this file (empty when it is not one or does not parse)."""
    handler = sniff(data[:64])
    if handler is None:
        return Allowlist()
    try:
        return handler.allowlist(handler.walk(data, policy), policy)
    except (StructureError, Refusal):
        return Allowlist()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="The naive audit (a baseline for exif-audit).")
    parser.add_argument("--endpoint")
    parser.add_argument("--bucket")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--skip-suffix", action="append", default=[])
    args = parser.parse_args()
    if args.folder:
        objects = folder_objects(args.folder, tuple(args.skip_suffix))
    else:
        objects = s3_objects(args.endpoint, args.bucket, args.prefix)
    print(json.dumps(audit(objects)))


if __name__ == "__main__":
    main()
