"""The ``meta`` box of a HEIF/AVIF file (ISO/IEC 23008-12), read field by field and written anew.

Reading gives the items (``iinf``/``infe``), where their data is (``iloc``, ``idat``), how they relate
(``iref``, ``grpl``), their properties (``iprp``: ``ipco`` and ``ipma``) and the primary item (``pitm``).
Writing builds each of those boxes from the items the engine keeps, with item names emptied and offsets
recomputed; property boxes are copied as they are (or replaced by their canonical form).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..bytemodel import Buffer
from .isobmff import Box, BoxError, box, cstring, full, full_box, iter_boxes, type_name, uint

_MAX_ITEMS = 100_000


@dataclass
class Item:
    """One item of the ``meta`` box."""

    id: int
    type: bytes
    infe: Box
    hidden: bool = False
    name: bytes = b""
    content_type: bytes = b""
    content_encoding: bytes = b""
    other: bytes = b""
    """Anything after the fields the walker knows (an ``infe`` extension): makes the entry metadata."""
    method: int = 0
    """iloc construction method: 0 file offset, 1 ``idat``, 2 item."""
    data_reference: int = 0
    extents: list[tuple[int, int]] = field(default_factory=list)
    """(absolute offset in the file, length) of each extent."""
    properties: list[tuple[bool, int]] = field(default_factory=list)
    """(essential, 1-based index into ``ipco``) of each associated property."""

    @property
    def size(self) -> int:
        return sum(length for _, length in self.extents)

    @property
    def is_xmp(self) -> bool:
        return self.type == b"mime" and self.content_type.split(b";")[0].strip() == b"application/rdf+xml"


@dataclass(frozen=True)
class Reference:
    """An ``iref`` entry: ``from_id`` relates to each of ``to_ids`` with ``type``."""

    type: bytes
    from_id: int
    to_ids: tuple[int, ...]


@dataclass(frozen=True)
class Group:
    """A ``grpl`` entity group (alternatives, stereo pairs ...)."""

    type: bytes
    version: int
    flags: int
    group_id: int
    entities: tuple[int, ...]


@dataclass
class Meta:
    """What a HEIF ``meta`` box says."""

    box: Box
    children: list[Box] = field(default_factory=list)
    handler: bytes = b""
    handler_name: bytes = b""
    primary: int = 0
    items: dict[int, Item] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    properties: list[Box] = field(default_factory=list)
    """The boxes of ``ipco``, in order (``ipma`` indexes them from 1)."""
    groups: list[Group] = field(default_factory=list)
    idat: Box | None = None
    dinf: Box | None = None
    versions: dict[bytes, int] = field(default_factory=dict)
    """The version each box was written with (kept on rewrite where it still fits)."""


def parse_meta(data: Buffer, meta_box: Box) -> Meta:
    """Read a HEIF ``meta`` box; raises ``BoxError`` on anything that does not parse exactly."""
    version, _, body = full_box(data, meta_box)
    if version != 0:
        raise BoxError(f"meta box version {version}")
    meta = Meta(box=meta_box, children=list(iter_boxes(data, body, meta_box.end)))
    by_type: dict[bytes, Box] = {}
    for child in meta.children:
        if child.type in by_type and child.type not in (b"free", b"skip"):
            raise BoxError(f"meta holds two {child.name} boxes")
        by_type.setdefault(child.type, child)
    for required in (b"hdlr", b"pitm", b"iinf", b"iloc"):
        if required not in by_type:
            raise BoxError(f"meta has no {type_name(required)} box")
    _hdlr(data, meta, by_type[b"hdlr"])
    _pitm(data, meta, by_type[b"pitm"])
    _iinf(data, meta, by_type[b"iinf"])
    meta.idat = by_type.get(b"idat")
    meta.dinf = by_type.get(b"dinf")
    _iloc(data, meta, by_type[b"iloc"])
    if b"iref" in by_type:
        _iref(data, meta, by_type[b"iref"])
    if b"iprp" in by_type:
        _iprp(data, meta, by_type[b"iprp"])
    if b"grpl" in by_type:
        _grpl(data, meta, by_type[b"grpl"])
    if meta.primary not in meta.items:
        raise BoxError("the primary item does not exist")
    return meta


def _hdlr(data: Buffer, meta: Meta, hdlr: Box) -> None:
    _, _, pos = full_box(data, hdlr)
    if pos + 20 > hdlr.end:
        raise BoxError("hdlr is cut off")
    meta.handler = bytes(data[pos + 4 : pos + 8])
    meta.handler_name, _ = cstring(data, pos + 20, hdlr.end)


def _pitm(data: Buffer, meta: Meta, pitm: Box) -> None:
    version, _, pos = full_box(data, pitm)
    size = 2 if version == 0 else 4
    meta.primary = uint(data, pos, size, pitm.end)
    meta.versions[b"pitm"] = version
    if pos + size != pitm.end:
        raise BoxError("pitm has extra bytes")


def _iinf(data: Buffer, meta: Meta, iinf: Box) -> None:
    version, _, pos = full_box(data, iinf)
    size = 2 if version == 0 else 4
    count = uint(data, pos, size, iinf.end)
    meta.versions[b"iinf"] = version
    entries = list(iter_boxes(data, pos + size, iinf.end))
    if len(entries) != count or count > _MAX_ITEMS or any(e.type != b"infe" for e in entries):
        raise BoxError("iinf does not hold exactly its item entries")
    for entry in entries:
        item = _infe(data, entry)
        if item.id in meta.items:
            raise BoxError(f"item {item.id} is declared twice")
        meta.items[item.id] = item


def _infe(data: Buffer, infe: Box) -> Item:
    version, flags, pos = full_box(data, infe)
    if version not in (2, 3):
        raise BoxError(f"item info entry version {version} is not supported")
    id_size = 2 if version == 2 else 4
    item_id = uint(data, pos, id_size, infe.end)
    if uint(data, pos + id_size, 2, infe.end):
        raise BoxError(f"item {item_id} is protected (encrypted): its bytes cannot be accounted for")
    pos += id_size + 2
    kind = bytes(data[pos : pos + 4])
    name, pos = cstring(data, pos + 4, infe.end)
    item = Item(id=item_id, type=kind, infe=infe, hidden=bool(flags & 1), name=name)
    if kind == b"mime":
        item.content_type, pos = cstring(data, pos, infe.end)
        if pos < infe.end:
            item.content_encoding, pos = cstring(data, pos, infe.end)
    elif kind == b"uri ":
        _, pos = cstring(data, pos, infe.end)
    item.other = bytes(data[pos : infe.end])
    return item


def _iloc(data: Buffer, meta: Meta, iloc: Box) -> None:
    version, _, pos = full_box(data, iloc)
    if version > 2:
        raise BoxError(f"iloc version {version}")
    sizes = uint(data, pos, 2, iloc.end)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version else 0
    if any(s not in (0, 4, 8) for s in (offset_size, length_size, base_size, index_size)):
        raise BoxError("iloc field sizes are not 0, 4 or 8")
    id_size = 2 if version < 2 else 4
    count = uint(data, pos + 2, id_size, iloc.end)
    pos += 2 + id_size
    meta.versions[b"iloc"] = version
    for _ in range(count):
        item_id = uint(data, pos, id_size, iloc.end)
        pos += id_size
        method = uint(data, pos, 2, iloc.end) & 15 if version else 0
        pos += 2 if version else 0
        reference, base = uint(data, pos, 2, iloc.end), uint(data, pos + 2, base_size, iloc.end)
        pos += 2 + base_size
        extent_count = uint(data, pos, 2, iloc.end)
        pos += 2
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = uint(data, pos, offset_size, iloc.end)
            length = uint(data, pos + offset_size, length_size, iloc.end)
            pos += offset_size + length_size
            extents.append((base + offset, length))
        _locate(data, meta, item_id, method, reference, extents)
    if pos != iloc.end:
        raise BoxError("iloc has bytes after its entries")


def _locate(
    data: Buffer, meta: Meta, item_id: int, method: int, reference: int, extents: list[tuple[int, int]]
) -> None:
    item = meta.items.get(item_id)
    if item is None:
        raise BoxError(f"iloc locates item {item_id}, which iinf does not declare")
    if reference != 0:
        raise BoxError(f"item {item_id} has its data in another file")
    if method == 2:
        raise BoxError(f"item {item_id} is built from another item's data (construction method 2)")
    base = 0
    if method == 1:
        if meta.idat is None:
            raise BoxError(f"item {item_id} is stored in an idat box the file does not have")
        base, limit = meta.idat.body, meta.idat.end
    else:
        limit = len(data)
    located = []
    for offset, length in extents:
        start = base + offset
        if length == 0 or start + length > limit:
            raise BoxError(f"item {item_id} points past the end of its data: truncated")
        located.append((start, length))
    item.method, item.extents = method, located


def _iref(data: Buffer, meta: Meta, iref: Box) -> None:
    version, _, pos = full_box(data, iref)
    size = 2 if version == 0 else 4
    meta.versions[b"iref"] = version
    for entry in iter_boxes(data, pos, iref.end):
        from_id = uint(data, entry.body, size, entry.end)
        count = uint(data, entry.body + size, 2, entry.end)
        at = entry.body + size + 2
        if at + count * size != entry.end:
            raise BoxError(f"iref {entry.name} entry does not match its length")
        to_ids = tuple(uint(data, at + i * size, size, entry.end) for i in range(count))
        meta.references.append(Reference(entry.type, from_id, to_ids))


def _iprp(data: Buffer, meta: Meta, iprp: Box) -> None:
    children = list(iter_boxes(data, iprp.body, iprp.end))
    containers = [c for c in children if c.type == b"ipco"]
    if len(containers) != 1 or any(c.type not in (b"ipco", b"ipma") for c in children):
        raise BoxError("iprp holds something other than one ipco and its ipma boxes")
    meta.properties = list(iter_boxes(data, containers[0].body, containers[0].end))
    for ipma in (c for c in children if c.type == b"ipma"):
        _ipma(data, meta, ipma)


def _ipma(data: Buffer, meta: Meta, ipma: Box) -> None:
    version, flags, pos = full_box(data, ipma)
    id_size, wide = (2 if version == 0 else 4), bool(flags & 1)
    meta.versions[b"ipma"] = version
    count = uint(data, pos, 4, ipma.end)
    pos += 4
    for _ in range(count):
        item_id = uint(data, pos, id_size, ipma.end)
        associations = uint(data, pos + id_size, 1, ipma.end)
        pos += id_size + 1
        item = meta.items.get(item_id)
        if item is None:
            raise BoxError(f"ipma associates properties with item {item_id}, which iinf does not declare")
        for _ in range(associations):
            value = uint(data, pos, 2 if wide else 1, ipma.end)
            pos += 2 if wide else 1
            index = value & (0x7FFF if wide else 0x7F)
            if index > len(meta.properties):
                raise BoxError(f"item {item_id} uses property {index}, which ipco does not hold")
            if index:
                item.properties.append((bool(value >> (15 if wide else 7)), index))
    if pos != ipma.end:
        raise BoxError("ipma has bytes after its entries")


def _grpl(data: Buffer, meta: Meta, grpl: Box) -> None:
    for group in iter_boxes(data, grpl.body, grpl.end):
        version, flags, pos = full_box(data, group)
        group_id, count = uint(data, pos, 4, group.end), uint(data, pos + 4, 4, group.end)
        if pos + 8 + 4 * count != group.end:
            raise BoxError(f"entity group {group.name} does not match its length")
        entities = tuple(uint(data, pos + 8 + 4 * i, 4, group.end) for i in range(count))
        meta.groups.append(Group(group.type, version, flags, group_id, entities))


# ---------------------------------------------------------------------- writing


def hdlr_box(handler: bytes) -> bytes:
    """The handler box, with an empty name."""
    return full(b"hdlr", 0, 0, b"\0\0\0\0" + handler + bytes(12) + b"\0")


def pitm_box(primary: int) -> bytes:
    return (
        full(b"pitm", 0, 0, struct.pack(">H", primary))
        if primary <= 0xFFFF
        else full(b"pitm", 1, 0, struct.pack(">I", primary))
    )


def iinf_box(items: list[Item]) -> bytes:
    """Item entries with empty names (and the content type of mime items), in the order given."""
    entries = b""
    for item in items:
        version = 2 if item.id <= 0xFFFF else 3
        ident = struct.pack(">H" if version == 2 else ">I", item.id)
        tail = item.content_type + b"\0" if item.type == b"mime" else b""
        entries += full(b"infe", version, 1 if item.hidden else 0, ident + b"\0\0" + item.type + b"\0" + tail)
    count = struct.pack(">H", len(items)) if len(items) <= 0xFFFF else struct.pack(">I", len(items))
    return full(b"iinf", 0 if len(items) <= 0xFFFF else 1, 0, count + entries)


def iref_box(references: list[Reference]) -> bytes:
    if not references:
        return b""
    wide = any(i > 0xFFFF for r in references for i in (r.from_id, *r.to_ids))
    code = ">I" if wide else ">H"
    body = b"".join(
        box(
            r.type,
            struct.pack(code, r.from_id)
            + struct.pack(">H", len(r.to_ids))
            + b"".join(struct.pack(code, i) for i in r.to_ids),
        )
        for r in references
    )
    return full(b"iref", 1 if wide else 0, 0, body)


def iprp_box(properties: list[bytes], associations: dict[int, list[tuple[bool, int]]]) -> bytes:
    """``ipco`` holding ``properties`` and one ``ipma`` mapping items to them (indices from 1)."""
    wide = len(properties) > 127
    ids_wide = any(i > 0xFFFF for i in associations)
    entries = b""
    for item_id, links in associations.items():
        entries += struct.pack(">I" if ids_wide else ">H", item_id) + bytes([len(links)])
        for essential, index in links:
            value = (int(essential) << (15 if wide else 7)) | index
            entries += struct.pack(">H", value) if wide else bytes([value])
    ipma = full(b"ipma", 1 if ids_wide else 0, 1 if wide else 0, struct.pack(">I", len(associations)) + entries)
    return box(b"iprp", box(b"ipco", b"".join(properties)) + ipma)


def grpl_box(groups: list[Group]) -> bytes:
    if not groups:
        return b""
    body = b"".join(
        full(
            g.type,
            g.version,
            g.flags,
            struct.pack(">II", g.group_id, len(g.entities)) + b"".join(struct.pack(">I", e) for e in g.entities),
        )
        for g in groups
    )
    return box(b"grpl", body)


def iloc_box(locations: list[tuple[int, int, list[tuple[int, int]]]], wide: bool) -> bytes:
    """``iloc`` for (item id, construction method, [(offset, length)]) entries; version 1 (or 2 for big ids)."""
    size = 8 if wide else 4
    ids_wide = any(item_id > 0xFFFF for item_id, _, _ in locations)
    version = 2 if ids_wide else 1
    code, id_code = (">Q" if wide else ">I"), (">I" if ids_wide else ">H")
    body = struct.pack(">H", (size << 12) | (size << 8)) + struct.pack(id_code, len(locations))
    for item_id, method, extents in locations:
        body += struct.pack(id_code, item_id) + struct.pack(">HHH", method, 0, len(extents))
        for offset, length in extents:
            body += struct.pack(code, offset) + struct.pack(code, length)
    return full(b"iloc", version, 0, body)


def iloc_size(locations: list[tuple[int, int, list[tuple[int, int]]]], wide: bool) -> int:
    """The size of :func:`iloc_box`'s output, which does not depend on the offsets' values."""
    return len(iloc_box(locations, wide))
