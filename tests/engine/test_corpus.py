"""The real-image tier: every corpus file is cleaned and proven, or refused with a reason.

What proves a cleaned file is the independent oracle (tests/oracle.py): Pillow / pillow-heif decode input and output
(every frame, every MPF image), ExifTool (a process of its own, ``-a -G1 -u -ee``) reads the output, and the MIME
type ExifTool sees is the same; never the engine's own report."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from tests.oracle import exiftool_read, personal_data, view_image

from .conftest import CORPUS, CORPUS_SKIP_REASON, corpus_files

pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)]

MIN_ACCEPTED = 139
"""Plain ``exiftool -all=`` produces 139 outputs on this corpus, 12 of them still leaking."""
GENUINE_DEFECT = re.compile(
    r"^malformed \w+: .*(truncated|past the end|cut off|no EOI|no IEND|bad CRC|corrupt|does not decode|no image)"
)
"""What a refusal of a real file may say: the file is truncated or corrupt, and where."""
KNOWN_BAD_REASONS = re.compile(
    r"verification failed|cannot be removed|Pillow|ExifTool (cannot|could not|crashed|timed out)|internal error|"
    r"decompression bomb|not supported|orientation changed|frames changed"
)
"""Refusals the tool must never give a valid photo (each was a bug once)."""


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


@pytest.mark.parametrize("name", [path.name for path in corpus_files()])
def test_cleaned_files_look_the_same_and_say_nothing(corpus_results: dict[str, tuple[Path, object]], name: str) -> None:
    """Decoded by Pillow / pillow-heif, every frame, MPF image, orientation and usable colour profile is the same;
    ExifTool finds no personal data in the output and the same MIME type."""
    output, report = corpus_results[name]
    if report.outcome is not Outcome.CLEANED:  # type: ignore[attr-defined]
        pytest.skip(f"{name} was not rewritten ({report.outcome})")  # type: ignore[attr-defined]
    source = CORPUS / name
    before, after = view_image(source), view_image(output)
    assert after.frames == before.frames, name
    assert after.embedded == before.embedded, name
    assert (after.orientation, after.icc) == (before.orientation, before.icc), name
    assert personal_data(output) == [], name
    mime_in, mime_out = exiftool_read(source)[0].get("File:MIMEType"), exiftool_read(output)[0].get("File:MIMEType")
    assert {mime_in, mime_out} <= {"image/jpeg", "image/mpo"} or mime_in == mime_out, name


def test_every_refusal_names_a_genuine_defect(corpus_results: dict[str, tuple[Path, object]]) -> None:
    refused = {name: report.reason for name, (_, report) in corpus_results.items() if not report.ok}  # type: ignore[attr-defined]
    assert len(refused) <= len(corpus_results) - MIN_ACCEPTED
    for name, reason in refused.items():
        assert "\n" not in str(reason), name
        assert GENUINE_DEFECT.search(str(reason)), (name, reason)
        assert not KNOWN_BAD_REASONS.search(str(reason)), (name, reason)


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
