"""Text inside coded video: SEI user data in H.264/HEVC samples and AV1 metadata/padding OBUs are removed from real
encoder output (x264, x265, SVT-AV1 through PyAV) with planted camera records; every frame decodes identically
(PyAV), every other unit is byte for byte what it was (FFmpeg's own filter_units), ExifTool -ee2 finds nothing,
and a video track that does not hold its codec's samples is refused naming the track."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import struct
import time
from array import array
from pathlib import Path
from typing import Any

import av
import pytest

from exif_scrubber import Scrubber
from exif_scrubber.formats import sniff, track_samples
from exif_scrubber.formats.mp4 import clean_movie_in_place
from exif_scrubber.leftovers import find_leftovers, parse_exiftool_json
from exif_scrubber.policy import ScrubPolicy
from exif_scrubber.report import Outcome
from tests.bitstream_support import (
    avc_nal,
    escaped,
    hdr10_plus,
    mdpm,
    metadata_obu,
    obu,
    plant_in_samples,
    sample,
    sample_offsets,
    sei_message,
    sei_nal,
    t35,
    unregistered,
)
from tests.video_support import encode_movie, remux, sample_hashes

from .conftest import CORPUS

DEVICES = CORPUS.parent / "devices"
INDEPENDENT_READ = ["-j", "-G3:1", "-a", "-u", "-ee2", "-n", "-all:all", "--System:all"]
"""ExifTool's read with -ee2: only from level 2 does it parse H.264 samples (MDPM records in SEI user data)."""
RECOVERY = sei_message(6, b"\x84")
EPB_PAYLOAD = b"\x00\x00\x01\x00\x00\x00\x00\x00\x03\x00\x00\x02"
"""A payload that needs emulation prevention in a NAL unit (and holds an escaped 0x000003 of its own)."""


def _frames(path: Path) -> list[str]:
    """A hash of every decoded video frame's visible pixels, plane by plane (PyAV: FFmpeg's decoders, not the
    engine; the padding at the end of each plane's lines is not part of the picture)."""
    hashes = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest = hashlib.sha256(frame.format.name.encode())
            for plane in frame.planes:
                data, width = bytes(plane), plane.width * (2 if "p10" in frame.format.name else 1)
                for row in range(plane.height):
                    digest.update(data[row * plane.line_size : row * plane.line_size + width])
            hashes.append(digest.hexdigest())
    return hashes


def _tags(scrubber: Scrubber, path: Path) -> list[Any]:
    return parse_exiftool_json(scrubber.pool.execute([*INDEPENDENT_READ, str(path)]).stdout)[0]


def _encode(path: Path, codec: str, *, frames: int = 10, options: dict[str, str] | None = None) -> Path:
    """An MP4 of ``frames`` 64x64 frames encoded by ``codec`` through PyAV (skipped when FFmpeg lacks it)."""
    try:
        av.codec.Codec(codec, "w")
    except av.codec.codec.UnknownCodecError:  # type: ignore[attr-defined]
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    with av.open(str(path), "w", format="mp4") as out:
        stream: Any = out.add_stream(codec, rate=10, options=options or {})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for number, plane in enumerate(frame.planes):
                plane.update(bytes([(index * 29 + number * 70 + row * 3) % 256 for row in range(plane.buffer_size)]))
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _scrubbed(scrubber: Scrubber, source: Path, tmp_path: Path) -> tuple[Path, Any]:
    output = tmp_path / f"out{source.suffix}"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    return output, report


def _assert_clean_and_identical(scrubber: Scrubber, source: Path, output: Path, tokens: list[bytes]) -> None:
    data = output.read_bytes()
    assert [token for token in tokens if token in data] == []
    assert _frames(output) == _frames(source), "every frame decodes to the same planes"
    assert sample_hashes(output) == sample_hashes(source), "every unit but SEI/metadata OBUs byte for byte"
    tags = _tags(scrubber, output)
    handler = sniff(data[:64])
    assert handler is not None
    assert find_leftovers(tags, handler.allowlist(handler.walk(data, ScrubPolicy()), ScrubPolicy())) == {}
    assert not [t for t in tags if t.name == "DateTimeOriginal" or "GPS" in t.name]
    again = scrubber.scrub_file(output, output.with_name("again" + output.suffix))
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before


# ---------------------------------------------------------------------- H.264


def _h264_with_camera_records(path: Path, tokens: dict[str, bytes]) -> Path:
    """x264 output (its settings in SEI user data in the first sample) with a Sony-style MDPM record (date, time,
    GPS), an unregistered record that needs emulation prevention, closed captions (T.35) and filler data planted in
    other samples, beside SEI messages that stay (recovery point)."""
    movie = encode_movie(path.with_name("x264.mp4"), "mp4", frames=12, audio=True)
    planted = plant_in_samples(
        movie.read_bytes(),
        {
            0: sample([sei_nal([mdpm(tokens["mdpm"])])]),
            3: sample([sei_nal([RECOVERY, unregistered(EPB_PAYLOAD + tokens["escaped"]), sei_message(6, b"\x94")])]),
            6: sample([sei_nal([t35(b"\xb5\x00\x31GA94" + tokens["captions"]), RECOVERY])]),
            9: sample([avc_nal(12, tokens["filler"] + b"\x80", ref_idc=0)]),
        },
    )
    path.write_bytes(planted)
    return path


def test_h264_sei_user_data_goes_and_every_frame_decodes_the_same(scrubber: Scrubber, tmp_path: Path) -> None:
    tokens = {place: secrets.token_hex(8).encode() for place in ("mdpm", "escaped", "captions", "filler")}
    source = _h264_with_camera_records(tmp_path / "camera.mp4", tokens)
    before = source.read_bytes()
    assert b"x264" in before
    seen = _tags(scrubber, source)
    assert {"DateTimeOriginal", "GPSLatitude"} <= {t.name for t in seen}, "ExifTool -ee2 reads the MDPM record"

    output, report = _scrubbed(scrubber, source, tmp_path)

    data = output.read_bytes()
    assert b"x264" not in data and b"MDPM" not in data
    assert "SEI user data in track 1 samples" in report.leftovers_before["QuickTime-boxes"]
    assert "filler data in track 1 samples" in report.leftovers_before["QuickTime-boxes"]
    assert escaped(RECOVERY + sei_message(6, b"\x94") + b"\x80") in data, "the kept messages, re-escaped"
    assert data.count(escaped(RECOVERY)) == before.count(escaped(RECOVERY))
    assert source.read_bytes() == before
    _assert_clean_and_identical(scrubber, source, output, list(tokens.values()))


def test_h264_cleaned_in_place(tmp_path: Path) -> None:
    """The in-place rewrite writes each clean sample over the bytes it was read from (never ahead of a read)."""
    tokens = {place: secrets.token_hex(8).encode() for place in ("mdpm", "escaped", "captions", "filler")}
    source = _h264_with_camera_records(tmp_path / "camera.mp4", tokens)
    target = shutil.copyfile(source, tmp_path / "in-place.mp4")

    assert clean_movie_in_place(target, ScrubPolicy())

    data = target.read_bytes()
    assert [t for t in tokens.values() if t in data] == [] and b"x264" not in data
    assert _frames(target) == _frames(source)
    assert sample_hashes(target) == sample_hashes(source)


@pytest.mark.parametrize(
    "flags", ["frag_keyframe+empty_moov+default_base_moof", "frag_keyframe"], ids=["empty-moov", "samples-in-moov"]
)
def test_h264_sei_in_movie_fragments(scrubber: Scrubber, tmp_path: Path, flags: str) -> None:
    """The same camera records in a fragmented movie (FFmpeg's stream copy into fragments: the samples are in the
    fragments' runs, or the first ones in the movie header's tables): every run is read unit by unit, the runs that
    change are written clean with their new sample sizes in trun, and every frame decodes the same."""
    tokens = {place: secrets.token_hex(8).encode() for place in ("mdpm", "escaped", "captions", "filler")}
    whole = _h264_with_camera_records(tmp_path / "camera.mp4", tokens)
    source = remux(whole, tmp_path / "fragmented.mp4", {"movflags": flags, "frag_duration": "400000"})
    data = source.read_bytes()
    assert data.count(b"moof") > 2 and b"x264" in data and all(t in data for t in tokens.values())

    output, report = _scrubbed(scrubber, source, tmp_path)

    assert "SEI user data in track 1 samples" in report.leftovers_before["QuickTime-boxes"]
    assert b"x264" not in output.read_bytes() and output.read_bytes().count(b"moof") == data.count(b"moof")
    _assert_clean_and_identical(scrubber, source, output, list(tokens.values()))


def test_a_run_without_sizes_gets_its_clean_sizes() -> None:
    """A trun that leaves its sample sizes to tfhd's or trex's default is written with a size column when its samples
    change; its other columns (durations, flags, composition offsets) and the first sample's flags stay."""
    from exif_scrubber.formats import movie_fragments

    columns = [(40, 0x10000, 2), (40, 0x10000, 0), (40, 0x10000, 5)]
    flags = 0x001 | 0x004 | 0x100 | 0x400 | 0x800
    payload = bytes([0]) + flags.to_bytes(3, "big") + struct.pack(">Ii", 3, 8) + struct.pack(">I", 0x2000000)
    payload += b"".join(struct.pack(">III", *c) for c in columns)
    run, sizes = movie_fragments._trun(payload, 1000, 0, 77)
    assert (run.start, run.end, len(sizes)) == (1008, 1008 + 3 * 77, 3)

    resized = run.with_sizes(array("I", [70, 77, 60]))

    again, clean = movie_fragments._trun(resized.write(8)[8:], 1000, 0, 77)
    assert list(clean) == [70, 77, 60] and (again.start, again.end) == (1008, 1008 + 207)
    body = resized.write(8)[8:]
    assert int.from_bytes(body[1:4], "big") == flags | 0x200
    assert body[12:16] == struct.pack(">I", 0x2000000)
    assert [struct.unpack_from(">IIII", body, 16 + 16 * i) for i in range(3)] == [
        (40, 70, 0x10000, 2),
        (40, 77, 0x10000, 0),
        (40, 60, 0x10000, 5),
    ]


def test_past_the_exact_budget_a_chunk_is_one_metadata_claim(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A movie with SEI user data in every sample (a camera's MDPM in every frame) keeps a small byte model: past the
    budget of units labelled one by one, each chunk's changes are one claim; the rewrite is the same."""
    tokens = {place: secrets.token_hex(8).encode() for place in ("mdpm", "escaped", "captions", "filler")}
    source = _h264_with_camera_records(tmp_path / "camera.mp4", tokens)
    data = source.read_bytes()

    def changed_spans() -> int:
        model = sniff(data[:64]).walk(data, ScrubPolicy())  # type: ignore[union-attr]
        return len([s for s in model.spans if s.label.endswith("in track 1 samples")])

    assert changed_spans() == 5, "one by one: the MDPM unit and x264's in the first sample, one in three others"
    monkeypatch.setattr(track_samples, "EXACT_MARKS", 1)
    assert changed_spans() == 4

    _scrubbed(scrubber, source, tmp_path)


# ---------------------------------------------------------------------- HEVC


def test_hevc_prefix_suffix_sei_and_hvcc_sei(scrubber: Scrubber, tmp_path: Path) -> None:
    """x265 writes its settings into hvcC's SEI array (which goes); a camera's T.35 record and an MDPM-style record
    go from the samples, mastering display and HDR10+ (display data) stay."""
    tokens = {place: secrets.token_hex(8).encode() for place in ("t35", "mdpm", "suffix")}
    movie = _encode(tmp_path / "x265.mp4", "libx265", options={"x265-params": "log-level=error"})
    mastering = sei_message(137, bytes(range(1, 25)))
    hdr = t35(hdr10_plus())
    prefix = sei_nal([mastering, t35(b"\xb5\x00\x31GA94" + tokens["t35"]), hdr, mdpm(tokens["mdpm"])], hevc=True)
    suffix = sei_nal([unregistered(EPB_PAYLOAD + tokens["suffix"])], hevc=True, suffix=True)
    planted = plant_in_samples(movie.read_bytes(), {0: sample([prefix]), 4: sample([prefix])})
    source = tmp_path / "camera.mp4"
    source.write_bytes(plant_in_samples(planted, {2: sample([suffix])}, at_end=True))
    assert b"x265" in source.read_bytes()

    output, report = _scrubbed(scrubber, source, tmp_path)

    data = output.read_bytes()
    assert b"x265" not in data, "the hvcC SEI array lost x265's settings"
    assert "hvcC fields" in report.leftovers_before["QuickTime-boxes"]
    assert data.count(escaped(mastering + hdr)) == 2, "mastering display and HDR10+ stay in both samples"
    _assert_clean_and_identical(scrubber, source, output, list(tokens.values()))


# ---------------------------------------------------------------------- AV1


def test_av1_metadata_and_padding_obus(scrubber: Scrubber, tmp_path: Path) -> None:
    tokens = {place: secrets.token_hex(8).encode() for place in ("t35", "private", "padding", "timecode")}
    movie = _encode(tmp_path / "svt.mp4", "libsvtav1", options={"preset": "12"})
    cll = metadata_obu(1, b"\x03\xe8\x00\xc8")
    plants = {
        1: cll + metadata_obu(4, b"\xb5\x00\x31GA94" + tokens["t35"]) + metadata_obu(25, tokens["private"]),
        3: obu(15, tokens["padding"]) + metadata_obu(5, b"\x1f" + tokens["timecode"]),
    }
    source = tmp_path / "camera.mp4"
    source.write_bytes(plant_in_samples(movie.read_bytes(), plants))
    assert len(sample_offsets(source.read_bytes())) == 10

    output, report = _scrubbed(scrubber, source, tmp_path)

    found = set(report.leftovers_before["QuickTime-boxes"])
    assert {"AV1 metadata OBU in track 1 samples", "AV1 padding OBU in track 1 samples"} <= found
    assert output.read_bytes().count(cll) == 1, "HDR content light level stays"
    _assert_clean_and_identical(scrubber, source, output, list(tokens.values()))


# ---------------------------------------------------------------------- refusals and real files


def test_a_video_track_whose_samples_are_text_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    movie = encode_movie(tmp_path / "x264.mp4", "mp4", frames=6, audio=False)
    data = bytearray(movie.read_bytes())
    offset, size = sample_offsets(bytes(data))[2]
    text = b"Subtitle: meet at 48.8577 N 2.2950 E at noon. "
    data[offset : offset + size] = (text * (size // len(text) + 1))[:size]
    source = tmp_path / "text.mp4"
    source.write_bytes(bytes(data))

    report = scrubber.scrub_file(source, tmp_path / "out.mp4")

    assert report.outcome is Outcome.FAILED
    assert report.reason is not None and "track 1 (avc1): sample 3 does not parse as H.264" in report.reason
    assert not (tmp_path / "out.mp4").exists()


def test_a_truncated_nal_length_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    movie = encode_movie(tmp_path / "x264.mp4", "mp4", frames=6, audio=False)
    data = bytearray(movie.read_bytes())
    offset, _ = sample_offsets(bytes(data))[1]
    data[offset : offset + 4] = b"\x7f\xff\xff\xff"
    source = tmp_path / "cut.mp4"
    source.write_bytes(bytes(data))

    report = scrubber.scrub_file(source, tmp_path / "out.mp4")

    assert report.outcome is Outcome.FAILED and report.reason is not None
    assert "sample 2 does not parse as H.264: a NAL unit of 2147483647 bytes runs past" in report.reason


@pytest.mark.skipif(not DEVICES.is_dir(), reason=f"real device files not found at {DEVICES}")
@pytest.mark.parametrize(
    ("name", "token", "removed"),
    [
        ("androidx__sample.mp4", b"x264 - core", 691),
        ("androidx__trim_optimization_failure.mp4", b"x264 - core", None),
        ("androidx__hdr10-video-with-sdr-container.mp4", None, 0),
    ],
)
def test_real_files(scrubber: Scrubber, tmp_path: Path, name: str, token: bytes | None, removed: int | None) -> None:
    """Real x264 output loses its settings; a real HDR10 recording keeps its HDR10+ metadata (T.35 in every
    frame) and mastering display SEI byte for byte."""
    source = DEVICES / name
    started = time.perf_counter()
    data = source.read_bytes()
    model = sniff(data[:64]).walk(data, ScrubPolicy())  # type: ignore[union-attr]
    scan = next(iter(model.samples.values()))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    print(f"{name}: {scan.removed} bytes of samples removed; walk {elapsed * 1000:.0f} ms for {len(data)} bytes")
    if removed is not None:
        assert scan.removed == removed

    output, _ = _scrubbed(scrubber, source, tmp_path)

    clean = output.read_bytes()
    if token is not None:
        assert token in data and token not in clean
    assert _frames(output) == _frames(source)
    assert sample_hashes(output) == sample_hashes(source)
    if name.startswith("androidx__hdr10"):
        hdr10 = b"\xb5\x00\x3c\x00\x01\x04"
        assert clean.count(hdr10) == data.count(hdr10) == 28
