"""Real phone, camera and action-cam files (``../shared/devices``), judged by the independent oracle.

Every file is accepted except the one its publisher truncated; for each output, ExifTool (``-a -G1 -u -ee``, a
process of its own) finds no personal data, and Pillow / pillow-heif / PyAV decode the same frames, images, gain
maps and audio and video samples from input and output, with the same orientation, rotation, colour profile and
colour signalling. Nothing here reads the engine's report beyond its outcome and reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.report import ScrubReport
from tests.oracle import decodes, embedded_movie, personal_data, view_image, view_movie

DEVICES = Path(__file__).resolve().parents[2].parent / "shared" / "devices"
SKIP_REASON = f"real device files not found at {DEVICES} (they ship beside the repo)"
MUST_REFUSE = {"androidx__pixel-motion-photo-jfif-segment-shortened.jpg": "truncated"}
"""Files SOURCES.md says must be refused, and a word the reason must hold."""
MOVIES = (".mp4", ".mov", ".m4v", ".3gp")
KNOWN_GAPS: dict[str, str] = {}
"""Real files not yet accepted, each with what stops it. A strict xfail: the day one passes, the test says so and
the entry goes."""


def _known_gap(name: str) -> None:
    if name in KNOWN_GAPS:
        pytest.xfail(KNOWN_GAPS[name])


pytestmark = pytest.mark.skipif(not DEVICES.is_dir(), reason=SKIP_REASON)


def device_files() -> list[str]:
    if not DEVICES.is_dir():
        return []
    return sorted(p.name for p in DEVICES.iterdir() if p.is_file() and p.suffix.lower() != ".md")


@pytest.fixture(scope="module")
def scrubbed(scrubber: Scrubber, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, ScrubReport]]:
    out = tmp_path_factory.mktemp("devices-out")
    return {name: (out / name, scrubber.scrub_file(DEVICES / name, out / name)) for name in device_files()}


@pytest.mark.parametrize("name", device_files())
def test_every_device_file_is_read_by_the_audit(scrubber: Scrubber, name: str) -> None:
    """``exif-audit``'s definition of clean reads every real file: none is unreadable or unsupported."""
    scan = scrubber.scan(DEVICES / name)
    if name in MUST_REFUSE:
        return
    if scan.error is not None:
        _known_gap(name)
    assert scan.error is None and not scan.unsupported, (name, scan.error)


@pytest.mark.parametrize("name", device_files())
def test_every_device_file_is_cleaned_and_looks_the_same(
    scrubbed: dict[str, tuple[Path, ScrubReport]], scrubber: Scrubber, name: str
) -> None:
    output, report = scrubbed[name]
    source = DEVICES / name
    if name in MUST_REFUSE:
        assert report.outcome is Outcome.FAILED and MUST_REFUSE[name] in str(report.reason), report.reason
        assert not output.exists()
        return
    if not report.ok:
        _known_gap(name)
    assert report.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN), f"{name}: {report.reason}"
    assert personal_data(output) == [], name
    if source.suffix.lower() in MOVIES:
        before, after = view_movie(source), view_movie(output)
        assert after.streams == before.streams, name
        assert after.rotation == before.rotation, name
        for index, frames in before.frames.items():
            assert after.frames[index] == frames, f"{name}: stream {index} decodes differently"
    else:
        image_before, image_after = view_image(source), view_image(output)
        assert image_after.frames == image_before.frames, name
        assert image_after.orientation == image_before.orientation, name
        assert image_after.icc == image_before.icc, name
        assert image_after.embedded == image_before.embedded, f"{name}: an MPF image decodes differently or is gone"
        _same_motion_photo_movie(source, output, name)
    assert scrubber.scan(output).clean, name


def _same_motion_photo_movie(source: Path, output: Path, name: str) -> None:
    """A motion photo whose movie plays still plays the same movie; its movie carries no personal data either."""
    movie = embedded_movie(source)
    before = decodes(movie, output.parent) if movie is not None else None
    if before is None:
        return  # no movie, or one its publisher cut short (nothing a player could show)
    kept = embedded_movie(output)
    assert kept is not None, f"{name}: the motion photo's movie is gone"
    after = decodes(kept, output.parent)
    assert after is not None and (after.streams, after.frames) == (before.streams, before.frames), name
    clip = output.parent / f"{name}.movie.mp4"
    clip.write_bytes(kept)
    assert personal_data(clip) == [], name


def test_the_inputs_do_carry_personal_data() -> None:
    """The oracle is not blind: most device files carry personal data before the scrub."""
    carrying = [name for name in device_files() if personal_data(DEVICES / name)]
    assert len(carrying) >= 20, carrying


def test_known_gaps_are_still_gaps(scrubbed: dict[str, tuple[Path, ScrubReport]]) -> None:
    """A file in :data:`KNOWN_GAPS` that is now accepted must leave the list (so the list only shrinks)."""
    fixed = [name for name in KNOWN_GAPS if name in scrubbed and scrubbed[name][1].ok]
    assert fixed == [], f"accepted now, remove from KNOWN_GAPS: {fixed}"
