"""Harmless though not canonical (kept/accounting.py): every field kept, every byte accounted for, or not."""

from __future__ import annotations

import io
import random
import re
import struct

import pytest
from PIL import Image, ImageCms

from exif_scrubber import ScrubPolicy
from exif_scrubber.kept.accounting import exif_harmless, icc_harmless, packet_body, xmp_harmless
from exif_scrubber.kept.exif import ExifValues, build_exif

POLICY = ScrubPolicy()
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def tiff_le(entries: list[tuple[int, int, int, bytes]], tail: bytes = b"", next_ifd: int = 0) -> bytes:
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
    return b"II*\0" + struct.pack("<I", 8) + body + struct.pack("<I", next_ifd) + tail


ORIENTATION = (0x0112, 3, 1, struct.pack("<H", 6))
UNIT = (0x0128, 3, 1, struct.pack("<H", 2))


def test_exif_of_kept_fields_in_another_layout_is_harmless() -> None:
    assert exif_harmless(tiff_le([ORIENTATION, UNIT]), POLICY)
    assert exif_harmless(build_exif(ExifValues(orientation=6, resolution_unit=2)), POLICY)
    assert exif_harmless(tiff_le([ORIENTATION], tail=bytes(16)), POLICY), "zero padding holds nothing"


@pytest.mark.parametrize(
    "tiff",
    [
        tiff_le([ORIENTATION, (0x010F, 2, 4, b"Cam\0")]),  # Make
        tiff_le([ORIENTATION], tail=b"secret"),  # bytes nothing points at
        tiff_le([ORIENTATION], next_ifd=26),  # an IFD1 (a thumbnail)
        tiff_le([(0x0112, 4, 1, struct.pack("<I", 6))]),  # the wrong type
        b"garbage!",
    ],
    ids=["a field not kept", "unreferenced bytes", "a thumbnail IFD", "a wrong type", "not TIFF"],
)
def test_exif_with_anything_more_is_not(tiff: bytes) -> None:
    assert not exif_harmless(tiff, POLICY)


def xmp(properties: str, *, toolkit: str = "Image::ExifTool 13.59", extra: str = "") -> bytes:
    return (
        f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="{toolkit}"><rdf:RDF xmlns:rdf="{RDF}">{extra}'
        f'<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
        f' xmlns:dc="http://purl.org/dc/elements/1.1/" {properties}/></rdf:RDF></x:xmpmeta>\n'
        f'<?xpacket end="w"?>'
    ).encode()


def test_xmp_of_kept_values_is_harmless_and_anything_more_is_not() -> None:
    assert xmp_harmless(xmp('tiff:Orientation="6"'), POLICY)
    assert not xmp_harmless(xmp('tiff:Orientation="6" dc:source="me"'), POLICY)
    assert not xmp_harmless(xmp('tiff:Orientation="6"', toolkit="Alice's laptop"), POLICY)
    assert not xmp_harmless(xmp('tiff:Orientation="6"', extra="<!-- at home -->"), POLICY)
    assert not xmp_harmless(xmp('tiff:Orientation="6"', extra="at home"), POLICY)


def srgb() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def test_an_icc_profile_of_registered_tags_is_harmless_and_a_private_tag_is_not() -> None:
    profile = srgb()
    assert icc_harmless(profile)
    count = int.from_bytes(profile[128:132], "big")
    private = bytearray(profile)
    private[132 + 12 * (count - 1) : 136 + 12 * (count - 1)] = b"zzzz"  # a tag no standard registers
    assert not icc_harmless(bytes(private))


def test_the_engine_rewrites_what_is_harmless(tmp_path: object) -> None:
    """Harmless is not canonical: a scrub still rewrites such a block (and a second scrub finds nothing)."""
    from pathlib import Path

    from exif_scrubber import Outcome, Scrubber

    folder = Path(str(tmp_path))
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "JPEG")
    data = buffer.getvalue()
    payload = b"Exif\0\0" + tiff_le([ORIENTATION, UNIT])
    source = folder / "in.jpg"
    source.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])
    with Scrubber() as scrubber:
        assert scrubber.scan(source).noncanonical == ["APP1 EXIF"] and scrubber.scan(source).clean
        assert scrubber.scrub_file(source, folder / "out.jpg").outcome is Outcome.CLEANED
        assert scrubber.scrub_file(folder / "out.jpg", folder / "again.jpg").outcome is Outcome.ALREADY_CLEAN


_OLD_WRAPPER = re.compile(  # the regex packet_body replaced: same answers, but quadratic over long padding
    rb"\A\s*(?:<\?xpacket begin=[\"'](?:\xef\xbb\xbf)?[\"'] id=[\"']W5M0MpCehiHzreSzNTczkc9d[\"']\s*\?>)?"
    rb"(?P<body>.*?)(?:<\?xpacket end=[\"'][rw][\"']\s*\?>)?[\s\0]*\Z",
    re.DOTALL,
)


def _packets() -> list[bytes]:
    begin = b"<?xpacket begin='\xef\xbb\xbf' id='W5M0MpCehiHzreSzNTczkc9d'?>"
    xml = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    pieces = [b"", b" ", b"\n\0", b"x", begin, xml, b"<?xpacket end='w'?>", b'<?xpacket end="r" ?>', b"<?xpacket"]
    rng = random.Random(1907)
    return [b"".join(rng.choice(pieces) for _ in range(rng.randrange(8))) for _ in range(3000)]


def test_packet_body_gives_what_the_wrapper_regex_gave() -> None:
    for packet in _packets():
        old = _OLD_WRAPPER.match(packet)
        assert old is not None  # the regex matched every packet: everything optional but the body
        assert packet_body(packet) == old.group("body"), packet


@pytest.mark.timeout(60)
def test_long_padding_in_a_hostile_xmp_is_read_in_linear_time() -> None:
    """A packet of 4 MB of padding with one letter after it: the old wrapper regex backtracked over the padding
    once per byte of it (a JPEG of the corpus with 60 KB of padding took 340 ms; this one would take days)."""
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>' + b" " * 4_000_000 + b"x" + b" " * 4_000_000
    assert packet_body(packet).endswith(b"x")
    assert not xmp_harmless(packet, POLICY)
