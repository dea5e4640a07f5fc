"""The real PNG, APNG, GIF, WebP and TIFF files of the corpus: accepted as before, and every frame or page of each
output decodes exactly as the input (Pillow, the independent oracle), with no GPS left for ExifTool (-ee)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.reading import read

from .conftest import CORPUS, CORPUS_SKIP_REASON, corpus_files
from .raster_support import frames

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)]

RASTER = {".png", ".gif", ".webp", ".tif", ".tiff"}
REFUSED = {
    "mdx__fuzz_crash-2b10c204_badIFD.tif",
    "mdx__fuzz_crash-5694c3cf.webp",
    "mdx__fuzz_crash-824dc868.png",
    "pillow__broken.png",
    "pillow__truncated_end_chunk.png",
}
"""The corpus files of these formats that are truncated or corrupt (fuzzer crashes, cut-off files)."""


def raster_files() -> list[Path]:
    return [path for path in corpus_files() if path.suffix.lower() in RASTER]


@pytest.mark.parametrize("path", raster_files(), ids=lambda path: path.name)
def test_a_real_raster_file_is_cleaned_frame_for_frame(scrubber: Scrubber, tmp_path: Path, path: Path) -> None:
    target = tmp_path / path.name
    report = scrubber.scrub_file(path, target)
    if path.name in REFUSED:
        assert report.outcome is Outcome.FAILED and str(report.reason).startswith("malformed "), report.reason
        return
    assert report.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN), report.reason
    assert frames(path) == frames(target)
    tags = read(scrubber.pool, str(target), extra=("-ee",)).tags
    assert not [t for t in tags if t.group.startswith("GPS") or "GPS" in t.name], path.name
