"""Smoke test of bench/audit_bench.py on three small objects: both audits see the same bucket, interleaved,
pinned, and the profile splits exif-audit's time. Never timings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import audit_bench  # noqa: E402
from bench.scrubbers.pinning import available_cpus, parse_cpus  # noqa: E402

pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("objects")
    exif = Image.Exif()
    exif[0x010F] = "SmokeCam"
    for name, colour in (("a.jpg", (200, 0, 0)), ("b.png", (0, 200, 0)), ("c.jpg", (0, 0, 200))):
        Image.new("RGB", (48, 32), colour).save(folder / name, exif=exif.tobytes())
    (folder / "NOTES.md").write_text("not an object of the audit\n")
    files = sorted(p for p in folder.iterdir() if p.suffix != ".md")
    return audit_bench.run(files, folder, cpus=parse_cpus(None), reps=2, two_cpus=False, log=lambda _m: None)


def test_both_audits_read_the_same_objects_on_the_same_cpus(report: dict[str, Any]) -> None:
    assert set(report["runs"]) == {"s3", "local"}
    for run in report["runs"].values():
        assert run["cpus"] == report["cpus"] == [available_cpus()[-1]]
        naive, ours = run["naive"], run["exif-audit"]
        assert not naive["errors"] and not ours["errors"]
        assert naive["objects"] == ours["objects"] == 3
        assert naive["leaking"] == ours["leaking"] == 3  # every object carries a camera make
        assert run["speedup"] > 0 and ours["cpu_s"] > 0
    assert report["runs"]["s3"]["exif-audit start-up"]["objects"] == 0


def test_contenders_are_interleaved(report: dict[str, Any]) -> None:
    order = report["runs"]["s3"]["order"]
    assert order == ["naive", "exif-audit", "exif-audit start-up", "exif-audit", "exif-audit start-up", "naive"]


def test_profile_splits_the_time_per_object(report: dict[str, Any]) -> None:
    profile = report["profile"]
    assert profile["objects"] == 3
    steps = profile["per_object_ms"]
    assert steps["ExifTool commands (warm -stay_open process, round trip)"] > 0
    assert steps["S3 GETs (botocore + the moto server's answer)"] > 0
    assert profile["exiftool_cpu_s"] >= 0 and profile["slowest"]


def test_markdown_states_target_and_cores(report: dict[str, Any], tmp_path: Path) -> None:
    written = audit_bench.write(report, tmp_path)
    text = (tmp_path / "audit_bench.md").read_text()
    assert {p.name for p in written} == {"audit_bench.md", "audit_bench.json"}
    assert "**Target: exif-audit >= 10x" in text and "pinned to CPU(s)" in text
    assert "## Where exif-audit's time goes" in text
