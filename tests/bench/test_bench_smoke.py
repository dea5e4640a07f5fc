"""Smoke test of bench/scrubbers on tiny photos: structure, pinning, interleaving and verdicts, never timings.

The generated groups carry the real labels (``12MP JPEG`` ...) on tiny pixels, so every target is computed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # bench/ is not an installed package; tests/ is not a package either
    sys.path.insert(0, str(REPO))

from bench.scrubbers.__main__ import Config, collect, write  # noqa: E402
from bench.scrubbers.cli_run import CliRun, FileLine, classify  # noqa: E402
from bench.scrubbers.pinning import CAN_PIN, available_cpus, parse_cpus, spawn  # noqa: E402
from bench.scrubbers.report import TARGETS, evaluate_target  # noqa: E402
from bench.scrubbers.run import CLI1, CLI2, ENGINE, EXIFTOOL, EXIFTOOL2, PILLOW, PILLOW_KEEP  # noqa: E402

GENERATED = ("12MP JPEG", "12MP PNG", "24MP JPEG", "24MP PNG")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small files with metadata, a truncated one every scrubber refuses, and a document the benchmark
    must leave out."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("corpus")
    exif = Image.Exif()
    exif[0x010F] = "SmokeCam"  # Make
    exif[0x0112] = 6
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "a.jpg", exif=exif.tobytes())
    Image.new("RGB", (40, 30), (10, 200, 10)).save(folder / "b.png", exif=exif.tobytes())
    Image.new("RGB", (40, 30), (10, 10, 200)).save(folder / "c.webp", exif=exif.tobytes())
    whole = (folder / "a.jpg").read_bytes()
    (folder / "d.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "README.md").write_text("not an image\n")
    return folder


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict[str, Any]:
    config = Config(
        corpus=corpus,
        sizes={"12MP": (64, 48), "24MP": (80, 60)},
        formats=["JPEG", "PNG"],
        reps=2,
        corpus_reps=2,
        pillow_reps={"12MP JPEG": 2},
        profile_runs=1,
        audit=False,
        input_cache=tmp_path_factory.mktemp("bench-cache"),
    )
    return collect(config, log=lambda _message: None)


def _row(payload: dict[str, Any], contender: str, group: str) -> dict[str, Any]:
    return next(r for r in payload["rows"] if r["contender"] == contender and r["group"] == group)


def test_every_contender_ran_on_every_group_pinned_to_the_same_cpus(payload: dict[str, Any]) -> None:
    pairs = {(r["contender"], r["group"]) for r in payload["rows"]}
    expected = {(c, g) for c in (CLI1, ENGINE, EXIFTOOL, PILLOW) for g in (*GENERATED, "corpus")}
    expected |= {(PILLOW_KEEP, g) for g in ("12MP JPEG", "24MP JPEG", "corpus")}
    if len(available_cpus()) >= 2:
        expected |= {(CLI2, "corpus, 2 cores"), (EXIFTOOL2, "corpus, 2 cores")}
    assert pairs == expected
    for row in payload["rows"]:
        assert "error" not in row, row
        if not row["group"].startswith("corpus, 2"):
            assert row["cpus"] == payload["cpus"] == [available_cpus()[-1]]
    corpus_rows = [r for r in payload["rows"] if r["group"] == "corpus" and r["contender"] != PILLOW_KEEP]
    assert {r["inputs"] for r in corpus_rows} == {4}  # README.md is not an input, for the CLI either
    assert all(r["produced"] == 3 for r in corpus_rows)  # the truncated d.jpg is refused by all


def test_contenders_are_interleaved_repetition_by_repetition(payload: dict[str, Any]) -> None:
    runs = [s for s in payload["schedule"] if s["group"] == "12MP JPEG"]
    first, second = ([s["contender"] for s in runs if s["rep"] == rep] for rep in (0, 1))
    assert set(first) == set(second) == {CLI1, ENGINE, EXIFTOOL, PILLOW, PILLOW_KEEP}
    assert second == first[1:] + first[:1]  # the order rotates
    assert [s["rep"] for s in runs] == [0] * 5 + [1] * 5  # every contender once per repetition, never AA..BB..


def test_targets_are_computed_with_a_verdict(payload: dict[str, Any]) -> None:
    targets = payload["targets"]
    assert [t["group"] for t in targets] == ["12MP JPEG", "12MP JPEG", "24MP JPEG", "12MP PNG", "corpus", "audit"]
    for target in targets[:5]:
        assert target["value"] > 0 and isinstance(target["met"], bool), target
        assert target["fast"]["cpus"] == target["slow"]["cpus"]
    assert targets[5]["met"] is None and targets[5]["note"] == "not measured in this run"
    assert re.fullmatch(r"[0-9a-f]{40}", payload["commit"]["git_commit"])
    assert isinstance(payload["commit"]["tree_dirty"], bool)
    assert len(payload["machine"]["load_before"]) == len(payload["machine"]["load_after"]) == 3


def test_cli_start_up_is_shown_apart_from_per_file_time(payload: dict[str, Any]) -> None:
    for group in (*GENERATED, "corpus"):
        cli = _row(payload, CLI1, group)
        assert cli["reps"] == 2 and cli["startup_s"] > 0 and cli["p50_s"] > 0
        whole = cli["startup_s"] + cli["per_file_sum_s"] + cli["shutdown_s"]
        assert whole == pytest.approx(cli["seconds"], rel=0.35)  # medians of the parts, median of the whole
        assert cli["p50_s"] < cli["seconds"]


def test_engine_outputs_are_clean_and_pixel_identical_with_a_profile(payload: dict[str, Any]) -> None:
    for group in (*GENERATED, "corpus"):
        for contender in (CLI1, ENGINE):
            row = _row(payload, contender, group)
            assert row["evaluated"] == row["identical"] == row["produced"]
            assert row["leftover_files"] == 0
            assert row["format_kept"] == row["orientation_kept"] == row["frames_kept"] == row["produced"]
        profile = _row(payload, ENGINE, group)["profile"]
        steps = profile["profile"]["per_run_ms"]
        assert steps["ExifTool commands (warm -stay_open process, round trip)"] > 0
        assert sum(steps.values()) == pytest.approx(profile["profile"]["total_per_run_ms"], rel=0.05)
        assert profile["top"]


def test_pillow_variant_reencodes_and_loses_orientation(payload: dict[str, Any]) -> None:
    for contender in (PILLOW, PILLOW_KEEP):
        row = _row(payload, contender, "12MP JPEG")
        assert row["identical"] == 0 and row["psnr_min_db"] is not None
        assert row["orientation_kept"] == 0  # the recipe's Orientation 6 is gone
    assert payload["pillow_literal_quality_keep"]  # Pillow refuses quality='keep' on the re-created image


def test_results_are_written(payload: dict[str, Any], tmp_path: Path) -> None:
    written = write(payload, tmp_path, charts=False)
    assert {p.name for p in written} == {"scrubbers.md", "scrubbers.json"}
    data = json.loads((tmp_path / "scrubbers.json").read_text())
    assert data["targets"] == json.loads(json.dumps(payload["targets"], default=str))
    text = (tmp_path / "scrubbers.md").read_text()
    assert "## Targets, from this run" in text and "## Start-up, shown separately" in text
    assert "## Where the engine's time goes" in text and payload["commit"]["git_commit"] in text


@pytest.mark.skipif(not CAN_PIN, reason="no sched_setaffinity on this platform")
def test_spawn_pins_the_child_and_leaves_the_caller_free() -> None:
    before = os.sched_getaffinity(0)
    cpus = parse_cpus(None)
    code = "import os; print(sorted(os.sched_getaffinity(0)))"
    child = spawn([sys.executable, "-c", code], cpus, stdout=subprocess.PIPE, text=True)
    out, _ = child.communicate()
    assert json.loads(out) == list(cpus)
    assert os.sched_getaffinity(0) == before
    with pytest.raises(ValueError, match="not available"):
        parse_cpus("4096")


def test_the_cli_over_a_corpus_with_a_refused_file_is_measured(payload: dict[str, Any]) -> None:
    """The CLI prints a refused file on stderr (``exif-scrub: unreadable: ...``): one per-file line like any
    other, so the corpus rows are measured, not an error, and the corpus target has a verdict."""
    groups = {CLI1: "corpus", CLI2: "corpus, 2 cores"} if len(available_cpus()) >= 2 else {CLI1: "corpus"}
    for contender, group in groups.items():
        row = _row(payload, contender, group)
        assert row.get("error") is None, row.get("error")
    assert _row(payload, CLI1, "corpus")["produced"] == 3
    corpus_target = next(t for t in payload["targets"] if t["group"] == "corpus")
    assert corpus_target["met"] is not None


def test_a_target_with_a_broken_side_is_not_measured() -> None:
    target = TARGETS[-1]
    rows = [
        {"contender": target.fast, "group": "corpus", "cpus": "[1]", "reps": 1, "seconds": 1.0, "error": "boom"},
        {"contender": target.slow, "group": "corpus", "cpus": "[1]", "reps": 1, "seconds": 9.0, "error": None},
    ]
    verdict = evaluate_target(target, rows)
    assert verdict["met"] is None and verdict["value"] is None
    assert "boom" in verdict["note"]


def test_cli_lines_give_start_up_per_file_and_shut_down() -> None:
    assert classify("cleaned       /x/a.jpg  (EXIF: 3)", "stdout") == "cleaned"
    assert classify("clean         /x/b.jpg  (nothing to remove)", "stdout") == "already_clean"
    assert classify("exif-scrub: failed: /x/c.jpg: truncated", "stderr") == "failed"
    assert classify("exif-scrub: unreadable: /x/d.jpg: malformed JPEG: no EOI marker", "stderr") == "unreadable"
    assert classify("3 files: 2 cleaned, 1 failed", "stdout") is None
    assert classify("exif-scrub: warning: something", "stderr") is None
    run = CliRun(2.0, [FileLine(0.5, "cleaned"), FileLine(0.7, "cleaned"), FileLine(1.5, "failed")], 1, 1)
    assert run.startup_s == 0.5
    assert run.per_file_s == pytest.approx([0.2, 0.8])
    assert run.shutdown_s == pytest.approx(0.5)
    assert run.outcomes == {"cleaned": 1, "failed": 1}


def test_audit_target_is_judged_on_objects_per_second() -> None:
    from bench.scrubbers import report

    def audit(naive: float, ours: float) -> dict[str, Any]:
        run = {"naive": {"objects_per_s": naive}, "exif-audit": {"objects_per_s": ours}, "speedup": ours / naive}
        return {"runs": {"s3": run}}

    short, enough = report.audit_target(audit(10.0, 59.5)), report.audit_target(audit(10.0, 100.0))
    assert (short["value"], short["met"], enough["met"]) == (5.95, False, True)
    row = report.target_table([short]).splitlines()[-1]
    assert "exif-audit: 59.5 objects/s" in row and "naive audit: 10.0 objects/s" in row and "**NOT met**" in row
    assert report.audit_target(None)["met"] is None
