"""Codec configuration records (``avcC``, ``hvcC``, ``av1C``) read field by field and written in canonical form.

Canonical: every field the standard defines, from its parsed value; reserved bits as the standard sets them
(ones in ``avcC``/``hvcC`` headers, zeros in ``hvcC`` array headers and ``av1C``); parameter-set arrays holding
only parameter sets (H.264 SPS, PPS, SPS extension; HEVC VPS, SPS, PPS: an ``hvcC`` SEI array, where x265 writes
its settings, goes whole); ``av1C`` config OBUs holding only the sequence header (its reserved header bits zero);
no bytes after the last field. The functions take
and return a box payload (what follows the box header) and raise :class:`~.bitstream.BitstreamError` when the
record is malformed (a cut-off field or array). ``canonical_config(b"avcC", payload)`` dispatches by box type.
"""

from __future__ import annotations

from collections.abc import Callable

from ..bytemodel import Buffer
from .bitstream import BitstreamError, clean_config_obus

_AVC_SPS, _AVC_PPS, _AVC_SPS_EXT, _AVC_SEI = 7, 8, 13, 6
_AVC_PLAIN_PROFILES = frozenset({66, 77, 88})
"""Baseline, Main and Extended: the profiles whose ``avcC`` ends after its PPS array (every other profile may carry
chroma format, bit depths and SPS extensions after it; ISO/IEC 14496-15:2017 5.3.3.1.1, as FFmpeg writes it)."""
_HEVC_PARAMETER_SETS = frozenset({32, 33, 34})
_HEVC_FIXED = 22
"""Bytes of an ``hvcC`` before ``numOfArrays``."""


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


def canonical_avcc(payload: Buffer) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) in canonical form."""
    raw = bytes(payload)
    if len(raw) < 7:
        raise BitstreamError("avcC is cut off")
    sps, pos = _nal_list(raw, 6, raw[5] & 0x1F, "avcC")
    if pos >= len(raw):
        raise BitstreamError("avcC is cut off before its PPS count")
    pps, pos = _nal_list(raw, pos + 1, raw[pos], "avcC")
    sps, pps = _avc_kept(sps, _AVC_SPS), _avc_kept(pps, _AVC_PPS)
    out = raw[:4] + bytes([0xFC | raw[4] & 0x03, 0xE0 | len(sps)]) + _with_lengths(sps)
    out += bytes([len(pps)]) + _with_lengths(pps)
    if raw[1] not in _AVC_PLAIN_PROFILES and pos + 4 <= len(raw):
        try:
            extensions, _ = _nal_list(raw, pos + 4, raw[pos + 3], "avcC")
        except BitstreamError:
            return out  # an incomplete extension (as some muxers write) is trailing bytes: the SPS says the same
        extensions = _avc_kept(extensions, _AVC_SPS_EXT)
        out += bytes([0xFC | raw[pos] & 0x03, 0xF8 | raw[pos + 1] & 0x07, 0xF8 | raw[pos + 2] & 0x07])
        out += bytes([len(extensions)]) + _with_lengths(extensions)
    return out


def _hevc_array(kind: int, units: list[bytes]) -> list[bytes]:
    """The NAL units of one ``hvcC`` array that stay: the parameter sets (an SEI array goes whole: decoders take
    what they need from the SEI in the samples, and x265's settings ride in it)."""
    for unit in units:
        if len(unit) < 2 or unit[0] & 0x80:
            raise BitstreamError("a NAL unit in hvcC is shorter than its header or has its forbidden bit set")
    if kind not in _HEVC_PARAMETER_SETS:
        return []
    return [unit for unit in units if (unit[0] >> 1) & 0x3F in _HEVC_PARAMETER_SETS]


def canonical_hvcc(payload: Buffer) -> bytes:
    """An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) in canonical form."""
    raw = bytes(payload)
    if len(raw) < _HEVC_FIXED + 1:
        raise BitstreamError("hvcC is cut off")
    fixed = bytearray(raw[:_HEVC_FIXED])
    fixed[13] |= 0xF0  # reserved '1111'b before min_spatial_segmentation_idc
    fixed[15] |= 0xFC  # before parallelismType
    fixed[16] |= 0xFC  # before chroma_format_idc
    fixed[17] |= 0xF8  # before bit_depth_luma_minus8
    fixed[18] |= 0xF8  # before bit_depth_chroma_minus8
    arrays, pos = [], _HEVC_FIXED + 1
    for _ in range(raw[_HEVC_FIXED]):
        if pos + 3 > len(raw):
            raise BitstreamError("hvcC is cut off inside its arrays")
        head, count = raw[pos], int.from_bytes(raw[pos + 1 : pos + 3], "big")
        units, pos = _nal_list(raw, pos + 3, count, "hvcC")
        kept = _hevc_array(head & 0x3F, units)
        if kept:
            arrays.append(bytes([head & 0xBF]) + len(kept).to_bytes(2, "big") + _with_lengths(kept))
    return bytes(fixed) + bytes([len(arrays)]) + b"".join(arrays)


def canonical_av1c(payload: Buffer) -> bytes:
    """An AV1CodecConfigurationRecord (AV1-ISOBMFF 2.3.3) in canonical form."""
    raw = bytes(payload)
    if len(raw) < 4 or raw[0] != 0x81:
        raise BitstreamError("av1C is not an AV1 codec configuration record (marker and version 1)")
    delay = raw[3] & 0x1F if raw[3] & 0x10 else 0  # reserved 3 bits zero; no delay: its 4 bits zero too
    return raw[:3] + bytes([delay]) + clean_config_obus(raw[4:])


CANONICAL: dict[bytes, Callable[[Buffer], bytes]] = {
    b"avcC": canonical_avcc,
    b"hvcC": canonical_hvcc,
    b"av1C": canonical_av1c,
}
"""The configuration boxes this module writes in canonical form, by box type."""


def canonical_config(kind: bytes, payload: Buffer) -> bytes:
    """The canonical payload of a configuration box of type ``kind`` (``avcC``, ``hvcC``, ``av1C``)."""
    return CANONICAL[kind](payload)
