"""MARKER_SECRET: only a marker this scrubber signed, for these exact bytes, skips the scrub."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import boto3
import pytest
from handler_testlib import REGION, Harness, body_of, etag_of, jpeg, put

from exif_scrubber.s3.marker import MARKER_KEY, Marker
from exif_scrubber.s3.result import Status
from handler.config import ConfigError, HandlerConfig

SECRET = b"0123456789abcdef-test-secret"


def test_own_write_is_trusted_with_one_head(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    etag = etag_of(put(harness.s3, bucket, "a.jpg", jpeg(seed=21)))
    assert harness.process(bucket, "a.jpg", etag=etag).status is Status.SCRUBBED
    head = harness.s3.head_object(Bucket=bucket, Key="a.jpg")
    assert ";sig=" in head["Metadata"][MARKER_KEY]

    harness.calls.names.clear()
    again = harness.process(bucket, "a.jpg", etag=etag_of(head))
    assert again.status is Status.SKIPPED and harness.calls.names == ["HeadObject"]


def test_forged_marker_does_not_skip_the_scrub(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    forged = harness.processor.marker.base  # what an unsigned scrubber would write
    etag = etag_of(put(harness.s3, bucket, "f.jpg", jpeg(seed=22), Metadata={MARKER_KEY: forged}))

    result = harness.process(bucket, "f.jpg", etag=etag)

    assert result.status is Status.SCRUBBED, result.reason
    assert any("not signed" in note for note in result.notes)
    assert scan(body_of(harness.s3, bucket, "f.jpg")).clean


def test_replayed_signature_on_new_bytes_is_not_trusted(harness_factory: Any, bucket: str, scan: Any) -> None:
    harness: Harness = harness_factory(marker_secret=SECRET)
    etag = etag_of(put(harness.s3, bucket, "r.jpg", jpeg(seed=23)))
    harness.process(bucket, "r.jpg", etag=etag)
    signed = harness.s3.head_object(Bucket=bucket, Key="r.jpg")["Metadata"][MARKER_KEY]

    dirty = put(harness.s3, bucket, "r.jpg", jpeg(seed=24), Metadata={MARKER_KEY: signed})  # copied marker
    result = harness.process(bucket, "r.jpg", etag=etag_of(dirty))

    assert result.status is Status.SCRUBBED
    assert scan(body_of(harness.s3, bucket, "r.jpg")).clean


def test_without_a_secret_the_marker_is_trusted_as_before(harness: Harness, bucket: str) -> None:
    put(harness.s3, bucket, "u.jpg", jpeg(seed=25), Metadata={MARKER_KEY: "anything"})
    assert harness.process(bucket, "u.jpg").status is Status.SKIPPED


def test_signature_binds_bucket_key_size_and_the_sha256_checksum() -> None:
    marker = Marker(base="p1;icc", secret=SECRET)
    checksum = base64.b64encode(hashlib.sha256(b"clean bytes").digest()).decode()
    other = base64.b64encode(hashlib.sha256(b"dirty bytes").digest()).decode()
    value = marker.value("b", "k.jpg", 100, checksum)
    assert marker.trusted("b", "k.jpg", value, 100, checksum)
    assert not marker.trusted("b", "other.jpg", value, 100, checksum)
    assert not marker.trusted("b", "k.jpg", value, 101, checksum)
    assert not marker.trusted("b", "k.jpg", value, 100, other)
    assert not marker.trusted("b", "k.jpg", value, 100, None)  # no checksum on the object: nothing bound
    assert not Marker(base="p1;icc", secret=b"another-secret-16+").trusted("b", "k.jpg", value, 100, checksum)
    assert marker.value("b", "k.jpg", 100, None) == "p1;icc"  # nothing to bind: unsigned, never trusted as signed


def test_a_marker_signed_the_old_way_is_checked_once_then_rewritten(
    harness_factory: Any, bucket: str, scan: Any
) -> None:
    """Markers signed before the checksum was (bucket, key, size, MD5) never verify: the object is checked like
    any other; a clean one is written back with a marker that binds its checksum, then costs one HEAD again."""
    harness: Harness = harness_factory(marker_secret=SECRET)
    data = jpeg(gps=False, seed=26)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    message = f"{bucket}\nold.jpg\n{len(data)}\n{md5}".encode()
    old = f"{harness.processor.marker.base};sig={hmac.new(SECRET, message, hashlib.sha256).hexdigest()[:32]}"
    etag = etag_of(put(harness.s3, bucket, "old.jpg", data, Metadata={MARKER_KEY: old}, ChecksumAlgorithm="SHA256"))

    result = harness.process(bucket, "old.jpg", etag=etag)

    assert result.status is Status.ALREADY_CLEAN, result.reason
    assert any("not signed by this scrubber for these bytes" in note for note in result.notes)
    head = harness.s3.head_object(Bucket=bucket, Key="old.jpg")
    assert head["Metadata"][MARKER_KEY] != old and body_of(harness.s3, bucket, "old.jpg") == data
    harness.calls.clear()
    assert harness.process(bucket, "old.jpg", etag=etag_of(head)).status is Status.SKIPPED
    assert harness.calls.names == ["HeadObject"]


def _same_size_dirty_jpeg(size: int) -> bytes:
    """A JPEG with GPS and camera make/model, padded with a comment segment to exactly ``size`` bytes."""
    dirty = jpeg(seed=27, size=(8, 8))
    pad = size - len(dirty)
    assert pad >= 4, "the dirty photo must be smaller than the clean one"
    return dirty[:2] + b"\xff\xfe" + (pad - 2).to_bytes(2, "big") + b"p" * (pad - 4) + dirty[2:]


@pytest.mark.parametrize("their_checksum", [None, "SHA256"], ids=["default-checksum", "own-sha256"])
def test_a_marker_copied_onto_a_dirty_upload_of_the_same_size_under_sse_kms_is_scrubbed(
    harness_factory: Any, bucket: str, scan: Any, their_checksum: str | None
) -> None:
    """Under SSE-KMS the ETag is not an MD5, so a marker over bucket, key and size was all an uploader had to copy.
    The marker binds the object's SHA-256 checksum now, which S3 computes (or verifies) from the bytes received.
    (Real S3 also refuses an upload that claims the clean object's checksum over other bytes; moto does not check.)"""
    harness: Harness = harness_factory(marker_secret=SECRET)
    kms = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms}
    etag = etag_of(put(harness.s3, bucket, "k.jpg", jpeg(seed=28, size=(256, 192)), **encryption))
    assert harness.process(bucket, "k.jpg", etag=etag).status is Status.SCRUBBED

    head = harness.s3.head_object(Bucket=bucket, Key="k.jpg")  # all an uploader with s3:GetObject metadata sees
    assert head["ServerSideEncryption"] == "aws:kms" and ";sig=" in head["Metadata"][MARKER_KEY]
    harness.calls.clear()
    assert harness.process(bucket, "k.jpg", etag=etag_of(head)).status is Status.SKIPPED  # our own write-back
    assert harness.calls.names == ["HeadObject"]

    dirty = _same_size_dirty_jpeg(head["ContentLength"])
    extra = {"ChecksumAlgorithm": their_checksum} if their_checksum else {}
    attack = put(harness.s3, bucket, "k.jpg", dirty, Metadata=head["Metadata"], **encryption, **extra)
    assert harness.s3.head_object(Bucket=bucket, Key="k.jpg")["ContentLength"] == len(dirty)
    assert not scan(dirty).clean

    result = harness.process(bucket, "k.jpg", etag=etag_of(attack))

    assert result.status is Status.SCRUBBED, result.reason
    assert any("marker present but" in note for note in result.notes)
    assert scan(body_of(harness.s3, bucket, "k.jpg")).clean


def test_with_a_secret_the_clean_object_carries_a_sha256_checksum(harness_factory: Any, bucket: str) -> None:
    """S3 keeps one checksum per object: with a signed marker it is SHA-256 (what the marker binds), whatever the
    upload had; without a secret the upload's own algorithm is kept (test_checksum_algorithm_is_kept)."""
    harness: Harness = harness_factory(marker_secret=SECRET)
    put(harness.s3, bucket, "c.jpg", jpeg(seed=29), ChecksumAlgorithm="CRC32")

    assert harness.process(bucket, "c.jpg").status is Status.SCRUBBED

    head = harness.s3.head_object(Bucket=bucket, Key="c.jpg", ChecksumMode="ENABLED")
    body = body_of(harness.s3, bucket, "c.jpg")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert "ChecksumCRC32" not in head


def test_a_secret_in_the_environment_is_refused() -> None:
    """Anyone allowed lambda:GetFunctionConfiguration reads environment variables: the value never goes there."""
    with pytest.raises(ConfigError, match=r"MARKER_SECRET is not read.*MARKER_SECRET_ARN"):
        HandlerConfig.from_env({"MARKER_SECRET": "0123456789abcdef-long-enough"})
