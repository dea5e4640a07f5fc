"""Evidence records and the exif-scrub=clean tag, against moto: every handled object has one record with the
fields an auditor needs, at a name fixed by the version read; a failed record write never undoes the scrub but
fails the object (retried), and the retry writes it; records never trigger a scrub."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from handler_testlib import NOT_AN_IMAGE, Harness, body_of, corrupt_jpeg, etag_of, jpeg, put, versions_of

from exif_scrubber import __version__
from exif_scrubber.s3.evidence import record_key
from exif_scrubber.s3.objects import MARKER_KEY, STATUS_TAG
from exif_scrubber.s3.result import Status

PREFIX = "exif-scrubber-evidence/"
FIELDS = {
    "schema", "time", "bucket", "key", "outcome", "reason", "format", "read", "written", "image_data_sha256",
    "removed", "deleted_version_id", "quarantine_key", "problems", "notes", "policy", "versions", "marker",
}  # fmt: skip


def tags_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(**args)["TagSet"]}


def evidence(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(body_of(s3, bucket, key))
    return doc


def records(s3: Any, bucket: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX)
    return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def evidence_bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="evidence-locked")
    return "evidence-locked"


def test_scrubbed_version_has_a_full_record_and_the_clean_tag(
    harness_factory: Any, versioned_bucket: str, scan: Any
) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    original = jpeg(seed=11)
    response = put(harness.s3, versioned_bucket, "in/a.jpg", original, Tagging="owner=bob")
    version, etag = response["VersionId"], etag_of(response)

    result = harness.process(versioned_bucket, "in/a.jpg", version_id=version)

    assert result.status is Status.SCRUBBED and not result.problems
    assert result.evidence_key == f"s3://{versioned_bucket}/{PREFIX}{versioned_bucket}/in/a.jpg/{version}.json"
    assert tags_of(harness.s3, versioned_bucket, "in/a.jpg") == {"owner": "bob", STATUS_TAG: "clean"}
    head = harness.s3.head_object(Bucket=versioned_bucket, Key="in/a.jpg")
    doc = evidence(harness.s3, versioned_bucket, f"{PREFIX}{versioned_bucket}/in/a.jpg/{version}.json")
    assert set(doc) == FIELDS
    assert doc["schema"] == "exif-scrubber/evidence/1" and doc["outcome"] == "scrubbed"
    assert (doc["bucket"], doc["key"], doc["format"]) == (versioned_bucket, "in/a.jpg", "JPEG")
    assert doc["read"] == {"version_id": version, "etag": etag, "bytes": len(original)}
    assert doc["written"] == {
        "version_id": head["VersionId"],
        "etag": head["ETag"].strip('"'),
        "bytes": head["ContentLength"],
    }
    hashes = doc["image_data_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", hashes["before"]) and hashes["after"] == hashes["before"]
    assert doc["removed"]["GPS"] >= 4 and doc["removed"]["IFD0"] >= 2
    assert doc["deleted_version_id"] == version
    assert doc["policy"]["fingerprint"] == "p1;icc" and doc["policy"]["strip_icc"] is False
    assert doc["versions"] == {"engine": __version__, "exiftool": harness.processor.scrubber.exiftool_version}
    assert doc["marker"] == head["Metadata"][MARKER_KEY]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["time"])
    raw = body_of(harness.s3, versioned_bucket, f"{PREFIX}{versioned_bucket}/in/a.jpg/{version}.json")
    assert b"Acme" not in raw and b"Pocket" not in raw  # group counts only, never a metadata value
    assert scan(body_of(harness.s3, versioned_bucket, "in/a.jpg")).clean


@pytest.mark.parametrize(
    ("body", "outcome", "tag"),
    [
        (jpeg(gps=False, seed=12), "already_clean", "clean"),
        (NOT_AN_IMAGE, "unsupported", "unsupported"),
        (corrupt_jpeg(), "failed", "failed"),
    ],
)
def test_every_handled_outcome_has_a_record(
    harness_factory: Any, versioned_bucket: str, body: bytes, outcome: str, tag: str
) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    version = put(harness.s3, versioned_bucket, "x.bin", body)["VersionId"]
    result = harness.process(versioned_bucket, "x.bin", version_id=version)
    assert result.status.value == outcome
    doc = evidence(harness.s3, versioned_bucket, f"{PREFIX}{versioned_bucket}/x.bin/{version}.json")
    assert doc["outcome"] == outcome and doc["read"]["version_id"] == version and doc["written"] is None
    assert tags_of(harness.s3, versioned_bucket, "x.bin", version)[STATUS_TAG] == tag
    if outcome != "already_clean":
        assert doc["reason"]


def test_records_go_to_a_separate_bucket_and_are_idempotent_per_version(
    harness_factory: Any, bucket: str, evidence_bucket: str
) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX, evidence_bucket=evidence_bucket)
    etag = etag_of(put(harness.s3, bucket, "b.jpg", jpeg(seed=13)))
    first = harness.process(bucket, "b.jpg", etag=etag)
    assert first.status is Status.SCRUBBED
    assert records(harness.s3, evidence_bucket) == [f"{PREFIX}{bucket}/b.jpg/null.{etag}.json"]
    assert records(harness.s3, bucket) == []
    again = harness.process(bucket, "b.jpg", etag=etag)  # a redelivered event: our marker, record exists
    assert again.status is Status.SKIPPED and again.redelivered and not again.problems
    assert records(harness.s3, evidence_bucket) == [f"{PREFIX}{bucket}/b.jpg/null.{etag}.json"]
    assert evidence(harness.s3, evidence_bucket, records(harness.s3, evidence_bucket)[0])["outcome"] == "scrubbed"


def test_a_failed_record_write_fails_the_object_and_the_retry_writes_it(
    harness_factory: Any, versioned_bucket: str, evidence_bucket: str
) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX, evidence_bucket=evidence_bucket)
    version = put(harness.s3, versioned_bucket, "c.jpg", jpeg(seed=14))["VersionId"]

    def refuse_evidence(params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == evidence_bucket:
            raise harness.handler_s3.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            )

    harness.handler_s3.meta.events.register("before-parameter-build.s3.PutObject", refuse_evidence)
    result = harness.process(versioned_bucket, "c.jpg", version_id=version)
    assert result.status is Status.SCRUBBED  # the scrub stands
    assert result.evidence_failed and result.failed and result.retryable
    assert result.problems == ["evidence record not written: AccessDenied denied"]
    assert records(harness.s3, evidence_bucket) == []

    harness.handler_s3.meta.events.unregister("before-parameter-build.s3.PutObject", refuse_evidence)
    retry = harness.process(versioned_bucket, "c.jpg", version_id=version)
    assert retry.status is Status.SKIPPED and retry.redelivered and not retry.failed
    (name,) = records(harness.s3, evidence_bucket)
    assert name == f"{PREFIX}{versioned_bucket}/c.jpg/{version}.json"
    doc = evidence(harness.s3, evidence_bucket, name)
    assert doc["late"] and doc["outcome"] == "skipped" and doc["read"]["version_id"] == version
    current = versions_of(harness.s3, versioned_bucket, "c.jpg")[0]["VersionId"]
    assert doc["written"]["version_id"] == current


def test_a_late_record_never_replaces_the_full_one(harness_factory: Any, bucket: str) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    etag = etag_of(put(harness.s3, bucket, "d.jpg", jpeg(seed=15)))
    harness.process(bucket, "d.jpg", etag=etag)
    name = record_key(PREFIX, bucket, "d.jpg", None, etag)
    before = body_of(harness.s3, bucket, name)
    assert harness.process(bucket, "d.jpg", etag=etag).redelivered
    assert body_of(harness.s3, bucket, name) == before


def test_evidence_prefix_is_never_processed(harness_factory: Any, bucket: str) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    put(harness.s3, bucket, f"{PREFIX}{bucket}/x/1.json", jpeg(seed=16))  # even an image planted there
    harness.calls.clear()
    result = harness.process(bucket, f"{PREFIX}{bucket}/x/1.json")
    assert result.status is Status.SKIPPED and "evidence prefix" in (result.reason or "")
    assert harness.calls.names == []


def test_stale_and_own_write_back_events_write_no_record(harness_factory: Any, versioned_bucket: str) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    version = put(harness.s3, versioned_bucket, "e.jpg", jpeg(seed=17))["VersionId"]
    scrubbed = harness.process(versioned_bucket, "e.jpg", version_id=version)
    own = harness.process(versioned_bucket, "e.jpg", version_id=scrubbed.new_version_id)
    assert own.status is Status.SKIPPED and not own.redelivered and own.evidence_key is None
    assert records(harness.s3, versioned_bucket) == [f"{PREFIX}{versioned_bucket}/e.jpg/{version}.json"]


def test_a_long_key_gets_a_hashed_record_name(harness_factory: Any, bucket: str) -> None:
    harness: Harness = harness_factory(evidence_prefix=PREFIX)
    key = "deep/" + "k" * 1000 + ".jpg"
    etag = etag_of(put(harness.s3, bucket, key, jpeg(seed=18)))
    result = harness.process(bucket, key, etag=etag)
    assert result.evidence_key and "/_long-keys/" in result.evidence_key
    (name,) = records(harness.s3, bucket)
    assert len(name.encode()) <= 1024 and evidence(harness.s3, bucket, name)["key"] == key


def test_the_clean_tag_respects_s3s_ten_tag_limit(harness: Harness, bucket: str, scan: Any) -> None:
    tags = "&".join(f"t{i}=v{i}" for i in range(10))
    etag = etag_of(put(harness.s3, bucket, "full.jpg", jpeg(seed=19), Tagging=tags))
    result = harness.process(bucket, "full.jpg", etag=etag)
    assert result.status is Status.SCRUBBED and result.failed  # scrubbed, but said loudly
    assert result.problems == [
        "not tagged exif-scrub=clean: the object already has 10 tags (S3's limit); a read-gating bucket policy "
        "keeps it unreadable"
    ]
    assert tags_of(harness.s3, bucket, "full.jpg") == {f"t{i}": f"v{i}" for i in range(10)}
    assert scan(body_of(harness.s3, bucket, "full.jpg")).clean


def test_report_only_reads_exactly_the_noncurrent_version_asked_for(
    harness_factory: Any, versioned_bucket: str
) -> None:
    harness: Harness = harness_factory(report_only=True, evidence_prefix=PREFIX)
    dirty = put(harness.s3, versioned_bucket, "n.jpg", jpeg(seed=20))["VersionId"]
    put(harness.s3, versioned_bucket, "n.jpg", jpeg(gps=False, seed=21))
    result = harness.process(versioned_bucket, "n.jpg", version_id=dirty)
    assert result.status is Status.REPORTED and result.verdict == "dirty" and "GPS" in result.leftovers
    assert result.version_id == dirty
    assert records(harness.s3, versioned_bucket) == []  # the report-only function writes nothing
    assert "PutObject" not in harness.calls.names and "PutObjectTagging" not in harness.calls.names


def test_report_only_on_a_delete_marker_version_is_skipped(harness_factory: Any, versioned_bucket: str) -> None:
    """An inventory of all versions lists delete markers too: a task naming one is not a failure."""
    harness: Harness = harness_factory(report_only=True)
    put(harness.s3, versioned_bucket, "gone.jpg", jpeg(seed=22))
    marker = harness.s3.delete_object(Bucket=versioned_bucket, Key="gone.jpg")["VersionId"]
    result = harness.process(versioned_bucket, "gone.jpg", version_id=marker)
    assert result.status is Status.SKIPPED and not result.failed
