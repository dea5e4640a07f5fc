"""A motion photo through the Lambda's per-object flow against moto S3: the photo is scrubbed, its movie kept and
cleaned, and the result (and so the evidence record) says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handler_testlib import Harness, body_of, etag_of, put

from exif_scrubber import Scrubber
from exif_scrubber.s3.result import Status
from tests.engine.test_motion_photos import google
from tests.oracle import decodes, embedded_movie, personal_data
from tests.video_support import planted_movie


def test_a_motion_photo_keeps_its_movie_in_the_bucket(
    harness: Harness, bucket: str, scrubber: Scrubber, tmp_path: Path, scan: Any
) -> None:
    clip, plants = planted_movie(scrubber.pool, tmp_path / "clip.mp4", "mp4")
    data = google(clip.read_bytes())
    etag = etag_of(put(harness.s3, bucket, "photos/PXL_0001.MP.jpg", data, ContentType="image/jpeg"))

    result = harness.process(bucket, "photos/PXL_0001.MP.jpg", etag=etag)

    assert result.status is Status.SCRUBBED, result.reason
    assert "motion photo: video kept, cleaned" in result.notes
    stored = tmp_path / "stored.jpg"
    stored.write_bytes(body_of(harness.s3, bucket, "photos/PXL_0001.MP.jpg"))
    assert [token for token in plants.tokens.values() if token in stored.read_bytes()] == []
    assert personal_data(stored) == [] and scan(stored.read_bytes()).clean
    movie = embedded_movie(stored)
    assert movie is not None
    before, after = decodes(clip.read_bytes(), tmp_path), decodes(movie, tmp_path)
    assert before is not None and after is not None and after.frames == before.frames
