"""One canonical form for ``avcC``/``hvcC``/``av1C``: a movie's sample description (``movie_entries``), the FFmpeg
probe's fingerprint and a HEIF/AVIF item property (``heif_props``) all write a configuration record through
``codec_config``, so a record carried by a movie and by an image comes out byte for byte the same. Checked on every
record of the real device files (phones' HEVC and H.264 movies, HEIC, AVIF) and on planted hiding places."""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from exif_scrubber.formats import heif_props
from exif_scrubber.formats.codec_config import canonical_config, canonical_record
from exif_scrubber.formats.isobmff import box
from exif_scrubber.formats.movie_entries import VISUAL_CHILDREN
from tests.bitstream_support import hevc_nal, metadata_obu, obu, sei_nal, unregistered

DEVICES = Path(__file__).resolve().parents[2].parent / "shared" / "devices"
KINDS = (b"avcC", b"hvcC", b"av1C")


def _records(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every ``avcC``/``hvcC``/``av1C`` box in a file, found by its type and size (no walker of the engine's)."""
    found = []
    for kind in KINDS:
        at = data.find(kind)
        while at >= 4:
            size = struct.unpack_from(">I", data, at - 4)[0]
            payload = data[at + 4 : at - 4 + size]
            if size > 8 and len(payload) == size - 8 and payload[:1] in (b"\x01", b"\x81"):
                found.append((kind, payload))
            at = data.find(kind, at + 4)
    return found


def _movie_form(kind: bytes, payload: bytes) -> bytes:
    leaf = VISUAL_CHILDREN[kind]
    assert callable(leaf)
    return box(kind, leaf(payload).payload)  # type: ignore[arg-type]


def _heif_form(kind: bytes, payload: bytes) -> bytes:
    return heif_props.canonical(kind, payload).box


def _assert_agree(kind: bytes, payload: bytes) -> bytes:
    canonical = box(kind, canonical_config(kind, payload))
    assert _movie_form(kind, payload) == canonical
    if heif_props.known(kind):
        assert _heif_form(kind, payload) == canonical
    assert canonical_config(kind, canonical[8:]) == canonical[8:], "the canonical form is a fixed point"
    return canonical


def _device_records() -> list[tuple[str, bytes, bytes]]:
    if not DEVICES.is_dir():
        return []
    return [
        (f"{path.name}:{kind.decode()}", kind, payload)
        for path in sorted(DEVICES.iterdir())
        if path.suffix.lower() in (".mp4", ".mov", ".heic", ".avif")
        for kind, payload in _records(path.read_bytes())
    ]


@pytest.mark.skipif(not DEVICES.is_dir(), reason=f"real device files not found at {DEVICES}")
def test_every_real_record_has_one_canonical_form() -> None:
    records = _device_records()
    kinds = {kind for _, kind, _ in records}
    assert kinds == set(KINDS), f"the device files hold every kind of record (found {kinds})"
    for name, kind, payload in records:
        try:
            _assert_agree(kind, payload)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


VPS = hevc_nal(32, b"\x0c\x01\xff\xff\x01\x60\x00\x00\x03\x00\x90")
SPS = hevc_nal(33, b"\x01\x01\x60\x00\x00\x03\x00\x90\x00\x00\x03")
PPS = hevc_nal(34, b"\xc1\x72\xb4\x62\x40")
SEQUENCE_HEADER = b"\x00\x00\x00\x0a\x0b\xf0\x8f\x80"


def _array(kind: int, nals: list[bytes], head: int = 0x80) -> bytes:
    return bytes([head | kind]) + struct.pack(">H", len(nals)) + b"".join(struct.pack(">H", len(n)) + n for n in nals)


def _hvcc(*arrays: bytes, tail: bytes = b"", reserved: bool = True) -> bytes:
    fixed = bytearray(b"\x01\x01\x60\x00\x00\x00\x90\x00\x00\x00\x00\x00\x5d\xf0\x00\xfc\xfd\xf8\xf8\x00\x00\x0f")
    if not reserved:
        fixed[13] &= 0x0F
        fixed[15] &= 0x03
    arrays = arrays or (_array(32, [VPS]), _array(33, [SPS]), _array(34, [PPS]))
    return bytes(fixed) + bytes([len(arrays)]) + b"".join(arrays) + tail


def _av1c(obus: bytes, fourth: int = 0) -> bytes:
    return b"\x81\x05\x0c" + bytes([fourth]) + obus


CASES: dict[str, Callable[[bytes], tuple[bytes, bytes, str]]] = {
    "hvcC SEI array (x265's settings)": lambda t: (
        b"hvcC",
        _hvcc(
            _array(32, [VPS]),
            _array(33, [SPS]),
            _array(34, [PPS]),
            _array(39, [sei_nal([unregistered(b"x265 " + t)], hevc=True)]),
        ),
        "SEI array",
    ),
    "hvcC bytes after the arrays": lambda t: (b"hvcC", _hvcc(tail=t), ""),
    "hvcC reserved bits": lambda t: (b"hvcC", _hvcc(reserved=False), ""),
    "hvcC array reserved bit": lambda t: (
        b"hvcC",
        _hvcc(_array(32, [VPS], 0xC0), _array(33, [SPS]), _array(34, [PPS])),
        "",
    ),
    "hvcC unit that is not a parameter set": lambda t: (
        b"hvcC",
        _hvcc(_array(32, [VPS]), _array(33, [SPS, hevc_nal(35, t)]), _array(34, [PPS])),
        "NAL units that are not parameter sets",
    ),
    "av1C metadata and padding OBUs": lambda t: (
        b"av1C",
        _av1c(obu(1, SEQUENCE_HEADER) + metadata_obu(4, b"\xb5" + t) + obu(15, t)),
        "configuration OBUs other than the sequence header",
    ),
    "av1C sequence header without a size": lambda t: (b"av1C", _av1c(obu(1, SEQUENCE_HEADER, sized=False)), ""),
    "av1C sequence header with a padded size": lambda t: (
        b"av1C",
        _av1c(b"\x0a" + bytes([0x80 | len(SEQUENCE_HEADER), 0x80, 0x00]) + SEQUENCE_HEADER),
        "",
    ),
    "av1C OBU header reserved bit": lambda t: (b"av1C", _av1c(b"\x0b" + obu(1, SEQUENCE_HEADER)[1:]), ""),
    "av1C reserved bits beside the delay": lambda t: (b"av1C", _av1c(obu(1, SEQUENCE_HEADER), 0xE7), ""),
}


@pytest.mark.parametrize("case", CASES)
def test_a_planted_record_is_cleaned_the_same_in_a_movie_and_an_image(case: str) -> None:
    token = secrets.token_hex(8).encode()
    kind, payload, dropped = CASES[case](token)
    canonical = _assert_agree(kind, payload)
    assert token not in canonical
    assert canonical != box(kind, payload), "the planted record is not canonical"
    assert canonical_record(kind, payload)[1] == dropped
    label = heif_props.difference(box(kind, payload), heif_props.canonical(kind, payload))
    assert label == (dropped or label) and label, "the HEIF walker names the finding"
    if kind == b"av1C":
        assert canonical.endswith(b"\x0a" + bytes([len(SEQUENCE_HEADER)]) + SEQUENCE_HEADER)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (b"hvcC", b"\x00" + _hvcc()[1:]),
        (b"hvcC", _hvcc()[:30]),
        (b"av1C", b"\x01\x05\x0c\x00"),
        (b"av1C", _av1c(b"\x8a\x08" + SEQUENCE_HEADER)),
    ],
    ids=["hvcC version 0", "hvcC cut off", "av1C without its marker", "av1C OBU forbidden bit"],
)
def test_a_record_that_does_not_parse_is_refused_by_both(kind: bytes, payload: bytes) -> None:
    with pytest.raises(heif_props.PropertyError):
        heif_props.canonical(kind, payload)
    with pytest.raises(ValueError):  # a BitstreamError: the movie is malformed
        _movie_form(kind, payload)
