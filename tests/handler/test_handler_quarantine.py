"""ON_FAILURE=quarantine under races, with CopyObject answering as S3 does (conftest installs the emulation: moto
5.2.5 ignores ``CopySourceIfMatch`` and ``IfNoneMatch`` on CopyObject). S3 answers 412 both when the source changed
and when the destination exists; only the second may end in ``quarantined``, and only with a key that exists."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from handler_testlib import (
    REGION,
    FakeContext,
    Harness,
    body_of,
    corrupt_jpeg,
    etag_of,
    jpeg,
    put,
    s3_event,
    s3_record,
)

from exif_scrubber.s3.objects import STATUS_TAG
from exif_scrubber.s3.result import Status
from handler import app

PREFIX = "evidence/"


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def keys_of(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    return True


def before_copy(harness: Harness, action: Any) -> list[int]:
    """Run ``action()`` once, just before the processor's first CopyObject is checked and sent."""
    ran: list[int] = []

    def once(**_: Any) -> None:
        if not ran:
            ran.append(1)
            action()

    harness.handler_s3.meta.events.register("provide-client-params.s3.CopyObject", once)
    return ran


@pytest.fixture
def quarantining(harness_factory: Any) -> Harness:
    harness: Harness = harness_factory(on_failure="quarantine", evidence_prefix=PREFIX)
    return harness


def test_the_emulation_answers_412_for_each_condition_as_s3_does(harness: Harness, bucket: str) -> None:
    """The test helper itself: without it moto would copy in both cases (which is how the bug went unseen)."""
    etag = etag_of(put(harness.s3, bucket, "src.jpg", b"source bytes"))
    put(harness.s3, bucket, "taken.jpg", b"already here")
    copy = harness.handler_s3.copy_object
    source = {"Bucket": bucket, "Key": "src.jpg"}

    for condition in ({"CopySourceIfMatch": '"' + "0" * 32 + '"'}, {"IfNoneMatch": "*"}):
        dest = "taken.jpg" if "IfNoneMatch" in condition else "new.jpg"
        with pytest.raises(ClientError) as raised:
            copy(Bucket=bucket, Key=dest, CopySource=source, **condition)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    copy(Bucket=bucket, Key="new.jpg", CopySource=source, CopySourceIfMatch=f'"{etag}"', IfNoneMatch="*")

    assert body_of(harness.s3, bucket, "taken.jpg") == b"already here"
    assert body_of(harness.s3, bucket, "new.jpg") == b"source bytes"


@pytest.mark.parametrize("earlier_quarantine", [False, True], ids=["free-name", "name-taken-too"])
def test_a_newer_upload_before_the_copy_is_a_conflict_with_nothing_quarantined(
    quarantining: Harness, bucket: str, earlier_quarantine: bool
) -> None:
    harness = quarantining
    etag = etag_of(put(harness.s3, bucket, "bad.jpg", corrupt_jpeg()))
    if earlier_quarantine:
        put(harness.s3, bucket, "quarantine/bad.jpg", b"earlier quarantined bytes")
    newer = jpeg(gps=False, seed=31)
    other = boto3.client("s3", region_name=REGION)
    ran = before_copy(harness, lambda: put(other, bucket, "bad.jpg", newer))

    result = harness.process(bucket, "bad.jpg", etag=etag)

    assert ran
    assert result.status is Status.CONFLICT and result.quarantine_key is None, result
    assert "newer upload replaced the object before it could be quarantined" in (result.reason or "")
    assert any("had failed" in note for note in result.notes)
    assert not result.failed
    assert body_of(harness.s3, bucket, "bad.jpg") == newer  # theirs, untouched and untagged
    assert tags_of(harness.s3, bucket, "bad.jpg") == {}
    expected = ["quarantine/bad.jpg"] if earlier_quarantine else []
    assert keys_of(harness.s3, bucket, "quarantine/") == expected
    if earlier_quarantine:
        assert body_of(harness.s3, bucket, "quarantine/bad.jpg") == b"earlier quarantined bytes"
    (record,) = keys_of(harness.s3, bucket, PREFIX)
    doc = json.loads(body_of(harness.s3, bucket, record))
    assert doc["outcome"] == "conflict" and doc["quarantine_key"] is None


def test_an_object_deleted_before_the_copy_is_a_conflict(quarantining: Harness, bucket: str) -> None:
    harness = quarantining
    etag = etag_of(put(harness.s3, bucket, "bad.jpg", corrupt_jpeg()))
    other = boto3.client("s3", region_name=REGION)
    before_copy(harness, lambda: other.delete_object(Bucket=bucket, Key="bad.jpg"))

    result = harness.process(bucket, "bad.jpg", etag=etag)

    assert result.status is Status.CONFLICT and result.quarantine_key is None
    assert "deleted before it could be quarantined" in (result.reason or "")
    assert keys_of(harness.s3, bucket, "quarantine/") == []
    assert not exists(harness.s3, bucket, "bad.jpg")  # not recreated by a tag or a copy


def test_an_earlier_attempts_copy_under_the_unique_name_is_used_and_exists(quarantining: Harness, bucket: str) -> None:
    """A retry after a copy that succeeded and a delete that did not: both names are taken, the unique one by
    this very version. The result names that key, and it is there."""
    harness = quarantining
    etag = etag_of(put(harness.s3, bucket, "dup.jpg", corrupt_jpeg()))
    put(harness.s3, bucket, "quarantine/dup.jpg", b"someone else's quarantined bytes")
    harness.s3.copy_object(
        Bucket=bucket, Key=f"quarantine/dup.jpg.{etag}", CopySource={"Bucket": bucket, "Key": "dup.jpg"}
    )

    result = harness.process(bucket, "dup.jpg", etag=etag)

    assert result.status is Status.QUARANTINED and result.quarantine_key == f"quarantine/dup.jpg.{etag}"
    assert body_of(harness.s3, bucket, result.quarantine_key) == corrupt_jpeg()
    assert any("already holds this quarantined version" in note for note in result.notes)
    assert not exists(harness.s3, bucket, "dup.jpg")
    assert body_of(harness.s3, bucket, "quarantine/dup.jpg") == b"someone else's quarantined bytes"


def test_both_names_held_by_other_objects_falls_back_to_the_failed_tag(quarantining: Harness, bucket: str) -> None:
    harness = quarantining
    etag = etag_of(put(harness.s3, bucket, "dup.jpg", corrupt_jpeg()))
    put(harness.s3, bucket, "quarantine/dup.jpg", b"other")
    put(harness.s3, bucket, f"quarantine/dup.jpg.{etag}", b"another, of another size")

    result = harness.process(bucket, "dup.jpg", etag=etag)

    assert result.status is Status.FAILED and result.quarantine_key is None
    assert any("both hold other objects" in problem for problem in result.problems)
    assert body_of(harness.s3, bucket, "dup.jpg") == corrupt_jpeg()
    assert tags_of(harness.s3, bucket, "dup.jpg") == {STATUS_TAG: "failed"}
    assert body_of(harness.s3, bucket, f"quarantine/dup.jpg.{etag}") == b"another, of another size"


@pytest.fixture
def emf_lines(capsys: Any) -> Iterator[Any]:
    """``emf_lines()`` -> the EMF metric documents the handler printed (the logger's own stream is muted)."""
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(io.StringIO())
    capsys.readouterr()
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    handler.setStream(previous)


def test_the_metric_counts_a_conflict_never_a_quarantine(quarantining: Harness, bucket: str, emf_lines: Any) -> None:
    harness = quarantining
    etag = etag_of(put(harness.s3, bucket, "bad.jpg", corrupt_jpeg()))
    other = boto3.client("s3", region_name=REGION)
    before_copy(harness, lambda: put(other, bucket, "bad.jpg", jpeg(gps=False, seed=32)))

    response = app.lambda_handler(s3_event(s3_record(bucket, "bad.jpg", etag=etag)), FakeContext())

    assert [r["status"] for r in response["results"]] == ["conflict"]
    (emf,) = emf_lines()
    assert emf.get("Conflicts") in (1, 1.0, [1.0]) and "Quarantined" not in emf and "Failed" not in emf
