"""Every place a movie's structure can carry chosen bytes is written in canonical form (issue 19): a token planted in
a reserved or pre-defined field, after a box's last field, in an unknown brand, grouping type or box, is labelled
metadata by the walker and is in no output byte; the output plays exactly as the input (PyAV decodes every frame
and audio frame the same) and an independent ExifTool read finds nothing personal and no token."""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.bytemodel import Kind
from exif_scrubber.formats import sniff
from exif_scrubber.formats.isobmff import box, full
from exif_scrubber.policy import ScrubPolicy
from tests.oracle import exiftool_read, personal_data, view_movie
from tests.video_support import encode_movie, insert_into, overwrite, replace_in

VIDEO = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"]
AUDIO = [b"moov", (b"trak", 1), b"mdia", b"minf", b"stbl", b"stsd", b"mp4a"]
VIDEO_TABLES = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
Plant = Callable[[bytes, bytes], bytes]


def token(size: int) -> bytes:
    """``size`` random hex digits: unique in any output."""
    return secrets.token_hex(size).encode()[:size]


def _esds_with_extras(data: bytes, value: bytes) -> bytes:
    """The audio ``esds`` written anew with a URL in its ES_Descriptor, a language descriptor and bytes after it (its
    DecoderSpecificInfo is the extradata FFmpeg reads from the original)."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        dsi = bytes(container.streams.audio[0].codec_context.extradata)
    config = bytes([0x40, 0x15]) + bytes(3) + struct.pack(">II", 0, 0) + bytes([0x05, len(dsi)]) + dsi
    body = b"\0\x01" + bytes([0x40, len(value)]) + value  # ES_ID 1, the URL flag, the URL
    body += bytes([0x04, len(config)]) + config + b"\x06\x01\x02" + bytes([0x0A, len(value)]) + value
    return replace_in(data, [*AUDIO, b"esds"], b"\0\0\0\0" + bytes([0x03, len(body)]) + body + value)


PLANTS: dict[str, tuple[int, Plant]] = {
    "ftyp compatible brand": (4, lambda d, t: insert_into(d, [b"ftyp"], t)),
    "ftyp minor version": (4, lambda d, t: overwrite(d, [b"ftyp"], 4, t)),
    "mvhd reserved": (10, lambda d, t: overwrite(d, [b"moov", b"mvhd"], 4 + 16 + 6, t)),
    "mvhd pre-defined (QuickTime preview and poster times)": (
        24,
        lambda d, t: overwrite(d, [b"moov", b"mvhd"], 4 + 16 + 6 + 10 + 36, t),
    ),
    "tkhd reserved": (8, lambda d, t: overwrite(d, [b"moov", b"trak", b"tkhd"], 4 + 20, t)),
    "hdlr component type": (4, lambda d, t: overwrite(d, [b"moov", b"trak", b"mdia", b"hdlr"], 4, t)),
    "hdlr reserved (QuickTime manufacturer and flags)": (
        12,
        lambda d, t: overwrite(d, [b"moov", b"trak", b"mdia", b"hdlr"], 12, t),
    ),
    "visual sample entry pre-defined (QuickTime version, vendor, qualities)": (
        16,
        lambda d, t: overwrite(d, VIDEO, 8, t),
    ),
    "visual sample entry data size": (4, lambda d, t: overwrite(d, VIDEO, 36, t)),
    "audio sample entry vendor": (4, lambda d, t: overwrite(d, AUDIO, 12, t)),
    "btrt trailing bytes": (13, lambda d, t: insert_into(d, [*VIDEO, b"btrt"], t)),
    "esds bytes after the ES descriptor, URL and extra descriptor": (13, _esds_with_extras),
    "sgpd of an unknown grouping type": (
        13,
        lambda d, t: insert_into(
            d,
            VIDEO_TABLES,
            full(b"sgpd", 1, 0, b"zzzz" + struct.pack(">II", len(t), 1) + t)
            + full(b"sbgp", 0, 0, b"zzzz" + struct.pack(">III", 1, 12, 1)),
        ),
    ),
    "sdtp bytes past the last sample": (
        13,
        lambda d, t: insert_into(d, VIDEO_TABLES, full(b"sdtp", 0, 0, bytes(12) + t)),
    ),
    "elst trailing bytes": (13, lambda d, t: insert_into(d, [b"moov", b"trak", b"edts", b"elst"], t)),
    "colr trailing bytes": (
        13,
        lambda d, t: insert_into(d, VIDEO, box(b"colr", b"nclx" + struct.pack(">HHHB", 1, 1, 1, 0) + t)),
    ),
    "clli trailing bytes": (13, lambda d, t: insert_into(d, VIDEO, box(b"clli", struct.pack(">HH", 1000, 400) + t))),
    "mdcv trailing bytes": (13, lambda d, t: insert_into(d, VIDEO, box(b"mdcv", bytes(24) + t))),
    "fiel trailing bytes": (13, lambda d, t: insert_into(d, VIDEO, box(b"fiel", b"\x01\x00" + t))),
    "amve trailing bytes": (13, lambda d, t: insert_into(d, VIDEO, box(b"amve", bytes(8) + t))),
    "dvvC reserved fields": (
        16,
        lambda d, t: insert_into(d, VIDEO, box(b"dvvC", b"\x01\x00\x10\x15\x40" + bytes(3) + t)),
    ),
    "st3d trailing bytes": (13, lambda d, t: insert_into(d, VIDEO, full(b"st3d", 0, 0, b"\x00" + t))),
    "sv3d metadata source (svhd)": (
        13,
        lambda d, t: insert_into(
            d,
            VIDEO,
            box(
                b"sv3d",
                full(b"svhd", 0, 0, t + b"\0")
                + box(b"proj", full(b"prhd", 0, 0, bytes(12)) + full(b"equi", 0, 0, bytes(16))),
            ),
        ),
    ),
    "SA3D trailing bytes": (
        13,
        lambda d, t: insert_into(d, AUDIO, box(b"SA3D", b"\0\0" + struct.pack(">IBBII", 1, 0, 0, 1, 0) + t)),
    ),
    "tapt aperture trailing bytes": (
        13,
        lambda d, t: insert_into(
            d, [b"moov", b"trak"], box(b"tapt", full(b"clef", 0, 0, struct.pack(">II", 64 << 16, 48 << 16) + t))
        ),
    ),
    "dref self-reference with a location": (
        13,
        lambda d, t: insert_into(d, [*VIDEO_TABLES[:4], b"dinf", b"dref", b"url "], t + b"\0"),
    ),
    "unknown box in a sample description": (13, lambda d, t: insert_into(d, VIDEO, box(b"zzzz", t))),
    "bytes after a sample description's boxes": (7, lambda d, t: insert_into(d, VIDEO, t)),
    "a trailer after the movie that is not a box": (13, lambda d, t: d + b"\x00\x00\x00\x05" + t),
    "unknown box in the sample table": (13, lambda d, t: insert_into(d, VIDEO_TABLES, box(b"zzzz", t))),
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A movie FFmpeg made (H.264 and AAC, rotated), its metadata boxes dropped once so that only the plant is new."""
    folder = tmp_path_factory.mktemp("plain")
    return encode_movie(folder / "plain.mp4", "mp4").read_bytes()


@pytest.mark.parametrize("place", list(PLANTS))
def test_a_token_in_a_structure_field_is_labelled_and_removed(
    scrubber: Scrubber, tmp_path: Path, plain: bytes, place: str
) -> None:
    size, plant = PLANTS[place]
    secret = token(size)
    data = plant(plain, secret)
    assert secret in data
    source, output = tmp_path / "in.mp4", tmp_path / "out.mp4"
    source.write_bytes(data)
    handler = sniff(data[:64])
    assert handler is not None
    model = handler.walk(data, ScrubPolicy())
    at = data.index(secret)
    span = next(s for s in model.spans if s.start <= at < s.end)
    assert span.kind is Kind.METADATA, f"{place}: the token lies in {span.label} ({span.kind})"

    report = scrubber.scrub_file(source, output)

    assert report.outcome is Outcome.CLEANED, report.reason
    assert secret not in output.read_bytes()
    before, after = view_movie(source), view_movie(output)
    assert (after.streams, after.frames, after.rotation) == (before.streams, before.frames, before.rotation)
    assert personal_data(output) == []
    assert not [key for doc in exiftool_read(output) for key, value in doc.items() if secret.decode() in str(value)]
    assert scrubber.scrub_file(output, tmp_path / "again.mp4").outcome is Outcome.ALREADY_CLEAN


def test_canonical_ftyp_keeps_known_brands_in_order_once() -> None:
    from exif_scrubber.formats.mp4 import canonical_ftyp

    raw = box(b"ftyp", b"isom" + b"\0\0\x02\0" + b"isomiso2zzzzavc1isommp41")
    out, label = canonical_ftyp(raw)
    assert out == box(b"ftyp", b"isom" + bytes(4) + b"isomiso2avc1mp41")
    assert label == "ftyp brands"
    assert canonical_ftyp(out) == (out, "ftyp")
    unknown_major, _ = canonical_ftyp(box(b"ftyp", b"zzzz" + bytes(4) + b"zzzzmp42"))
    assert unknown_major[8:12] == b"mp42"


def test_reserved_bits_of_colr_are_zeroed(scrubber: Scrubber, tmp_path: Path, plain: bytes) -> None:
    """Seven reserved bits after the full-range flag of ``nclx``: labelled, then written as zero."""
    source, output = tmp_path / "in.mp4", tmp_path / "out.mp4"
    source.write_bytes(insert_into(plain, VIDEO, box(b"colr", b"nclx" + struct.pack(">HHHB", 1, 1, 1, 0x7F))))
    handler = sniff(source.read_bytes()[:64])
    assert handler is not None
    assert "colr fields" in handler.walk(source.read_bytes(), ScrubPolicy()).findings()
    assert scrubber.scrub_file(source, output).outcome is Outcome.CLEANED
    clean = output.read_bytes()
    at = clean.index(b"nclx")
    assert clean[at + 4 : at + 11] == struct.pack(">HHHB", 1, 1, 1, 0)
    assert view_movie(output).frames == view_movie(source).frames
