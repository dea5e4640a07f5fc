"""``exif-scrub`` output: one escaped line per file as it completes, a totals line, unsupported files listed
(not failures), warnings and reasons kept to one line with no file content or temp path."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from exif_scrubber import Outcome, Scrubber, ScrubReport
from exif_scrubber.cli import cli

from .cli_support import run_cli
from .conftest import SampleFactory

DS_STORE = b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00" + b"TOKEN-DSSTORE-7731" + b"\x00" * 64


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _photos(sample: SampleFactory, folder: Path, count: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(sample("JPEG"), folder / f"photo{i}.jpg")) for i in range(count)]


def test_unsupported_files_are_listed_and_not_failures(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    _photos(sample, folder, 1)
    (folder / ".DS_Store").write_bytes(DS_STORE)
    result = runner.invoke(cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert any(line.startswith("unsupported") and ".DS_Store" in line for line in result.stdout.splitlines())
    assert "TOKEN-DSSTORE" not in result.output
    assert result.stdout.splitlines()[-1].startswith("2 files: 1 cleaned, 1 unsupported; ")
    strict = runner.invoke(cli, ["clean", str(folder), "--out-dir", str(tmp_path / "out2"), "--fail-on-unsupported"])
    assert strict.exit_code == 1


def test_clean_ends_with_a_totals_line(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    photos = _photos(sample, tmp_path / "in", 2)
    clean = tmp_path / "clean.png"
    Image.new("RGB", (8, 8)).save(clean)
    result = runner.invoke(cli, ["clean", *map(str, photos), str(clean), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    before = sum(p.stat().st_size for p in photos)
    after = sum((tmp_path / "out" / p.name).stat().st_size for p in photos)
    assert result.stdout.splitlines()[-1] == f"3 files: 2 cleaned, 1 already clean; {before:,} -> {after:,} bytes"


def test_each_line_is_printed_as_its_file_completes(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _photos(sample, tmp_path / "in", 3)
    printed_before_each: list[str] = []
    original = Scrubber.scrub_file

    def spy(self: Scrubber, src: Path, dst: Path | None = None, *, display_name: str | None = None) -> ScrubReport:
        sys.stdout.flush()
        printed_before_each.append(sys.stdout.buffer.getvalue().decode())  # type: ignore[attr-defined]
        return original(self, src, dst, display_name=display_name)

    monkeypatch.setattr(Scrubber, "scrub_file", spy)
    result = runner.invoke(cli, ["clean", *map(str, photos), "--out-dir", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert len(printed_before_each) == 3
    assert str(photos[0]) in printed_before_each[1] and str(photos[1]) in printed_before_each[2]


def test_pillow_warnings_go_into_the_file_line_not_raw_to_stderr(tmp_path: Path) -> None:
    bad_exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x02\x00\x0e\x01\x02\x00\x28\x00\x00\x00\x1a\x00\x00\x00"
    bad_exif += b"\x12\x01\x03\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00short"
    path = tmp_path / "truncated-exif.jpg"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path, "JPEG", exif=bad_exif)
    result = run_cli("clean", path, "--out-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (line,) = [line for line in result.stdout.splitlines() if "truncated-exif.jpg" in line]
    assert "Bad offset for IFD0 ImageDescription" in line  # ExifTool's warning, as one escaped line
    assert "site-packages" not in result.stdout and "UserWarning" not in result.stdout


def test_inspect_json_says_would_clean(runner: CliRunner, sample: SampleFactory) -> None:
    result = runner.invoke(cli, ["inspect", str(sample("PNG")), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (report,) = document["files"]
    assert report["outcome"] == "would_clean"
    assert document["complete"] is True and document["totals"]["would_clean"] == 1


def _jpeg_with(path: Path, *, comment: bytes = b"", trailer: bytes = b"") -> Path:
    Image.new("RGB", (16, 16), (1, 2, 3)).save(path, "JPEG", **({"comment": comment} if comment else {}))
    path.write_bytes(path.read_bytes() + trailer)
    return path


def test_summary_names_comments_and_trailers(runner: CliRunner, tmp_path: Path) -> None:
    commented = _jpeg_with(tmp_path / "commented.jpg", comment=b"TOKEN-COMMENT-5521")
    trailing = _jpeg_with(tmp_path / "trailing.jpg", trailer=b"TOKEN-TRAILER-5522" * 4)
    for command in (["inspect"], ["clean", "--out-dir", str(tmp_path / "out")]):
        result = runner.invoke(cli, [*command, str(commented), str(trailing), "--workers", "1"])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert "()" not in result.stdout and "(;" not in result.stdout
        assert "COM" in next(line for line in lines if "commented.jpg" in line)
        assert "trailer" in next(line for line in lines if "trailing.jpg" in line).lower()
        assert "TOKEN-" not in result.output


def test_control_characters_in_file_names_are_escaped(runner: CliRunner, sample: SampleFactory, tmp_path: Path) -> None:
    name = "two\nlines\x1b[31m\u202egpj.jpg"
    path = Path(shutil.copy(sample("JPEG"), tmp_path / name))
    broken = tmp_path / "broken\n.jpg"
    broken.write_bytes(b"\xff\xd8\xff")
    result = runner.invoke(cli, ["clean", str(path), str(broken), "--out-dir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2  # the file's line and the totals
    assert "two\\nlines\\x1b[31m\\u202egpj.jpg" in result.stdout
    assert "\x1b" not in result.output and "\u202e" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"exif-scrub: unreadable: {tmp_path}/broken\\n.jpg: malformed JPEG: ")


def test_a_refusal_prints_one_line_without_temp_paths(
    runner: CliRunner, sample: SampleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the engine says, the CLI prints its first line, with the scrubber's temp files unnamed."""
    leaked: list[Path] = []

    def refuse(self: Scrubber, src: Path, dst: Path | None = None, *, display_name: str | None = None) -> ScrubReport:
        temp = Path(tempfile.mkdtemp(prefix="exif-scrub-", dir=self.work_dir)) / "in.jpg"
        leaked.append(temp)
        reason = f"ExifTool cannot read it: Bad format - {temp}\nIPTC:City TOKEN-METADATA-9931"
        return ScrubReport(source=display_name or src.name, outcome=Outcome.FAILED, reason=reason)

    monkeypatch.setattr(Scrubber, "scrub_file", refuse)
    photo = sample("JPEG")
    text = runner.invoke(cli, ["clean", str(photo), "--out-dir", str(tmp_path / "out")])
    as_json = runner.invoke(cli, ["clean", str(photo), "--out-dir", str(tmp_path / "out"), "--json"])
    for result, temp in zip((text, as_json), leaked, strict=True):
        assert result.exit_code == 1
        assert "TOKEN-METADATA" not in result.output
        assert str(temp.parent) not in result.output and "<temp file>" in result.output
    assert text.stderr.splitlines() == [
        f"exif-scrub: failed: {photo}: ExifTool cannot read it: Bad format - <temp file>"
    ]
    assert json.loads(as_json.stdout)["files"][0]["reason"] == "ExifTool cannot read it: Bad format - <temp file>"
