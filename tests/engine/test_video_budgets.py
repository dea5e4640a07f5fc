"""Hostile movies (issue 18): deep nesting, quadratic sample tables, millions of samples and chunks, too many tracks
and descriptions. Each is walked within bounded memory and refused with a reason naming what is wrong (a budget
by name), or cleaned; never a crash, a RecursionError or a walk that grows with the square of the input."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.errors import StructureError
from exif_scrubber.formats import movie as movie_module
from exif_scrubber.formats.base import Refusal
from exif_scrubber.formats.isobmff import box
from exif_scrubber.formats.movie_tables import MAX_CHUNKS
from exif_scrubber.formats.mp4 import walk_movie
from exif_scrubber.policy import ScrubPolicy
from tests.video_support import encode_movie, find_path, insert_into, intra_frame, replace_in, table_movie

MEGABYTE = 1024**2


def _peak_walk(data: bytes) -> tuple[object, int]:
    """The walk's result (a model or the exception) and the peak of memory Python allocated during it."""
    tracemalloc.start()
    try:
        result: object = walk_movie(data, ScrubPolicy())
    except (StructureError, Refusal) as exc:
        result = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, peak


def test_edts_nested_five_thousand_deep_is_no_crash(scrubber: Scrubber, tmp_path: Path) -> None:
    """An edit box holds only an edit list: the nested chain is one unknown box, dropped without descending."""
    source = encode_movie(tmp_path / "nested.mp4", "mp4")
    chain = b""
    for _ in range(5000):
        chain = box(b"edts", chain)
    data = insert_into(source.read_bytes(), [b"moov", b"trak"], chain)
    source.write_bytes(data)

    model = walk_movie(data, ScrubPolicy())
    assert "edts box" in model.findings()
    report = scrubber.scrub_file(source, tmp_path / "out.mp4")
    scan = scrubber.scan(source)

    assert report.outcome in (Outcome.CLEANED, Outcome.FAILED)
    assert "\n" not in str(report.reason) and "Recursion" not in str(report.reason)
    assert not scan.clean  # the audit reads it: a finding or a one-line reason, never a crash


def test_nesting_beyond_the_depth_budget_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = encode_movie(tmp_path / "in.mp4", "mp4").read_bytes()
    monkeypatch.setattr(movie_module, "MAX_DEPTH", 3)
    with pytest.raises(Refusal, match="nested more than 3 deep: budget"):
        walk_movie(data, ScrubPolicy())


def test_alternating_samples_per_chunk_runs_are_refused_in_one_pass(tmp_path: Path) -> None:
    """58,000 runs whose first chunk alternates between 1 and the last chunk (29 s on the old rescan): refused."""
    chunks = 29_000
    runs = [(1 if number % 2 == 0 else chunks, 1) for number in range(58_000)]
    source = table_movie(  # (64 bytes of media a chunk: within the chunk budget, so the runs are what is judged)
        tmp_path / "stsc.mp4", sizes=1, count=chunks, offsets=list(range(chunks)), runs=runs, payload=64 * chunks
    )
    result, peak = _peak_walk(source.read_bytes())
    assert isinstance(result, StructureError) and "increasing chunk order" in str(result)
    assert peak < 32 * MEGABYTE


def test_four_million_chunks_in_thirty_six_megabytes_are_refused_naming_the_budget(tmp_path: Path) -> None:
    count = 4_000_000
    source = table_movie(
        tmp_path / "chunks.mp4", sizes=[1] * count, count=count, offsets=range(count), runs=[(1, 1)], payload=count
    )
    result, peak = _peak_walk(source.read_bytes())
    assert isinstance(result, Refusal), result
    assert "too many chunks for the movie's size" in str(result) and "budget" in str(result)
    assert peak < 64 * MEGABYTE


def _h264_samples(path: Path, count: int, unit: bytes) -> bytes:
    """A movie of ``count`` H.264 samples, each ``unit``, in 1,000 chunks (its avcC from x264)."""
    _, config = intra_frame((16, 16))
    per = count // 1000
    source = table_movie(
        path,
        sizes=[len(unit)] * count,
        count=count,
        offsets=[per * len(unit) * n for n in range(1000)],
        runs=[(1, per)],
        payload=count * len(unit),
        config=config,
    )
    data = bytearray(source.read_bytes())
    data[36 : 36 + count * len(unit)] = unit * count  # (the mdat body starts at byte 36)
    return bytes(data)


def test_a_million_samples_are_walked_in_arrays(tmp_path: Path) -> None:
    """The 32 MB movie of 4,000,000 one-byte samples took 1.3 GiB: its tables are arrays now, and so are the sizes
    the bitstream walker reads its samples by (1,000,000 sixteen-byte H.264 samples, each a slice NAL unit)."""
    data = _h264_samples(tmp_path / "samples.mp4", 1_000_000, b"\0\0\0\x0c\x01" + b"\x9a" * 11)
    result, peak = _peak_walk(data)
    assert not isinstance(result, Exception), result
    assert peak < 64 * MEGABYTE, f"{peak / MEGABYTE:.0f} MB"


def test_four_million_tiny_samples_are_refused_naming_the_budget(tmp_path: Path) -> None:
    """Six-byte samples (each an access unit delimiter): 4,000,000 of them in 24 MB would take the walk a few
    microseconds each; more than one per 16 bytes of file is refused before any is read (the sample tables, read
    into arrays, stay within the memory bound)."""
    data = _h264_samples(tmp_path / "samples.mp4", 4_000_000, b"\0\0\0\x02\x09\xf0")
    result, peak = _peak_walk(data)
    assert isinstance(result, Refusal), result
    assert "too many video samples for the movie's size (4000000 > " in str(result) and "budget" in str(result)
    assert peak < 96 * MEGABYTE, f"{peak / MEGABYTE:.0f} MB"


def test_too_many_tracks_are_refused_naming_the_budget(tmp_path: Path) -> None:
    data = encode_movie(tmp_path / "in.mp4", "mp4", audio=False).read_bytes()
    trak = find_path(data, [b"moov", b"trak"])[-1]
    copies = data[trak.start : trak.end] * movie_module.MAX_TRACKS
    result, _ = _peak_walk(insert_into(data, [b"moov"], copies))
    assert isinstance(result, Refusal) and "too many tracks" in str(result) and "budget" in str(result)


def test_too_many_sample_descriptions_are_refused_naming_the_budget(tmp_path: Path) -> None:
    data = encode_movie(tmp_path / "in.mp4", "mp4", audio=False).read_bytes()
    stsd = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]
    entry = find_path(data, [*stsd, b"avc1"])[-1]
    entries = data[entry.start : entry.end] * (movie_module.MAX_DESCRIPTIONS + 1)
    payload = b"\0\0\0\0" + struct.pack(">I", movie_module.MAX_DESCRIPTIONS + 1) + entries
    result, _ = _peak_walk(replace_in(data, stsd, payload))
    assert isinstance(result, Refusal) and "too many sample descriptions" in str(result)


def test_an_empty_stsc_run_is_malformed(tmp_path: Path) -> None:
    source = table_movie(tmp_path / "empty.mp4", sizes=1, count=2, offsets=[0, 1], runs=[(1, 2), (2, 0)], payload=2)
    result, _ = _peak_walk(source.read_bytes())
    assert isinstance(result, StructureError) and "no samples" in str(result)


_SCRUB = """
import json, sys, time
from pathlib import Path
from exif_scrubber import Scrubber, ScrubPolicy
with Scrubber(ScrubPolicy()) as scrubber:
    report = scrubber.scrub_file(Path(sys.argv[1]), Path(sys.argv[2]))
status = Path("/proc/self/status").read_text()
peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
print(json.dumps({"outcome": report.outcome.value, "reason": report.reason, "peak_mb": peak}))
"""


@pytest.mark.slow
def test_the_most_chunks_the_budget_allows_are_cleaned_within_a_gigabyte(tmp_path: Path) -> None:
    """Every chunk a span of its own between unreferenced bytes, as many as the budget allows, and every chunk's
    sample holding x264's settings (so every chunk is written clean, sample by sample): the whole scrub (walks,
    ExifTool, FFmpeg, rewrite, verification) peaks under 1 GiB. The picture is noise, so that the clean output
    still holds more than 64 bytes a chunk and its own walk is within the chunk budget."""
    sample, config = intra_frame((16, 16), noise=True)
    spacing = len(sample) + 8
    source = table_movie(
        tmp_path / "chunks.mp4",
        sizes=len(sample),
        count=MAX_CHUNKS,
        offsets=[spacing * n for n in range(MAX_CHUNKS)],
        runs=[(1, 1)],
        payload=spacing * MAX_CHUNKS,
        config=config,
        sample=sample,
    )
    run = subprocess.run(
        [sys.executable, "-c", _SCRUB, str(source), str(tmp_path / "out.mp4")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    sys.stderr.write(f"{MAX_CHUNKS} chunks: {result}\n")
    assert result["outcome"] == "cleaned", result["reason"]
    assert result["peak_mb"] < 1024
