"""The kept EXIF: a minimal TIFF structure holding only what changes how the image is shown or printed.

Kept values (all enumerations or numbers, never free text): IFD0 ``Orientation`` (1..8), IFD0 ``XResolution``,
``YResolution`` and ``ResolutionUnit`` (print size; display data, not personal data), IFD0 ``YCbCrPositioning``
(chroma siting, 1 or 2), ExifIFD ``ColorSpace`` (1 = sRGB, 0xFFFF = uncalibrated), ExifIFD ``Gamma`` (at most
:data:`MAX_GAMMA`), Interop ``InteropIndex`` (``R98``, ``R03``, ``THM``: DCF colour space), and with
``keep_copyright`` IFD0 ``Copyright`` and ``Artist``. Rationals are re-formatted from their value (reduced,
denominator at most :data:`MAX_DENOMINATOR`), so their digits cannot carry chosen bytes beyond the value itself:
a resolution (at most 10^6) about 46 bits, a gamma about 30.
The canonical block is built here, big-endian, entries in tag order, no thumbnail, no unreferenced byte.
A block is kept as it is only when it equals the canonical block built from its own values.

Parsing is tolerant where decoders are (an entry that cannot be read is simply not a kept value) and never
reads outside the block.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from ..allowlist import Allowlist
from ..policy import ScrubPolicy

ORIENTATION, ARTIST, COPYRIGHT, EXIF_IFD = 0x0112, 0x013B, 0x8298, 0x8769
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT, YCBCR_POSITIONING = 0x011A, 0x011B, 0x0128, 0x0213
COLOR_SPACE, INTEROP_IFD, GAMMA, INTEROP_INDEX = 0xA001, 0xA005, 0xA500, 0x0001
MAKER_NOTE, APPLE_CONTENT_IDENTIFIER = 0x927C, 0x0011
_SHORT, _LONG, _ASCII, _RATIONAL, _UNDEFINED = 3, 4, 2, 5, 7
APPLE_NOTE_HEADER = b"Apple iOS\0\0\x01MM"
"""Apple's maker note: its signature, a version and the byte order; offsets count from the note's start."""
CONTENT_IDENTIFIER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
"""A Live Photo pairing identifier: an upper-case UUID (nothing else is kept, so nothing else can hide there)."""
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INTEROP_INDEXES = frozenset({"R98", "R03", "THM"})
_MAX_ENTRIES = 1000
_MAX_TEXT = 2000
MAX_DENOMINATOR = 10_000
"""Kept rationals are reduced to the nearest fraction with at most this denominator."""
_MAX_RATIONAL = 1_000_000
"""Kept rationals above this value are not a resolution anyone uses: they are not kept."""
MAX_GAMMA = 10
"""A kept Gamma is at most this (display gammas are 1.0-2.8); with the denominator bound, about 30 bits."""


@dataclass(frozen=True)
class ExifValues:
    """What the engine keeps of an EXIF block."""

    orientation: int | None = None
    x_resolution: tuple[int, int] | None = None
    y_resolution: tuple[int, int] | None = None
    resolution_unit: int | None = None
    """1 = none, 2 = inch, 3 = centimetre."""
    ycbcr_positioning: int | None = None
    """Chroma siting: 1 = centred, 2 = co-sited."""
    color_space: int | None = None
    gamma: tuple[int, int] | None = None
    interop_index: str | None = None
    copyright: str | None = None
    artist: str | None = None
    content_identifier: str | None = None
    """The Live Photo pairing identifier (``keep_live_photo_pairing``), in Apple's maker note."""

    def without_copyright(self) -> ExifValues:
        return replace(self, copyright=None, artist=None)

    @property
    def empty(self) -> bool:
        return self == ExifValues()


class _Reader:
    """Bounds-checked reads inside one TIFF structure."""

    def __init__(self, tiff: bytes) -> None:
        self.tiff = tiff
        self.order = "<" if tiff[:2] == b"II" else ">"

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        size = struct.calcsize(self.order + fmt)
        if offset < 0 or offset + size > len(self.tiff):
            raise ValueError("outside the block")
        return struct.unpack_from(self.order + fmt, self.tiff, offset)

    def entries(self, ifd: int) -> dict[int, tuple[int, int, int]]:
        """``{tag: (type, count, value offset)}`` of the IFD at ``ifd`` (value offset resolved). An entry count
        that runs past the block is cut to the entries the block holds, as decoders read it."""
        (count,) = self.unpack("H", ifd)
        if count > _MAX_ENTRIES:
            raise ValueError("too many entries")
        found: dict[int, tuple[int, int, int]] = {}
        for index in range(min(count, (len(self.tiff) - ifd - 2) // 12)):
            base = ifd + 2 + 12 * index
            tag, typ, n = self.unpack("HHI", base)
            size = _TYPE_SIZES.get(typ, 0) * n
            where = base + 8 if size <= 4 else self.unpack("I", base + 8)[0]
            found.setdefault(tag, (typ, n, where))
        return found

    def short(self, entry: tuple[int, int, int] | None) -> int | None:
        if entry is None or entry[0] != _SHORT or entry[1] != 1:
            return None
        return self.unpack("H", entry[2])[0]

    def long(self, entry: tuple[int, int, int] | None) -> int | None:
        if entry is None or entry[0] not in (_LONG, 13) or entry[1] != 1:
            return None
        return self.unpack("I", entry[2])[0]

    def rational(self, entry: tuple[int, int, int] | None) -> tuple[int, int] | None:
        if entry is None or entry[0] != _RATIONAL or entry[1] != 1:
            return None
        numerator, denominator = self.unpack("II", entry[2])
        return canonical_rational(numerator, denominator)

    def ascii(self, entry: tuple[int, int, int] | None) -> str | None:
        if entry is None or entry[0] != _ASCII or not 0 < entry[1] <= _MAX_TEXT:
            return None
        raw = bytes(self.tiff[entry[2] : entry[2] + entry[1]])
        if len(raw) != entry[1]:
            return None
        text = raw.split(b"\0", 1)[0].decode("latin-1")
        return text or None


def _safe(read: object, *args: object) -> object:
    try:
        return read(*args)  # type: ignore[operator]
    except (ValueError, struct.error):
        return None


def read_exif(tiff: bytes, *, keep_copyright: bool = False, keep_pairing: bool = False) -> ExifValues:
    """The kept values of the TIFF structure ``tiff`` (starting at its ``II``/``MM`` header)."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\0", b"MM\0*"):
        return ExifValues()
    reader = _Reader(tiff)
    try:
        ifd0 = reader.entries(reader.unpack("I", 4)[0])
    except (ValueError, struct.error):
        return ExifValues()
    values = replace(_ifd0_values(reader, ifd0), **_exif_ifd_values(reader, ifd0, keep_pairing))
    if not keep_copyright:
        return values
    copyright_, artist = _safe(reader.ascii, ifd0.get(COPYRIGHT)), _safe(reader.ascii, ifd0.get(ARTIST))
    return replace(
        values,
        copyright=copyright_ if isinstance(copyright_, str) else None,
        artist=artist if isinstance(artist, str) else None,
    )


def _ifd0_values(reader: _Reader, ifd0: dict[int, tuple[int, int, int]]) -> ExifValues:
    """The kept display values of IFD0: orientation, resolution, chroma siting."""
    orientation = _safe(reader.short, ifd0.get(ORIENTATION))
    x_resolution = _safe(reader.rational, ifd0.get(X_RESOLUTION))
    y_resolution = _safe(reader.rational, ifd0.get(Y_RESOLUTION))
    unit = _safe(reader.short, ifd0.get(RESOLUTION_UNIT))
    positioning = _safe(reader.short, ifd0.get(YCBCR_POSITIONING))
    return ExifValues(
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else None,
        x_resolution=x_resolution if isinstance(x_resolution, tuple) else None,
        y_resolution=y_resolution if isinstance(y_resolution, tuple) else None,
        resolution_unit=unit if unit in (1, 2, 3) else None,
        ycbcr_positioning=positioning if positioning in (1, 2) else None,
    )


def _exif_ifd_values(reader: _Reader, ifd0: dict[int, tuple[int, int, int]], keep_pairing: bool) -> dict[str, Any]:
    """The kept values of the ExifIFD (colour space, gamma, interop index, pairing identifier) by field name."""
    exif_ifd = _safe(reader.long, ifd0.get(EXIF_IFD))
    exif = _safe(reader.entries, exif_ifd) if isinstance(exif_ifd, int) else None
    if not isinstance(exif, dict):
        return {}
    color_space = _safe(reader.short, exif.get(COLOR_SPACE))
    gamma = _safe(reader.rational, exif.get(GAMMA))
    return {
        "color_space": color_space if color_space in (1, 0xFFFF) else None,
        "gamma": gamma if isinstance(gamma, tuple) and gamma[0] <= MAX_GAMMA * gamma[1] else None,
        "interop_index": _interop_index(reader, exif.get(INTEROP_IFD)),
        "content_identifier": _apple_identifier(reader, exif.get(MAKER_NOTE)) if keep_pairing else None,
    }


def canonical_rational(numerator: int, denominator: int) -> tuple[int, int] | None:
    """A positive rational in canonical form (reduced, denominator at most :data:`MAX_DENOMINATOR`), or None."""
    if not denominator or not 0 < numerator / denominator <= _MAX_RATIONAL:
        return None
    value = Fraction(numerator, denominator).limit_denominator(MAX_DENOMINATOR)
    return (value.numerator, value.denominator) if value > 0 else None


def _apple_identifier(reader: _Reader, entry: tuple[int, int, int] | None) -> str | None:
    """The ContentIdentifier in an Apple maker note (``MM``, offsets from the note's start), if it is a UUID."""
    if entry is None or entry[0] not in (_UNDEFINED, 1):
        return None
    note = bytes(reader.tiff[entry[2] : entry[2] + entry[1]])
    if not note.startswith(APPLE_NOTE_HEADER):
        return None
    entries = _safe(_Reader(note).entries, len(APPLE_NOTE_HEADER))  # big-endian: the note does not start "II"
    found = entries.get(APPLE_CONTENT_IDENTIFIER) if isinstance(entries, dict) else None
    if found is None or found[0] != _ASCII:
        return None
    text = note[found[2] : found[2] + found[1]].rstrip(b"\0").decode("latin-1")
    return text if CONTENT_IDENTIFIER.fullmatch(text) else None


def apple_note(identifier: str) -> bytes:
    """The canonical Apple maker note: the header and one entry, the pairing identifier."""
    value = identifier.encode("ascii") + b"\0"
    at = len(APPLE_NOTE_HEADER) + 2 + 12 + 4
    entry = struct.pack(">HHHII", 1, APPLE_CONTENT_IDENTIFIER, _ASCII, len(value), at)
    return APPLE_NOTE_HEADER + entry + bytes(4) + value


def _interop_index(reader: _Reader, pointer: tuple[int, int, int] | None) -> str | None:
    offset = _safe(reader.long, pointer)
    if not isinstance(offset, int):
        return None
    entries = _safe(reader.entries, offset)
    if not isinstance(entries, dict):
        return None
    entry = entries.get(INTEROP_INDEX)
    if entry is None or entry[0] != _ASCII or entry[1] != 4:
        return None
    text = bytes(reader.tiff[entry[2] : entry[2] + 3]).decode("latin-1")
    return text if text in _INTEROP_INDEXES else None


class _Builder:
    """Lays out IFDs big-endian: entries first, then the out-of-line values of the same IFD."""

    def __init__(self) -> None:
        self.out = bytearray(b"MM\0*\0\0\0\x08")

    def ifd(self, entries: list[tuple[int, int, int, bytes]]) -> int:
        """Append an IFD of ``(tag, type, count, value bytes)`` entries; return its offset."""
        start = len(self.out)
        values_at = start + 2 + 12 * len(entries) + 4
        table = bytearray(struct.pack(">H", len(entries)))
        values = bytearray()
        for tag, typ, count, value in sorted(entries):
            if len(value) <= 4:
                table += struct.pack(">HHI", tag, typ, count) + value.ljust(4, b"\0")
            else:
                table += struct.pack(">HHII", tag, typ, count, values_at + len(values))
                values += value + b"\0" * (len(value) & 1)
        self.out += table + b"\0\0\0\0" + values
        return start


def build_exif(values: ExifValues) -> bytes:
    """The canonical TIFF structure for ``values`` (empty bytes when there is nothing to keep)."""
    if values.empty:
        return b""
    interop = [(INTEROP_INDEX, _ASCII, 4, values.interop_index.encode() + b"\0")] if values.interop_index else []
    exif = _exif_entries(values)
    ifd0 = _ifd0_entries(values)
    # Sub-IFDs follow IFD0; their pointers are patched in once the offsets are known.
    builder = _Builder()
    has_exif = bool(exif or interop)
    if has_exif:
        ifd0.append((EXIF_IFD, _LONG, 1, b"\0\0\0\0"))
        if interop:
            exif.append((INTEROP_IFD, _LONG, 1, b"\0\0\0\0"))
    ifd0_at = builder.ifd(ifd0)
    if has_exif:
        exif_at = builder.ifd(exif)
        _patch_pointer(builder.out, ifd0_at, EXIF_IFD, exif_at)
        if interop:
            _patch_pointer(builder.out, exif_at, INTEROP_IFD, builder.ifd(interop))
    return bytes(builder.out)


def _ifd0_entries(values: ExifValues) -> list[tuple[int, int, int, bytes]]:
    """The kept IFD0 entries: orientation, resolution, and the rights fields ``keep_copyright`` keeps."""
    ifd0: list[tuple[int, int, int, bytes]] = []
    if values.orientation is not None:
        ifd0.append((ORIENTATION, _SHORT, 1, struct.pack(">H", values.orientation)))
    for tag, rational in ((X_RESOLUTION, values.x_resolution), (Y_RESOLUTION, values.y_resolution)):
        if rational is not None:
            ifd0.append((tag, _RATIONAL, 1, struct.pack(">II", *rational)))
    for tag, short in ((RESOLUTION_UNIT, values.resolution_unit), (YCBCR_POSITIONING, values.ycbcr_positioning)):
        if short is not None:
            ifd0.append((tag, _SHORT, 1, struct.pack(">H", short)))
    for tag, text in ((ARTIST, values.artist), (COPYRIGHT, values.copyright)):
        if text:
            encoded = text.encode("latin-1", "replace") + b"\0"
            ifd0.append((tag, _ASCII, len(encoded), encoded))
    return ifd0


def _exif_entries(values: ExifValues) -> list[tuple[int, int, int, bytes]]:
    """The kept ExifIFD entries: colour space, gamma, the Live Photo pairing identifier's maker note."""
    exif: list[tuple[int, int, int, bytes]] = []
    if values.color_space is not None:
        exif.append((COLOR_SPACE, _SHORT, 1, struct.pack(">H", values.color_space)))
    if values.gamma is not None:
        exif.append((GAMMA, _RATIONAL, 1, struct.pack(">II", *values.gamma)))
    if values.content_identifier is not None:
        note = apple_note(values.content_identifier)
        exif.append((MAKER_NOTE, _UNDEFINED, len(note), note))
    return exif


def _patch_pointer(out: bytearray, ifd: int, tag: int, target: int) -> None:
    (count,) = struct.unpack_from(">H", out, ifd)
    for index in range(count):
        base = ifd + 2 + 12 * index
        if struct.unpack_from(">H", out, base)[0] == tag:
            struct.pack_into(">I", out, base + 8, target)
            return
    raise AssertionError(f"no tag 0x{tag:04x} in the IFD at {ifd}")


def canonical_exif(
    tiff: bytes, *, keep_copyright: bool = False, keep_pairing: bool = False
) -> tuple[ExifValues, bytes]:
    """The kept values of ``tiff`` and the canonical block holding them."""
    values = read_exif(tiff, keep_copyright=keep_copyright, keep_pairing=keep_pairing)
    return values, build_exif(values)


def is_content_identifier(value: object) -> bool:
    """True when ``value`` is a Live Photo pairing identifier as the engine keeps it (an upper-case UUID)."""
    return CONTENT_IDENTIFIER.fullmatch(str(value)) is not None


def allowlist(policy: ScrubPolicy) -> Allowlist:
    """What ExifTool reads of a kept block under ``policy``: the kept values, and the block structure another
    writer adds (versions, pixel dimensions) that :mod:`.accounting` counts as harmless (the canonical block has
    none of those, so an output that shows one is not canonical and fails on its byte model)."""
    ifd0 = ["Orientation", "XResolution", "YResolution", "ResolutionUnit", "YCbCrPositioning"]
    if policy.keep_copyright:
        ifd0 += ["Copyright", "Artist"]
    structure = ["ExifVersion", "FlashpixVersion", "ComponentsConfiguration", "ExifImageWidth", "ExifImageHeight"]
    kept = Allowlist.of("IFD0", ifd0) | Allowlist.of("ExifIFD", ["ColorSpace", "Gamma", *structure])
    kept |= Allowlist.of("InteropIFD", ["InteropIndex", "InteropVersion"])
    if policy.keep_live_photo_pairing:
        kept |= Allowlist.of("Apple", ["ContentIdentifier"], {"ContentIdentifier": is_content_identifier})
    return kept
