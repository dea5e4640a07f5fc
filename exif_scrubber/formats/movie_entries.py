"""Sample descriptions (``stsd`` entries) of a movie's audio and video tracks, field by field, in canonical form.

A visual description keeps its dimensions and depth and writes zero where QuickTime puts a version, a vendor code,
qualities and a compressor name; an audio description keeps what decodes (channels, sample size, rate, QuickTime's
version 1/2 packet fields) and writes zero for its vendor. Their child boxes are kept only when a decoder or a
player uses them, each parsed field by field (:data:`VISUAL_CHILDREN`, :data:`AUDIO_CHILDREN`); codec
configurations are the decoder's own and are kept as they are, but for ``avcC``, ``hvcC`` and ``av1C``, written in
canonical form by :mod:`.codec_config`. Any other child is dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import TypeAlias

from ..kept.icc import IccError, reduce_icc
from .codec_config import CANONICAL, canonical_config
from .isobmff import BoxError
from .movie_boxes import Canonical, Fields, canonical, full_head
from .movie_groups import Dropped

VISUAL_FIXED = 78
"""Bytes of a visual sample description before its child boxes."""
AUDIO_FIXED = {0: 28, 1: 44, 2: 64}
_DPI72 = struct.pack(">I", 0x00480000)
"""Bytes of a sound description before its child boxes, by its (QuickTime) version."""
ENCRYPTED = frozenset({b"encv", b"enca", b"encs", b"enct", b"encm", b"encf"})
TERMINATOR = b"\0\0\0\0"

Leaf = Callable[[bytes], Canonical]
Schema: TypeAlias = "Mapping[bytes, Leaf | Schema]"
"""What a container may hold: per child type, its canonical form (a leaf) or what it holds in turn."""


def visual_fixed(payload: bytes) -> Canonical:
    """The 78 bytes of a visual sample description: reserved, data reference index (1: the one data reference the
    rebuild keeps), (QuickTime's version, revision, vendor, temporal and spatial quality: zero), width, height,
    resolution (72 dpi), data size (zero), frame count (one), compressor name (empty), depth, colour table id (-1:
    none). The label says what differs: the compressor name, the vendor, or other fields."""
    f = Fields("visual sample description", payload)
    f.take(8)  # reserved, data reference index
    f.take(16)
    size = f.take(4)
    f.take(14)
    name = f.take(32)
    depth, table = f.u16(), f.u16()
    if depth & 0x1F in (1, 2, 4, 8) and table == 0:
        raise BoxError("a palettized QuickTime video (a colour table in its description) is not supported")
    out = bytes(6) + b"\0\x01" + bytes(16) + size + _DPI72 * 2 + bytes(4) + b"\0\x01" + bytes(32)
    out += struct.pack(">Hh", depth, -1)
    label = "compressor name" if any(name) else "sample description vendor" if any(payload[12:16]) else ""
    return Canonical(out, label or "sample description fields")


def audio_layout(payload: bytes, quicktime_rules: bool) -> int:
    """Which layout a sound description has: QuickTime's version 1 or 2 (16 or 36 more bytes) where FFmpeg reads
    them (QuickTime rules: a QuickTime movie, or an ``stsd`` of version 0), else 0 (28 bytes)."""
    version = int.from_bytes(payload[8:10], "big") if len(payload) >= 10 else 0
    return version if quicktime_rules and version in (1, 2) else 0


def audio_fixed(payload: bytes, layout: int) -> tuple[Canonical, tuple[int, int, tuple[int, int]]]:
    """The fixed fields of a sound description: vendor, revision and packet size zero, the rest kept. Also returns
    (channels, bits per sample, (samples per packet, bytes per packet frame))."""
    f = Fields("sound description", payload)
    f.take(8)
    version = f.take(2)
    f.take(6)  # revision, vendor
    channels, bits, compression = f.u16(), f.u16(), f.take(2)
    f.take(2)
    rate = f.take(4)
    out = bytes(6) + b"\0\x01" + version + bytes(6) + struct.pack(">HH", channels, bits) + compression + bytes(2) + rate
    packet = (0, 0)
    if layout == 1:
        per_packet, packet_bytes, frame_bytes, sample_bytes = (f.u32() for _ in range(4))
        out += struct.pack(">4I", per_packet, packet_bytes, frame_bytes, sample_bytes)
        packet = (per_packet, frame_bytes)
    elif layout == 2:
        struct_size, float_rate, v2_channels = f.take(4), f.take(8), f.take(4)
        f.take(4)  # always 0x7F000000
        bits_per_channel, lpcm_flags, packet_bytes, per_packet = f.take(4), f.take(4), f.u32(), f.u32()
        out += struct_size + float_rate + v2_channels + b"\x7f\0\0\0" + bits_per_channel + lpcm_flags
        out += struct.pack(">II", packet_bytes, per_packet)
        packet = (per_packet, packet_bytes)
    label = "sample description vendor" if any(payload[12:16]) else "sample description fields"
    return Canonical(out, label), (channels, bits, packet)


# ---------------------------------------------------------------------- child boxes


def as_is(name: bytes) -> Leaf:
    """A decoder configuration, kept as it is (the decoder reads every byte of it)."""
    label = name.decode("latin-1")
    return lambda payload: Canonical(payload, label)


def fixed(name: bytes, size: int, *, full: bool = False) -> Leaf:
    """A box of exactly ``size`` bytes of fields (after version and flags when ``full``); bytes after them dropped."""
    label = name.decode("latin-1")

    def leaf(payload: bytes) -> Canonical:
        f = Fields(label, payload)
        if full:
            f.version()
        return canonical(label, payload, (full_head(0) if full else b"") + f.take(size))

    return leaf


def colr(payload: bytes) -> Canonical:
    """Colour information: ``nclx`` (primaries, transfer, matrix, full range), QuickTime's ``nclc``, or an ICC
    profile (``prof``, ``rICC``) reduced to its canonical form. Other colour types are dropped."""
    f = Fields("colr", payload)
    kind = f.take(4)
    if kind == b"nclx":
        out = kind + f.take(6) + bytes([f.u8() & 0x80])
    elif kind == b"nclc":
        out = kind + f.take(6)
    elif kind in (b"prof", b"rICC"):
        try:
            out = kind + reduce_icc(payload[4:])
        except IccError as exc:
            raise Dropped(f"colr ICC profile that cannot be reduced ({exc})") from None
    else:
        raise Dropped("colr of an unknown colour type")
    return canonical("colr", payload, out)


def dolby_vision(name: bytes) -> Leaf:
    """Dolby Vision configuration (``dvcC``, ``dvvC``, ``dvwC``): version, profile, level, the RPU / enhancement /
    base layer flags, the compatibility id and metadata compression; reserved bits zero."""
    label = name.decode("latin-1")

    def leaf(payload: bytes) -> Canonical:
        f = Fields(label, payload)
        head = f.take(4)
        compatibility = f.u8() & 0xFC
        f.take(19)
        return canonical(label, payload, head + bytes([compatibility]) + bytes(19))

    return leaf


def ccst(payload: bytes) -> Canonical:
    """Coding constraints: all reference pictures intra, intra prediction used, references per picture."""
    f = Fields("ccst", payload)
    f.version()
    return canonical("ccst", payload, full_head(0) + struct.pack(">I", f.u32() & 0xFC000000))


def svhd(payload: bytes) -> Canonical:
    """Spherical video header: its metadata source (free text: the writing tool) emptied."""
    Fields("svhd", payload).version()
    return canonical("svhd", payload, full_head(0) + b"\0", named=payload[4:] not in (b"", b"\0"))


def sa3d(payload: bytes) -> Canonical:
    """Spatial audio: ambisonic type, order, channel ordering, normalisation and channel map."""
    f = Fields("SA3D", payload)
    version = f.u8()
    if version != 0:
        raise BoxError(f"SA3D has an unknown version {version}")
    head = f.take(1 + 4 + 1 + 1)
    channels = f.u32()
    if channels > f.left() // 4:
        raise BoxError("SA3D is cut off")
    return canonical("SA3D", payload, b"\0" + head + struct.pack(">I", channels) + f.take(4 * channels))


def chan(payload: bytes) -> Canonical:
    """Audio channel layout: layout tag, bitmap, and each channel description (label, flags, coordinates)."""
    f = Fields("chan", payload)
    f.version()
    tag, bitmap, count = f.take(4), f.take(4), f.u32()
    if count > f.left() // 20:
        raise BoxError("chan is cut off")
    return canonical("chan", payload, full_head(0) + tag + bitmap + struct.pack(">I", count) + f.take(20 * count))


def vendor_first(name: bytes, size: int) -> Leaf:
    """3GPP decoder-specific boxes (``damr``, ``d263``, ``devc`` ...): a vendor code (zeroed) then ``size`` bytes."""
    label = name.decode("latin-1")

    def leaf(payload: bytes) -> Canonical:
        f = Fields(label, payload)
        f.take(4)
        return canonical(label, payload, bytes(4) + f.take(size))

    return leaf


def terminator(payload: bytes) -> Canonical:
    """QuickTime's terminator atom (type and payload zero) at the end of ``wave``."""
    return canonical("terminator", payload, b"")


def esds(payload: bytes) -> Canonical:
    """The MPEG-4 elementary stream descriptor: ES_Descriptor (id, priority and the optional dependency, URL and
    clock references zero or absent), its DecoderConfigDescriptor (object type, stream type, buffer size, maximum and
    average bit rates, and the DecoderSpecificInfo the decoder reads, as it is), and the SLConfigDescriptor that MP4
    prescribes (predefined 2). Any other descriptor, and anything after the ES_Descriptor, is dropped; descriptor
    lengths are written in their shortest form."""
    f = Fields("esds", payload)
    f.version()
    tag, body, _ = _descriptor(payload, f.pos, len(payload))
    if tag != 0x03:
        raise BoxError("esds does not start with an ES_Descriptor")
    es = Fields("ES_Descriptor", body)
    es.take(2)
    flags = es.u8()
    if flags & 0x80:
        es.take(2)
    if flags & 0x40:
        es.take(es.u8())
    if flags & 0x20:
        es.take(2)
    config = b""
    pos = es.pos
    while pos < len(body):
        sub, sub_body, pos = _descriptor(body, pos, len(body))
        if sub == 0x04 and not config:
            config = _descriptor_bytes(0x04, _decoder_config(sub_body))
    if not config:
        raise BoxError("esds has no DecoderConfigDescriptor")
    out = full_head(0) + _descriptor_bytes(0x03, bytes(3) + config + _descriptor_bytes(0x06, b"\x02"))
    return canonical("esds", payload, out)


def _decoder_config(body: bytes) -> bytes:
    f = Fields("DecoderConfigDescriptor", body)
    object_type, stream = f.u8(), f.u8()
    numbers = f.take(11)  # buffer size (24 bits), maximum and average bit rate
    out = bytes([object_type, (stream & 0xFE) | 1]) + numbers
    pos = f.pos
    while pos < len(body):
        sub, sub_body, pos = _descriptor(body, pos, len(body))
        if sub == 0x05:
            return out + _descriptor_bytes(0x05, sub_body)
    return out


def _descriptor(data: bytes, pos: int, end: int) -> tuple[int, bytes, int]:
    """(tag, body, offset after it) of the descriptor at ``pos``; its length is 1 to 4 bytes of 7 bits."""
    if pos + 2 > end:
        raise BoxError("esds is cut off")
    tag, length, at = data[pos], 0, pos + 1
    for _ in range(4):
        if at >= end:
            raise BoxError("esds is cut off")
        byte = data[at]
        at += 1
        length = length << 7 | byte & 0x7F
        if not byte & 0x80:
            break
    if at + length > end:
        raise BoxError("an esds descriptor runs past its parent")
    return tag, data[at : at + length], at + length


def _descriptor_bytes(tag: int, body: bytes) -> bytes:
    length, groups = len(body), []
    while True:
        groups.append(length & 0x7F)
        length >>= 7
        if not length:
            break
    size = bytes(g | 0x80 for g in reversed(groups[1:])) + bytes([groups[0]])
    return bytes([tag]) + size + body


_CONFIGS = (
    b"avcC", b"hvcC", b"av1C", b"vvcC", b"lhvC", b"vpcC", b"glbl", b"SMI ", b"strf", b"uncC", b"cmpd", b"dOps",
    b"dac3", b"dec3", b"dac4", b"alac", b"dfLa", b"mhaC", b"dmlp", b"ddts", b"udts", b"chnl", b"jpgC", b"auxi",
    b"mshp",
)  # fmt: skip
_AS_IS = {name: as_is(name) for name in _CONFIGS}


def _codec_config(name: bytes) -> Leaf:
    """An ``avcC``/``hvcC``/``av1C`` in canonical form (:mod:`.codec_config`): fields from their parsed values,
    reserved bits as the standard sets them, SEI user data and bytes after the last field gone (labelled as the
    other kept boxes are: ``hvcC fields``, ``hvcC trailing bytes``)."""
    label = name.decode("latin-1")
    return lambda payload: canonical(label, payload, canonical_config(name, payload))


_AS_IS.update({name: _codec_config(name) for name in CANONICAL})
_SPHERICAL: Schema = {
    b"svhd": svhd,
    b"proj": {
        b"prhd": fixed(b"prhd", 12, full=True),
        b"equi": fixed(b"equi", 16, full=True),
        b"cbmp": fixed(b"cbmp", 8, full=True),
        b"mshp": _AS_IS[b"mshp"],
    },
}
_STEREO_VIEWS: Schema = {
    b"eyes": {b"stri": fixed(b"stri", 1, full=True), b"hero": fixed(b"hero", 1, full=True)},
    b"cams": {b"blin": fixed(b"blin", 4, full=True)},
    b"cmfy": {b"dadj": fixed(b"dadj", 4, full=True)},
    b"proj": {b"prji": fixed(b"prji", 4, full=True)},
}
VISUAL_CHILDREN: Schema = {
    **_AS_IS,
    b"colr": colr,
    b"pasp": fixed(b"pasp", 8),
    b"clap": fixed(b"clap", 32),
    b"btrt": fixed(b"btrt", 12),
    b"fiel": fixed(b"fiel", 2),
    b"gama": fixed(b"gama", 4),
    b"clli": fixed(b"clli", 4),
    b"mdcv": fixed(b"mdcv", 24),
    b"amve": fixed(b"amve", 8),
    b"hfov": fixed(b"hfov", 4),
    b"dvcC": dolby_vision(b"dvcC"),
    b"dvvC": dolby_vision(b"dvvC"),
    b"dvwC": dolby_vision(b"dvwC"),
    b"ccst": ccst,
    b"st3d": fixed(b"st3d", 1, full=True),
    b"sv3d": _SPHERICAL,
    b"vexu": _STEREO_VIEWS,
    b"esds": esds,
    b"d263": vendor_first(b"d263", 3),
}
"""Child boxes of a visual sample description that decoders and players use."""
AUDIO_CHILDREN: Schema = {
    **_AS_IS,
    b"esds": esds,
    b"chan": chan,
    b"btrt": fixed(b"btrt", 12),
    b"SA3D": sa3d,
    b"srat": fixed(b"srat", 4, full=True),
    b"pcmC": fixed(b"pcmC", 2, full=True),
    b"damr": vendor_first(b"damr", 5),
    b"devc": vendor_first(b"devc", 2),
    b"dqcp": vendor_first(b"dqcp", 2),
    b"wave": {
        b"frma": fixed(b"frma", 4),
        b"mp4a": fixed(b"mp4a", 4),
        b"esds": esds,
        b"enda": fixed(b"enda", 2),
        b"alac": _AS_IS[b"alac"],
        b"chan": chan,
        TERMINATOR: terminator,
    },
}
"""Child boxes of a sound description that decoders use (``wave``: QuickTime's decompression parameters)."""
