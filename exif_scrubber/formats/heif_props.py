"""HEIF/AVIF item properties read field by field and written again in canonical form (ISO/IEC 23008-12,
ISO/IEC 14496-15 for ``hvcC``, the AV1 ISOBMFF binding for ``av1C``, ISO/IEC 23091-2 code points).

:func:`canonical` returns the property box a clean file holds for a parsed property: reserved bits at the value
the specification gives them, flags and versions zero, no byte after the declared fields; ``hvcC`` and ``av1C`` as
:mod:`.codec_config` writes them for movies too (only the VPS, SPS and PPS arrays; only sequence header OBUs); in
``auxC`` a URN from a closed list and no
subtype, except the depth representation SEI of an HEVC depth map (its numbers are what a viewer needs to read
the depth). A property the engine cannot parse raises :class:`PropertyError`; the walker then drops it, or
refuses the file when an image needs it. ICC profiles in ``colr`` are reduced by :mod:`..kept.icc`, not here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .bitstream import BitstreamError
from .codec_config import canonical_record
from .isobmff import box

AUX_TYPES = frozenset(
    {
        b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
        b"urn:mpeg:mpegB:cicp:systems:auxiliary:depth",
        b"urn:mpeg:hevc:2015:auxid:1",
        b"urn:mpeg:hevc:2015:auxid:2",
        b"urn:mpeg:avc:2015:auxid:1",
        b"urn:com:apple:photo:2020:aux:hdrgainmap",
        b"urn:com:apple:photo:2018:aux:portraiteffectsmatte",
        b"urn:com:apple:photo:2019:aux:semanticskinmatte",
        b"urn:com:apple:photo:2019:aux:semantichairmatte",
        b"urn:com:apple:photo:2019:aux:semanticteethmatte",
        b"urn:com:apple:photo:2020:aux:semanticglassesmatte",
        b"urn:com:apple:photo:2020:aux:semanticskymatte",
        b"tag:apple.com,2023:photo:aux:linearthumbnail",
        b"tag:apple.com,2023:photo:aux:styledeltamap",
    }
)
"""Auxiliary image types kept (alpha, depth, Apple's gain map and mattes). An auxiliary image of another type is
removed with its property: its URN is free text and no viewer shows it."""
HEVC_DEPTH = b"urn:mpeg:hevc:2015:auxid:2"


class PropertyError(ValueError):
    """The property does not parse as its type (one line, no property bytes echoed)."""


@dataclass(frozen=True)
class Canonical:
    """A property in canonical form, and what of the input it left out ("" when it left out nothing special)."""

    box: bytes
    dropped: str = ""


def canonical(kind: bytes, payload: bytes) -> Canonical:
    """The canonical box of a property of ``kind`` whose payload (after the box header) is ``payload``."""
    parser = _PARSERS.get(kind)
    if parser is None:
        raise PropertyError(f"no parser for {kind!r}")
    body, dropped = parser(payload)
    return Canonical(box(kind, body), dropped)


def aux_type(payload: bytes) -> bytes:
    """The URN of an ``auxC`` payload (empty when the box is too short)."""
    return payload[4:].split(b"\0", 1)[0]


def known(kind: bytes) -> bool:
    return kind in _PARSERS


def difference(raw: bytes, result: Canonical) -> str:
    """Names what differs between a property as read and its canonical form, for the findings ("" if nothing)."""
    if raw == result.box:
        return ""
    if result.dropped:
        return result.dropped
    if len(raw) > len(result.box) and raw[8 : len(result.box)] == result.box[8:]:
        return "trailing bytes"
    return "reserved bits or fields not in canonical form"


# ---------------------------------------------------------------------- field readers

_Parsed = tuple[bytes, str]


def _fixed(size: int, full: bool = False) -> Callable[[bytes], _Parsed]:
    """A property of ``size`` bytes of numbers (after version 0 and flags when ``full``)."""

    def parse(payload: bytes) -> _Parsed:
        fields = _full_payload(payload) if full else payload
        if len(fields) < size:
            raise PropertyError("shorter than its fields")
        return (bytes(4) if full else b"") + fields[:size], ""

    return parse


def _full_payload(payload: bytes) -> bytes:
    if len(payload) < 4:
        raise PropertyError("too short for its version and flags")
    if payload[0] != 0:
        raise PropertyError(f"version {payload[0]}")
    return payload[4:]


def _pixi(payload: bytes) -> _Parsed:
    fields = _full_payload(payload)
    if not fields or len(fields) < 1 + fields[0]:
        raise PropertyError("shorter than its channel count")
    return bytes(4) + fields[: 1 + fields[0]], ""


def _masked(mask: int) -> Callable[[bytes], _Parsed]:
    """A one-byte property whose bits outside ``mask`` are reserved (``irot``, ``imir``)."""

    def parse(payload: bytes) -> _Parsed:
        if not payload:
            raise PropertyError("empty")
        return bytes([payload[0] & mask]), ""

    return parse


def _colr(payload: bytes) -> _Parsed:
    if payload[:4] != b"nclx":
        raise PropertyError("colour type other than nclx (ICC profiles are reduced elsewhere)")
    if len(payload) < 11:
        raise PropertyError("nclx shorter than its fields")
    return payload[:10] + bytes([payload[10] & 0x80]), ""


def _a1lx(payload: bytes) -> _Parsed:
    if not payload:
        raise PropertyError("empty")
    size = 12 if payload[0] & 1 else 6
    if len(payload) < 1 + size:
        raise PropertyError("shorter than its layer sizes")
    return bytes([payload[0] & 1]) + payload[1 : 1 + size], ""


def _record(kind: bytes) -> Callable[[bytes], _Parsed]:
    """A codec configuration record (``hvcC``, ``av1C``) in the canonical form :mod:`.codec_config` gives it, the
    same as in a movie's sample description: only the parameter sets (VPS, SPS, PPS) or the sequence header."""

    def parse(payload: bytes) -> _Parsed:
        try:
            return canonical_record(kind, payload)
        except BitstreamError as exc:
            raise PropertyError(str(exc)) from None

    return parse


def _auxc(payload: bytes) -> _Parsed:
    fields = _full_payload(payload)
    end = fields.find(b"\0")
    urn = fields[:end] if end >= 0 else fields
    if urn not in AUX_TYPES:
        raise PropertyError("an auxiliary image type the engine does not know")
    subtype = fields[len(urn) + 1 :]
    kept = depth_subtype(subtype) if urn == HEVC_DEPTH and subtype else b""
    return bytes(4) + urn + b"\0" + kept, "subtype bytes" if subtype != kept else ""


# ---------------------------------------------------------------------- HEVC depth representation SEI


class _Bits:
    """A big-endian bit reader over bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, count: int) -> int:
        if self.pos + count > 8 * len(self.data):
            raise PropertyError("depth representation SEI is cut off")
        value = 0
        for _ in range(count):
            value = (value << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def golomb(self) -> int:
        zeros = 0
        while not self.read(1):
            zeros += 1
            if zeros > 31:
                raise PropertyError("depth representation SEI has an over-long code")
        return (1 << zeros) - 1 + self.read(zeros)


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def write(self, value: int, count: int) -> None:
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]

    def golomb(self, value: int) -> None:
        length = (value + 1).bit_length()
        self.write(0, length - 1)
        self.write(value + 1, length)

    def payload(self) -> bytes:
        bits = list(self.bits)
        if len(bits) % 8:
            bits += [1] + [0] * (7 - len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def depth_subtype(subtype: bytes) -> bytes:
    """The ``auxC`` subtype of an HEVC depth map as libheif reads it (an array length, then one prefix SEI NAL
    unit holding one depth_representation_info message, H.265 D.2.35), rebuilt from its parsed numbers; empty
    when it is anything else (it is then dropped: the depth map itself is kept)."""
    try:
        payload = _depth_payload(subtype)
        fields = _depth_fields(payload)
    except PropertyError:
        return b""
    rebuilt = _write_depth(fields)
    if b"\0\0" in rebuilt or len(rebuilt) > 255:
        return b""  # would need emulation prevention, which libheif does not undo
    nal = b"\x4e\x01" + bytes([177, len(rebuilt)]) + rebuilt
    return struct.pack(">II", len(nal) + 4, len(nal)) + nal


def _depth_payload(subtype: bytes) -> bytes:
    if len(subtype) < 12:
        raise PropertyError("too short")
    total, size = struct.unpack_from(">II", subtype)
    nal = subtype[8 : 8 + size]
    if total != size + 4 or len(subtype) != 8 + size or len(nal) < 4:
        raise PropertyError("lengths do not match")
    if (nal[0] >> 1) & 0x3F not in (39, 40) or nal[0] & 0x81 or nal[1] != 1 or nal[2] != 177:
        raise PropertyError("not one depth representation SEI")
    payload = nal[4 : 4 + nal[3]]
    if len(payload) != nal[3] or nal[4 + nal[3] :] not in (b"", b"\x80") or b"\0\0" in nal:
        raise PropertyError("SEI payload length")
    return payload


_Fields = tuple[list[int], list[tuple[int, int, int, int]], list[int]]
"""(flags and type and reference view, the four elements (sign, exponent, mantissa length, mantissa), models)."""


def _depth_fields(payload: bytes) -> _Fields:
    bits = _Bits(payload)
    flags = [bits.read(1) for _ in range(4)]
    head = [*flags, bits.golomb()]
    if flags[2] or flags[3]:
        head.append(bits.golomb())
    elements = []
    for present in flags:
        if present:
            sign, exponent, length = bits.read(1), bits.read(7), bits.read(5) + 1
            elements.append((sign, exponent, length, bits.read(length)))
    models = []
    if head[4] == 3:
        models = [bits.golomb() for _ in range(bits.golomb() + 1)]
    rest = 8 * len(payload) - bits.pos
    if rest and (rest > 7 or bits.read(rest) != 1 << (rest - 1)):
        raise PropertyError("bytes after the depth representation fields")
    return head, elements, models


def _write_depth(fields: _Fields) -> bytes:
    head, elements, models = fields
    out = _BitWriter()
    for flag in head[:4]:
        out.write(flag, 1)
    for value in head[4:]:
        out.golomb(value)
    for sign, exponent, length, mantissa in elements:
        out.write(sign, 1)
        out.write(exponent, 7)
        out.write(length - 1, 5)
        out.write(mantissa, length)
    if head[4] == 3:
        out.golomb(len(models) - 1)
        for model in models:
            out.golomb(model)
    return out.payload()


_PARSERS: dict[bytes, Callable[[bytes], _Parsed]] = {
    b"ispe": _fixed(8, full=True),
    b"pixi": _pixi,
    b"colr": _colr,
    b"hvcC": _record(b"hvcC"),
    b"av1C": _record(b"av1C"),
    b"auxC": _auxc,
    b"irot": _masked(0x03),
    b"imir": _masked(0x01),
    b"clap": _fixed(32),
    b"pasp": _fixed(8),
    b"clli": _fixed(4),
    b"mdcv": _fixed(24),
    b"amve": _fixed(8),
    b"lsel": _fixed(2),
    b"a1op": _fixed(1),
    b"a1lx": _a1lx,
    b"rloc": _fixed(8, full=True),
    b"iscl": _fixed(8, full=True),
}
"""Properties parsed field by field. ``clap``/``pasp``/``clli``/``mdcv``/``amve`` are numbers only; ``rloc`` and
``iscl`` offsets and scales; ``lsel``/``a1op``/``a1lx`` AV1 layer selection."""
