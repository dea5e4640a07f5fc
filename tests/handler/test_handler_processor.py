"""The per-object flow against moto S3: loop guard, conditional read/write, versions, failures."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from handler_testlib import (
    NOT_AN_IMAGE,
    REGION,
    Harness,
    body_of,
    corrupt_jpeg,
    etag_of,
    jpeg,
    put,
    versions_of,
)

from exif_scrubber.s3.objects import MARKER_KEY, STATUS_TAG
from exif_scrubber.s3.result import Status


def tags_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**args)["TagSet"]}


def test_dirty_jpeg_is_scrubbed_in_place_with_marker(harness: Harness, bucket: str, scan: Any) -> None:
    original = jpeg(seed=1)
    assert "GPS" in scan(original).leftovers
    etag = etag_of(put(harness.s3, bucket, "photos/a.jpg", original, ContentType="image/jpeg"))

    result = harness.process(bucket, "photos/a.jpg", etag=etag)

    assert result.status is Status.SCRUBBED, result.reason
    assert result.removed.get("GPS", 0) >= 4
    assert result.bytes_before == len(original) and result.bytes_after is not None
    assert result.bytes_after < result.bytes_before
    cleaned = body_of(harness.s3, bucket, "photos/a.jpg")
    assert scan(cleaned).clean
    head = harness.s3.head_object(Bucket=bucket, Key="photos/a.jpg")
    assert head["Metadata"][MARKER_KEY] == harness.processor.marker.base
    assert harness.processor.marker.base.startswith("p1;icc;engine=") and "exiftool=" in harness.processor.marker.base
    assert harness.calls.names == ["HeadObject", "GetObject", "PutObject"]


def test_already_clean_version_is_tagged_not_rewritten(harness: Harness, versioned_bucket: str) -> None:
    response = put(harness.s3, versioned_bucket, "clean.jpg", jpeg(gps=False, seed=2), Tagging="owner=me")

    result = harness.process(versioned_bucket, "clean.jpg", etag=etag_of(response))

    assert result.status is Status.ALREADY_CLEAN
    assert "PutObject" not in harness.calls.names
    assert harness.calls.names[-1] == "PutObjectTagging"
    assert [v["VersionId"] for v in versions_of(harness.s3, versioned_bucket, "clean.jpg")] == [response["VersionId"]]
    assert tags_of(harness.s3, versioned_bucket, "clean.jpg", response["VersionId"]) == {
        "owner": "me",
        STATUS_TAG: "clean",
    }


def test_already_clean_unversioned_object_is_written_back_tagged_under_if_match(harness: Harness, bucket: str) -> None:
    """Without versions a tag request has no condition: the same bytes go back with the tag, If-Match the read."""
    original = jpeg(gps=False, seed=2)
    etag = etag_of(put(harness.s3, bucket, "clean.jpg", original))

    result = harness.process(bucket, "clean.jpg", etag=etag)

    assert result.status is Status.ALREADY_CLEAN
    assert harness.calls.names == ["HeadObject", "GetObject", "PutObject"]
    assert body_of(harness.s3, bucket, "clean.jpg") == original
    assert etag_of(harness.s3.head_object(Bucket=bucket, Key="clean.jpg")) == etag
    assert tags_of(harness.s3, bucket, "clean.jpg") == {STATUS_TAG: "clean"}
    assert harness.process(bucket, "clean.jpg").status is Status.SKIPPED  # its write-back event: the marker


def test_already_clean_unversioned_object_replaced_meanwhile_is_not_tagged(harness: Harness, bucket: str) -> None:
    etag = etag_of(put(harness.s3, bucket, "race.jpg", jpeg(gps=False, seed=5)))
    dirty = jpeg(seed=6)

    def replace_before_write(**kwargs: Any) -> None:
        if kwargs["model"].name == "PutObject":
            harness.s3.put_object(Bucket=bucket, Key="race.jpg", Body=dirty)

    harness.handler_s3.meta.events.register("before-call.s3.PutObject", replace_before_write)
    result = harness.process(bucket, "race.jpg", etag=etag)

    assert result.status is Status.CONFLICT
    assert body_of(harness.s3, bucket, "race.jpg") == dirty
    assert tags_of(harness.s3, bucket, "race.jpg") == {}


def test_marker_means_one_head_and_nothing_else(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "done.jpg", jpeg(seed=3), Metadata={MARKER_KEY: "p1;icc;engine=0.1.0;exiftool=13.59"})

    result = harness.process(bucket, "done.jpg")

    assert result.status is Status.SKIPPED and "already scrubbed" in (result.reason or "")
    assert harness.calls.names == ["HeadObject"]


def test_stale_event_etag_is_skipped_without_a_get(harness: Harness, bucket: str) -> None:
    old = etag_of(put(harness.s3, bucket, "k.jpg", jpeg(seed=4)))
    newer = jpeg(seed=5)
    put(harness.s3, bucket, "k.jpg", newer)

    result = harness.process(bucket, "k.jpg", etag=old)

    assert result.status is Status.SKIPPED and "stale" in (result.reason or "")
    assert harness.calls.names == ["HeadObject"]
    assert body_of(harness.s3, bucket, "k.jpg") == newer


def test_newer_upload_between_read_and_write_survives(harness: Harness, bucket: str) -> None:
    etag = etag_of(put(harness.s3, bucket, "race.jpg", jpeg(seed=6)))
    theirs = jpeg(seed=7) + b""
    other_client = boto3.client("s3", region_name=REGION)
    injected: list[str] = []

    def upload_first(**_: Any) -> None:
        if not injected:
            injected.append(etag_of(put(other_client, bucket, "race.jpg", theirs)))

    harness.handler_s3.meta.events.register("before-call.s3.PutObject", upload_first)

    result = harness.process(bucket, "race.jpg", etag=etag)

    assert injected, "the newer upload was not injected"
    assert result.status is Status.CONFLICT
    assert body_of(harness.s3, bucket, "race.jpg") == theirs
    assert etag_of(harness.s3.head_object(Bucket=bucket, Key="race.jpg")) == injected[0]


def test_object_deleted_between_read_and_write_is_not_recreated(harness: Harness, bucket: str) -> None:
    etag = etag_of(put(harness.s3, bucket, "gone.jpg", jpeg(seed=8)))
    other_client = boto3.client("s3", region_name=REGION)

    def delete_first(**_: Any) -> None:
        other_client.delete_object(Bucket=bucket, Key="gone.jpg")

    harness.handler_s3.meta.events.register("before-call.s3.PutObject", delete_first)

    result = harness.process(bucket, "gone.jpg", etag=etag)

    assert result.status is Status.CONFLICT
    assert "Contents" not in harness.s3.list_objects_v2(Bucket=bucket)


def test_versioned_bucket_keeps_no_version_with_gps(harness: Harness, versioned_bucket: str, scan: Any) -> None:
    response = put(harness.s3, versioned_bucket, "v.jpg", jpeg(seed=9))

    result = harness.process(versioned_bucket, "v.jpg", etag=etag_of(response), version_id=response["VersionId"])

    assert result.status is Status.SCRUBBED
    assert result.deleted_version_id == response["VersionId"]
    versions = versions_of(harness.s3, versioned_bucket, "v.jpg")
    assert [v["VersionId"] for v in versions] == [result.new_version_id]
    for version in versions:
        assert scan(body_of(harness.s3, versioned_bucket, "v.jpg", version["VersionId"])).clean


def test_versioned_bucket_keeps_old_version_when_asked(harness_factory: Any, versioned_bucket: str, scan: Any) -> None:
    harness = harness_factory(delete_original_version=False)
    response = put(harness.s3, versioned_bucket, "v.jpg", jpeg(seed=10))

    result = harness.process(versioned_bucket, "v.jpg")

    assert result.status is Status.SCRUBBED and result.deleted_version_id is None
    versions = {v["VersionId"]: v for v in versions_of(harness.s3, versioned_bucket, "v.jpg")}
    assert set(versions) == {response["VersionId"], result.new_version_id}
    assert "GPS" in scan(body_of(harness.s3, versioned_bucket, "v.jpg", response["VersionId"])).leftovers
    assert scan(body_of(harness.s3, versioned_bucket, "v.jpg")).clean


def test_versioned_delete_touches_only_the_version_read(harness: Harness, versioned_bucket: str, scan: Any) -> None:
    older = put(harness.s3, versioned_bucket, "h.jpg", jpeg(gps=False, seed=11))
    current = put(harness.s3, versioned_bucket, "h.jpg", jpeg(seed=12))

    result = harness.process(versioned_bucket, "h.jpg", version_id=current["VersionId"])

    assert result.deleted_version_id == current["VersionId"]
    remaining = {v["VersionId"] for v in versions_of(harness.s3, versioned_bucket, "h.jpg")}
    assert remaining == {older["VersionId"], result.new_version_id}


def test_unsupported_is_tagged_and_keeps_existing_tags(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "doc.pdf", NOT_AN_IMAGE, Tagging="team=docs&keep=yes")

    result = harness.process(bucket, "doc.pdf")

    assert result.status is Status.UNSUPPORTED and not result.failed
    assert tags_of(harness.s3, bucket, "doc.pdf") == {"team": "docs", "keep": "yes", STATUS_TAG: "unsupported"}
    assert body_of(harness.s3, bucket, "doc.pdf") == NOT_AN_IMAGE


def test_corrupt_is_tagged_failed_and_left_untouched(harness: Harness, bucket: str) -> None:
    data = corrupt_jpeg()
    put(harness.s3, bucket, "bad.jpg", data, Tagging="owner=alice")

    result = harness.process(bucket, "bad.jpg")

    assert result.status is Status.FAILED and result.failed and not result.retryable
    assert result.reason
    assert tags_of(harness.s3, bucket, "bad.jpg") == {"owner": "alice", STATUS_TAG: "failed"}
    assert body_of(harness.s3, bucket, "bad.jpg") == data
    assert "PutObject" not in harness.calls.names


def test_too_large_is_refused_before_download(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(max_object_bytes=100)
    put(harness.s3, bucket, "big.jpg", jpeg(seed=13))

    result = harness.process(bucket, "big.jpg")

    assert result.status is Status.FAILED and "MAX_OBJECT_BYTES" in (result.reason or "")
    assert "GetObject" not in harness.calls.names
    assert tags_of(harness.s3, bucket, "big.jpg") == {STATUS_TAG: "failed"}


def test_excluded_and_quarantine_prefixes_make_no_call(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(include_prefixes=("uploads/",), exclude_prefixes=("uploads/raw/",))
    for key in ("other/x.jpg", "uploads/raw/x.jpg", "quarantine/uploads/x.jpg"):
        result = harness.process(bucket, key)
        assert result.status is Status.SKIPPED, key
    assert harness.calls.names == []


def test_quarantine_moves_failed_object_to_private_prefix(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(on_failure="quarantine")
    data = corrupt_jpeg()
    put(harness.s3, bucket, "in/bad.jpg", data, ContentType="image/jpeg", Tagging="owner=bob", ACL="public-read")

    result = harness.process(bucket, "in/bad.jpg")

    assert result.status is Status.QUARANTINED and result.failed
    assert result.quarantine_key == "quarantine/in/bad.jpg"
    assert body_of(harness.s3, bucket, "quarantine/in/bad.jpg") == data
    assert tags_of(harness.s3, bucket, "quarantine/in/bad.jpg") == {"owner": "bob", STATUS_TAG: "failed"}
    grants = harness.s3.get_object_acl(Bucket=bucket, Key="quarantine/in/bad.jpg")["Grants"]
    assert all("URI" not in g["Grantee"] for g in grants), grants  # no AllUsers/AuthenticatedUsers grant
    keys = [o["Key"] for o in harness.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["quarantine/in/bad.jpg"]


def test_quarantine_keeps_a_newer_upload(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(on_failure="quarantine")
    put(harness.s3, bucket, "bad.jpg", corrupt_jpeg())
    newer = jpeg(seed=14)
    other_client = boto3.client("s3", region_name=REGION)

    def upload_first(**_: Any) -> None:
        put(other_client, bucket, "bad.jpg", newer)

    harness.handler_s3.meta.events.register("before-call.s3.DeleteObject", upload_first)

    result = harness.process(bucket, "bad.jpg")

    assert result.status is Status.QUARANTINED
    assert body_of(harness.s3, bucket, "bad.jpg") == newer
    assert body_of(harness.s3, bucket, "quarantine/bad.jpg") == corrupt_jpeg()


def test_report_only_scans_and_never_writes(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(report_only=True)
    data = jpeg(seed=15)
    put(harness.s3, bucket, "a.jpg", data, Metadata={MARKER_KEY: "forged"})
    put(harness.s3, bucket, "b.jpg", jpeg(gps=False, seed=16))
    put(harness.s3, bucket, "c.bin", NOT_AN_IMAGE)
    put(harness.s3, bucket, "d.jpg", corrupt_jpeg())

    verdicts = {key: harness.process(bucket, key) for key in ("a.jpg", "b.jpg", "c.bin", "d.jpg")}

    assert {k: (r.status, r.verdict) for k, r in verdicts.items()} == {
        "a.jpg": (Status.REPORTED, "dirty"),
        "b.jpg": (Status.REPORTED, "clean"),
        "c.bin": (Status.REPORTED, "unsupported"),
        "d.jpg": (Status.REPORTED, "error"),
    }
    assert "GPS" in verdicts["a.jpg"].leftovers
    assert set(harness.calls.names) == {"HeadObject", "GetObject"}
    assert body_of(harness.s3, bucket, "a.jpg") == data


def test_every_attribute_round_trips(harness: Harness, bucket: str) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(Description="scrub test")["KeyMetadata"]["Arn"]
    expires = "Wed, 21 Oct 2037 07:28:00 GMT"
    put(
        harness.s3,
        bucket,
        "attrs.jpg",
        jpeg(seed=17),
        ContentType="image/jpeg",
        CacheControl="max-age=60",
        ContentDisposition='inline; filename="a.jpg"',
        ContentEncoding="identity",
        ContentLanguage="de-CH",
        Expires=expires,
        Metadata={"uploader": "alice", "album": "summer"},
        Tagging="project=x&secret=no",
        StorageClass="STANDARD_IA",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_id,
        BucketKeyEnabled=True,
        ChecksumAlgorithm="SHA256",
    )
    before = harness.s3.head_object(Bucket=bucket, Key="attrs.jpg", ChecksumMode="ENABLED")

    result = harness.process(bucket, "attrs.jpg")

    assert result.status is Status.SCRUBBED, result.reason
    after = harness.s3.head_object(Bucket=bucket, Key="attrs.jpg", ChecksumMode="ENABLED")
    for name in (
        "ContentType",
        "CacheControl",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "Expires",
        "StorageClass",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "BucketKeyEnabled",
    ):
        assert after.get(name) == before.get(name), name
    assert before["StorageClass"] == "STANDARD_IA" and before["SSEKMSKeyId"] == key_id
    assert after["Metadata"] == {**before["Metadata"], MARKER_KEY: harness.processor.marker.base}
    assert "ChecksumSHA256" in after and after["ChecksumSHA256"] != before["ChecksumSHA256"]
    assert tags_of(harness.s3, bucket, "attrs.jpg") == {"project": "x", "secret": "no", STATUS_TAG: "clean"}


def test_sse_s3_round_trips(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "aes.jpg", jpeg(seed=18), ServerSideEncryption="AES256")

    assert harness.process(bucket, "aes.jpg").status is Status.SCRUBBED
    assert harness.s3.head_object(Bucket=bucket, Key="aes.jpg")["ServerSideEncryption"] == "AES256"


def test_redelivery_changes_nothing(harness: Harness, versioned_bucket: str) -> None:
    response = put(harness.s3, versioned_bucket, "r.jpg", jpeg(seed=19))
    first = harness.process(versioned_bucket, "r.jpg", etag=etag_of(response), version_id=response["VersionId"])
    state = versions_of(harness.s3, versioned_bucket, "r.jpg")
    harness.calls.clear()

    second = harness.process(versioned_bucket, "r.jpg", etag=etag_of(response), version_id=response["VersionId"])

    assert first.status is Status.SCRUBBED and second.status is Status.SKIPPED
    assert harness.calls.names == ["HeadObject"]
    assert versions_of(harness.s3, versioned_bucket, "r.jpg") == state


def test_gone_object_is_skipped(harness: Harness, bucket: str) -> None:
    result = harness.process(bucket, "never-uploaded.jpg")
    assert result.status is Status.SKIPPED and (result.reason or "").startswith("gone")
    assert not result.failed


def test_temp_files_are_removed(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "t1.jpg", jpeg(seed=20))
    put(harness.s3, bucket, "t2.jpg", corrupt_jpeg())
    harness.process(bucket, "t1.jpg")
    harness.process(bucket, "t2.jpg")
    assert list(harness.runtime.config.work_dir.iterdir()) == []


def _refuse(operation: str, code: str, status: int) -> Any:
    def hook(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": code, "Message": f"{code} (injected)"}, "ResponseMetadata": {"HTTPStatusCode": status}},
            operation,
        )

    return hook


def test_refused_write_fails_closed_and_tags(harness: Harness, bucket: str) -> None:
    data = jpeg(seed=21)
    put(harness.s3, bucket, "meta.jpg", data)
    harness.handler_s3.meta.events.register("before-call.s3.PutObject", _refuse("PutObject", "MetadataTooLarge", 400))

    result = harness.process(bucket, "meta.jpg")

    assert result.status is Status.FAILED and "MetadataTooLarge" in (result.reason or "")
    assert body_of(harness.s3, bucket, "meta.jpg") == data
    assert tags_of(harness.s3, bucket, "meta.jpg") == {STATUS_TAG: "failed"}


def test_concurrent_write_conflict_409_is_retryable(harness: Harness, bucket: str) -> None:
    data = jpeg(seed=22)
    put(harness.s3, bucket, "busy.jpg", data)
    harness.handler_s3.meta.events.register(
        "before-call.s3.PutObject", _refuse("PutObject", "ConditionalRequestConflict", 409)
    )

    result = harness.process(bucket, "busy.jpg")

    assert result.status is Status.RETRY and result.retryable
    assert body_of(harness.s3, bucket, "busy.jpg") == data
    assert tags_of(harness.s3, bucket, "busy.jpg") == {}


def test_failed_version_delete_is_reported(harness: Harness, versioned_bucket: str) -> None:
    put(harness.s3, versioned_bucket, "keep.jpg", jpeg(seed=23))
    harness.handler_s3.meta.events.register("before-call.s3.DeleteObject", _refuse("DeleteObject", "AccessDenied", 403))

    result = harness.process(versioned_bucket, "keep.jpg")

    assert result.status is Status.SCRUBBED and result.failed
    assert "could not delete the original version" in result.problems[0]
    assert len(versions_of(harness.s3, versioned_bucket, "keep.jpg")) == 2


def test_not_enough_tmp_space_is_retryable(harness: Harness, bucket: str, monkeypatch: Any) -> None:
    put(harness.s3, bucket, "space.jpg", jpeg(seed=24))
    monkeypatch.setattr(
        "exif_scrubber.s3.processor.shutil.disk_usage",
        lambda _: SimpleNamespace(total=10**9, used=10**9 - 1000, free=1000),
    )

    result = harness.process(bucket, "space.jpg")

    assert result.status is Status.RETRY and "not enough space" in (result.reason or "")
    assert "GetObject" not in harness.calls.names


def test_tmp_smaller_than_the_object_needs_is_a_failure(harness: Harness, bucket: str, monkeypatch: Any) -> None:
    put(harness.s3, bucket, "huge.jpg", jpeg(seed=28))
    monkeypatch.setattr(
        "exif_scrubber.s3.processor.shutil.disk_usage", lambda _: SimpleNamespace(total=4096, used=0, free=4096)
    )

    result = harness.process(bucket, "huge.jpg")

    assert result.status is Status.FAILED and "ephemeral storage" in (result.reason or "")
    assert tags_of(harness.s3, bucket, "huge.jpg") == {STATUS_TAG: "failed"}


def test_quarantine_in_versioned_bucket_removes_exactly_the_version_read(
    harness_factory: Any, versioned_bucket: str
) -> None:
    harness = harness_factory(on_failure="quarantine")
    older = put(harness.s3, versioned_bucket, "q.jpg", jpeg(gps=False, seed=25))
    bad = put(harness.s3, versioned_bucket, "q.jpg", corrupt_jpeg())

    result = harness.process(versioned_bucket, "q.jpg", version_id=bad["VersionId"])

    assert result.status is Status.QUARANTINED and result.deleted_version_id == bad["VersionId"]
    assert [v["VersionId"] for v in versions_of(harness.s3, versioned_bucket, "q.jpg")] == [older["VersionId"]]
    assert body_of(harness.s3, versioned_bucket, "quarantine/q.jpg") == corrupt_jpeg()


def test_quarantine_never_overwrites_an_earlier_quarantined_object(harness_factory: Any, bucket: str) -> None:
    harness = harness_factory(on_failure="quarantine")  # CopyObject answers 412 as S3 does (conftest)
    put(harness.s3, bucket, "quarantine/dup.jpg", b"earlier quarantined bytes")
    put(harness.s3, bucket, "dup.jpg", corrupt_jpeg())

    result = harness.process(bucket, "dup.jpg")

    assert result.quarantine_key and result.quarantine_key.startswith("quarantine/dup.jpg.")
    assert body_of(harness.s3, bucket, "quarantine/dup.jpg") == b"earlier quarantined bytes"
    assert body_of(harness.s3, bucket, result.quarantine_key) == corrupt_jpeg()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1"])
def test_checksum_algorithm_is_kept(harness: Harness, bucket: str, algorithm: str) -> None:
    put(harness.s3, bucket, "sum.jpg", jpeg(seed=26), ChecksumAlgorithm=algorithm)

    assert harness.process(bucket, "sum.jpg").status is Status.SCRUBBED

    after = harness.s3.get_object(Bucket=bucket, Key="sum.jpg", ChecksumMode="ENABLED")
    assert [k for k in after if k.startswith("Checksum") and k != "ChecksumType"] == [f"Checksum{algorithm}"]


def test_null_version_of_an_unversioned_bucket_is_processed(harness: Harness, bucket: str, scan: Any) -> None:
    put(harness.s3, bucket, "n.jpg", jpeg(seed=27))
    listed = harness.s3.list_object_versions(Bucket=bucket)["Versions"][0]["VersionId"]

    result = harness.process(bucket, "n.jpg", version_id=listed)

    assert listed == "null" and result.status is Status.SCRUBBED, result.reason
    assert scan(body_of(harness.s3, bucket, "n.jpg")).clean
