"""The real-image tier: every corpus file is cleaned and proven, or refused with a reason."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber

from .conftest import CORPUS, CORPUS_SKIP_REASON, corpus_files

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)]

MIN_ACCEPTED = 139
"""Plain ``exiftool -all=`` produces 139 outputs on this corpus, 12 of them still leaking."""
EXPECTED_REFUSALS = {
    "mdx__BigTIFF.tif",
    "mdx__fuzz_crash-2b10c204_badIFD.tif",
    "mdx__fuzz_crash-5694c3cf.webp",
    "mdx__fuzz_crash-824dc868.png",
    "pillow__broken.png",
    "pillow__truncated_end_chunk.png",
    "pillow__truncated_jpeg.jpg",
    "pillow__ultrahdr.jpg",
    "pillow_heif__corrupted.heic",
    "pillow_heif__truncated.heic",
}


@pytest.fixture(scope="module")
def corpus_results(scrubber: Scrubber, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    out = tmp_path_factory.mktemp("corpus-out")
    return {path.name: (out / path.name, scrubber.scrub_file(path, out / path.name)) for path in corpus_files()}


def test_every_file_is_accepted_and_clean_or_refused_with_a_reason(
    corpus_results: dict[str, tuple[Path, object]], scrubber: Scrubber
) -> None:
    accepted = 0
    for name, (output, report) in corpus_results.items():
        assert report.outcome is not Outcome.UNSUPPORTED, name  # type: ignore[attr-defined]
        if report.ok:  # type: ignore[attr-defined]
            accepted += 1
            assert output.exists(), name
            scan = scrubber.scan(output)
            assert scan.clean, (name, scan)
        else:
            assert report.reason, name  # type: ignore[attr-defined]
            assert not output.exists(), f"{name}: a refused file left an output"
    assert accepted >= MIN_ACCEPTED


def test_cleaned_files_are_proven_byte_identical(corpus_results: dict[str, tuple[Path, object]]) -> None:
    cleaned = [r for _, r in corpus_results.values() if r.outcome is Outcome.CLEANED]  # type: ignore[attr-defined]
    assert len(cleaned) > 100
    for report in cleaned:
        verification = report.verification  # type: ignore[attr-defined]
        assert verification.passed and verification.hash_equal, report.source  # type: ignore[attr-defined]
        assert verification.image_hash_before == verification.image_hash_after


def test_refusals_are_exactly_the_broken_or_unwritable_files(corpus_results: dict[str, tuple[Path, object]]) -> None:
    refused = {name for name, (_, report) in corpus_results.items() if not report.ok}  # type: ignore[attr-defined]
    assert refused == EXPECTED_REFUSALS


def test_mime_type_is_unchanged(corpus_results: dict[str, tuple[Path, object]]) -> None:
    for _, report in corpus_results.values():
        if report.outcome is Outcome.CLEANED:  # type: ignore[attr-defined]
            assert report.verification.format_kept, report.source  # type: ignore[attr-defined]


def test_files_the_manifest_lists_as_leaking_are_not_reported_already_clean(
    corpus_results: dict[str, tuple[Path, object]],
) -> None:
    with (CORPUS / "MANIFEST.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    for row in rows:
        kinds = row["metadata_kinds"]
        if "GPS(lat/lon)" in kinds:
            _, report = corpus_results[row["file"]]
            assert report.outcome is not Outcome.ALREADY_CLEAN, row["file"]  # type: ignore[attr-defined]
