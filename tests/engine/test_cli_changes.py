"""``exif-scrub`` says what was removed, what was rewritten and what is kept, and says it accurately: checked
against an independent ExifTool read of the output (a rewritten ICC profile was listed as removed)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from exif_scrubber.cli import cli
from exif_scrubber.exiftool_process import locate_exiftool

from . import hostile
from .conftest import CORPUS, CORPUS_SKIP_REASON

TOKEN = b"TOKEN-ICC-PRIVATE-4411"


def _exiftool_groups(path: Path) -> Counter[str]:
    """Tag counts per family-1 group, from ExifTool run on its own (not the engine's pool or parser)."""
    out = subprocess.run(
        [str(locate_exiftool()), "-j", "-a", "-G1", "-u", str(path)], capture_output=True, text=True, check=True
    ).stdout
    (tags,) = json.loads(out)
    return Counter(key.split(":")[0] for key in tags if ":" in key)


def _exiftool_write(path: Path, *tags: str) -> None:
    subprocess.run([str(locate_exiftool()), "-q", "-overwrite_original", *tags, str(path)], check=True)


def _check_against_the_output(report: dict[str, object], output: Path) -> None:
    after = _exiftool_groups(output)
    removed, rewritten = report["removed"], report["rewritten"]
    assert isinstance(removed, dict) and isinstance(rewritten, dict)
    assert set(rewritten) <= set(removed) and all(rewritten[g] == removed[g] for g in rewritten)
    for group in set(removed) - set(rewritten):
        assert after[group] == 0, f"{group} is reported gone but the output still holds it"
    for group in rewritten:
        assert after[group] > 0, f"{group} is reported rewritten but the output has none of it"


@pytest.fixture
def icc_jpeg(tmp_path: Path) -> Path:
    """A JPEG whose ICC profile holds a private tag (the profile is kept, reduced) and whose EXIF holds an
    orientation (kept, rebuilt), a camera make and a GPS position (removed)."""
    path = tmp_path / "in" / "icc.jpg"
    path.parent.mkdir()
    path.write_bytes(hostile.insert_after_soi(hostile.jpeg(), hostile.icc_segment(hostile.icc_with_private_tag(TOKEN))))
    _exiftool_write(path, "-Make=TestCam", "-GPSLatitude=48.85", "-GPSLatitudeRef=N")
    return path


def test_a_rewritten_icc_profile_is_never_listed_as_removed(icc_jpeg: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(cli, ["clean", str(icc_jpeg), "--out-dir", str(out_dir), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["files"]
    output = out_dir / icc_jpeg.name
    assert TOKEN not in output.read_bytes()
    removed, rewritten = report["removed"], report["rewritten"]
    assert (removed["GPS"], removed["IFD0"]) == (3, 1)  # tags removed, per group
    assert "GPS" not in rewritten and rewritten["IFD0"] == 1  # IFD0 stays, rebuilt: Make went, the orientation stays
    assert "ICC_Profile" in rewritten or "ICC_Profile" not in removed  # the profile is never reported gone
    assert set(report["rewritten_blocks"]) == {"APP2 ICC profile", "APP1 EXIF"}
    assert _exiftool_groups(output)["ICC_Profile"] > 0  # the independent read: the profile is there
    _check_against_the_output(report, output)
    categories = {f["name"]: f["category"] for f in report["findings"]}
    assert categories["GPSLatitude"] == "location" and categories["Make"] == "device identity and serial numbers"
    text = CliRunner().invoke(cli, ["clean", str(icc_jpeg), "--out-dir", str(tmp_path / "out2")])
    (line,) = [line for line in text.stdout.splitlines() if line.startswith("cleaned")]
    gone, rebuilt = line.split("(removed ")[1].split("; rewritten ")
    assert gone.startswith("GPS: 3, ") and gone.endswith("IFD0: Make") and "ICC_Profile" not in gone
    assert rebuilt.startswith("JPEG: APP2 ICC profile, APP1 EXIF; ")
    inspect = CliRunner().invoke(cli, ["inspect", str(icc_jpeg)])
    assert (
        "would clean" in inspect.stdout
        and "(remove GPS: 3, " in inspect.stdout
        and "; rewrite JPEG: " in inspect.stdout
    )


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)
def test_a_camera_jpeg_says_what_went_and_what_was_rebuilt(tmp_path: Path) -> None:
    """Canon 40D: its ICC profile loses one tag in the reduction; it is rewritten, not removed."""
    source = CORPUS / "exif-samples__Canon_40D.jpg"
    result = CliRunner().invoke(cli, ["clean", str(source), "--out-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["files"]
    assert report["rewritten"]["ICC_Profile"] >= 1  # a tag dropped in the reduction: rewritten, not gone
    assert "IFD1" in report["removed"] and "IFD1" not in report["rewritten"]  # the thumbnail's IFD is gone
    _check_against_the_output(report, tmp_path / source.name)


def test_an_already_clean_file_has_nothing_removed_or_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "clean.png"
    path.write_bytes(hostile.png())
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json"])
    (report,) = json.loads(result.stdout)["files"]
    assert report["outcome"] == "already_clean"
    assert (report["removed"], report["rewritten"], report["rewritten_blocks"], report["findings"]) == ({}, {}, [], [])


def test_an_exiftool_warning_is_said_in_its_words_not_as_a_group(tmp_path: Path) -> None:
    path = tmp_path / "late-text.png"
    path.write_bytes(
        hostile.png_insert(hostile.png(), hostile.chunk(b"tEXt", b"Comment\0TOKEN-LATE-3301"), before=b"IEND")
    )
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "ExifTool warned: Text/EXIF chunk(s) found after PNG IDAT" in result.stdout
    assert "ExifTool-warnings" not in result.output and "TOKEN-LATE" not in result.output
    (report,) = json.loads(CliRunner().invoke(cli, ["inspect", str(path), "--json"]).stdout)["files"]
    warning = next(f for f in report["findings"] if f["group"] == "ExifTool-warnings")
    assert warning["category"] == "structure that cannot be verified"
