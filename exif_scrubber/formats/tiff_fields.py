"""The fields a TIFF image IFD keeps, each with the types and count TIFF 6.0 allows, the values decoders accept and
the images it applies to; a kept field is re-serialised from its parsed values.

A field that does not apply to its image (a ColorMap on an RGB image, JPEGTables without JPEG compression,
PrimaryChromaticities on a greyscale one) or has a type no reader takes for it (an ASCII XResolution) is dropped:
no decoder reads it, so its bytes are free. A field with more values than its count (MinSampleValue with extra
counts) keeps the count TIFF asks; a field stored in another integer type it allows keeps its type. Chromaticities
are written as the fraction of their value rounded to a millionth (libtiff stores floats as fractions of up to
2^31: their digits are free), which changes no colour a display can show.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .tiff_ifd import TYPE_SIZES, Entry, Layout, Reader, TiffStructureError

SHORT, LONG, RATIONAL, UNDEFINED, BYTE = 3, 4, 5, 7, 1
_INTEGER_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 16: "Q", 17: "q"}
_REAL_TYPES = {11: "f", 12: "d"}
CHROMATICITY_DENOMINATOR = 1_000_000


@dataclass(frozen=True)
class Image:
    """What an IFD says of its image, as the fields' rules need it."""

    bits: tuple[int, ...]
    samples: int
    photometric: int
    compression: int
    sample_format: int = 1


@dataclass(frozen=True)
class Field:
    """A kept field in canonical form: its type, count and value bytes (in the file's byte order)."""

    type: int
    count: int
    data: bytes


Values = list[int] | list[tuple[int, int]]
Count = Callable[[Image], int | None]
"""The count TIFF asks for a field of an image, or None when any count is taken as it is."""


@dataclass(frozen=True)
class Rule:
    types: tuple[int, ...]
    """The types TIFF allows; values of another integer type are converted to the first."""
    count: Count
    valid: Callable[[Sequence[object], Image], bool] = lambda values, image: True
    applies: Callable[[Image], bool] = lambda image: True
    chromaticity: bool = False


def _one(image: Image) -> int:
    return 1


def _per_sample(image: Image) -> int:
    return image.samples


def _fixed(count: int) -> Count:
    return lambda image: count


def _any(image: Image) -> None:
    return None


def _within(low: int, high: int) -> Callable[[Sequence[object], Image], bool]:
    return lambda values, image: all(isinstance(v, int) and low <= v <= high for v in values)


def _positive_fraction(values: Sequence[object], image: Image) -> bool:
    return all(isinstance(v, tuple) and v[0] > 0 and v[1] > 0 for v in values)


def _fraction(values: Sequence[object], image: Image) -> bool:
    return all(isinstance(v, tuple) and v[1] > 0 for v in values)


def _unit_fraction(values: Sequence[object], image: Image) -> bool:
    return all(isinstance(v, tuple) and v[1] > 0 and 0 <= v[0] <= v[1] for v in values)


def _sample_range(values: Sequence[object], image: Image) -> bool:
    top = (1 << max(image.bits, default=1)) - 1
    return all(isinstance(v, int) and 0 <= v <= top for v in values)


def _colour_map_count(image: Image) -> int:
    return 3 << image.bits[0] if image.bits and image.bits[0] <= 16 else 0


_RGB_OR_YCBCR = (2, 6)
RULES: dict[int, Rule] = {
    0x00FE: Rule((LONG,), _one),
    0x00FF: Rule((SHORT,), _one, _within(1, 3)),
    0x0100: Rule((SHORT, LONG), _one, _within(1, 0xFFFFFFFF)),
    0x0101: Rule((SHORT, LONG), _one, _within(1, 0xFFFFFFFF)),
    0x0102: Rule((SHORT,), _per_sample, _within(1, 64)),
    0x0103: Rule((SHORT,), _one),
    0x0106: Rule((SHORT,), _one),
    0x010A: Rule((SHORT,), _one, _within(1, 2)),
    0x0112: Rule((SHORT,), _one),
    0x0115: Rule((SHORT,), _one, _within(1, 0xFFFF)),
    0x0116: Rule((SHORT, LONG), _one, _within(1, 0xFFFFFFFF)),
    0x0118: Rule((SHORT,), _per_sample, _sample_range),
    0x0119: Rule((SHORT,), _per_sample, _sample_range),
    0x011A: Rule((RATIONAL,), _one, _positive_fraction),
    0x011B: Rule((RATIONAL,), _one, _positive_fraction),
    0x011C: Rule((SHORT,), _one, _within(1, 2)),
    0x011E: Rule((RATIONAL,), _one, _fraction),
    0x011F: Rule((RATIONAL,), _one, _fraction),
    0x0124: Rule((LONG,), _one, applies=lambda image: image.compression == 3),
    0x0125: Rule((LONG,), _one, applies=lambda image: image.compression == 4),
    0x0128: Rule((SHORT,), _one, _within(1, 3)),
    0x0129: Rule((SHORT,), _fixed(2)),
    0x013D: Rule((SHORT,), _one, _within(1, 3)),
    0x013E: Rule((RATIONAL,), _fixed(2), _unit_fraction, lambda i: i.photometric in _RGB_OR_YCBCR, chromaticity=True),
    0x013F: Rule((RATIONAL,), _fixed(6), _unit_fraction, lambda i: i.photometric in _RGB_OR_YCBCR, chromaticity=True),
    0x0140: Rule((SHORT,), _colour_map_count, applies=lambda image: image.photometric == 3),
    0x0142: Rule((SHORT, LONG), _one, _within(1, 0xFFFFFFFF)),
    0x0143: Rule((SHORT, LONG), _one, _within(1, 0xFFFFFFFF)),
    0x014C: Rule((SHORT,), _one, _within(1, 2), lambda image: image.photometric == 5),
    0x014E: Rule((SHORT,), _one, applies=lambda image: image.photometric == 5),
    0x0150: Rule((BYTE, SHORT), lambda image: 2 * image.samples, applies=lambda image: image.photometric == 5),
    0x0152: Rule((SHORT,), _any, _within(0, 2)),
    0x0153: Rule((SHORT,), _per_sample, _within(1, 6)),
    0x0154: Rule((BYTE, SHORT, LONG, 6, 8, 9, 11, 12), _per_sample),
    0x0155: Rule((BYTE, SHORT, LONG, 6, 8, 9, 11, 12), _per_sample),
    0x0200: Rule((SHORT,), _one, _within(1, 14), lambda image: image.compression == 6),
    0x0203: Rule((SHORT,), _one, applies=lambda image: image.compression == 6),
    0x0205: Rule((SHORT,), _per_sample, applies=lambda image: image.compression == 6),
    0x0206: Rule((SHORT,), _per_sample, applies=lambda image: image.compression == 6),
    0x0211: Rule((RATIONAL,), _fixed(3), _positive_fraction, lambda image: image.photometric == 6),
    0x0212: Rule((SHORT,), _fixed(2), _within(1, 4), lambda image: image.photometric == 6),
    0x0213: Rule((SHORT,), _one, _within(1, 2), lambda image: image.photometric == 6),
    0x0214: Rule((RATIONAL,), _fixed(6), _fraction, lambda image: image.photometric in _RGB_OR_YCBCR),
}
"""The fields kept as display or decoding data, by tag (JPEGTables, image data and SubIFD offsets apart)."""


def read_values(reader: Reader, entry: Entry) -> Values | None:
    """The numbers of ``entry`` (rationals as pairs), or None when it is not numeric (ASCII, UNDEFINED)."""
    order, raw = reader.layout.order, reader.value(entry)
    if entry.type in _INTEGER_TYPES:
        return list(struct.unpack(f"{order}{entry.count}{_INTEGER_TYPES[entry.type]}", raw))
    if entry.type in (5, 10):
        flat = struct.unpack(f"{order}{2 * entry.count}{'I' if entry.type == 5 else 'i'}", raw)
        return list(zip(flat[0::2], flat[1::2], strict=True))
    return None


def canonical_field(rule: Rule, entry: Entry, reader: Reader, image: Image) -> Field | str:
    """``entry`` in canonical form under ``rule``, or why it is dropped."""
    if not rule.applies(image):
        return "does not apply to this image"
    values = read_values(reader, entry)
    if values is None or (entry.type in _REAL_TYPES and not set(rule.types) & set(_REAL_TYPES)):
        return f"of type {entry.type}"
    count = rule.count(image)
    if count is not None:
        if len(values) < count:
            return f"{len(values)} values where TIFF asks {count}"
        values = values[:count]
    if RATIONAL in rule.types and values and isinstance(values[0], int):
        values = [(int(v), 1) for v in values]  # a whole number stored as SHORT or LONG (libtiff reads it)
    if not rule.valid(values, image):
        return "values out of range"
    if rule.chromaticity:
        values = [_chromaticity(pair) for pair in values]  # type: ignore[arg-type]
    typ = entry.type if entry.type in rule.types else rule.types[0]
    data = pack(reader.layout, typ, values)
    if data is None:
        return f"values that do not fit type {typ}"
    return Field(typ, len(values), data)


def _chromaticity(pair: tuple[int, int]) -> tuple[int, int]:
    value = Fraction(round(Fraction(*pair) * CHROMATICITY_DENOMINATOR), CHROMATICITY_DENOMINATOR)
    return value.numerator, value.denominator


def pack(layout: Layout, typ: int, values: Sequence[object]) -> bytes | None:
    """``values`` as a field of type ``typ``, or None when they do not fit it."""
    try:
        if typ in (5, 10):
            flat = [number for pair in values for number in pair]  # type: ignore[attr-defined]
            return struct.pack(f"{layout.order}{len(flat)}{'I' if typ == 5 else 'i'}", *flat)
        code = _INTEGER_TYPES.get(typ) or _REAL_TYPES[typ]
        return struct.pack(f"{layout.order}{len(values)}{code}", *values)
    except (struct.error, KeyError, TypeError):
        return None


def is_canonical(entry: Entry, reader: Reader, field: Field) -> bool:
    return (entry.type, entry.count) == (field.type, field.count) and reader.value(entry) == field.data


def jpeg_tables(raw: bytes) -> bytes:
    """JPEGTables as SOI, its DQT and DHT segments and EOI (an abbreviated table stream holds nothing else: APPn,
    COM or any other segment in it is dropped)."""
    if raw[:2] != b"\xff\xd8":
        raise TiffStructureError("JPEGTables does not start with SOI")
    kept, pos = [b"\xff\xd8"], 2
    while pos + 2 <= len(raw) and raw[pos] == 0xFF and raw[pos + 1] != 0xD9:
        if pos + 4 > len(raw):
            raise TiffStructureError("a JPEGTables segment is cut off")
        end = pos + 2 + int.from_bytes(raw[pos + 2 : pos + 4], "big")
        if end > len(raw):
            raise TiffStructureError("a JPEGTables segment is cut off")
        if raw[pos + 1] in (0xDB, 0xC4):
            kept.append(raw[pos:end])
        pos = end
    if raw[pos : pos + 2] != b"\xff\xd9":
        raise TiffStructureError("JPEGTables does not end with EOI")
    return b"".join(kept) + b"\xff\xd9"


def type_size(typ: int) -> int:
    return TYPE_SIZES[typ]
