"""Motion photos keep their movie, cleaned like any video, with every offset and length that points at it rewritten.

Made here: a JPEG whose XMP names the movie in a Google container directory, a Samsung JPEG with a MicroVideo
offset and an SEF trailer (with a capture-time block beside the movie), a JPEG with an MP4 simply appended. The
movie carries GPS, device names and dates in every place a movie can (tests/video_support.py). The oracle cuts the
movie out of input and output by what the photo's own XMP says (read by ExifTool) and decodes both with PyAV.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from tests.oracle import decodes, embedded_movie, exiftool_read, personal_data, view_image, view_movie
from tests.video_support import Plants, planted_movie

GPS_XMP_TOKEN = b"MOTIONXMPSECRET"


def photo(xmp: bytes) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    Image.new("RGB", (64, 48), (200, 100, 50)).save(buffer, "JPEG", exif=exif.tobytes(), xmp=xmp, quality=90)
    return buffer.getvalue()


def google_xmp(length: int) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"'
        ' xmlns:Container="http://ns.google.com/photos/1.0/container/"'
        ' xmlns:Item="http://ns.google.com/photos/1.0/container/item/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1" GCamera:MotionPhotoPresentationTimestampUs="66000"'
        f' dc:source="{GPS_XMP_TOKEN.decode()}">'
        "<Container:Directory><rdf:Seq>"
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"'
        ' Item:Length="0" Item:Padding="0"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto"'
        f' Item:Length="{length}" Item:Padding="0"/></rdf:li>'
        "</rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def micro_xmp(offset: int) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"'
        ' GCamera:MicroVideo="1" GCamera:MicroVideoVersion="1"'
        f' GCamera:MicroVideoOffset="{offset}" GCamera:MicroVideoPresentationTimestampUs="-1"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def sef_block(kind: int, name: bytes, data: bytes) -> bytes:
    return struct.pack("<HHI", 0, kind, len(name)) + name + data


def sef(blocks: list[tuple[int, bytes]]) -> bytes:
    """Blocks (type, block bytes) then their SEFH directory, its length and SEFT."""
    body, entries, offsets = b"", b"", []
    for _, block in blocks:
        offsets.append(len(body))
        body += block
    for (kind, block), at in zip(blocks, offsets, strict=True):
        entries += struct.pack("<HHII", 0, kind, len(body) - at, len(block))
    directory = b"SEFH" + struct.pack("<II", 106, len(blocks)) + entries
    return body + directory + struct.pack("<I", len(directory)) + b"SEFT"


@pytest.fixture
def movie(scrubber: Scrubber, tmp_path: Path) -> tuple[bytes, Plants]:
    path, plants = planted_movie(scrubber.pool, tmp_path / "clip.mp4", "mp4")
    return path.read_bytes(), plants


def google(movie: bytes) -> bytes:
    return photo(google_xmp(len(movie))) + movie


def samsung(movie: bytes, token: bytes) -> bytes:
    utc = sef_block(0x0A01, b"Image_UTC_Data", token)
    motion = sef_block(0x0A30, b"MotionPhoto_Data", movie)
    trailer = sef([(0x0A01, utc), (0x0A30, motion)])
    offset = len(trailer) - len(utc) - 24  # from the end of the file back to the movie
    return photo(micro_xmp(offset)) + trailer


def appended(movie: bytes) -> bytes:
    return photo(b"") + movie


def movie_of(path: Path) -> bytes:
    """The movie a player finds: ``size - length`` (container item) or ``size - MicroVideoOffset``, as ExifTool
    reads the XMP; else what follows the JPEG's last EOI."""
    data = path.read_bytes()
    tags = exiftool_read(path)[0]
    length = tags.get("XMP-GContainer:DirectoryItemLength")
    offset = tags.get("XMP-GCamera:MicroVideoOffset")
    if isinstance(length, list):
        start = len(data) - int(length[-1])
    elif offset is not None:
        start = len(data) - int(offset)
    else:
        start = data.rindex(b"\xff\xd9") + 2
    return data[start:]


def check(scrubber: Scrubber, tmp_path: Path, data: bytes, tokens: list[bytes]) -> Path:
    source, target = tmp_path / "motion.jpg", tmp_path / "out" / "motion.jpg"
    source.write_bytes(data)
    assert all(token in data for token in tokens)
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    out = target.read_bytes()
    assert [token for token in tokens if token in out] == []
    assert personal_data(target) == []
    assert view_image(target).frames == view_image(source).frames
    clip_in, clip_out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    clip_in.write_bytes(movie_of(source))
    clip_out.write_bytes(movie_of(target))
    before, after = view_movie(clip_in), view_movie(clip_out)
    assert before.frames[0], "the input's movie decodes"
    assert (after.streams, after.frames, after.rotation) == (before.streams, before.frames, before.rotation)
    assert personal_data(clip_out) == []
    assert "motion photo: video kept, cleaned" in report.notes
    assert scrubber.scan(target).clean
    return target


def test_google_motion_photo_keeps_its_movie_cleaned(
    scrubber: Scrubber, tmp_path: Path, movie: tuple[bytes, Plants]
) -> None:
    clip, plants = movie
    target = check(scrubber, tmp_path, google(clip), [*plants.tokens.values(), GPS_XMP_TOKEN])
    tags = exiftool_read(target)[0]
    assert tags["XMP-GCamera:MotionPhoto"] == 1 and "Google:MotionPhotoVideo" in tags


def test_samsung_motion_photo_keeps_its_movie_and_a_canonical_trailer(
    scrubber: Scrubber, tmp_path: Path, movie: tuple[bytes, Plants]
) -> None:
    clip, plants = movie
    target = check(scrubber, tmp_path, samsung(clip, b"1608199394872"), [*plants.tokens.values(), b"1608199394872"])
    out = target.read_bytes()
    assert out.endswith(b"SEFT") and out.count(b"MotionPhoto_Data") == 1 and b"Image_UTC_Data" not in out


def test_an_appended_movie_is_kept_cleaned(scrubber: Scrubber, tmp_path: Path, movie: tuple[bytes, Plants]) -> None:
    clip, plants = movie
    check(scrubber, tmp_path, appended(clip), list(plants.tokens.values()))


def test_the_policy_can_drop_the_movie(tmp_path: Path, movie: tuple[bytes, Plants]) -> None:
    clip, _ = movie
    source, target = tmp_path / "motion.jpg", tmp_path / "out.jpg"
    source.write_bytes(google(clip))
    with Scrubber(ScrubPolicy(drop_motion_photo_video=True)) as dropping:
        report = dropping.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    out = target.read_bytes()
    assert b"ftyp" not in out and b"MotionPhoto" not in out and b"GCamera" not in out
    assert "motion photo: video removed (drop_motion_photo_video)" in report.notes
    assert view_image(target).frames == view_image(source).frames


def test_a_movie_cut_short_is_removed_and_the_report_says_so(
    scrubber: Scrubber, tmp_path: Path, movie: tuple[bytes, Plants]
) -> None:
    clip, _ = movie
    source, target = tmp_path / "motion.jpg", tmp_path / "out.jpg"
    data = google(clip)
    source.write_bytes(data[:-200])
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert any(note.startswith("motion photo: the video is malformed") for note in report.notes), report.notes
    assert b"ftyp" not in target.read_bytes()


def heic_motion(movie: bytes, header: int = 16) -> bytes:
    """A HEIC with a Google container XMP item and the movie in a top-level ``mpvd`` box (as Android writes it)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    xmp = google_xmp(len(movie)).replace(b'Item:Mime="image/jpeg"', b'Item:Mime="image/heic"')
    xmp = xmp.replace(b'Item:Length="0" Item:Padding="0"', f'Item:Length="0" Item:Padding="{header}"'.encode())
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 220)).save(buffer, "HEIF", quality=80, xmp=xmp)
    if header == 16:
        return buffer.getvalue() + struct.pack(">I4sQ", 1, b"mpvd", len(movie) + 16) + movie
    return buffer.getvalue() + struct.pack(">I4s", len(movie) + 8, b"mpvd") + movie


@pytest.mark.parametrize("header", [8, 16])
def test_heic_motion_photo_keeps_its_movie_in_mpvd(
    scrubber: Scrubber, tmp_path: Path, movie: tuple[bytes, Plants], header: int
) -> None:
    clip, plants = movie
    source, target = tmp_path / "motion.heic", tmp_path / "out" / "motion.heic"
    source.write_bytes(heic_motion(clip, header))
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    out = target.read_bytes()
    assert [token for token in [*plants.tokens.values(), GPS_XMP_TOKEN] if token in out] == []
    assert personal_data(target) == []
    assert view_image(target).frames == view_image(source).frames
    kept = embedded_movie(target)
    assert kept is not None and out.endswith(kept)
    assert out[len(out) - len(kept) - header + 4 : len(out) - len(kept) - header + 8] == b"mpvd"
    tags = exiftool_read(target)[0]
    assert tags["XMP-GContainer:DirectoryItemLength"] == [0, len(kept)]
    assert tags["XMP-GContainer:DirectoryItemPadding"] == [header, 0]
    before, after = decodes(clip, tmp_path), decodes(kept, tmp_path)
    assert before is not None and after is not None and after.frames == before.frames
