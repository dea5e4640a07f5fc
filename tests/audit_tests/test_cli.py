"""exif-audit against moto: exact reports and exit codes for clean, leaking, unsupported, corrupt,
versioned objects; --all-versions, --fail-on, --include/--exclude, formats, local folders, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import exif_scrubber.audit.cli
from botocore.awsrequest import AWSResponse
from click.testing import CliRunner
from exif_scrubber.audit.cli import main

from .conftest import BUCKET


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def report(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(*args, "--format", "json")
    return code, json.loads(out)


def by_key(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in doc["objects"]}


def upload(s3: Any, images: dict[str, bytes], *names: str, metadata: dict[str, str] | None = None) -> None:
    for name in names:
        s3.put_object(Bucket=BUCKET, Key=f"photos/{name}", Body=images[name], Metadata=metadata or {})


def test_mixed_bucket_exact_report(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "clean.jpg", "gps.jpg", "big.jpg", "notes.txt", "corrupt.png")
    code, doc = report(f"s3://{BUCKET}/photos/")
    assert code == 1
    rows = by_key(doc)
    assert sorted(rows) == [f"photos/{n}" for n in ("big.jpg", "clean.jpg", "corrupt.png", "gps.jpg", "notes.txt")]
    assert rows["photos/clean.jpg"]["status"] == "clean"
    assert rows["photos/clean.jpg"]["leftovers"] == {}
    gps = rows["photos/gps.jpg"]
    assert gps["status"] == "leaking" and gps["format"] == "JPEG"
    assert gps["leftovers"] == {
        "JPEG": ["APP1 EXIF"],
        "IFD0": ["Make", "Model"],
        "GPS": ["GPSVersionID", "GPSLatitudeRef", "GPSLatitude", "GPSLongitudeRef", "GPSLongitude"],
    }
    big = rows["photos/big.jpg"]
    assert big["status"] == "leaking" and big["ranged"] is False  # JPEG markers hide in the scan data: read whole
    assert big["bytes_read"] == big["size"]
    assert set(big["leftovers"]) == {"JPEG", "GPS", "XMP-dc"} and big["leftovers"]["XMP-dc"] == ["Creator"]
    assert rows["photos/notes.txt"]["status"] == "unsupported" and rows["photos/notes.txt"]["format"] is None
    corrupt = rows["photos/corrupt.png"]
    assert corrupt["status"] == "unreadable" and corrupt["format"] == "PNG" and corrupt["error"]
    assert gps["categories"] == ["location", "device identity and serial numbers"]
    assert {(f["category"], f["group"], f["name"]) for f in gps["findings"]} == {
        ("location", "JPEG", "APP1 EXIF"),  # the block is filed under the most personal thing ExifTool reads in it
        ("device identity and serial numbers", "IFD0", "Make"),
        ("device identity and serial numbers", "IFD0", "Model"),
        *(("location", "GPS", n) for n in gps["leftovers"]["GPS"]),
    }
    assert big["categories"] == ["location", "people and owners"]  # GPS, a creator (the XMP toolkit's name is not)
    assert rows["photos/notes.txt"]["error"] == "not a supported image format"
    assert doc["summary"] | {"seconds": 0, "finished": "t"} == {
        "scanned": 5,
        "clean": 1,
        "leaking": 2,
        "unsupported": 1,
        "unreadable": 1,
        "skipped": 0,
        "access_errors": 0,
        "with_marker": 0,
        "noncanonical": 0,
        "bytes_read": sum(r["bytes_read"] for r in rows.values()),
        "bytes_total": sum(len(images[n]) for n in ("clean.jpg", "gps.jpg", "big.jpg", "notes.txt", "corrupt.png")),
        "seconds": 0,
        "failing": 3,
        "leaking_by_group": {"GPS": 2, "IFD0": 1, "JPEG": 2, "XMP-dc": 1},
        "leaking_by_category": {
            "location": 2,
            "people and owners": 1,
            "device identity and serial numbers": 1,
        },
        "finished": "t",
        "verdict": "FAIL",
        "complete": True,
        "stopped_by": None,
        "not_scanned": 0,
        "not_scanned_exact": True,
    }
    assert doc["complete"] is True


def test_clean_bucket_exits_0_and_reports_the_marker(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "clean.jpg", metadata={"exif-stripped": "p1;icc;13.59"})
    upload(s3, images, "notes.txt")
    code, doc = report(f"s3://{BUCKET}")
    assert code == 0
    rows = by_key(doc)
    assert rows["photos/clean.jpg"]["marker"] == "p1;icc;13.59"
    assert rows["photos/notes.txt"]["marker"] is None
    assert doc["summary"]["with_marker"] == 1


def test_fail_on_limits_what_fails(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "xmp.jpg", "clean.jpg")
    assert run(f"s3://{BUCKET}", "-q")[0] == 1
    assert run(f"s3://{BUCKET}", "--fail-on", "GPS,MakerNotes")[0] == 0
    assert run(f"s3://{BUCKET}", "--fail-on", "XMP")[0] == 1
    upload(s3, images, "gps.jpg")
    assert run(f"s3://{BUCKET}", "--fail-on", "GPS,MakerNotes")[0] == 1


def test_fail_on_unreadable_pseudo_group(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "corrupt.png", "clean.jpg")
    assert run(f"s3://{BUCKET}")[0] == 1
    assert run(f"s3://{BUCKET}", "--fail-on", "GPS")[0] == 0
    assert run(f"s3://{BUCKET}", "--fail-on", "GPS,unreadable")[0] == 1


def test_all_versions_finds_a_dirty_noncurrent_version(s3: Any, images: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dirty = s3.put_object(Bucket=BUCKET, Key="p/photo.jpg", Body=images["gps.jpg"])["VersionId"]
    clean = s3.put_object(Bucket=BUCKET, Key="p/photo.jpg", Body=images["clean.jpg"])["VersionId"]
    code, doc = report(f"s3://{BUCKET}/p/")
    assert code == 0
    assert [(r["key"], r["version_id"], r["status"]) for r in doc["objects"]] == [("p/photo.jpg", clean, "clean")]
    code, doc = report(f"s3://{BUCKET}/p/", "--all-versions")
    assert code == 1
    rows = {r["version_id"]: r for r in doc["objects"]}
    assert rows.keys() == {dirty, clean}
    assert rows[clean]["status"] == "clean" and rows[clean]["is_latest"] is True
    assert rows[dirty]["status"] == "leaking" and rows[dirty]["is_latest"] is False
    assert "GPS" in rows[dirty]["leftovers"]


def test_include_exclude(s3: Any, images: dict[str, bytes]) -> None:
    upload(s3, images, "clean.jpg", "gps.jpg", "notes.txt")
    code, doc = report(f"s3://{BUCKET}", "--include", "*.jpg", "--exclude", "*/gps.*")
    assert code == 0
    assert [r["key"] for r in doc["objects"]] == ["photos/clean.jpg"]


def test_csv_and_table_output(s3: Any, images: dict[str, bytes], tmp_path: Path) -> None:
    upload(s3, images, "clean.jpg", "gps.jpg")
    target = tmp_path / "report.csv"
    code, out, _ = run(f"s3://{BUCKET}", "--format", "csv", "--output", str(target))
    assert code == 1
    assert out.splitlines() == [
        "exif-audit: FAIL: 1 of 2 object(s) fail (any leak or unreadable image)",
        "scanned 2 objects: 1 clean, 1 leaking, 0 unsupported, 0 unreadable, 0 skipped; 0 carry the marker",
    ]
    lines = target.read_text().splitlines()
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))))
    assert [(r["key"], r["status"]) for r in rows] == [("photos/clean.jpg", "clean"), ("photos/gps.jpg", "leaking")]
    assert (
        rows[1]["leftovers"] == "JPEG: APP1 EXIF; IFD0: Make, Model; GPS: GPSVersionID, GPSLatitudeRef, GPSLatitude, "
        "GPSLongitudeRef, GPSLongitude"
    )
    assert rows[1]["categories"] == "location; device identity and serial numbers" and rows[0]["categories"] == ""
    assert lines[-2:] == ["# summary.verdict: FAIL", "# summary.complete: true"]
    code, out, _ = run(f"s3://{BUCKET}")
    assert code == 1
    assert "photos/gps.jpg" in out and "photos/clean.jpg" not in out
    (row,) = [line for line in out.splitlines() if "photos/gps.jpg" in line]
    assert "location, device" in row and "GPSLatitude" not in out  # categories; the tags are behind --verbose
    assert "scanned 2 objects: 1 clean, 1 leaking, 0 unsupported, 0 unreadable, 0 skipped" in out
    code, out, _ = run(f"s3://{BUCKET}", "--verbose")
    assert code == 1
    flat = " ".join(out.split())  # detail lines wrap at the console's width
    gps_tags = "GPSVersionID, GPSLatitudeRef, GPSLatitude, GPSLongitudeRef, GPSLongitude"
    assert f"photos/gps.jpg location: JPEG: APP1 EXIF; GPS: {gps_tags}" in flat
    assert "device identity and serial numbers: IFD0: Make, Model" in flat


def test_local_folder_gives_the_same_report(s3: Any, images: dict[str, bytes], tmp_path: Path) -> None:
    names = ("clean.jpg", "gps.jpg", "big.jpg", "notes.txt", "corrupt.png")
    upload(s3, images, *names)
    (tmp_path / "photos").mkdir()
    for name in names:
        (tmp_path / "photos" / name).write_bytes(images[name])
    _, remote = report(f"s3://{BUCKET}")
    code, local = report(str(tmp_path))
    assert code == 1
    strip = ("key", "version_id", "marker", "bucket", "etag")
    assert [{k: v for k, v in r.items() if k not in strip} for r in local["objects"]] == [
        {k: v for k, v in r.items() if k not in strip} for r in remote["objects"]
    ]
    assert [Path(r["key"]).name for r in local["objects"]] == sorted(names)


def test_errors_exit_2_without_traceback(s3: Any, tmp_path: Path) -> None:
    code, out, err = run("s3://no-such-bucket-here/")
    assert code == 2 and "NoSuchBucket" in err and "Traceback" not in err + out
    code, _, err = run(str(tmp_path / "missing"))
    assert code == 2 and "no such file or folder" in err
    code, _, err = run()
    assert code == 2 and "TARGET" in err
    code, _, err = run(f"s3://{BUCKET}", "--format", "xml")
    assert code == 2
    code, _, err = run("s3://", "-q")
    assert code == 2 and "no bucket" in err


def test_access_denied_on_an_object_exits_2(s3: Any, images: dict[str, bytes], monkeypatch: Any) -> None:
    upload(s3, images, "clean.jpg")

    make_client = exif_scrubber.audit.cli._s3_client

    def denied_get(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return AWSResponse("https://example.invalid", 403, {}, None), error

    def client_denying_gets(*args: Any) -> Any:
        client = make_client(*args)
        client.meta.events.register("before-call.s3.GetObject", denied_get)
        return client

    monkeypatch.setattr(exif_scrubber.audit.cli, "_s3_client", client_denying_gets)
    code, out, err = run(f"s3://{BUCKET}", "--format", "json")
    assert code == 2
    row = json.loads(out)["objects"][0]
    assert row["status"] == "unreadable" and row["access_error"] is True
    assert row["error"] == f"GET s3://{BUCKET}/photos/clean.jpg: AccessDenied: Access Denied"
    assert "1 object(s) could not be read" in err and "Traceback" not in err
