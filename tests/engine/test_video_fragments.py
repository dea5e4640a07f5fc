"""Fragmented movies (``moof``/``traf``/``trun``, ``sidx``, ``mfra``) are rewritten, not refused: the audio and video
fragments are kept with every sample, a timed-metadata track's fragments go with their samples, every data offset
and segment size is right after the rewrite, and the output plays exactly as the input (PyAV, every frame)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats.isobmff import iter_boxes
from tests.oracle import exiftool_read, personal_data, view_movie
from tests.video_support import Plants, encode_movie, fragmented_movie, remux, sample_hashes

FLAGS = [
    "frag_keyframe+empty_moov",
    "frag_keyframe+empty_moov+default_base_moof",
    "frag_keyframe+empty_moov+default_base_moof+global_sidx",
    "frag_keyframe",
    "frag_keyframe+empty_moov+separate_moof",
    "frag_keyframe+empty_moov+omit_tfhd_offset",
]


def _same_play(source: Path, output: Path) -> None:
    before, after = view_movie(source), view_movie(output)
    assert (after.streams, after.frames, after.rotation) == (before.streams, before.frames, before.rotation)
    assert all(before.frames.values()), "every stream decodes frames"
    assert sample_hashes(output) == sample_hashes(source)


@pytest.mark.parametrize("flags", FLAGS)
def test_fragmented_movie_is_rewritten_and_plays_the_same(scrubber: Scrubber, tmp_path: Path, flags: str) -> None:
    staged = encode_movie(tmp_path / "staged.mp4", "mp4", frames=40, keyframe_every=5)
    source = remux(staged, tmp_path / "in.mp4", {"movflags": flags})
    assert any(b.type == b"moof" for b in iter_boxes(source.read_bytes(), 0, source.stat().st_size))
    output = tmp_path / "out.mp4"

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.CLEANED, report.reason
    _same_play(source, output)
    assert personal_data(output) == []
    clean = output.read_bytes()
    assert not [b for b in iter_boxes(clean, 0, len(clean)) if b.type in (b"mfra", b"free", b"udta")]
    assert scrubber.scrub_file(output, tmp_path / "again.mp4").outcome is Outcome.ALREADY_CLEAN
    assert scrubber.scan(output).clean


def test_a_metadata_track_in_fragments_goes_with_its_samples(scrubber: Scrubber, tmp_path: Path) -> None:
    """A GPS track beside the audio and video in a fragment (which shrinks, so every data offset in it moves), in a
    fragment of its own, a box in a track fragment and an event message: all gone, the rest plays the same."""
    plants = Plants()
    source = fragmented_movie(tmp_path / "in.mp4", plants)
    data = source.read_bytes()
    assert all(token in data for token in plants.tokens.values())
    assert sample_hashes(source) == sample_hashes(tmp_path / "staged-in.mp4"), "the plants leave the movie playable"
    output = tmp_path / "out.mp4"
    scan = scrubber.scan(source)
    assert not scan.clean and "track 10 fragment" in scan.leftovers["QuickTime-boxes"]

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.CLEANED, report.reason
    clean = output.read_bytes()
    assert [place for place, token in plants.tokens.items() if token in clean] == []
    assert b"GPS5" not in clean and b"gpmd" not in clean
    _same_play(source, output)
    documents = exiftool_read(output)
    assert len(documents) == 1, "no timed document (-ee) in the output"
    assert not [key for key in documents[0] if "GPS" in key]
    assert personal_data(output) == []
    assert scrubber.scrub_file(output, tmp_path / "again.mp4").outcome is Outcome.ALREADY_CLEAN


def test_segment_index_sizes_are_those_of_the_rewritten_segments(scrubber: Scrubber, tmp_path: Path) -> None:
    """Each ``sidx`` reference covers exactly the rewritten fragment (moof + mdat) it indexed, whatever was removed
    before and inside it; read back from the output's own boxes, not the engine's."""
    staged = encode_movie(tmp_path / "staged.mp4", "mp4", frames=40, keyframe_every=5)
    flags = {"movflags": "frag_keyframe+empty_moov+default_base_moof+global_sidx"}
    source = remux(staged, tmp_path / "in.mp4", flags)
    output = tmp_path / "out.mp4"
    assert scrubber.scrub_file(source, output).outcome is Outcome.CLEANED
    clean = output.read_bytes()
    boxes = list(iter_boxes(clean, 0, len(clean)))
    starts = [b.start for b in boxes] + [len(clean)]
    indexes = [b for b in boxes if b.type == b"sidx"]
    assert indexes
    for index in indexes:
        version = clean[index.body]
        at = index.body + 4 + 8 + (8 if version else 4)
        first = int.from_bytes(clean[at : at + (8 if version else 4)], "big")
        at += (8 if version else 4) + 2
        (count,) = struct.unpack(">H", clean[at : at + 2])
        position = index.end + first
        for number in range(count):
            size = struct.unpack(">I", clean[at + 2 + 12 * number : at + 6 + 12 * number])[0] & 0x7FFFFFFF
            assert position in starts and position + size in starts, "a reference starts and ends on a box"
            covered = [b.type for b in boxes if position <= b.start < position + size]
            assert covered and covered[0] == b"moof" and set(covered) <= {b"moof", b"mdat"}
            position += size
    _same_play(source, output)
