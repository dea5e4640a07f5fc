"""A second ``vide`` track whose samples are text (issue 19): whatever codec it declares (H.264, HEVC, MPEG-4
Visual, JPEG, ProRes), the movie is refused naming the track and the sample, and no output is written; the same
movies with a real second track are cleaned and decode the same in every frame of both tracks (PyAV).

Refused, not dropped: a second video track is real content in the device files (Pixel's second HEVC track, Dolby
Vision's enhancement layer, GoPro MAX's lenses), so one that does not parse is either a broken file or a gap in the
parser, and dropping it would lose frames silently in the second case. The reason names both so either is fixed."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import av
import pytest

from exif_scrubber import Scrubber
from exif_scrubber.formats.mp4 import walk_movie
from exif_scrubber.policy import ScrubPolicy
from exif_scrubber.report import Outcome
from tests.oracle import personal_data, view_movie

CODECS = {
    "libx264": ("mp4", "yuv420p", "avc1", "does not parse as H.264"),
    "libx265": ("mp4", "yuv420p", "hev1", "does not parse as HEVC"),
    "mpeg4": ("mp4", "yuv420p", "mp4v", "does not start as a frame of its codec"),
    "mjpeg": ("mp4", "yuvj420p", "mp4v", "does not start as a frame of its codec"),
    "prores_ks": ("mov", "yuv422p10le", "apch", "does not start as a frame of its codec"),
}
"""Encoder of the second track: container, pixel format, the sample description FFmpeg writes, the refusal."""


def _two_tracks(path: Path, second: str) -> Path:
    """A movie of an H.264 track and a second video track encoded by ``second`` (PyAV), ten frames each."""
    try:
        av.codec.Codec(second, "w")
    except av.codec.codec.UnknownCodecError:  # type: ignore[attr-defined]
        pytest.skip(f"PyAV's FFmpeg has no {second} encoder")
    container, pix_fmt, _, _ = CODECS[second]
    with av.open(str(path), "w", format=container) as out:
        first: Any = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        options = {"x265-params": "log-level=error"} if second == "libx265" else {}
        other: Any = out.add_stream(second, rate=10, options=options)
        for stream, fmt in ((first, "yuv420p"), (other, pix_fmt)):
            stream.width, stream.height, stream.pix_fmt = 64, 64, fmt
        for index in range(10):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for number, plane in enumerate(frame.planes):
                plane.update(bytes([(index * 23 + number * 61) % 256]) * plane.buffer_size)
            frame.pts = index
            out.mux(first.encode(frame))
            out.mux(other.encode(frame.reformat(format=pix_fmt)))
        out.mux(first.encode())
        out.mux(other.encode())
    return path


def _with_text(movie: Path, token: bytes) -> bytes:
    """The movie with every byte of the second track's samples overwritten by text holding ``token`` (its tables,
    sizes and sample description untouched)."""
    data = bytearray(movie.read_bytes())
    track = walk_movie(bytes(data), ScrubPolicy()).movie.tracks[1]  # type: ignore[attr-defined]
    text = b"GPS 51.5007 N 0.1246 W, 2026-12-07 10:42, my home " + token + b" "
    for start, length in track.chunks:
        data[start : start + length] = (text * (length // len(text) + 1))[:length]
    return bytes(data)


@pytest.mark.parametrize("second", CODECS)
def test_a_second_video_track_of_text_is_refused(scrubber: Scrubber, tmp_path: Path, second: str) -> None:
    movie = _two_tracks(tmp_path / f"two.{CODECS[second][0]}", second)
    token = secrets.token_hex(8).encode()
    source = tmp_path / f"text.{CODECS[second][0]}"
    source.write_bytes(_with_text(movie, token))
    output = tmp_path / f"out.{CODECS[second][0]}"

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.FAILED, report.reason
    entry, reason = CODECS[second][2], CODECS[second][3]
    assert report.reason is not None and f"track 2 ({entry}): sample 1 {reason}" in report.reason
    assert token.decode() not in report.reason, "the reason never echoes the file's bytes"
    assert not output.exists()
    assert not scrubber.scan(source).clean, "the audit does not call it clean either"


@pytest.mark.parametrize("second", CODECS)
def test_a_real_second_video_track_is_kept(scrubber: Scrubber, tmp_path: Path, second: str) -> None:
    source = _two_tracks(tmp_path / f"two.{CODECS[second][0]}", second)
    output = tmp_path / f"out.{CODECS[second][0]}"

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.CLEANED, report.reason
    before, after = view_movie(source), view_movie(output)
    assert len(before.streams) == 2 and after.streams == before.streams
    assert after.frames == before.frames and all(len(frames) == 10 for frames in before.frames.values())
    assert personal_data(output) == []
