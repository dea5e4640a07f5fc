"""exif-audit and videos: the movie header is read with ranged GETs wherever it sits (start or end), timed GPS is
found, a video that cannot be cleaned is reported with the reason, and unsupported objects are listed and fail the
run only with --fail-on unsupported."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from exif_scrubber.audit.fetch import LocalFile, fetch

from exif_scrubber import Scrubber
from tests.bitstream_support import mdpm, plant_in_samples, sample, sei_nal, unregistered
from tests.video_support import (
    Plants,
    add_metadata_tracks,
    big_movie,
    encode_movie,
    planted_movie,
    remux,
    with_compressed_header,
)

from .conftest import BUCKET
from .test_cli import by_key, report, run

MEGABYTE = 1024**2
SEI_X264 = sei_nal([unregistered(b"x264 - core 164 r3108 - H.264/MPEG-4 AVC codec - Copyleft 2003-2023")])


def _ranged_and_whole(tmp_path: Path, scrubber: Scrubber, movie: Path) -> tuple[Any, Any, Any]:
    with LocalFile(movie) as source:
        result = fetch(source, tmp_path / "sparse.mov")
    sparse = scrubber.scan(tmp_path / "sparse.mov", copy=False, complete=not result.ranged)
    return result, sparse, scrubber.scan(movie, copy=False)


@pytest.mark.parametrize("header_first", [False, True], ids=["header-at-end", "header-first"])
def test_the_movie_header_is_read_with_ranged_gets(tmp_path: Path, scrubber: Scrubber, header_first: bool) -> None:
    """A codec whose samples the engine neither parses nor checks the first bytes of (MPEG-2 in QuickTime's
    ``m2v1``): only the structure is read."""
    movie = big_movie(tmp_path / "camera.mov", 6 * MEGABYTE, codec="mpeg2video")
    if header_first:
        movie = remux(movie, tmp_path / "faststart.mov", {"movflags": "faststart"}, "mov")
    else:
        add_metadata_tracks(movie, Plants())  # GPS in timed metadata after the header, as dash cams write it

    result, sparse, whole = _ranged_and_whole(tmp_path, scrubber, movie)

    assert result.ranged, result.note
    assert result.bytes_read < movie.stat().st_size // 10
    assert result.requests <= 6
    assert (sparse.leftovers, sparse.error) == (whole.leftovers, whole.error)
    boxes = whole.leftovers["QuickTime-boxes"]
    if header_first:  # FFmpeg's muxer names its handlers and writes its encoder in udta
        assert "hdlr name" in boxes and "udta box" in boxes
    else:
        timed = [g for g, names in whole.leftovers.items() if g.startswith("Doc") and "GPSLatitude" in names]
        assert timed and "track 10 (meta)" in boxes


def test_sei_user_data_in_h264_samples_is_leaking(s3: Any, scrubber: Scrubber, tmp_path: Path) -> None:
    """H.264 samples may hold SEI user data anywhere (x264's settings, a camera's MDPM date, time and GPS): the audit
    reads them all, and a movie whose boxes are clean but whose samples hold a camera's MDPM record is leaking."""
    clean = tmp_path / "clean.mp4"
    assert scrubber.scrub_file(big_movie(tmp_path / "raw.mov", 2 * MEGABYTE), clean).outcome.value == "cleaned"
    token = secrets.token_hex(8).encode()
    planted = plant_in_samples(clean.read_bytes(), {0: sample([sei_nal([mdpm(token)])]), 2: sample([SEI_X264])})
    for key, body in (("v/clean.mp4", clean.read_bytes()), ("v/camera.mp4", planted)):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    code, doc = report(f"s3://{BUCKET}/v/")

    rows = by_key(doc)
    assert code == 1
    assert rows["v/clean.mp4"]["status"] == "clean"
    camera = rows["v/camera.mp4"]
    assert camera["status"] == "leaking" and camera["bytes_read"] == camera["size"] and camera["ranged"] is False
    assert camera["leftovers"] == {"QuickTime-boxes": ["SEI user data in track 1 samples"]}


def test_a_bucket_of_videos(s3: Any, scrubber: Scrubber, tmp_path: Path) -> None:
    dirty, _ = planted_movie(scrubber.pool, tmp_path / "dirty.mov", "mov")
    clean = tmp_path / "clean.mp4"
    assert scrubber.scrub_file(encode_movie(tmp_path / "raw.mp4", "mp4"), clean).outcome.value == "cleaned"
    fragmented = remux(encode_movie(tmp_path / "s.mp4", "mp4"), tmp_path / "frag.mp4", {"movflags": "frag_keyframe"})
    compressed = with_compressed_header(encode_movie(tmp_path / "c.mp4", "mp4"))
    objects = (("v/dirty.mov", dirty), ("v/clean.mp4", clean), ("v/frag.mp4", fragmented), ("v/cmov.mp4", compressed))
    for key, path in objects:
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    s3.put_object(Bucket=BUCKET, Key="v/clip.avi", Body=b"RIFF\x24\0\0\0AVI LIST" + bytes(64))

    code, doc = report(f"s3://{BUCKET}/v/")

    rows = by_key(doc)
    assert code == 1
    assert rows["v/dirty.mov"]["status"] == "leaking"
    assert rows["v/clean.mp4"]["status"] == "clean"
    assert rows["v/frag.mp4"]["status"] == "leaking"  # read through its fragments: FFmpeg's handler names
    assert rows["v/cmov.mp4"]["status"] == "unreadable" and "compressed movie header" in str(rows["v/cmov.mp4"])
    assert rows["v/clip.avi"]["status"] == "unsupported"


def test_unsupported_video_fails_the_run_only_when_asked(s3: Any, tmp_path: Path) -> None:
    clean = encode_movie(tmp_path / "clean.mp4", "mp4", rotation=0)
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "clip.avi").write_bytes(b"RIFF\x24\0\0\0AVI LIST" + bytes(64))
    with Scrubber() as scrubber:
        assert scrubber.scrub_file(clean, folder / "clean.mp4").outcome.value in ("cleaned", "already_clean")

    code, doc = report(str(folder))
    assert code == 0 and [row["status"] for row in doc["objects"] if row["key"].endswith("clip.avi")] == ["unsupported"]
    code, out, _ = run(str(folder))
    assert code == 0 and "1 clean, 0 leaking, 1 unsupported" in out

    code, out, _ = run(str(folder), "--fail-on", "unsupported")
    assert code == 1 and "1 of 2 object(s) fail (--fail-on unsupported)" in out
