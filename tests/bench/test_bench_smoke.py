"""Smoke test of bench/scrubbers on tiny generated photos: structure and verdicts, never timings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is not an installed package; tests/ is not a package either
    sys.path.insert(0, str(REPO))

from bench.scrubbers.__main__ import Config, collect, write  # noqa: E402

ROW_KEYS = {
    "contender",
    "group",
    "inputs",
    "produced",
    "seconds",
    "files_per_s",
    "mb_per_s",
    "p50_s",
    "p95_s",
    "peak_mb",
    "bytes_out_over_in",
    "identical",
    "psnr_min_db",
    "leftover_files",
    "format_kept",
    "orientation_kept",
    "frames_kept",
    "lambda_memory_mb",
    "lambda_usd_per_million",
}


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cache = tmp_path_factory.mktemp("bench-cache")
    config = Config(
        corpus=None, sizes={"tiny": (64, 48)}, formats=["JPEG", "PNG"], reps=1, pillow_reps={}, input_cache=cache
    )
    return collect(config, log=lambda _message: None)


def _row(payload: dict[str, Any], contender: str, group: str) -> dict[str, Any]:
    return next(r for r in payload["rows"] if r["contender"] == contender and r["group"] == group)


def test_every_contender_ran_on_every_applicable_input(payload: dict[str, Any]) -> None:
    pairs = {(r["contender"], r["group"]) for r in payload["rows"]}
    assert pairs == {(c, g) for c in ("engine", "exiftool", "pillow") for g in ("tiny JPEG", "tiny PNG")} | {
        ("pillow-keep", "tiny JPEG")
    }
    for row in payload["rows"]:
        assert "error" not in row, row
        assert row.keys() >= ROW_KEYS
        assert row["produced"] == row["inputs"] == 1
        assert row["peak_mb"] > 0 and row["lambda_memory_mb"] >= 128


def test_engine_outputs_are_clean_and_pixel_identical(payload: dict[str, Any]) -> None:
    for group in ("tiny JPEG", "tiny PNG"):
        row = _row(payload, "engine", group)
        assert row["evaluated"] == row["identical"] == 1
        assert row["leftover_files"] == 0
        assert row["format_kept"] == row["orientation_kept"] == row["frames_kept"] == 1
        assert row["profile"]["per_run_ms"]


def test_pillow_variant_reencodes_and_loses_orientation(payload: dict[str, Any]) -> None:
    for contender in ("pillow", "pillow-keep"):
        row = _row(payload, contender, "tiny JPEG")
        assert row["identical"] == 0 and row["psnr_min_db"] is not None
        assert row["orientation_kept"] == 0  # the recipe's Orientation 6 is gone
        assert row["leftover_files"] == 0
    assert payload["pillow_literal_quality_keep"]  # Pillow refuses quality='keep' on the re-created image


def test_results_are_written(payload: dict[str, Any], tmp_path: Path) -> None:
    written = write(payload, tmp_path, charts=False)
    assert {p.name for p in written} == {"scrubbers.md", "scrubbers.json"}
    data = json.loads((tmp_path / "scrubbers.json").read_text())
    assert data["machine"]["exiftool"] and data["lambda_price"]["usd_per_gb_s"] > 0
    assert [r["comparison"] for r in data["ratios"][:6]] and data["ratios"][0]["value"] is None  # no corpus here
    assert "## Issue 2's targets" in (tmp_path / "scrubbers.md").read_text()
