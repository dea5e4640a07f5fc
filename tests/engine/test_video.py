"""Videos (MP4, MOV, M4V, 3GP): every place a movie hides metadata is cleaned, the media is untouched, the
movie still plays, and what cannot be cleaned losslessly is refused with the reason."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from exif_scrubber import Scrubber
from exif_scrubber.bytemodel import Kind
from exif_scrubber.formats import sniff
from exif_scrubber.formats.movie_write import in_place as _in_place
from exif_scrubber.leftovers import find_leftovers, parse_exiftool_json
from exif_scrubber.policy import ScrubPolicy
from exif_scrubber.report import Outcome
from tests.oracle import view_movie
from tests.video_support import (
    Plants,
    encode_movie,
    find_path,
    first_and_last_frames,
    insert_into,
    live_photo_still,
    overwrite,
    pcm_movie,
    planted_movie,
    remux,
    sample_hashes,
    stream_summary,
    with_compressed_header,
)

INDEPENDENT_READ = ["-j", "-G3:1", "-a", "-u", "-ee", "-n", "-api", "LargeFileSupport=1", "-all:all", "--System:all"]


def _read(scrubber: Scrubber, path: Path) -> list[list]:  # type: ignore[type-arg]
    return parse_exiftool_json(scrubber.pool.execute([*INDEPENDENT_READ, str(path)]).stdout)


@pytest.mark.parametrize(("container_format", "suffix", "name"), [("mp4", "mp4", "MP4"), ("mov", "mov", "MOV")])
def test_every_planted_place_is_cleaned(
    scrubber: Scrubber, tmp_path: Path, container_format: str, suffix: str, name: str
) -> None:
    source, plants = planted_movie(scrubber.pool, tmp_path / f"in.{suffix}", container_format)
    before = source.read_bytes()
    documents = _read(scrubber, source)
    assert any(t.name == "GPSLatitude" and t.doc for t in documents[0]), "the input has timed GPS (-ee)"
    output = tmp_path / f"out.{suffix}"

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.format == name
    assert source.read_bytes() == before, "the input is never written"
    data = output.read_bytes()
    assert [place for place, token in plants.tokens.items() if token in data] == []
    tags = _read(scrubber, output)[0]
    handler = sniff(data[:64])
    assert handler is not None
    assert find_leftovers(tags, handler.allowlist(handler.walk(data, ScrubPolicy()), ScrubPolicy())) == {}
    assert not [t for t in tags if "GPS" in t.name or t.doc], "no GPS anywhere, timed or not"
    assert not [t for t in tags if t.group in ("Keys", "ItemList", "UserData") or t.group.startswith("XMP")]
    assert {t.value for t in tags if t.name.endswith(("CreateDate", "ModifyDate"))} == {"0000:00:00 00:00:00"}
    assert {str(t.value) for t in tags if t.name == "HandlerDescription"} <= {""}
    assert sample_hashes(output) == sample_hashes(source)
    assert [s for s in stream_summary(source) if s[0] in ("video", "audio")] == stream_summary(output)
    first, last, rotation = first_and_last_frames(output)
    first_in, last_in, _ = first_and_last_frames(source)
    assert rotation == 90
    assert bytes(first) == bytes(first_in) and bytes(last) == bytes(last_in)
    assert any("track 10 (meta)" in note for note in report.notes) and any("camm" in note for note in report.notes)
    assert report.verification is not None and report.verification.hash_equal


def test_every_token_lies_in_a_metadata_span(scrubber: Scrubber, tmp_path: Path) -> None:
    """The byte model alone finds every plant: each token's bytes are labelled metadata."""
    source, plants = planted_movie(scrubber.pool, tmp_path / "in.mov", "mov")
    data = source.read_bytes()
    handler = sniff(data[:64])
    assert handler is not None
    model = handler.walk(data, ScrubPolicy())
    for place, token in plants.tokens.items():
        at = data.index(token)
        span = next(s for s in model.spans if s.start <= at < s.end)
        assert span.kind is Kind.METADATA, f"{place} lies in {span.label} ({span.kind})"


def test_scrubbed_movie_is_already_clean(scrubber: Scrubber, tmp_path: Path) -> None:
    source, _ = planted_movie(scrubber.pool, tmp_path / "in.mp4", "mp4")
    clean = tmp_path / "clean.mp4"
    assert scrubber.scrub_file(source, clean).outcome is Outcome.CLEANED
    again = scrubber.scrub_file(clean, tmp_path / "again.mp4")
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before
    assert scrubber.scan(clean).clean
    assert not scrubber.scan(source).clean


@pytest.mark.parametrize(
    ("container_format", "suffix", "name", "options"),
    [
        ("ipod", "m4v", "M4V", {}),
        ("3gp", "3gp", "3GP", {}),
        ("mp4", "mp4", "MP4", {"movflags": "faststart"}),
    ],
)
def test_other_brands_and_faststart(
    scrubber: Scrubber, tmp_path: Path, container_format: str, suffix: str, name: str, options: dict[str, str]
) -> None:
    source = tmp_path / f"in.{suffix}"
    encode_movie(source, container_format, audio=container_format != "3gp")
    if options:  # remux with the header first (the in-place rewrite moves it nowhere but earlier)
        staged = tmp_path / f"staged.{suffix}"
        source.rename(staged)
        remux(staged, source, options)
    handler = sniff(source.read_bytes()[:64])
    assert handler is not None and handler.name == name
    report = scrubber.scrub_file(source, tmp_path / f"out.{suffix}")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert sample_hashes(tmp_path / f"out.{suffix}") == sample_hashes(source)


def test_exiftool_image_data_hash_agrees(scrubber: Scrubber, tmp_path: Path) -> None:
    """The walker finds the same samples ExifTool hashes (video and audio chunks in stco order)."""
    source, _ = planted_movie(scrubber.pool, tmp_path / "in.mp4", "mp4")
    data = source.read_bytes()
    handler = sniff(data[:64])
    assert handler is not None
    model = handler.walk(data, ScrubPolicy())
    result = scrubber.pool.execute(["-j", "-G1", "-api", "ImageHashType=SHA256", "-ImageDataHash", str(source)])
    hashes = [t.value for t in parse_exiftool_json(result.stdout)[0] if t.name == "ImageDataHash"]
    assert hashes == [model.exiftool_hash(data)]


def test_a_changed_sample_changes_the_proof(scrubber: Scrubber, tmp_path: Path) -> None:
    source = encode_movie(tmp_path / "in.mp4", "mp4")
    data = bytearray(source.read_bytes())
    handler = sniff(bytes(data[:64]))
    assert handler is not None
    model = handler.walk(bytes(data), ScrubPolicy())
    image = next(s for s in model.spans if s.kind is Kind.IMAGE)
    proof = model.proof_hash(bytes(data))
    data[image.start + 5] ^= 0xFF
    assert handler.walk(bytes(data), ScrubPolicy()).proof_hash(bytes(data)) != proof


def test_a_changed_rotation_changes_the_proof(scrubber: Scrubber, tmp_path: Path) -> None:
    source = encode_movie(tmp_path / "in.mp4", "mp4", rotation=90)
    data = bytearray(source.read_bytes())
    handler = sniff(bytes(data[:64]))
    assert handler is not None
    proof = handler.walk(bytes(data), ScrubPolicy()).proof_hash(bytes(data))
    tkhd = find_path(bytes(data), [b"moov", b"trak", b"tkhd"])[-1]
    matrix = tkhd.body + 4 + 36
    data[matrix : matrix + 36] = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    assert handler.walk(bytes(data), ScrubPolicy()).proof_hash(bytes(data)) != proof


def test_compressed_movie_header_is_refused_with_the_reason(scrubber: Scrubber, tmp_path: Path) -> None:
    source = with_compressed_header(encode_movie(tmp_path / "in.mov", "mov"))
    report = scrubber.scrub_file(source, tmp_path / "out.mov")
    assert report.outcome is Outcome.FAILED
    assert report.reason == "compressed movie header (cmov): not supported"
    assert not (tmp_path / "out.mov").exists()
    scan = scrubber.scan(source)
    assert not scan.clean and "compressed movie header" in str(scan.error)


def test_truncated_movie_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    source = encode_movie(tmp_path / "in.mov", "mov")
    data = source.read_bytes()
    moov = find_path(data, [b"moov"])[0]
    source.write_bytes(data[: moov.start - 200] + data[moov.start :])  # samples cut out of the media data
    report = scrubber.scrub_file(source, tmp_path / "out.mov")
    assert report.outcome is Outcome.FAILED
    assert "malformed MOV" in str(report.reason)


def test_movie_without_audio_or_video_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    source = encode_movie(tmp_path / "in.mp4", "mp4", audio=False)
    data = bytearray(source.read_bytes())
    hdlr = find_path(bytes(data), [b"moov", b"trak", b"mdia", b"hdlr"])[-1]
    data[hdlr.body + 8 : hdlr.body + 12] = b"meta"  # the only track is now timed metadata
    source.write_bytes(bytes(data))
    report = scrubber.scrub_file(source, tmp_path / "out.mp4")
    assert report.outcome is Outcome.FAILED
    assert report.reason == "the movie has no audio or video track"


def test_reference_to_a_dropped_track_goes_with_it(scrubber: Scrubber, tmp_path: Path) -> None:
    source, _ = planted_movie(scrubber.pool, tmp_path / "in.mp4", "mp4")
    data = source.read_bytes()

    data = insert_into(data, [b"moov", b"trak"], struct.pack(">I4sI4sI", 20, b"tref", 12, b"tmcd", 10))
    source.write_bytes(data)
    output = tmp_path / "out.mp4"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    clean = output.read_bytes()
    trak = find_path(clean, [b"moov", b"trak"])[-1]
    assert b"tref" not in clean[trak.start : trak.end]


def test_sample_hash_is_a_hash_of_the_samples(tmp_path: Path) -> None:
    """The independent check itself: two movies with different frames have different sample hashes."""
    one = sample_hashes(encode_movie(tmp_path / "one.mp4", "mp4", frames=6))
    two = sample_hashes(encode_movie(tmp_path / "two.mp4", "mp4", frames=7))
    assert one.keys() == two.keys() and one != two
    assert all(len(h) == len(hashlib.sha256().hexdigest()) for h in one.values())


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([(0, (0, 10)), (10, b"x" * 5), (15, (20, 30))], True),
        ([(0, (0, 10)), (10, b"x" * 15), (25, (20, 30))], False),  # the header would overwrite unread samples
        ([(0, b"x" * 8), (8, (4, 10))], False),  # a piece would move towards the end
    ],
)
def test_in_place_only_when_nothing_unread_is_overwritten(
    pieces: list[tuple[int, bytes | tuple[int, int]]], expected: bool
) -> None:
    assert _in_place(pieces) is expected


def test_live_photo_both_halves_lose_the_pairing_identifier(scrubber: Scrubber, tmp_path: Path) -> None:
    """A Live Photo is a HEIC and a MOV sharing a ContentIdentifier (Apple maker note; QuickTime Keys): both go."""
    plants = Plants()
    movie = encode_movie(tmp_path / "IMG_0001.MOV", "mov", plants=plants)
    identifier = plants.tokens["content identifier"]
    still = live_photo_still(tmp_path / "IMG_0001.HEIC", identifier)
    for half in (still, movie):
        assert identifier in half.read_bytes()
        assert [t for t in _read(scrubber, half)[0] if t.name == "ContentIdentifier"], half.name
        output = tmp_path / f"clean-{half.name}"
        report = scrubber.scrub_file(half, output)
        assert report.outcome is Outcome.CLEANED, report.reason
        assert identifier not in output.read_bytes()
        assert not [t for t in _read(scrubber, output)[0] if t.name == "ContentIdentifier"]


def test_live_photo_pairing_kept_when_asked_and_nothing_else(tmp_path: Path) -> None:
    identifier = "2C5B8A1E-1F6D-4B8E-9A57-0123456789AB"
    plants = Plants()
    movie = encode_movie(tmp_path / "IMG_0002.MOV", "mov", plants=plants, content_identifier=identifier)
    still = live_photo_still(tmp_path / "IMG_0002.HEIC", identifier.encode(), plants)
    keep = ScrubPolicy(keep_live_photo_pairing=True)
    assert keep.fingerprint().endswith(";livephoto")
    with Scrubber(keep) as keeper, Scrubber(ScrubPolicy()) as default:
        for half in (still, movie):
            output = tmp_path / f"paired-{half.name}"
            report = keeper.scrub_file(half, output)
            assert report.outcome is Outcome.CLEANED, report.reason
            data = output.read_bytes()
            assert [place for place, token in plants.tokens.items() if token in data] == []
            values = [t.value for t in _read(keeper, output)[0] if t.name == "ContentIdentifier"]
            assert values == [identifier], half.name
            assert keeper.scan(output).clean, keeper.scan(output).leftovers
            assert keeper.scrub_file(output, tmp_path / f"again-{half.name}").outcome is Outcome.ALREADY_CLEAN
            assert "ContentIdentifier" in str(default.scan(output).leftovers), "without the option it is a leftover"


def test_only_a_uuid_is_kept_as_the_pairing_identifier(tmp_path: Path) -> None:
    """The option keeps an identifier, not a place to hide text: anything but an upper-case UUID still goes."""
    plants = Plants()
    movie = encode_movie(tmp_path / "IMG_0003.MOV", "mov", plants=plants)  # the identifier is a token, no UUID
    still = live_photo_still(tmp_path / "IMG_0003.HEIC", plants.tokens["content identifier"])
    with Scrubber(ScrubPolicy(keep_live_photo_pairing=True)) as keeper:
        for half in (still, movie):
            output = tmp_path / f"out-{half.name}"
            assert keeper.scrub_file(half, output).outcome is Outcome.CLEANED
            assert plants.tokens["content identifier"] not in output.read_bytes()
            assert not [t for t in _read(keeper, output)[0] if t.name == "ContentIdentifier"]


@pytest.mark.parametrize("codec", ["pcm_s16le", "pcm_s16be", "pcm_s24le", "one byte a sample"])
def test_uncompressed_quicktime_sound_keeps_every_sample(scrubber: Scrubber, tmp_path: Path, codec: str) -> None:
    """QuickTime stores uncompressed sound sample by sample and FFmpeg reads it chunk by chunk, each chunk as long as
    its samples times the bytes per sample of the description; older files say one byte a sample in ``stsz``, and
    the description decides. Every byte FFmpeg reads is kept."""
    source = pcm_movie(tmp_path / "in.mov", "pcm_s16le" if codec == "one byte a sample" else codec)
    if codec == "one byte a sample":
        data = bytearray(source.read_bytes())
        stsz = find_path(bytes(data), [b"moov", (b"trak", 1), b"mdia", b"minf", b"stbl", b"stsz"])[-1]
        struct.pack_into(">I", data, stsz.body + 4, 1)
        source.write_bytes(bytes(data))
    output = tmp_path / "out.mov"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert sample_hashes(output) == sample_hashes(source)
    assert view_movie(output).frames == view_movie(source).frames


def test_samples_in_another_file_are_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    """A data reference that names another file (no self-contained flag, a URL): the samples are not here."""
    source = encode_movie(tmp_path / "in.mp4", "mp4", audio=False)
    url = [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref", b"url "]
    data = overwrite(source.read_bytes(), url, 0, b"\0\0\0\0")
    source.write_bytes(insert_into(data, url, b"file:///elsewhere.mov\0"))
    report = scrubber.scrub_file(source, tmp_path / "out.mp4")
    assert report.outcome is Outcome.FAILED
    assert report.reason == "the samples of track 1 lie in another file (a data reference): not supported"


def test_an_encrypted_track_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    source = encode_movie(tmp_path / "in.mp4", "mp4", audio=False)
    data = source.read_bytes()
    entry = find_path(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"])[-1]
    source.write_bytes(data[: entry.start + 4] + b"encv" + data[entry.start + 8 :])
    report = scrubber.scrub_file(source, tmp_path / "out.mp4")
    assert report.outcome is Outcome.FAILED
    assert report.reason == "track 1 is encrypted (encv): not supported"


def test_the_three_entry_points_write_the_same_clean_movie(scrubber: Scrubber, tmp_path: Path) -> None:
    """The engine's streamed write, ``clean_movie`` on bytes held in memory (motion photos) and
    ``clean_movie_in_place`` on a file give the same bytes, and a clean movie comes back unchanged."""
    from exif_scrubber.formats.mp4 import clean_movie, clean_movie_in_place, walk_movie

    source, plants = planted_movie(scrubber.pool, tmp_path / "in.mov", "mov")
    data = source.read_bytes()
    streamed = tmp_path / "out.mov"
    assert scrubber.scrub_file(source, streamed).outcome is Outcome.CLEANED
    in_memory = clean_movie(data, ScrubPolicy())
    in_place = tmp_path / "in-place.mov"
    in_place.write_bytes(data)
    assert clean_movie_in_place(in_place, ScrubPolicy()) is True

    assert in_memory == streamed.read_bytes() == in_place.read_bytes()
    assert [place for place, token in plants.tokens.items() if token in in_memory] == []
    assert walk_movie(in_memory, ScrubPolicy()).is_clean()
    assert clean_movie(in_memory, ScrubPolicy()) == in_memory
    assert clean_movie_in_place(in_place, ScrubPolicy()) is False
    assert sample_hashes(in_place) == sample_hashes(source)
