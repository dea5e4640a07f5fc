"""Coded-bitstream pieces made for the tests: NAL units, SEI messages and AV1 OBUs, written from the standards'
syntax independently of the engine's parser (which reads them back)."""

from __future__ import annotations

import re
import struct
import uuid

from exif_scrubber.formats.isobmff import Box, iter_boxes

MDPM_UUID = bytes.fromhex("17ee8c60f84d11d98cd60800200c9a66")
"""Sony's and Panasonic's "modified DV pack metadata" user data (ExifTool reads it as H264:MDPM tags)."""
X264_UUID = bytes.fromhex("dc45e9bde6d948b7962cd820d923eeef")


def escaped(rbsp: bytes) -> bytes:
    """Emulation prevention as an encoder inserts it (a 0x03 after two zeros that precede 0..3)."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sei_number(value: int) -> bytes:
    return b"\xff" * (value // 255) + bytes([value % 255])


def sei_message(payload_type: int, payload: bytes) -> bytes:
    """One SEI message in RBSP form (type and size with 0xFF extension bytes)."""
    return sei_number(payload_type) + sei_number(len(payload)) + payload


def sei_nal(messages: list[bytes], *, hevc: bool = False, suffix: bool = False) -> bytes:
    """An SEI NAL unit (header, escaped RBSP, stop bit), without its length prefix."""
    header = bytes([(40 if suffix else 39) << 1, 1]) if hevc else b"\x06"
    return header + escaped(b"".join(messages) + b"\x80")


def avc_nal(kind: int, payload: bytes, ref_idc: int = 3) -> bytes:
    return bytes([ref_idc << 5 | kind]) + escaped(payload)


def hevc_nal(kind: int, payload: bytes) -> bytes:
    return bytes([kind << 1, 1]) + escaped(payload)


def sample(nals: list[bytes], length_size: int = 4) -> bytes:
    """NAL units behind their big-endian lengths, as in an MP4 sample."""
    return b"".join(len(n).to_bytes(length_size, "big") + n for n in nals)


def unregistered(text: bytes, ident: bytes | None = None) -> bytes:
    """A user_data_unregistered message (payload type 5): a UUID and text."""
    return sei_message(5, (ident or uuid.uuid4().bytes) + text)


def mdpm(token: bytes) -> bytes:
    """An MDPM record as Sony cameras write it: date/time original (2024-05-06 07:08:09) and GPS latitude 48 deg,
    then the token as a maker field."""
    entries = [
        (0x18, bytes([0x00, 0x20, 0x24, 0x05])),
        (0x19, bytes([0x06, 0x07, 0x08, 0x09])),
        (0xB1, b"N\0\0\0"),
        (0xB2, (48).to_bytes(2, "big") + (1).to_bytes(2, "big")),
        (0xB3, (30).to_bytes(2, "big") + (1).to_bytes(2, "big")),
        (0xB4, (0).to_bytes(2, "big") + (1).to_bytes(2, "big")),
    ]
    body = bytes([len(entries)]) + b"".join(bytes([tag]) + value for tag, value in entries)
    return sei_message(5, MDPM_UUID + b"MDPM" + body + token)


def t35(payload: bytes) -> bytes:
    """A user_data_registered_itu_t_t35 message (payload type 4)."""
    return sei_message(4, payload)


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, count: int) -> None:
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]

    def bytes(self, pad_one: bool = False) -> bytes:
        bits = list(self.bits)
        if pad_one and len(bits) % 8:
            bits.append(1)
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def hdr10_plus(maxscl: int = 1000, *, percentiles: int = 2, knee: bool = True) -> bytes:
    """ST 2094-40 dynamic metadata (one window) as HDR10+ encoders write it: T.35 codes, then the bit fields."""
    bits = _BitWriter()
    bits.put(1, 2)  # num_windows
    bits.put(400, 27)  # targeted_system_display_maximum_luminance
    bits.put(0, 1)  # targeted_system_display_actual_peak_luminance_flag
    for _ in range(3):
        bits.put(maxscl, 17)
    bits.put(maxscl // 2, 17)  # average_maxrgb
    bits.put(percentiles, 4)
    for index in range(percentiles):
        bits.put(index * 10, 7)
        bits.put(maxscl // (index + 2), 17)
    bits.put(3, 10)  # fraction_bright_pixels
    bits.put(0, 1)  # mastering_display_actual_peak_luminance_flag
    bits.put(int(knee), 1)  # tone_mapping_flag
    if knee:
        bits.put(100, 12)
        bits.put(200, 12)
        bits.put(2, 4)
        bits.put(300, 10)
        bits.put(600, 10)
    bits.put(0, 1)  # color_saturation_mapping_flag
    return bytes([0xB5, 0x00, 0x3C, 0x00, 0x01, 0x04, 0x01]) + bits.bytes(pad_one=True)


# ---------------------------------------------------------------------- AV1


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def obu(kind: int, payload: bytes, *, sized: bool = True, extension: int | None = None) -> bytes:
    header = bytes([kind << 3 | (4 if extension is not None else 0) | (2 if sized else 0)])
    if extension is not None:
        header += bytes([extension])
    return header + (leb(len(payload)) if sized else b"") + payload


def metadata_obu(metadata_type: int, fields: bytes) -> bytes:
    """A metadata OBU: its type, its fields, trailing bits."""
    return obu(5, leb(metadata_type) + fields + b"\x80")


def contains_start_code(data: bytes) -> bool:
    return re.search(rb"\x00\x00[\x00-\x02]", data) is not None


# ---------------------------------------------------------------------- planting units in a movie's samples


def _leaves(data: bytes, start: int, end: int, kinds: set[bytes], found: dict[bytes, list[Box]]) -> None:
    for child in iter_boxes(data, start, end, last_to_end=start == 0):
        if child.type in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
            _leaves(data, child.body, child.end, kinds, found)
        elif child.type in kinds:
            found.setdefault(child.type, []).append(child)


def _table(data: bytes, leaf: Box, width: int, skip: int = 0) -> list[int]:
    count = int.from_bytes(data[leaf.body + 4 + skip : leaf.body + 8 + skip], "big")
    pos = leaf.body + 8 + skip
    return [int.from_bytes(data[pos + i * width : pos + (i + 1) * width], "big") for i in range(count)]


def sample_offsets(data: bytes, track: int = 0) -> list[tuple[int, int]]:
    """(file offset, size) of each sample of the ``track``-th ``trak`` (its stsz must be a table)."""
    traks = [b for b in iter_boxes(data, 0, len(data), last_to_end=True) if b.type == b"moov"]
    trak = [b for b in iter_boxes(data, traks[0].body, traks[0].end) if b.type == b"trak"][track]
    found: dict[bytes, list[Box]] = {}
    _leaves(data, trak.body, trak.end, {b"stsz", b"stsc", b"stco", b"co64"}, found)
    sizes = _table(data, found[b"stsz"][0], 4, skip=4)
    chunks = _table(data, found[b"stco"][0], 4) if b"stco" in found else _table(data, found[b"co64"][0], 8)
    stsc = found[b"stsc"][0]
    count = int.from_bytes(data[stsc.body + 4 : stsc.body + 8], "big")
    runs = [struct.unpack(">III", data[stsc.body + 8 + 12 * i : stsc.body + 20 + 12 * i]) for i in range(count)]
    out, sample = [], 0
    for index, offset in enumerate(chunks):
        per_chunk = next(r[1] for r in reversed(runs) if r[0] <= index + 1)
        for _ in range(per_chunk):
            out.append((offset, sizes[sample]))
            offset += sizes[sample]
            sample += 1
    return out


def plant_in_samples(data: bytes, plants: dict[int, bytes], *, track: int = 0, at_end: bool = False) -> bytes:
    """``data`` (a movie with one mdat) with ``plants[n]`` inserted at the start (or end) of sample ``n`` of its
    ``track``-th ``trak``: the sample sizes, the mdat size and every chunk offset after an insertion follow."""
    samples = sample_offsets(data, track)
    assert max(plants) < len(samples), f"the track has {len(samples)} samples"
    points = sorted(
        (offset + (size if at_end else 0), plants[n]) for n, (offset, size) in enumerate(samples) if n in plants
    )
    out, pos = bytearray(), 0
    for point, payload in points:
        out += data[pos:point] + payload
        pos = point
    out += data[pos:]

    def moved(offset: int, *, inclusive: bool) -> int:
        return offset + sum(len(p) for at, p in points if at < offset or (inclusive and at == offset))

    boxes = list(iter_boxes(data, 0, len(data), last_to_end=True))
    found: dict[bytes, list[Box]] = {}
    _leaves(data, 0, len(data), {b"stco", b"co64"}, found)
    moov = next(b for b in boxes if b.type == b"moov")
    traks = [b for b in iter_boxes(data, moov.body, moov.end) if b.type == b"trak"]
    stsz: dict[bytes, list[Box]] = {}
    _leaves(data, traks[track].body, traks[track].end, {b"stsz"}, stsz)
    for leaf in [*found.get(b"stco", []), *found.get(b"co64", [])]:
        width = 8 if leaf.type == b"co64" else 4
        for index, offset in enumerate(_table(data, leaf, width)):
            at = moved(leaf.body + 8 + index * width, inclusive=False)
            out[at : at + width] = moved(offset, inclusive=at_end).to_bytes(width, "big")
    table = stsz[b"stsz"][0]
    for index in plants:
        at = moved(table.body + 12 + 4 * index, inclusive=False)
        out[at : at + 4] = (int.from_bytes(out[at : at + 4], "big") + len(plants[index])).to_bytes(4, "big")
    mdat = next(b for b in boxes if b.type == b"mdat")
    grown = sum(len(p) for p in plants.values())
    head = moved(mdat.start, inclusive=False)
    if mdat.body - mdat.start == 16:
        out[head + 8 : head + 16] = (mdat.end - mdat.start + grown).to_bytes(8, "big")
    else:
        out[head : head + 4] = (mdat.end - mdat.start + grown).to_bytes(4, "big")
    return bytes(out)


# ---------------------------------------------------------------------- planting units in a HEIF item's data


def item_extents(data: bytes) -> dict[int, tuple[tuple[int, int], list[tuple[int, int, int, int]]]]:
    """Per item id, its base offset field (position, width) and its extents as (offset field position, offset width,
    length field position, length width), read from ``iloc`` (versions 0 to 2)."""
    meta = next(b for b in iter_boxes(data, 0, len(data), last_to_end=True) if b.type == b"meta")
    iloc = next(b for b in iter_boxes(data, meta.body + 4, meta.end) if b.type == b"iloc")
    version, pos = data[iloc.body], iloc.body + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 15
    base_size, index_size = data[pos + 1] >> 4, (data[pos + 1] & 15) if version else 0
    pos += 2
    count_width = 4 if version == 2 else 2
    count = int.from_bytes(data[pos : pos + count_width], "big")
    pos += count_width
    out: dict[int, tuple[tuple[int, int], list[tuple[int, int, int, int]]]] = {}
    for _ in range(count):
        item_id = int.from_bytes(data[pos : pos + count_width], "big")
        pos += count_width + (2 if version else 0) + 2
        base = (pos, base_size)
        pos += base_size
        extents = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        out[item_id] = (base, [])
        for _ in range(extents):
            pos += index_size
            out[item_id][1].append((pos, offset_size, pos + offset_size, length_size))
            pos += offset_size + length_size
    return out


def _number(data: bytes | bytearray, at: int, width: int) -> int:
    return int.from_bytes(data[at : at + width], "big")


def plant_in_item(data: bytes, item_id: int, payload: bytes, *, at_end: bool = False) -> bytes:
    """``data`` (a HEIF file with ``meta`` before one ``mdat``) with ``payload`` inserted at the start (or end) of
    the item's data (its single extent): its length, every later item's offset and the mdat size follow."""
    fields = item_extents(data)
    (base_at, base_width), ((offset_at, offset_width, length_at, length_width),) = fields[item_id]
    start = _number(data, base_at, base_width) + _number(data, offset_at, offset_width)
    length = _number(data, length_at, length_width)
    point = start + (length if at_end else 0)
    out = bytearray(data[:point] + payload + data[point:])
    for other, ((b_at, b_width), extents) in fields.items():
        for at, width, _, _ in extents:
            absolute = _number(data, b_at, b_width) + _number(data, at, width)
            if other != item_id and absolute >= point:
                field_at, field_width = (b_at, b_width) if b_width else (at, width)
                out[field_at : field_at + field_width] = (_number(data, field_at, field_width) + len(payload)).to_bytes(
                    field_width, "big"
                )
    out[length_at : length_at + length_width] = (length + len(payload)).to_bytes(length_width, "big")
    mdat = next(b for b in iter_boxes(data, 0, len(data), last_to_end=True) if b.type == b"mdat")
    assert mdat.start < point <= mdat.end and mdat.body - mdat.start == 8
    out[mdat.start : mdat.start + 4] = (mdat.end - mdat.start + len(payload)).to_bytes(4, "big")
    return bytes(out)
