"""Mode=trial (TRIAL=true) on the live trigger, against moto: every upload is scrubbed and verified in /tmp, tagged
exif-scrub-trial=<what a scrub would do>, given its evidence record and counted in the metrics, and never
rewritten, deleted or quarantined. Judged by the bucket itself (bytes, versions, tags) and by an independent
ExifTool read of the object, not by the handler's report."""

from __future__ import annotations

import io
import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handler_testlib import NOT_AN_IMAGE, FakeContext, Harness, body_of, corrupt_jpeg, jpeg, put, s3_event, s3_record
from handler_testlib import versions_of as versions

from exif_scrubber.exiftool_process import locate_exiftool
from exif_scrubber.s3.objects import STATUS_TAG
from exif_scrubber.s3.processor import TRIAL_TAG
from handler import app
from handler.config import ConfigError, HandlerConfig
from handler.results import ScrubFailure

PREFIX = "exif-scrubber-evidence/"


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


@pytest.fixture
def evidence_bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="trial-evidence")
    return "trial-evidence"


@pytest.fixture
def emf(capsys: Any) -> Iterator[Any]:
    """``emf()`` -> the EMF metric lines the invocation printed."""
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(io.StringIO())
    capsys.readouterr()
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    handler.setStream(previous)


@pytest.fixture
def exiftool_read(tmp_path: Path) -> Any:
    """``exiftool_read(data)`` -> ExifTool's own read of the bytes (``-j -a -G1 -u -ee``), group:tag -> value."""
    executable = locate_exiftool()

    def read(data: bytes) -> dict[str, Any]:
        path = tmp_path / "read.bin"
        path.write_bytes(data)
        result = subprocess.run([str(executable), "-j", "-a", "-G1", "-u", "-ee", str(path)],
                                capture_output=True, text=True, check=True)  # fmt: skip
        tags: dict[str, Any] = json.loads(result.stdout)[0]
        return tags

    return read


def _total(value: float | list[float]) -> float:
    return sum(value) if isinstance(value, list) else value


def test_a_trial_upload_is_tagged_and_recorded_but_never_rewritten(
    harness_factory: Any, versioned_bucket: str, evidence_bucket: str, exiftool_read: Any, emf: Any
) -> None:
    harness: Harness = harness_factory(trial=True, evidence_prefix=PREFIX, evidence_bucket=evidence_bucket)
    original = jpeg(seed=31)
    version = put(harness.s3, versioned_bucket, "up/holiday.jpg", original, Tagging="owner=ann")["VersionId"]
    gps_before = {k: v for k, v in exiftool_read(original).items() if k.startswith("GPS:")}
    assert gps_before

    response = app.lambda_handler(s3_event(s3_record(versioned_bucket, "up/holiday.jpg")), FakeContext())

    assert [r["status"] for r in response["results"]] == ["reported"]
    # the bucket: same bytes, same single version, the owner's tag plus the trial verdict, no exif-scrub tag
    assert body_of(harness.s3, versioned_bucket, "up/holiday.jpg") == original
    assert [v["VersionId"] for v in versions(harness.s3, versioned_bucket, "up/holiday.jpg")] == [version]
    assert tags_of(harness.s3, versioned_bucket, "up/holiday.jpg") == {"owner": "ann", TRIAL_TAG: "would-scrub"}
    stored = body_of(harness.s3, versioned_bucket, "up/holiday.jpg")
    assert {k: v for k, v in exiftool_read(stored).items() if k.startswith("GPS:")} == gps_before
    assert not {"DeleteObject", "DeleteObjectVersion", "CopyObject"} & set(harness.calls.names)
    assert harness.calls.names.count("PutObject") == 1  # the evidence record, in the evidence bucket (below)
    # the evidence record: what a scrub would remove, the proof hashes equal, nothing written
    (record_key,) = [o["Key"] for o in harness.s3.list_objects_v2(Bucket=evidence_bucket)["Contents"]]
    record = json.loads(body_of(harness.s3, evidence_bucket, record_key))
    assert record["outcome"] == "reported" and record["written"] is None and record["deleted_version_id"] is None
    assert record["removed"]["GPS"] >= 4
    assert record["image_data_sha256"]["before"] == record["image_data_sha256"]["after"] is not None
    assert any("nothing written back" in note for note in record["notes"])
    # the metrics: scanned and dirty, nothing scrubbed
    (metrics,) = emf()
    names = {m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Scanned", "Dirty"} <= names and not {"Scrubbed", "BytesRemoved"} & names
    assert _total(metrics["Dirty"]) == 1


@pytest.mark.parametrize(
    ("body", "tag", "status"),
    [
        (jpeg(gps=False, seed=32), "clean", "reported"),
        (NOT_AN_IMAGE, "unsupported", "unsupported"),
        (corrupt_jpeg(), "failed", "failed"),
    ],
    ids=["clean", "unsupported", "corrupt"],
)
def test_every_trial_verdict_is_a_tag_of_its_own(
    harness_factory: Any, versioned_bucket: str, body: bytes, tag: str, status: str
) -> None:
    harness: Harness = harness_factory(trial=True, evidence_prefix=PREFIX, on_failure="quarantine")
    put(harness.s3, versioned_bucket, "x", body)

    result = harness.process(versioned_bucket, "x")

    assert result.status.value == status
    assert tags_of(harness.s3, versioned_bucket, "x") == {TRIAL_TAG: tag}  # never exif-scrub=clean or failed
    assert STATUS_TAG not in tags_of(harness.s3, versioned_bucket, "x")
    assert body_of(harness.s3, versioned_bucket, "x") == body
    assert len(versions(harness.s3, versioned_bucket, "x")) == 1
    assert not [k for k in _keys(harness.s3, versioned_bucket) if k.startswith("quarantine/")]  # never quarantined
    assert result.evidence_key is not None


def test_a_failed_trial_still_fails_the_event(harness_factory: Any, bucket: str) -> None:
    """As a scrub would: the alarm and the retries see it; the object itself stays as it was."""
    harness: Harness = harness_factory(trial=True)
    put(harness.s3, bucket, "bad.jpg", corrupt_jpeg())
    with pytest.raises(ScrubFailure, match=r"bad\.jpg"):
        app.lambda_handler(s3_event(s3_record(bucket, "bad.jpg")), FakeContext())
    assert body_of(harness.s3, bucket, "bad.jpg") == corrupt_jpeg()


def test_trial_and_report_only_cannot_both_be_set() -> None:
    with pytest.raises(ConfigError, match="REPORT_ONLY and TRIAL"):
        HandlerConfig.from_env({"TRIAL": "true", "REPORT_ONLY": "true"})
    assert HandlerConfig.from_env({"TRIAL": "true"}).trial


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
