"""Reading an S3 Inventory report instead of listing: from S3 and from a local folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from exif_scrubber.audit.inventory import read_inventory
from exif_scrubber.audit.listing import KeyFilter

from .conftest import BUCKET
from .test_cli import report, run, upload

SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size"


def inventory_files(rows: list[list[str]]) -> tuple[bytes, bytes]:
    data = gzip.compress("".join(",".join(f'"{c}"' for c in row) + "\n" for row in rows).encode())
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": f"arn:aws:s3:::{BUCKET}-inv",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": SCHEMA,
        "files": [{"key": f"{BUCKET}/daily/data/part-1.csv.gz", "size": len(data), "MD5checksum": "x"}],
    }
    return json.dumps(manifest).encode(), data


def test_inventory_from_s3_drives_the_audit(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "clean.jpg", "gps.jpg")
    s3.put_object(Bucket=BUCKET, Key="with space+plus.jpg", Body=images["clean.jpg"])
    manifest, data = inventory_files(
        [
            [BUCKET, "photos/clean.jpg", "", "true", "false", str(len(images["clean.jpg"]))],
            [BUCKET, "photos/gps.jpg", "", "true", "false", str(len(images["gps.jpg"]))],
            [BUCKET, "with+space%2Bplus.jpg", "", "true", "false", str(len(images["clean.jpg"]))],
            [BUCKET, "photos/old.jpg", "v1", "false", "false", "10"],
            [BUCKET, "photos/deleted.jpg", "v2", "true", "true", "0"],
        ]
    )
    s3.create_bucket(Bucket=f"{BUCKET}-inv")
    s3.put_object(Bucket=f"{BUCKET}-inv", Key=f"{BUCKET}/daily/manifest.json", Body=manifest)
    s3.put_object(Bucket=f"{BUCKET}-inv", Key=f"{BUCKET}/daily/data/part-1.csv.gz", Body=data)
    code, doc = report("--inventory", f"s3://{BUCKET}-inv/{BUCKET}/daily/manifest.json")
    assert code == 1
    assert [(r["key"], r["status"]) for r in doc["objects"]] == [
        ("photos/clean.jpg", "clean"),
        ("photos/gps.jpg", "leaking"),
        ("with space+plus.jpg", "clean"),
    ]


def test_inventory_from_a_local_folder(tmp_path: Path) -> None:
    manifest, data = inventory_files(
        [
            ["b", "a.jpg", "v3", "true", "false", "5"],
            ["b", "a.jpg", "v1", "false", "false", "7"],
            ["b", "x/skip.txt", "", "true", "false", "1"],
        ]
    )
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-1.csv.gz").write_bytes(data)
    refs = list(read_inventory(str(tmp_path / "manifest.json"), None, keys=KeyFilter(exclude=("*.txt",))))
    assert [(r.bucket, r.key, r.version_id, r.size) for r in refs] == [("b", "a.jpg", "v3", 5)]
    refs = list(read_inventory(str(tmp_path / "manifest.json"), None, all_versions=True))
    assert [(r.key, r.version_id, r.is_latest) for r in refs] == [
        ("a.jpg", "v3", True),
        ("a.jpg", "v1", False),
        ("x/skip.txt", None, True),
    ]


def test_bad_inventory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"fileFormat": "Parquet", "fileSchema": SCHEMA, "files": []}))
    code, _, err = run("--inventory", str(tmp_path / "manifest.json"))
    assert code == 2 and "only CSV" in err
    code, _, err = run("--inventory", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read the inventory manifest" in err
