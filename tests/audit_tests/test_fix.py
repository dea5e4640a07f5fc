"""--fix goes through the Lambda's per-object path and leaves a bucket that audits clean, attributes kept."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from exif_scrubber.audit.cli import main

from .conftest import BUCKET
from .test_cli import report, run


def put(s3: Any, key: str, body: bytes) -> None:
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=body,
        ContentType="image/jpeg",
        CacheControl="max-age=60",
        ContentDisposition="inline",
        Metadata={"owner": "team-a"},
        Tagging="project=p1",
    )


def test_fix_leaves_a_clean_bucket_with_attributes_kept(s3: Any, images: dict[str, bytes]) -> None:
    for name in ("gps.jpg", "big.jpg", "clean.jpg"):
        put(s3, f"up/{name}", images[name])
    s3.put_object(Bucket=BUCKET, Key="up/notes.txt", Body=images["notes.txt"])
    result = CliRunner().invoke(main, [f"s3://{BUCKET}", "--fix", "--yes", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "fix: 2 scrubbed" in result.stderr
    code, doc = report(f"s3://{BUCKET}")
    assert code == 0
    rows = {r["key"]: r for r in doc["objects"]}
    assert [rows[f"up/{n}"]["status"] for n in ("gps.jpg", "big.jpg", "clean.jpg")] == ["clean"] * 3
    assert rows["up/gps.jpg"]["marker"] and rows["up/big.jpg"]["marker"] and rows["up/clean.jpg"]["marker"] is None
    for name in ("gps.jpg", "big.jpg"):
        head = s3.head_object(Bucket=BUCKET, Key=f"up/{name}")
        assert head["ContentType"] == "image/jpeg" and head["CacheControl"] == "max-age=60"
        assert head["ContentDisposition"] == "inline"
        assert head["Metadata"]["owner"] == "team-a" and "exif-stripped" in head["Metadata"]
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=f"up/{name}")["TagSet"]
        assert {"Key": "project", "Value": "p1"} in tags
    assert s3.get_object(Bucket=BUCKET, Key="up/clean.jpg")["Body"].read() == images["clean.jpg"]


def test_fix_asks_first_and_writes_nothing_when_declined(s3: Any, images: dict[str, bytes]) -> None:
    put(s3, "up/gps.jpg", images["gps.jpg"])
    result = CliRunner().invoke(main, [f"s3://{BUCKET}", "--fix", "-q"], input="n\n", catch_exceptions=False)
    assert result.exit_code == 1
    assert "Scrub 1 leaking object(s)" in result.stderr and "nothing was written" in result.stderr
    assert s3.get_object(Bucket=BUCKET, Key="up/gps.jpg")["Body"].read() == images["gps.jpg"]


def test_fix_never_rewrites_a_noncurrent_version(s3: Any, images: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    put(s3, "v/photo.jpg", images["gps.jpg"])
    put(s3, "v/photo.jpg", images["clean.jpg"])
    result = CliRunner().invoke(
        main, [f"s3://{BUCKET}", "--all-versions", "--fix", "--yes", "-q"], catch_exceptions=False
    )
    assert result.exit_code == 1 and "1 noncurrent (not rewritten)" in result.stderr
    assert "--purge-noncurrent" in result.stderr
    assert s3.get_object(Bucket=BUCKET, Key="v/photo.jpg")["Body"].read() == images["clean.jpg"]


def test_fix_refuses_folders(tmp_path: Any) -> None:
    code, _, err = run(str(tmp_path), "--fix")
    assert code == 2 and "does not apply to folders" in err


def test_a_forged_marker_on_a_leaking_object_does_not_stop_fix(s3: Any, images: dict[str, bytes]) -> None:
    """The uploader sets x-amz-meta-exif-stripped himself: the audit reports the leak, --fix scrubs it anyway."""
    for forged in ("p1;icc;engine=0.1.0;exiftool=13.59", "p1;icc;sig=" + "0" * 32):
        s3.put_object(Bucket=BUCKET, Key="up/forged.jpg", Body=images["gps.jpg"], Metadata={"exif-stripped": forged})
        code, doc = report(f"s3://{BUCKET}")
        assert code == 1 and doc["objects"][0]["status"] == "leaking" and doc["objects"][0]["marker"] == forged
        result = CliRunner().invoke(main, [f"s3://{BUCKET}", "--fix", "--yes", "-q"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        assert "fix: 1 scrubbed" in result.stderr
        code, doc = report(f"s3://{BUCKET}")
        assert code == 0 and doc["objects"][0]["status"] == "clean"
        assert s3.get_object(Bucket=BUCKET, Key="up/forged.jpg")["Body"].read() != images["gps.jpg"]


def test_purge_noncurrent_deletes_exactly_the_leaking_old_versions(s3: Any, images: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dirty = s3.put_object(Bucket=BUCKET, Key="v/photo.jpg", Body=images["gps.jpg"])["VersionId"]
    older_clean = s3.put_object(Bucket=BUCKET, Key="v/photo.jpg", Body=images["clean.jpg"])["VersionId"]
    current = s3.put_object(Bucket=BUCKET, Key="v/photo.jpg", Body=images["clean.jpg"])["VersionId"]
    only_copy = s3.put_object(Bucket=BUCKET, Key="v/deleted.jpg", Body=images["gps.jpg"])["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="v/deleted.jpg")  # a delete marker: the dirty version is the only copy

    result = CliRunner().invoke(
        main, [f"s3://{BUCKET}", "--all-versions", "--fix", "--purge-noncurrent", "--yes", "-q"], catch_exceptions=False
    )

    assert "1 purged" in result.stderr and "1 kept (only copy" in result.stderr
    assert result.exit_code == 1  # the only copy still leaks, and says so
    versions = {v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix="v/photo.jpg")["Versions"]}
    assert versions == {older_clean, current} and dirty not in versions
    kept = s3.list_object_versions(Bucket=BUCKET, Prefix="v/deleted.jpg")["Versions"]
    assert [v["VersionId"] for v in kept] == [only_copy]
    code, doc = report(f"s3://{BUCKET}/v/photo.jpg", "--all-versions")
    assert code == 0 and {r["status"] for r in doc["objects"]} == {"clean"}


def test_purge_noncurrent_asks_and_needs_fix_and_versions(s3: Any, images: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    dirty = s3.put_object(Bucket=BUCKET, Key="v/p.jpg", Body=images["gps.jpg"])["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="v/p.jpg", Body=images["clean.jpg"])
    target, inventory = [f"s3://{BUCKET}"], ["--inventory", "manifest.json"]
    for args in (
        [*target, "--purge-noncurrent"],
        [*target, "--fix", "--purge-noncurrent"],
        [*inventory, "--fix", "--purge-noncurrent"],
    ):
        code, _, err = run(*args)
        assert code == 2 and "--purge-noncurrent needs --fix and --all-versions" in err
    result = CliRunner().invoke(
        main, [f"s3://{BUCKET}", "--all-versions", "--fix", "--purge-noncurrent", "-q"], input="n\n"
    )
    assert "PERMANENTLY DELETE 1 leaking noncurrent version(s)" in result.stderr and result.exit_code == 1
    assert dirty in {v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET)["Versions"]}
