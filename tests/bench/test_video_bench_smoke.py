"""Smoke test of bench/video_bench.py on small movies: the rows and the verdicts, never timings."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.video_bench import CONTENDERS, collect, markdown  # noqa: E402


def test_video_bench_quick() -> None:
    result = collect(quick=True, big_mb=8, reps=1)
    rows = result["rows"]
    assert len(rows) == 3 * len(CONTENDERS)
    for row in (r for r in rows if r["contender"] == "engine"):
        assert row["produced"] and row["tokens_surviving"] == [] and row["leftover_groups"] == []
        assert row["samples_identical"] and row["plays"] and row["rotation"] == row["rotation_in"]
    exiftool_big = next(r for r in rows if r["contender"] == "exiftool -all=" and "camera" in r["input"])
    assert exiftool_big["timed_gps_left"], "exiftool -all= leaves the GPS track: what the bench is there to show"
    ffmpeg = [r for r in rows if r["contender"] == "ffmpeg stream copy"]
    assert all(r["samples_identical"] and r["leftover_groups"] for r in ffmpeg)
    assert "| engine |" in markdown(result)
