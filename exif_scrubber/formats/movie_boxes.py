"""The leaf boxes of a movie header, read field by field and written again in canonical form.

Each function takes a box's payload (the bytes after its size and type) and returns the payload the rebuild
writes: every field the format defines, with its value where it carries meaning, zero where the field is reserved,
pre-defined or carries a date or a name; nothing after the last field. The walker compares the two: equal, the box
is structure; different, the box is labelled metadata (named by :class:`Canonical.label`) and the rebuild writes
the canonical payload. Malformed boxes (cut short, an unknown version) raise :class:`.isobmff.BoxError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .isobmff import BoxError

MHLR, DHLR = b"mhlr", b"dhlr"
"""QuickTime's component types in ``hdlr`` (media handler, data handler); ISO files write zero."""
_MATRIX_AND_AFTER = 36
_DPI72 = struct.pack(">I", 0x00480000)


@dataclass(frozen=True, slots=True)
class Canonical:
    """A box's payload as the rebuild writes it, and what the walker calls the box when its input differs."""

    payload: bytes
    label: str


class Fields:
    """Reads the fields of one box's payload in order; a field past the end is a malformed box."""

    def __init__(self, name: str, payload: bytes) -> None:
        self.name, self.payload, self.pos = name, payload, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.payload):
            raise BoxError(f"{self.name} is cut off")
        self.pos += size
        return self.payload[self.pos - size : self.pos]

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def version(self, known: tuple[int, ...] | None = None) -> tuple[int, int]:
        """(version, flags) of a FullBox. Where the version decides the layout, one outside ``known`` is malformed;
        elsewhere (None) any is read, and the canonical form writes 0."""
        version, flags = self.u8(), int.from_bytes(self.take(3), "big")
        if known is not None and version not in known:
            raise BoxError(f"{self.name} has an unknown version {version}")
        return version, flags

    def left(self) -> int:
        return len(self.payload) - self.pos


def full_head(version: int, flags: int = 0) -> bytes:
    return bytes([version]) + flags.to_bytes(3, "big")


def _label(name: str, payload: bytes, canonical: bytes, *, dated: bool = False, named: bool = False) -> str:
    """What differs, most telling first: dates, a name, bytes after the last field, then reserved fields."""
    if dated:
        return f"{name} dates"
    if named:
        return f"{name} name"
    if len(payload) > len(canonical) and payload.startswith(canonical):
        return f"{name} trailing bytes"
    return f"{name} fields"


def canonical(name: str, payload: bytes, out: bytes, **flags: bool) -> Canonical:
    return Canonical(out, name if out == payload else _label(name, payload, out, **flags))


# ---------------------------------------------------------------------- headers


def mvhd(payload: bytes) -> Canonical:
    """Movie header: dates, reserved fields and QuickTime's preview/poster/selection times zero."""
    f = Fields("mvhd", payload)
    version, _ = f.version((0, 1))
    date = 8 if version else 4
    dates = f.take(2 * date)
    timing = f.take(4 + date)  # time scale, duration
    rate_volume = f.take(6)
    f.take(10)
    matrix = f.take(_MATRIX_AND_AFTER)
    f.take(24)  # pre-defined (QuickTime: preview, poster, selection and current times)
    next_id = f.take(4)
    out = full_head(version) + bytes(2 * date) + timing + rate_volume + bytes(10) + matrix + bytes(24) + next_id
    return canonical("mvhd", payload, out, dated=any(dates))


def tkhd(payload: bytes) -> Canonical:
    """Track header: dates and reserved fields zero; the flags that say enabled / in movie / in preview kept."""
    f = Fields("tkhd", payload)
    version, flags = f.version((0, 1))
    date = 8 if version else 4
    dates = f.take(2 * date)
    track_id = f.take(4)
    f.take(4)
    duration = f.take(date)
    f.take(8)
    layer_group_volume = f.take(6)
    f.take(2)
    matrix_size = f.take(_MATRIX_AND_AFTER + 8)  # matrix, width, height
    out = (
        full_head(version, flags & 0xF)
        + bytes(2 * date)
        + track_id
        + bytes(4)
        + duration
        + bytes(8)
        + layer_group_volume
        + bytes(2)
        + matrix_size
    )
    return canonical("tkhd", payload, out, dated=any(dates))


def mdhd(payload: bytes) -> Canonical:
    """Media header: dates zero, language kept, QuickTime's quality (pre-defined) zero."""
    f = Fields("mdhd", payload)
    version, _ = f.version((0, 1))
    date = 8 if version else 4
    dates = f.take(2 * date)
    timing = f.take(4 + date)
    language = f.u16() & 0x7FFF
    f.take(2)
    out = full_head(version) + bytes(2 * date) + timing + struct.pack(">HH", language, 0)
    return canonical("mdhd", payload, out, dated=any(dates))


def track_id_of(payload: bytes) -> int:
    """The track id in a ``tkhd`` payload."""
    at = 4 + (16 if payload[0] == 1 else 8)
    return int.from_bytes(payload[at : at + 4], "big")


def hdlr(payload: bytes) -> tuple[Canonical, bytes, bytes]:
    """Handler: its type kept, QuickTime's component type kept when it is one, the manufacturer and flags zero, the
    name empty. Also returns (component type, handler type)."""
    f = Fields("hdlr", payload)
    f.version()
    component = f.take(4)
    handler = f.take(4)
    f.take(12)
    name = payload[f.pos :]
    kept_component = component if component in (MHLR, DHLR) else bytes(4)
    out = full_head(0) + kept_component + handler + bytes(12) + b"\0"
    return canonical("hdlr", payload, out, named=bool(name.strip(b"\0"))), component, handler


def vmhd(payload: bytes) -> Canonical:
    """Video media header: graphics mode and colour (QuickTime composites with them) kept."""
    f = Fields("vmhd", payload)
    _, flags = f.version()
    return canonical("vmhd", payload, full_head(0, flags & 1) + f.take(8))


def smhd(payload: bytes) -> Canonical:
    f = Fields("smhd", payload)
    f.version()
    return canonical("smhd", payload, full_head(0) + f.take(2) + bytes(2))


def empty_full(name: str, payload: bytes) -> Canonical:
    """A FullBox with no fields (``nmhd``, ``sthd``)."""
    Fields(name, payload).version()
    return canonical(name, payload, full_head(0))


def aperture(name: str, payload: bytes) -> Canonical:
    """QuickTime's track aperture dimensions (``clef``, ``prof``, ``enof``): width and height, 16.16."""
    f = Fields(name, payload)
    f.version()
    return canonical(name, payload, full_head(0) + f.take(8))


def elst(payload: bytes) -> Canonical:
    """Edit list: each edit's duration, media time and rate."""
    f = Fields("elst", payload)
    version, _ = f.version((0, 1))
    count = f.u32()
    entry = 20 if version else 12
    if count > f.left() // entry:
        raise BoxError("elst is cut off")
    return canonical("elst", payload, full_head(version) + struct.pack(">I", count) + f.take(count * entry))


def mehd(payload: bytes) -> Canonical:
    f = Fields("mehd", payload)
    version, _ = f.version((0, 1))
    return canonical("mehd", payload, full_head(version) + f.take(8 if version else 4))


def sample_flags(value: int) -> int:
    """Sample flags (ISO 14496-12 8.8.3.1) with their 4 reserved leading bits zero."""
    return value & 0x0FFFFFFF


def trex(payload: bytes) -> tuple[Canonical, int]:
    """Track extends: the defaults of a track's fragments; also returns its track id."""
    f = Fields("trex", payload)
    f.version()
    track_id, description, duration, size, flags = (f.u32() for _ in range(5))
    out = full_head(0) + struct.pack(">5I", track_id, description, duration, size, sample_flags(flags))
    return canonical("trex", payload, out), track_id


def cslg(payload: bytes) -> Canonical:
    f = Fields("cslg", payload)
    version, _ = f.version((0, 1))
    return canonical("cslg", payload, full_head(version) + f.take(40 if version else 20))


def track_references(payload: bytes) -> tuple[int, ...] | None:
    """The track ids of one typed reference in ``tref`` (None: not a list of ids)."""
    if len(payload) % 4:
        return None
    return struct.unpack(f">{len(payload) // 4}I", payload)


# ---------------------------------------------------------------------- data references


@dataclass(frozen=True, slots=True)
class DataReference:
    """A parsed ``dref``: per entry, its type and whether it says "this file"."""

    entries: tuple[tuple[bytes, bool], ...]

    def self_contained(self, index: int) -> bool:
        """True when the 1-based ``index`` names an entry that says "the media is in this file"."""
        return 1 <= index <= len(self.entries) and self.entries[index - 1][1]

    def canonical(self, index: int) -> bytes:
        """The ``dref`` payload the rebuild writes: one self-contained entry, of the type of entry ``index``."""
        kind = self.entries[index - 1][0] if 1 <= index <= len(self.entries) else b"url "
        return full_head(0) + struct.pack(">II4s", 1, 12, kind) + full_head(0, 1)


def dref(entries: list[tuple[bytes, bytes]]) -> DataReference:
    """``(type, payload)`` of each entry: ``url ``, ``urn `` or ``alis`` with the self-contained flag say "this file"
    (whatever follows the flag is ignored by readers, and dropped); any other entry names another file (a location,
    an alias record) or is unknown."""
    parsed = []
    for kind, payload in entries:
        self_contained = kind in (b"url ", b"urn ", b"alis") and len(payload) >= 4 and payload[0] == 0
        parsed.append((kind, self_contained and bool(payload[3] & 1)))
    return DataReference(tuple(parsed))
