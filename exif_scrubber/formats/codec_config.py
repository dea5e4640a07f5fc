"""Codec configuration records (``avcC``, ``hvcC``, ``av1C``) read field by field and written in canonical form: the
one implementation for a movie's sample descriptions (:mod:`.movie_entries`), the FFmpeg probe's configuration
fingerprint (:mod:`.video_probe`) and HEIF/AVIF item properties (:mod:`.heif_props`).

Canonical: every field the standard defines, from its parsed value; reserved bits as the standard sets them (ones in
``avcC``/``hvcC`` headers, zeros in ``hvcC`` array headers and ``av1C``); parameter-set arrays holding only parameter
sets (H.264 SPS, PPS, SPS extension; HEVC VPS, SPS, PPS: an ``hvcC`` SEI array, where x265 writes its settings,
goes whole, and so does an array of any other type); ``av1C`` config OBUs holding only the sequence header (its
header bits canonical, :func:`~.bitstream.config_obus`); no bytes after the last field. A record of another version
than 1, or cut off, raises :class:`~.bitstream.BitstreamError`. :func:`canonical_record` also says what it left out
(the HEIF walker's finding: ``property hvcC: SEI array``); :func:`canonical_config` gives the payload only.
"""

from __future__ import annotations

from collections.abc import Callable

from ..bytemodel import Buffer
from .bitstream import BitstreamError, config_obus

_AVC_SPS, _AVC_PPS, _AVC_SPS_EXT = 7, 8, 13
_AVC_PLAIN_PROFILES = frozenset({66, 77, 88})
"""Baseline, Main and Extended: the profiles whose ``avcC`` ends after its PPS array (every other profile may carry
chroma format, bit depths and SPS extensions after it; ISO/IEC 14496-15:2017 5.3.3.1.1, as FFmpeg writes it)."""
_HEVC_PARAMETER_SETS = frozenset({32, 33, 34})
_HEVC_SEI = frozenset({39, 40})
_HEVC_FIXED = 22
"""Bytes of an ``hvcC`` before ``numOfArrays``."""

Record = tuple[bytes, str]
"""A record's canonical payload, and what of the input it left out ("" when nothing but reserved bits or bytes
after its last field)."""


def _nal_list(payload: bytes, pos: int, count: int, name: str) -> tuple[list[bytes], int]:
    """``count`` NAL units, each behind a 16-bit length, from ``pos``; and the offset after them."""
    units = []
    for _ in range(count):
        if pos + 2 > len(payload):
            raise BitstreamError(f"{name} is cut off inside a parameter-set array")
        length = int.from_bytes(payload[pos : pos + 2], "big")
        if pos + 2 + length > len(payload):
            raise BitstreamError(f"a NAL unit in {name} runs past its end")
        units.append(payload[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return units, pos


def _with_lengths(units: list[bytes]) -> bytes:
    return b"".join(len(unit).to_bytes(2, "big") + unit for unit in units)


def _avc_kept(units: list[bytes], kind: int) -> list[bytes]:
    """The NAL units of an ``avcC`` array that are what the array holds (forbidden bit clear, of its type)."""
    for unit in units:
        if unit and unit[0] & 0x80:
            raise BitstreamError("a NAL unit in avcC has its forbidden bit set")
    return [unit for unit in units if unit and unit[0] & 0x1F == kind]


def _version_one(raw: bytes, name: str, fixed: int) -> None:
    if len(raw) < fixed:
        raise BitstreamError(f"{name} is cut off")
    if raw[0] != 1:
        raise BitstreamError(f"{name} is not a configuration record of version 1")


def _avcc(payload: Buffer) -> Record:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    raw = bytes(payload)
    _version_one(raw, "avcC", 7)
    sps_in, pos = _nal_list(raw, 6, raw[5] & 0x1F, "avcC")
    if pos >= len(raw):
        raise BitstreamError("avcC is cut off before its PPS count")
    pps_in, pos = _nal_list(raw, pos + 1, raw[pos], "avcC")
    sps, pps = _avc_kept(sps_in, _AVC_SPS), _avc_kept(pps_in, _AVC_PPS)
    dropped = "NAL units that are not parameter sets" if (len(sps), len(pps)) != (len(sps_in), len(pps_in)) else ""
    out = raw[:4] + bytes([0xFC | raw[4] & 0x03, 0xE0 | len(sps)]) + _with_lengths(sps)
    out += bytes([len(pps)]) + _with_lengths(pps)
    if raw[1] not in _AVC_PLAIN_PROFILES and pos + 4 <= len(raw):
        try:
            extensions, _ = _nal_list(raw, pos + 4, raw[pos + 3], "avcC")
        except BitstreamError:
            return out, dropped  # an incomplete extension (as some muxers write) is trailing bytes: the SPS says it
        extensions = _avc_kept(extensions, _AVC_SPS_EXT)
        out += bytes([0xFC | raw[pos] & 0x03, 0xF8 | raw[pos + 1] & 0x07, 0xF8 | raw[pos + 2] & 0x07])
        out += bytes([len(extensions)]) + _with_lengths(extensions)
    return out, dropped


def _hevc_array(kind: int, units: list[bytes]) -> tuple[list[bytes], str]:
    """The NAL units of one ``hvcC`` array that stay: its parameter sets (an array of another type goes whole, an
    SEI array too: decoders take what they need from the SEI in the samples, and x265's settings ride in it); and
    what went."""
    for unit in units:
        if len(unit) < 2 or unit[0] & 0x80:
            raise BitstreamError("a NAL unit in hvcC is shorter than its header or has its forbidden bit set")
    if kind not in _HEVC_PARAMETER_SETS:
        return [], "SEI array" if kind in _HEVC_SEI else f"NAL unit array of type {kind}"
    kept = [unit for unit in units if (unit[0] >> 1) & 0x3F in _HEVC_PARAMETER_SETS]
    return kept, "" if len(kept) == len(units) else "NAL units that are not parameter sets"


def _hvcc(payload: Buffer) -> Record:
    """An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1)."""
    raw = bytes(payload)
    _version_one(raw, "hvcC", _HEVC_FIXED + 1)
    fixed = bytearray(raw[:_HEVC_FIXED])
    fixed[13] |= 0xF0  # reserved '1111'b before min_spatial_segmentation_idc
    fixed[15] |= 0xFC  # before parallelismType
    fixed[16] |= 0xFC  # before chroma_format_idc
    fixed[17] |= 0xF8  # before bit_depth_luma_minus8
    fixed[18] |= 0xF8  # before bit_depth_chroma_minus8
    arrays, pos, dropped = [], _HEVC_FIXED + 1, ""
    for _ in range(raw[_HEVC_FIXED]):
        if pos + 3 > len(raw):
            raise BitstreamError("hvcC is cut off inside its arrays")
        head, count = raw[pos], int.from_bytes(raw[pos + 1 : pos + 3], "big")
        units, pos = _nal_list(raw, pos + 3, count, "hvcC")
        kept, gone = _hevc_array(head & 0x3F, units)
        dropped = dropped or gone
        if kept:
            arrays.append(bytes([head & 0xBF]) + len(kept).to_bytes(2, "big") + _with_lengths(kept))
    return bytes(fixed) + bytes([len(arrays)]) + b"".join(arrays), dropped


def _av1c(payload: Buffer) -> Record:
    """An AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3)."""
    raw = bytes(payload)
    if len(raw) < 4 or raw[0] != 0x81:
        raise BitstreamError("av1C is not an AV1 codec configuration record (marker and version 1)")
    delay = raw[3] & 0x1F if raw[3] & 0x10 else 0  # reserved 3 bits zero; no delay: its 4 bits zero too
    obus, other = config_obus(raw[4:])
    return raw[:3] + bytes([delay]) + obus, "configuration OBUs other than the sequence header" if other else ""


CANONICAL: dict[bytes, Callable[[Buffer], Record]] = {b"avcC": _avcc, b"hvcC": _hvcc, b"av1C": _av1c}
"""The configuration boxes this module writes in canonical form, by box type."""


def canonical_record(kind: bytes, payload: Buffer) -> Record:
    """The canonical payload of a configuration box of type ``kind`` (``avcC``, ``hvcC``, ``av1C``), and what of
    ``payload`` it left out."""
    return CANONICAL[kind](payload)


def canonical_config(kind: bytes, payload: Buffer) -> bytes:
    """The canonical payload of a configuration box of type ``kind`` (``avcC``, ``hvcC``, ``av1C``)."""
    return CANONICAL[kind](payload)[0]


def canonical_avcc(payload: Buffer) -> bytes:
    return canonical_config(b"avcC", payload)


def canonical_hvcc(payload: Buffer) -> bytes:
    return canonical_config(b"hvcC", payload)


def canonical_av1c(payload: Buffer) -> bytes:
    return canonical_config(b"av1C", payload)
