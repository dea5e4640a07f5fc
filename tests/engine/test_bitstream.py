"""The bitstream parsers on crafted samples: SEI user data, AV1 metadata and padding go, every other unit stays byte
for byte, emulation prevention is handled, configuration records come out canonical, and malformed input is a
clean refusal (BitstreamError), never another exception."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exif_scrubber.errors import StructureError
from exif_scrubber.formats import bitstream as bs
from exif_scrubber.formats.codec_config import canonical_av1c, canonical_avcc, canonical_config, canonical_hvcc
from exif_scrubber.formats.t35 import canonical_t35
from tests.bitstream_support import (
    avc_nal,
    contains_start_code,
    escaped,
    hdr10_plus,
    hevc_nal,
    leb,
    mdpm,
    metadata_obu,
    obu,
    sample,
    sei_message,
    sei_nal,
    t35,
    unregistered,
)

AVC = bs.SampleFormat("avc", 4)
HEVC = bs.SampleFormat("hevc", 4)
AV1 = bs.SampleFormat("av1")
SLICE = avc_nal(5, b"\x88\x84\x00\x21\xff" * 20)
HEVC_SLICE = hevc_nal(19, b"\xaf\x10\x00\x00\x03\x01\x77" * 10)
RECOVERY = sei_message(6, b"\x84")
"""A recovery point SEI message (kept)."""


def _clean(fmt: bs.SampleFormat, data: bytes) -> bytes:
    return bs.inspect_sample(fmt, data).data(data)


def test_x264_user_data_goes_and_the_slices_stay_byte_for_byte() -> None:
    token = secrets.token_hex(8).encode()
    settings_text = b"x264 - core 164 - H.264/MPEG-4 AVC codec - options: " + token
    sei = sei_nal([unregistered(settings_text)])
    data = sample([avc_nal(9, b"\xf0"), sei, SLICE])

    cleaned = bs.inspect_sample(AVC, data)
    out = cleaned.data(data)

    assert token not in out and b"x264" not in out
    assert out == sample([avc_nal(9, b"\xf0"), SLICE])
    assert [c.label for c in cleaned.changes] == ["SEI user data"]
    assert data[cleaned.changes[0].start : cleaned.changes[0].end] == sample([sei])
    assert bs.inspect_sample(AVC, out).changes == ()


def test_other_messages_in_the_same_sei_unit_stay_byte_for_byte() -> None:
    token = secrets.token_hex(8).encode()
    data = sample([sei_nal([RECOVERY, mdpm(token), sei_message(1, b"\x12\x34")]), SLICE])

    out = _clean(AVC, data)

    assert token not in out and b"MDPM" not in out
    assert out == sample([sei_nal([RECOVERY, sei_message(1, b"\x12\x34")]), SLICE])


def test_payload_sizes_count_rbsp_bytes_and_emulation_prevention_is_reinserted() -> None:
    """Payloads with 0x000003-patterns: the size counts bytes after emulation prevention is removed; the kept
    message goes back with exactly the emulation prevention an encoder writes."""
    tricky = b"\x00\x00\x01\x00\x00\x00\x00\x00\x03\x00\x00\x02" * 5
    kept = sei_message(6, tricky)
    dropped = unregistered(b"\x00\x00\x03\x00\x00\x01" + secrets.token_hex(4).encode())
    nal = sei_nal([dropped, kept])
    assert nal.count(b"\x00\x00\x03") > tricky.count(b"\x00\x00\x03"), "the fixture has emulation prevention"

    out = _clean(AVC, sample([nal, SLICE]))

    assert out == sample([sei_nal([kept]), SLICE])
    sei_unit = out[4 : 4 + int.from_bytes(out[:4], "big")]
    assert not contains_start_code(sei_unit)


def test_payload_type_and_size_with_ff_extension_bytes() -> None:
    big = sei_message(5, bytes(16) + b"A" * 600)  # size 616: 0xFF 0xFF 0x6A
    odd = sei_message(300, b"\x01\x02")  # type 300: 0xFF 0x2D (a reserved type, kept)
    assert big[1:3] == b"\xff\xff" and odd[:1] == b"\xff"

    out = _clean(AVC, sample([sei_nal([big, odd]), SLICE]))

    assert out == sample([sei_nal([odd]), SLICE])


def test_an_sei_unit_with_only_user_data_goes_whole() -> None:
    data = sample([SLICE, sei_nal([unregistered(b"a"), t35(b"\xb5\x00\x31GA94")])])
    assert _clean(AVC, data) == sample([SLICE])


def test_hevc_prefix_and_suffix_sei_and_t35() -> None:
    token = secrets.token_hex(8).encode()
    mastering = sei_message(137, bytes(range(24)))
    data = sample(
        [
            sei_nal([mastering, t35(b"\xb5\x00\x31GA94" + token)], hevc=True),
            HEVC_SLICE,
            sei_nal([unregistered(token)], hevc=True, suffix=True),
        ]
    )

    cleaned = bs.inspect_sample(HEVC, data)
    out = cleaned.data(data)

    assert token not in out
    assert out == sample([sei_nal([mastering], hevc=True), HEVC_SLICE])
    assert len(cleaned.changes) == 2


def test_hdr10_plus_stays_as_display_data() -> None:
    """HDR10+ (ST 2094-40 in T.35) drives tone mapping frame by frame: it stays, cut to its fields."""
    payload = hdr10_plus()
    assert canonical_t35(payload) == payload
    data = sample([sei_nal([t35(payload)], hevc=True), HEVC_SLICE])
    assert bs.inspect_sample(HEVC, data).changes == ()

    token = secrets.token_hex(8).encode()
    padded = sample([sei_nal([t35(payload + token)], hevc=True), HEVC_SLICE])
    out = _clean(HEVC, padded)
    assert token not in out and out == data


def test_timecode_nesting_and_filler_sei_go() -> None:
    data = sample(
        [
            sei_nal([sei_message(136, b"\x01\x02\x03"), sei_message(133, b"\x00" + unregistered(b"x"))], hevc=True),
            HEVC_SLICE,
        ]
    )
    assert _clean(HEVC, data) == sample([HEVC_SLICE])
    filler = sample([sei_nal([sei_message(3, b"hidden")]), SLICE])
    assert _clean(AVC, filler) == sample([SLICE])


def test_filler_data_nal_units_stay_only_as_filler() -> None:
    honest = avc_nal(12, b"\xff" * 10 + b"\x80", ref_idc=0)
    hidden = avc_nal(12, b"secret text\x80", ref_idc=0)
    assert _clean(AVC, sample([SLICE, honest])) == sample([SLICE, honest])
    assert _clean(AVC, sample([SLICE, hidden])) == sample([SLICE])


def test_trailing_zero_bytes_of_an_sei_unit_are_dropped() -> None:
    nal = sei_nal([RECOVERY]) + b"\x00\x00"
    assert _clean(AVC, sample([nal, SLICE])) == sample([sei_nal([RECOVERY]), SLICE])


def test_a_sei_message_of_type_128_is_not_the_stop_bit() -> None:
    message = sei_message(128, b"\x00\x01")
    data = sample([sei_nal([message, unregistered(b"t")]), SLICE])
    assert _clean(AVC, data) == sample([sei_nal([message]), SLICE])


@pytest.mark.parametrize("length_size", [1, 2, 3, 4])
def test_nal_length_size_comes_from_the_config(length_size: int) -> None:
    fmt = bs.SampleFormat("avc", length_size)
    data = sample([sei_nal([unregistered(b"settings")]), avc_nal(1, b"\x9a" * 30)], length_size)
    assert _clean(fmt, data) == sample([avc_nal(1, b"\x9a" * 30)], length_size)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00", "cut off"),
        (b"\x00\x00\x00\x10\x65\x88", "runs past the end"),
        (sample([SLICE])[:-3], "runs past the end"),
        (sample([b"\x85\x00"]), "forbidden bit"),
        (sample([sei_nal([RECOVERY])[:-1]]), "trailing bits"),
        (sample([b"\x06\x05\x40" + b"x" * 10 + b"\x80"]), "runs past the end of its NAL"),
        (sample([b"\x06\x05\x80"]), "cut off"),
        (sample([b"\x06\x05\x01\x00\x00\x01\x80"]), "trailing bits"),
        (sample([b"\x09\xf0" + b"\x00\x00\x01\x09\xf0" * (bs.MAX_UNITS + 1)]), "too many start codes"),
        (sample([b"\x09\xf0"] * (bs.MAX_UNITS + 1)), "too many NAL units"),
    ],
)
def test_malformed_h264_samples_are_refused_cleanly(data: bytes, reason: str) -> None:
    with pytest.raises(bs.BitstreamError, match=reason):
        bs.inspect_sample(AVC, data)
    assert not bs.sample_parses(b"avc1", _avcc(), data)


def test_annex_b_units_inside_a_length_prefixed_unit() -> None:
    """Samsung's slow-motion writer wraps Annex B units (x264's settings among them) in one SVC prefix NAL unit;
    FFmpeg and ExifTool split at the start codes, and so does the parser."""
    token = secrets.token_hex(8).encode()
    prefix = b"\x6e\xc0\x80\x0f"
    idr = avc_nal(5, b"\x88\x84\x00\x21" * 10)
    wrapped = prefix + b"\x00\x00\x00\x01" + sei_nal([unregistered(b"x264 " + token)]) + b"\x00\x00\x01" + idr
    out = _clean(AVC, sample([wrapped]))
    assert token not in out
    assert out == sample([prefix + b"\x00\x00\x01" + idr])
    hidden = sample([avc_nal(9, b"\xf0") + b"\x00\x00\x00\x01" + sei_nal([mdpm(token)])])  # after an AUD
    assert _clean(AVC, hidden) == sample([avc_nal(9, b"\xf0")])
    in_slice = sample([SLICE + b"\x00\x00\x00\x01" + sei_nal([mdpm(token)])])
    assert bs.inspect_sample(AVC, in_slice).changes == (), "slice data is not searched (a residual risk)"
    assert bs.inspect_sample(AVC, sample([prefix + b"\x00\x00\x01" + idr])).changes == ()


def test_hevc_temporal_id_zero_does_not_parse() -> None:
    with pytest.raises(bs.BitstreamError, match="temporal id"):
        bs.inspect_sample(HEVC, sample([b"\x26\x00" + b"\x11" * 8]))


def test_text_in_a_video_track_does_not_parse() -> None:
    assert not bs.sample_parses(b"avc1", _avcc(), b"Hello, this is a subtitle, not video.")
    assert not bs.sample_parses(b"hvc1", _hvcc(), b"Hello, this is a subtitle, not video.")
    assert not bs.sample_parses(b"av01", b"\x81\x00\x0c\x00", b"\xff\xfeGPS 48.8577 2.2950")


def test_clean_sample_contract() -> None:
    token = secrets.token_hex(8).encode()
    data = sample([sei_nal([unregistered(token)]), SLICE])
    assert bs.clean_sample(b"avc1", _avcc(), data) == sample([SLICE])
    assert bs.clean_sample(b"avc1", _avcc(), sample([SLICE])) == sample([SLICE])
    with pytest.raises(bs.BitstreamError, match="not parsed"):
        bs.clean_sample(b"mp4v", b"", data)


# ---------------------------------------------------------------------- AV1

SEQUENCE_HEADER = obu(1, b"\x00\x00\x00\x0a\x0b\xf0\x8f\x80")
FRAME = obu(6, b"\x10\x00\x00\x03\x00\x00\x01" * 12)
CLL = metadata_obu(1, b"\x03\xe8\x00\xc8")
MDCV = metadata_obu(2, bytes(range(24)))


def test_av1_padding_t35_timecode_and_private_metadata_go() -> None:
    token = secrets.token_hex(8).encode()
    data = b"".join(
        [
            obu(2, b""),
            SEQUENCE_HEADER,
            CLL,
            metadata_obu(4, b"\xb5\x00\x31GA94" + token),
            metadata_obu(5, b"\x1f\x01\x02\x03\x04"),
            metadata_obu(17, token),
            MDCV,
            FRAME,
            obu(15, token),
        ]
    )

    cleaned = bs.inspect_sample(AV1, data)
    out = cleaned.data(data)

    assert token not in out
    assert out == obu(2, b"") + SEQUENCE_HEADER + CLL + MDCV + FRAME
    assert {c.label for c in cleaned.changes} == {"AV1 metadata OBU", "AV1 padding OBU"}
    assert bs.inspect_sample(AV1, out).changes == ()


def test_av1_hdr10_plus_stays() -> None:
    data = SEQUENCE_HEADER + metadata_obu(4, hdr10_plus()) + FRAME
    assert bs.inspect_sample(AV1, data).changes == ()


def test_av1_trailing_bytes_and_a_last_obu_without_size() -> None:
    unsized = obu(6, b"\x10\x20\x30", sized=False)
    assert bs.inspect_sample(AV1, SEQUENCE_HEADER + unsized).changes == ()
    token = secrets.token_hex(8).encode()
    out = _clean(AV1, SEQUENCE_HEADER + FRAME + b"\x00" + token)  # a reserved OBU (type 0) to the end
    assert out == SEQUENCE_HEADER + FRAME


def test_a_last_metadata_obu_without_size_is_read_from_its_header() -> None:
    """AV1-ISOBMFF lets the last OBU of a sample go without a size: its payload starts after its header (it was
    read from the sample's end, and such a sample refused as not AV1)."""
    token = secrets.token_hex(8).encode()
    t35 = obu(5, b"\x04\xb5\x00\x31GA94" + token + b"\x80", sized=False)
    assert _clean(AV1, SEQUENCE_HEADER + FRAME + t35) == SEQUENCE_HEADER + FRAME
    cll = obu(5, b"\x01\x03\xe8\x00\xc8\x80", sized=False)
    assert _clean(AV1, SEQUENCE_HEADER + FRAME + cll) == SEQUENCE_HEADER + FRAME + CLL, "kept, written with a size"


def test_av1_reserved_bits_and_padded_metadata_are_canonical() -> None:
    reserved = bytes([FRAME[0] | 1]) + FRAME[1:]
    assert _clean(AV1, reserved) == FRAME
    extended = obu(6, b"\x10\x20", extension=0b001_10_111)
    assert _clean(AV1, extended) == obu(6, b"\x10\x20", extension=0b001_10_000)
    padded = obu(5, leb(1) + b"\x03\xe8\x00\xc8\x80\x00\x00")
    assert _clean(AV1, padded + FRAME) == CLL + FRAME
    delimiter = obu(2, b"text")
    assert _clean(AV1, delimiter + FRAME) == FRAME


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80", "forbidden bit"),
        (b"\x32\x05\x00", "runs past the end"),
        (b"\x32", "cut off"),
        (b"\x32\xff\xff\xff\xff\xff\xff\xff\xff\x01", "longer than 8 bytes"),
        (b"\x32\xff\xff\xff\xff\x7f", "larger than 2"),
        (b"\x36", "extension header is cut off"),
        (obu(5, leb(1) + b"\x03\xe8\x80"), "content light level"),
        (obu(5, b""), "cut off"),
        (obu(2, b"") * (bs.MAX_UNITS + 1), "too many OBUs"),
    ],
)
def test_malformed_av1_samples_are_refused_cleanly(data: bytes, reason: str) -> None:
    with pytest.raises(bs.BitstreamError, match=reason):
        bs.inspect_sample(AV1, data)


# ---------------------------------------------------------------------- configuration records

SPS = avc_nal(7, b"\x64\x00\x1f\xac\xd9\x40\x50\x05\xbb\x01\x10")
PPS = avc_nal(8, b"\xeb\xe3\xcb\x22\xc0")


def _avcc(*, profile: int = 66, tail: bytes = b"", reserved: int = 0xFF) -> bytes:
    return (
        bytes([1, profile, 0, 31, 0xFC & reserved | 3, 0xE0 & reserved | 1])
        + len(SPS).to_bytes(2, "big")
        + SPS
        + b"\x01"
        + len(PPS).to_bytes(2, "big")
        + PPS
        + tail
    )


def test_avcc_reserved_bits_and_trailing_bytes() -> None:
    canonical = _avcc()
    assert canonical_avcc(canonical) == canonical
    assert canonical_avcc(_avcc(reserved=0)) == canonical
    assert canonical_avcc(_avcc(tail=b"trailing text")) == canonical
    high = _avcc(profile=100, tail=b"\xfd\xf8\xf8\x00")
    assert canonical_avcc(high) == high
    assert canonical_avcc(_avcc(profile=100, tail=b"\x01\x00\x00\x00")) == high
    assert canonical_avcc(_avcc(profile=100, tail=b"\xfd\xf8\xf8\x00secret")) == high
    assert canonical_avcc(_avcc(profile=100, tail=b"\xfd\xf8")) == _avcc(profile=100)


def test_avcc_arrays_hold_only_parameter_sets() -> None:
    sei = sei_nal([unregistered(b"settings")])
    record = bytes([1, 66, 0, 31, 0xFF, 0xE2]) + len(SPS).to_bytes(2, "big") + SPS + len(sei).to_bytes(2, "big") + sei
    record += b"\x01" + len(PPS).to_bytes(2, "big") + PPS
    assert canonical_avcc(record) == _avcc()


@pytest.mark.parametrize("cut", [3, 8, 10, len(_avcc()) - 2])
def test_cut_off_avcc_is_refused(cut: int) -> None:
    with pytest.raises(bs.BitstreamError):
        canonical_avcc(_avcc()[:cut])


VPS = hevc_nal(32, b"\x0c\x01\xff\xff\x01\x60\x00\x00\x03\x00\x90")
HEVC_SPS = hevc_nal(33, b"\x01\x01\x60\x00\x00\x03\x00\x90\x00\x00\x03")
HEVC_PPS = hevc_nal(34, b"\xc1\x72\xb4\x62\x40")


def _array(kind: int, nals: list[bytes], complete: int = 1) -> bytes:
    return (
        bytes([complete << 7 | kind])
        + len(nals).to_bytes(2, "big")
        + b"".join(len(n).to_bytes(2, "big") + n for n in nals)
    )


def _hvcc(arrays: list[bytes] | None = None, *, reserved: int = 0xFF, tail: bytes = b"") -> bytes:
    fixed = bytearray(b"\x01\x01\x60\x00\x00\x00\x90\x00\x00\x00\x00\x00\x5d\xf0\x00\xfc\xfd\xf8\xf8\x00\x00\x0f")
    for at in (13, 15, 16, 17, 18):
        fixed[at] &= reserved | 0x03 if at in (15, 16) else reserved | (0x0F if at == 13 else 0x07)
    arrays = arrays if arrays is not None else [_array(32, [VPS]), _array(33, [HEVC_SPS]), _array(34, [HEVC_PPS])]
    return bytes(fixed) + bytes([len(arrays)]) + b"".join(arrays) + tail


def test_hvcc_sei_arrays_go() -> None:
    token = secrets.token_hex(8).encode()
    mastering = sei_message(137, bytes(range(24)))
    arrays = [
        _array(32, [VPS]),
        _array(33, [HEVC_SPS]),
        _array(34, [HEVC_PPS]),
        _array(39, [sei_nal([unregistered(b"x265 (build 199) " + token), mastering], hevc=True)]),
        _array(40, [sei_nal([unregistered(token)], hevc=True, suffix=True)]),
    ]
    out = canonical_hvcc(_hvcc(arrays))
    assert token not in out
    assert out == _hvcc(arrays[:3])


def test_hvcc_reserved_bits_trailing_bytes_and_foreign_units() -> None:
    canonical = _hvcc()
    assert canonical_hvcc(canonical) == canonical
    assert canonical_hvcc(_hvcc(reserved=0)) == canonical
    assert canonical_hvcc(_hvcc(tail=b"trailing")) == canonical
    flagged = _hvcc([_array(32, [VPS]), _array(33, [HEVC_SPS]), bytes([0x40 | 34]) + _array(34, [HEVC_PPS])[1:]])
    assert canonical_hvcc(flagged) == _hvcc([_array(32, [VPS]), _array(33, [HEVC_SPS]), _array(34, [HEVC_PPS], 0)])
    foreign = _hvcc([_array(32, [VPS]), _array(33, [HEVC_SPS, hevc_nal(35, b"\x10")]), _array(34, [HEVC_PPS])])
    assert canonical_hvcc(foreign) == canonical


def test_av1c_config_obus_and_reserved_bits() -> None:
    token = secrets.token_hex(8).encode()
    head = b"\x81\x05\x0c\x00"
    assert canonical_av1c(head + SEQUENCE_HEADER) == head + SEQUENCE_HEADER
    assert canonical_av1c(b"\x81\x05\x0c\xe7" + SEQUENCE_HEADER) == head + SEQUENCE_HEADER
    assert canonical_av1c(b"\x81\x05\x0c\x13" + SEQUENCE_HEADER) == b"\x81\x05\x0c\x13" + SEQUENCE_HEADER
    dirty = head + obu(2, b"") + SEQUENCE_HEADER + metadata_obu(4, b"\xb5" + token) + CLL + obu(15, token)
    assert canonical_av1c(dirty) == head + SEQUENCE_HEADER
    with pytest.raises(bs.BitstreamError):
        canonical_av1c(b"\x01\x05\x0c\x00")
    assert canonical_config(b"av1C", head) == head


# ---------------------------------------------------------------------- properties


def _valid_samples() -> st.SearchStrategy[tuple[bs.SampleFormat, bytes]]:
    avc = st.lists(
        st.sampled_from(
            [SLICE, avc_nal(9, b"\xf0"), sei_nal([RECOVERY, unregistered(b"x264")]), sei_nal([mdpm(b"tok")])]
        ),
        min_size=1,
        max_size=6,
    ).map(lambda nals: (AVC, sample(nals)))
    av1 = st.lists(
        st.sampled_from([SEQUENCE_HEADER, FRAME, CLL, obu(15, b"pad"), metadata_obu(4, b"\xb5x"), obu(2, b"")]),
        min_size=1,
        max_size=6,
    ).map(lambda obus: (AV1, b"".join(obus)))
    return st.one_of(avc, av1)


@settings(max_examples=300, deadline=None)
@given(_valid_samples(), st.data())
def test_mutated_samples_parse_or_are_refused_and_cleaning_is_idempotent(
    case: tuple[bs.SampleFormat, bytes], data: st.DataObject
) -> None:
    """Any byte string: a BitstreamError or a clean sample that is clean when read again (never another error)."""
    fmt, original = case
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(0, 3))):
        if not mutated:
            break
        position = data.draw(st.integers(0, len(mutated) - 1))
        operation = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if operation == "flip":
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif operation == "cut":
            del mutated[position:]
        else:
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        cleaned = bs.inspect_sample(fmt, bytes(mutated))
    except StructureError:
        return
    out = cleaned.data(bytes(mutated))
    assert bs.inspect_sample(fmt, out).changes == (), "the clean sample is clean"
    assert cleaned.size == len(out)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_configs_are_refused_or_canonical(raw: bytes) -> None:
    for kind in (b"avcC", b"hvcC", b"av1C"):
        try:
            canonical = canonical_config(kind, raw)
        except StructureError:
            continue
        assert canonical_config(kind, canonical) == canonical


def test_escape_matches_an_encoder() -> None:
    for rbsp in (b"\x00\x00\x00\x00\x80", b"\x00\x00\x03\x00\x00\x02", bytes(7) + b"\x80"):
        assert bs.escape(rbsp) == escaped(rbsp)
        assert bs.unescape(bs.escape(rbsp)) == rbsp
