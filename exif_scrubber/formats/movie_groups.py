"""Sample groups (``sgpd``, ``sbgp``) and sample dependencies (``sdtp``) of a movie's tracks, in canonical form.

A sample group description is kept only for the grouping types whose entries are parsed here, each entry written
again from its fields (reserved bits zero); any other grouping type is dropped with the ``sbgp`` that maps samples
to it (a player that does not know a grouping type ignores it, and its entries are free bytes).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable

from .isobmff import BoxError
from .movie_boxes import Canonical, Fields, canonical, full_head

_Entry = Callable[[bytes], bytes]


def _keep(size: int) -> tuple[int, _Entry]:
    return size, lambda raw: raw


def _masked(mask: int) -> tuple[int, _Entry]:
    return 1, lambda raw: bytes([raw[0] & mask])


GROUPING_TYPES: dict[bytes, tuple[int, _Entry]] = {
    b"roll": _keep(2),  # roll distance (pre-roll of audio, gradual decoding refresh of video)
    b"prol": _keep(2),  # pre-roll distance
    b"rap ": _keep(1),  # random access point: leading samples known, their number
    b"sync": _masked(0x3F),  # the NAL unit type of sync samples (2 reserved bits)
    b"tele": _masked(0x80),  # temporal level independently decodable (7 reserved bits)
    b"tscl": _keep(20),  # HEVC temporal layer: id, profile, tier, level, bit and frame rates
    b"stsa": _keep(0),  # step-wise temporal sub-layer access (no fields)
    b"tsas": _keep(0),  # temporal sub-layer access (no fields)
}
"""Grouping types kept, with the size of an entry and its canonical form (ISO 14496-12 and 14496-15)."""


class Dropped(Exception):
    """The box is dropped; the message labels it."""


def sgpd(payload: bytes) -> tuple[Canonical, bytes, int]:
    """A sample group description of a known grouping type; also returns the type and the entry count. Raises
    :class:`Dropped` for a grouping type not parsed here."""
    f = Fields("sgpd", payload)
    version, flags = f.version((0, 1, 2, 3))
    kind = f.take(4)
    if kind not in GROUPING_TYPES:
        raise Dropped("sgpd of an unknown grouping type")
    size, entry = GROUPING_TYPES[kind]
    default_length = f.u32() if version == 1 else size
    head = struct.pack(">I", default_length) if version == 1 else b""
    if version >= 2:
        head = f.take(4)  # default sample description index
    count = f.u32()
    if count > len(payload):
        raise Dropped("sgpd counting more entries than it has bytes")
    entries = []
    for _ in range(count):
        length = f.u32() if version == 1 and default_length == 0 else default_length
        if length != size:
            raise Dropped("sgpd entries of an unexpected size")
        entries.append(
            (struct.pack(">I", length) if version == 1 and default_length == 0 else b"") + entry(f.take(size))
        )
    out = full_head(version, flags & 3) + kind + head + struct.pack(">I", count) + b"".join(entries)
    return canonical("sgpd", payload, out), kind, count


def sbgp(payload: bytes, described: dict[bytes, int]) -> Canonical:
    """A sample-to-group map; dropped when its grouping type has no kept description, or when it names an entry
    the description does not have (``described``: entry count of each kept grouping type)."""
    f = Fields("sbgp", payload)
    version, _ = f.version((0, 1))
    kind = f.take(4)
    if kind not in described:
        raise Dropped("sbgp of an unknown grouping type")
    parameter = f.take(4) if version == 1 else b""
    count = f.u32()
    if count > f.left() // 8:
        raise BoxError("sbgp is cut off")
    table = f.take(8 * count)
    entries = array("I", table)
    if sys.byteorder == "little":
        entries.byteswap()
    indexes = entries[1::2]
    if any(described[kind] < index <= 0x10000 for index in indexes):
        raise Dropped("sbgp naming a group description that does not exist")
    return canonical("sbgp", payload, full_head(version) + kind + parameter + struct.pack(">I", count) + table)


def described_types(payloads: list[bytes]) -> dict[bytes, int]:
    """The entry count of each grouping type whose ``sgpd`` is kept."""
    found = {}
    for payload in payloads:
        try:
            _, kind, count = sgpd(payload)
        except Dropped:
            continue
        found[kind] = count
    return found


def sdtp(payload: bytes, samples: int) -> Canonical:
    """Independent and disposable samples: one byte per sample (leading, depends on, depended on, redundancy);
    bytes past the last sample dropped."""
    f = Fields("sdtp", payload)
    f.version()
    flags = payload[4 : 4 + samples]
    return canonical("sdtp", payload, full_head(0) + flags)
