"""Every real device video in ``../shared/devices`` (iPhone QuickTime with Dolby Vision and Apple metadata tracks,
GoPro with GPMF GPS tracks, Android with timed metadata and Samsung SEF trailers, HDR10/HLG recordings), judged by
independent readers only: stricter than the cross-format device test, for videos.

Per file: accepted and cleaned; FFmpeg (PyAV) sees the same audio and video streams with the same parameters, the
same packets (timing, key frames, bytes but for SEI user data, which FFmpeg's ``filter_units`` drops on both sides)
and decodes every video and audio frame the same; each video track's display matrix reads the same in ExifTool;
ExifTool ``-a -G1 -u -ee`` finds no GPS, serial, date, device name or timed-metadata track; the maker trailers and
telemetry bytes are gone; a second scrub finds it already clean; and ``exif-audit`` reads input and output with
ranged GETs and the same verdict as a whole read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import av
import pytest
from exif_scrubber.audit.fetch import LocalFile, fetch

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.report import ScrubReport
from tests.oracle import exiftool_read, personal_data, view_movie
from tests.video_support import parameter_sets, without_user_data

DEVICES = Path(__file__).resolve().parents[2].parent / "shared" / "devices"
SKIP_REASON = f"real device videos not found at {DEVICES} (they ship beside the repo)"
pytestmark = pytest.mark.skipif(not DEVICES.is_dir(), reason=SKIP_REASON)
KEPT_HANDLERS = {"vide", "soun", "alis", "url "}
"""ExifTool's HandlerType values a clean movie may show: its audio and video tracks and their data handlers."""
GONE = {
    "gopro__karma.mp4": [b"GPS5", b"DEVC", b"LAE6101112400243", b"GoPro"],
    "gopro__max-heromode.mp4": [b"GPS5", b"DEVC", b"GoPro"],
    "androidx__sample_sef_slow_motion.mp4": [b"SEFH", b"SEFT", b"SlowMotion_Data"],
    "androidx__sample_sef_super_slow_motion.mp4": [b"SEFH", b"SEFT"],
    "androidx__dolbyVision-hdr.MOV": [b"com.apple.quicktime", b"mebx", b"iPhone"],
    "androidx__sample_with_color_info.mp4": [b"com.apple.quicktime", b"mebx", b"iPhone"],
}
"""Bytes in a device file that carry telemetry, serials, device names or maker trailers: in no output."""


def device_videos() -> list[str]:
    if not DEVICES.is_dir():
        return []
    return sorted(p.name for p in DEVICES.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".m4v", ".3gp"))


@pytest.fixture(scope="module")
def scrubbed(scrubber: Scrubber, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ScrubReport]]:
    out = tmp_path_factory.mktemp("videos-out")
    return {name: (out / name, scrubber.scrub_file(DEVICES / name, out / name)) for name in device_videos()}


def packets(path: Path) -> list[list[tuple[Any, ...]]]:
    """Per audio and video stream, in order: its parameters (the codec configuration as the parameter sets a decoder
    reads from it), then each packet's timing, key flag and bytes (H.264,
    HEVC and AV1 packets without their SEI, filler and metadata units, as FFmpeg's own filter writes them: the scrub
    removes user data from those, and every other unit must stay byte for byte)."""
    streams = []
    with av.open(str(path)) as container:
        kept = [s for s in container.streams if s.type in ("video", "audio")]
        for stream in kept:
            context = stream.codec_context
            shape = (context.width, context.height) if stream.type == "video" else (context.sample_rate,)
            fmt = context.format.name if context.format is not None else None
            units = parameter_sets(context.name, bytes(context.extradata or b""))
            config = hashlib.sha256(b"".join(len(u).to_bytes(4, "big") + u for u in units)).hexdigest()
            streams.append([(stream.type, context.name, stream.profile, fmt, *shape, config, str(stream.time_base))])
        position = {stream.index: number for number, stream in enumerate(kept)}
        for packet in without_user_data(container, kept):
            if packet.size:
                digest = hashlib.sha256(bytes(packet)).hexdigest()
                streams[position[packet.stream_index]].append((packet.pts, packet.dts, packet.is_keyframe, digest))
    return streams


def matrices(path: Path) -> list[str]:
    """The display matrix of each video track (one with a visual sample description), as ExifTool reads it."""
    document = exiftool_read(path)[0]
    tracks: dict[int, dict[str, list[str]]] = {}
    for key, value in document.items():
        group, _, name = key.split("#")[0].rpartition(":")
        if group.startswith("Track") and group[5:].isdigit():
            tracks.setdefault(int(group[5:]), {}).setdefault(name, []).append(str(value))
    return [fields["MatrixStructure"][0] for _, fields in sorted(tracks.items()) if "SourceImageWidth" in fields]


@pytest.mark.parametrize("name", device_videos())
def test_device_video_is_cleaned_and_plays_exactly_the_same(
    scrubbed: dict[str, tuple[Path, ScrubReport]], scrubber: Scrubber, name: str
) -> None:
    output, report = scrubbed[name]
    source = DEVICES / name
    assert report.outcome is Outcome.CLEANED, f"{name}: {report.reason}"

    before, after = view_movie(source), view_movie(output)
    assert after.streams == before.streams and after.rotation == before.rotation, name
    assert after.frames == before.frames, f"{name}: a frame decodes differently"
    assert all(before.frames.values()), f"{name}: every stream decodes"
    assert packets(output) == packets(source), f"{name}: a packet or a stream parameter differs"
    assert matrices(source) and matrices(output) == matrices(source), f"{name}: a display matrix changed"

    assert personal_data(output) == [], name
    documents = exiftool_read(output)
    assert len(documents) == 1, f"{name}: ExifTool -ee still finds timed metadata"
    handlers = {str(value) for key, value in documents[0].items() if key.endswith("HandlerType")}
    assert handlers <= KEPT_HANDLERS, f"{name}: a track that is not audio or video is left: {handlers}"
    clean = output.read_bytes()
    assert [marker for marker in GONE.get(name, []) if marker in clean] == [], name
    assert scrubber.scrub_file(output, output.with_name("again-" + name)).outcome is Outcome.ALREADY_CLEAN


@pytest.mark.parametrize("name", device_videos())
def test_device_video_is_read_by_the_audit_with_ranged_gets(
    scrubbed: dict[str, tuple[Path, ScrubReport]], scrubber: Scrubber, tmp_path: Path, name: str
) -> None:
    """``exif-audit`` reads every device video (never unreadable): the input leaks, the output is clean, and the
    sparse copy its ranged GETs fetch gives the same verdict as the whole file."""
    output, _ = scrubbed[name]
    for path, clean in ((DEVICES / name, False), (output, True)):
        with LocalFile(path) as source:
            fetched = fetch(source, tmp_path / f"sparse-{clean}.mp4")
        sparse = scrubber.scan(tmp_path / f"sparse-{clean}.mp4", copy=False, complete=not fetched.ranged)
        whole = scrubber.scan(path)
        assert whole.error is None and sparse.error is None, (name, whole.error, sparse.error, fetched.note)
        assert whole.clean is clean and sparse.clean is clean, (name, whole.leftovers, sparse.leftovers)
