"""Videos through the Lambda's per-object flow against moto S3: scrubbed in place, refused with the reason and
tagged, reported, and never more than two copies of the object in /tmp."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from handler_testlib import Harness, body_of, etag_of, put

from exif_scrubber import Scrubber
from exif_scrubber.formats.mp4 import MovHandler
from exif_scrubber.s3.objects import MARKER_KEY, STATUS_TAG
from exif_scrubber.s3.processor import TMP_SPACE_MARGIN
from exif_scrubber.s3.result import Status
from tests.video_support import encode_movie, planted_movie, remux, sample_hashes, with_compressed_header


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


@pytest.fixture
def planted(scrubber: Scrubber, tmp_path: Path) -> tuple[bytes, dict[str, bytes]]:
    path, plants = planted_movie(scrubber.pool, tmp_path / "planted.mov", "mov")
    return path.read_bytes(), plants.tokens


def test_video_with_gps_is_scrubbed_in_place(
    harness: Harness, bucket: str, scan: Any, planted: tuple[bytes, dict[str, bytes]], tmp_path: Path
) -> None:
    data, tokens = planted
    assert not scan(data).clean
    etag = etag_of(put(harness.s3, bucket, "videos/IMG_0001.MOV", data, ContentType="video/quicktime"))

    result = harness.process(bucket, "videos/IMG_0001.MOV", etag=etag)

    assert result.status is Status.SCRUBBED, result.reason
    assert result.format == "MOV"
    cleaned = body_of(harness.s3, bucket, "videos/IMG_0001.MOV")
    assert [place for place, token in tokens.items() if token in cleaned] == []
    assert scan(cleaned).clean
    (tmp_path / "before.mov").write_bytes(data)
    (tmp_path / "after.mov").write_bytes(cleaned)
    assert sample_hashes(tmp_path / "after.mov") == sample_hashes(tmp_path / "before.mov")
    assert result.image_hash_before == result.image_hash_after
    head = harness.s3.head_object(Bucket=bucket, Key="videos/IMG_0001.MOV")
    assert head["ContentType"] == "video/quicktime" and MARKER_KEY in head["Metadata"]
    assert harness.calls.names == ["HeadObject", "GetObject", "PutObject"]


def test_video_that_cannot_be_cleaned_losslessly_is_refused_and_tagged(
    harness: Harness, bucket: str, tmp_path: Path
) -> None:
    data = with_compressed_header(encode_movie(tmp_path / "compressed.mp4", "mp4")).read_bytes()
    put(harness.s3, bucket, "videos/old.mp4", data)

    result = harness.process(bucket, "videos/old.mp4")

    assert result.status is Status.FAILED
    assert "compressed movie header (cmov): not supported" in str(result.reason)
    assert tags_of(harness.s3, bucket, "videos/old.mp4") == {STATUS_TAG: "failed"}
    assert body_of(harness.s3, bucket, "videos/old.mp4") == data


def test_fragmented_video_is_scrubbed(harness: Harness, bucket: str, tmp_path: Path) -> None:
    staged = encode_movie(tmp_path / "staged.mp4", "mp4")
    data = remux(staged, tmp_path / "fragmented.mp4", {"movflags": "frag_keyframe+empty_moov"}).read_bytes()
    put(harness.s3, bucket, "videos/stream.mp4", data)

    result = harness.process(bucket, "videos/stream.mp4")

    assert result.status is Status.SCRUBBED, result.reason
    cleaned = body_of(harness.s3, bucket, "videos/stream.mp4")
    (tmp_path / "after.mp4").write_bytes(cleaned)
    assert sample_hashes(tmp_path / "after.mp4") == sample_hashes(tmp_path / "fragmented.mp4")


def test_report_only_lists_a_dirty_video(
    harness_factory: Any, bucket: str, planted: tuple[bytes, dict[str, bytes]]
) -> None:
    harness = harness_factory(report_only=True)
    data, _ = planted
    put(harness.s3, bucket, "v.mov", data)

    result = harness.process(bucket, "v.mov")

    assert (result.status, result.verdict) == (Status.REPORTED, "dirty")
    timed = [group for group, names in result.leftovers.items() if group.startswith("Doc") and "GPSLatitude" in names]
    assert timed, result.leftovers
    assert "track 10 (meta)" in result.leftovers["QuickTime-boxes"]
    assert body_of(harness.s3, bucket, "v.mov") == data


def test_unknown_video_container_is_unsupported_and_tagged(harness: Harness, bucket: str) -> None:
    avi = b"RIFF\x24\x00\x00\x00AVI LIST\x18\x00\x00\x00hdrlavih" + bytes(64)
    put(harness.s3, bucket, "clip.avi", avi)

    result = harness.process(bucket, "clip.avi")

    assert result.status is Status.UNSUPPORTED
    assert tags_of(harness.s3, bucket, "clip.avi") == {STATUS_TAG: "unsupported"}


@pytest.mark.parametrize(("spare", "expected"), [(-1, Status.FAILED), (0, Status.SCRUBBED)])
def test_tmp_needs_exactly_two_copies_of_the_object(
    harness: Harness,
    bucket: str,
    planted: tuple[bytes, dict[str, bytes]],
    monkeypatch: Any,
    spare: int,
    expected: Status,
) -> None:
    data, _ = planted
    put(harness.s3, bucket, "sized.mov", data)
    total = 2 * len(data) + TMP_SPACE_MARGIN + spare
    monkeypatch.setattr(
        "exif_scrubber.s3.processor.shutil.disk_usage", lambda _: SimpleNamespace(total=total, used=0, free=total)
    )

    result = harness.process(bucket, "sized.mov")

    assert result.status is expected, result.reason
    if expected is Status.FAILED:
        assert "too large for" in str(result.reason) and "ephemeral storage" in str(result.reason)


def _bytes_on_disk(*roots: Path | None) -> int:
    """Bytes of the files under ``roots``, each inode once (a hard link is no copy)."""
    seen: dict[tuple[int, int], int] = {}
    for root in filter(None, roots):
        for folder, _, files in os.walk(root):
            for name in files:
                info = (Path(folder) / name).stat()
                seen[(info.st_dev, info.st_ino)] = info.st_size
    return sum(seen.values())


def test_peak_tmp_use_is_the_download_and_one_output(
    harness: Harness, bucket: str, planted: tuple[bytes, dict[str, bytes]], monkeypatch: Any
) -> None:
    """Measured when the most is on disk: after the engine has written its clean copy. The engine's own folder
    counts too (in Lambda it is the same /tmp): the download is the engine's to link, never to copy
    (``owned=True``)."""
    data, _ = planted
    put(harness.s3, bucket, "peak.mov", data)
    peaks: list[int] = []
    original_write = MovHandler.write
    folders = (harness.processor.config.work_dir, harness.processor.scrubber.work_dir)

    def measured(self: MovHandler, model: Any, view: Any, source: Path, output: Path, policy: Any) -> None:
        peaks.append(_bytes_on_disk(*folders))
        original_write(self, model, view, source, output, policy)
        peaks.append(_bytes_on_disk(*folders))

    monkeypatch.setattr(MovHandler, "write", measured)

    result = harness.process(bucket, "peak.mov")

    assert result.status is Status.SCRUBBED, result.reason
    assert peaks and max(peaks) <= 2 * len(data)
