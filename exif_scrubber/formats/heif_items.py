"""Reading the item table of a HEIF/AVIF file (ISO/IEC 23008-12) and blanking metadata items in place.

ExifTool rewrites the Exif and XMP items of the *primary* image only. Secondary images
(burst frames, stereo pairs, depth and gain-map auxiliary images) carry their own Exif and XMP
items, which still hold camera make, serials and GPS after ``exiftool -all=``. This module
overwrites those payloads **in place, at the same length**, so no offset in the file moves and
no byte of image data is touched.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import StructureError

XMP_MIME = "application/rdf+xml"


class HeifStructureError(StructureError):
    """The box structure cannot be read safely."""


@dataclass
class HeifItem:
    """One item of the ``meta`` box."""

    item_id: int
    item_type: str
    content_type: str = ""
    extents: list[tuple[int, int]] = field(default_factory=list)
    """Absolute (file offset, length) pairs of the item's payload."""
    describes: list[int] = field(default_factory=list)
    """Items this one describes through a ``cdsc`` reference."""

    @property
    def is_exif(self) -> bool:
        return self.item_type == "Exif"

    @property
    def is_xmp(self) -> bool:
        return self.item_type == "mime" and self.content_type.split(";")[0].strip() == XMP_MIME


@dataclass
class HeifLayout:
    """The items of a HEIF file and which one is primary."""

    primary_id: int
    items: dict[int, HeifItem]

    def describes_primary(self, item: HeifItem) -> bool:
        """True for metadata of the primary image: linked to it, or linked to nothing (as ExifTool reads it)."""
        return not item.describes or self.primary_id in item.describes


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """Yield (type, payload start, box end) of the boxes between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise HeifStructureError("truncated 64-bit box header")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise HeifStructureError(f"box {kind!r} at {pos} overruns its parent")
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


def _uint(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big") if size else 0


def _parse_infe(data: bytes, start: int, end: int) -> HeifItem:
    version = data[start]
    pos = start + 4
    if version < 2:
        raise HeifStructureError(f"infe version {version} is not supported")
    id_size = 2 if version == 2 else 4
    item_id = _uint(data, pos, id_size)
    pos += id_size + 2  # item_protection_index
    item_type = data[pos : pos + 4].decode("latin-1")
    pos += 4
    name_end = data.index(b"\0", pos, end)
    pos = name_end + 1
    content_type = ""
    if item_type == "mime" and pos < end:
        ct_end = data.find(b"\0", pos, end)
        content_type = data[pos : ct_end if ct_end >= 0 else end].decode("utf-8", "replace")
    return HeifItem(item_id=item_id, item_type=item_type, content_type=content_type)


def _parse_iinf(data: bytes, start: int, end: int) -> dict[int, HeifItem]:
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)
    items: dict[int, HeifItem] = {}
    for kind, payload, box_end in _boxes(data, pos, end):
        if kind == "infe":
            item = _parse_infe(data, payload, box_end)
            items[item.item_id] = item
    return items


def _parse_iloc(data: bytes, start: int, end: int, idat_start: int | None) -> dict[int, list[tuple[int, int]]]:
    version = data[start]
    pos = start + 4
    offset_size, length_size = data[pos] >> 4, data[pos] & 15
    base_offset_size = data[pos + 1] >> 4
    index_size = data[pos + 1] & 15 if version in (1, 2) else 0
    pos += 2
    count_size = 2 if version < 2 else 4
    count = _uint(data, pos, count_size)
    pos += count_size
    locations: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        item_id = _uint(data, pos, count_size)
        pos += count_size
        method = 0
        if version in (1, 2):
            method = _uint(data, pos, 2) & 15
            pos += 2
        pos += 2  # data_reference_index
        base = _uint(data, pos, base_offset_size)
        pos += base_offset_size
        extent_count = _uint(data, pos, 2)
        pos += 2
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = _uint(data, pos, offset_size)
            pos += offset_size
            length = _uint(data, pos, length_size)
            pos += length_size
            extents.append((offset, length))
        if pos > end:
            raise HeifStructureError("iloc box is truncated")
        if method == 0:
            locations[item_id] = [(base + off, length) for off, length in extents]
        elif method == 1:
            if idat_start is None:
                raise HeifStructureError("item stored in idat but the file has no idat box")
            locations[item_id] = [(idat_start + base + off, length) for off, length in extents]
        else:
            locations[item_id] = []  # constructed from other items: holds no bytes of its own
    return locations


def _parse_cdsc(data: bytes, start: int, end: int) -> dict[int, list[int]]:
    version = data[start]
    id_size = 2 if version == 0 else 4
    described: dict[int, list[int]] = {}
    for kind, payload, _box_end in _boxes(data, start + 4, end):
        if kind != "cdsc":
            continue
        from_id = _uint(data, payload, id_size)
        count = _uint(data, payload + id_size, 2)
        pos = payload + id_size + 2
        targets = [_uint(data, pos + i * id_size, id_size) for i in range(count)]
        described.setdefault(from_id, []).extend(targets)
    return described


def read_layout(data: bytes) -> HeifLayout:
    """Parse the ``meta`` box of a HEIF/AVIF file held in ``data``."""
    meta = next(((p, e) for kind, p, e in _boxes(data, 0, len(data)) if kind == "meta"), None)
    if meta is None:
        raise HeifStructureError("no meta box")
    start, end = meta[0] + 4, meta[1]
    children = {kind: (p, e) for kind, p, e in _boxes(data, start, end)}
    for required in ("pitm", "iinf", "iloc"):
        if required not in children:
            raise HeifStructureError(f"meta box has no {required} box")
    pitm_start = children["pitm"][0]
    primary = _uint(data, pitm_start + 4, 2 if data[pitm_start] == 0 else 4)
    items = _parse_iinf(data, *children["iinf"])
    idat_start = children["idat"][0] if "idat" in children else None
    locations = _parse_iloc(data, *children["iloc"], idat_start)
    references = _parse_cdsc(data, *children["iref"]) if "iref" in children else {}
    for item_id, item in items.items():
        item.extents = locations.get(item_id, [])
        item.describes = references.get(item_id, [])
        for offset, length in item.extents:
            if offset + length > len(data):
                raise HeifStructureError(f"item {item_id} points past the end of the file")
    return HeifLayout(primary_id=primary, items=items)


def read_payload(data: bytes, item: HeifItem) -> bytes:
    """The bytes of one item, its extents joined."""
    return b"".join(data[off : off + length] for off, length in item.extents)


def write_payload(buffer: bytearray, item: HeifItem, payload: bytes) -> None:
    """Write ``payload`` over the item's extents; it must be exactly as long as the item."""
    total = sum(length for _, length in item.extents)
    if len(payload) != total:
        raise HeifStructureError(f"replacement for item {item.item_id} has the wrong length")
    pos = 0
    for offset, length in item.extents:
        buffer[offset : offset + length] = payload[pos : pos + length]
        pos += length


def empty_exif_payload(original: bytes) -> bytes:
    """An Exif item of the same length whose TIFF structure holds no tag at all."""
    if len(original) < 4:
        raise HeifStructureError("Exif item is too short")
    (tiff_offset,) = struct.unpack_from(">I", original, 0)
    tiff_start = 4 + tiff_offset
    header = b"MM\0*\0\0\0\x08" + b"\0\0" + b"\0\0\0\0"  # big-endian TIFF, IFD0 with 0 entries
    if tiff_start + len(header) > len(original):
        raise HeifStructureError("Exif item is too short to hold an empty TIFF structure")
    prefix = original[:tiff_start]
    if tiff_offset >= 6 and original[4:10] == b"Exif\0\0":
        prefix = original[:4] + b"Exif\0\0" + bytes(tiff_offset - 6)
    else:
        prefix = original[:4] + bytes(tiff_offset)
    body = prefix + header
    return body + bytes(len(original) - len(body))


def padded_xmp_payload(new_xmp: bytes, length: int) -> bytes:
    """Fit an XMP packet into ``length`` bytes with XML whitespace padding."""
    if len(new_xmp) > length:
        raise HeifStructureError("the cleaned XMP does not fit in the original item")
    end_marker = b"<?xpacket end="
    cut = new_xmp.rfind(end_marker)
    padding = b" " * (length - len(new_xmp))
    if cut < 0:
        return new_xmp + padding
    return new_xmp[:cut] + padding + new_xmp[cut:]


EMPTY_XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b"</rdf:RDF></x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)
