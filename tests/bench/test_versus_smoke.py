"""bench.versus: the engine of another commit and of this tree, interleaved on the same files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.versus import extract, imported_from, main  # noqa: E402


@pytest.mark.timeout(600)
def test_versus_times_both_engines_on_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("bench.versus needs the git repository (git archive of the base commit)")
    from PIL import Image

    from exif_scrubber.exiftool_process import locate_exiftool

    monkeypatch.setenv("EXIFTOOL_PATH", str(locate_exiftool()))  # main() sets it for its workers

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "VersusCam"  # Make
    Image.new("RGB", (48, 32), (200, 10, 10)).save(corpus / "a.jpg", exif=exif.tobytes())
    Image.new("RGB", (48, 32), (10, 200, 10)).save(corpus / "b.png", exif=exif.tobytes())
    results = tmp_path / "results"

    assert main(["--base", "HEAD", "--reps", "2", "--corpus", str(corpus), "--no-generated",
                 "--results", str(results)]) == 0  # fmt: skip

    payload = json.loads((results / "versus.json").read_text())
    (row,) = payload["rows"]
    assert row["group"] == "corpus" and row["files"] == 2 and row["timed"] == 2, row
    assert row["base_s"] > 0 and row["head_s"] > 0 and row["head_over_base"] > 0
    assert not row["errors"]
    assert payload["base"] in (results / "versus.md").read_text()


def test_the_base_worker_imports_the_base_tree() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("bench.versus needs the git repository")
    _sha, tree = extract("HEAD")
    assert imported_from(tree).startswith(str(tree))
