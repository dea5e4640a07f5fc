"""The ``meta`` box of a HEIF/AVIF file (ISO/IEC 23008-12), read field by field and written anew.

Reading gives the items (``iinf``/``infe``), where their data is (``iloc``, ``idat``), how they relate
(``iref``, ``grpl``), their properties (``iprp``: ``ipco`` and ``ipma``) and the primary item (``pitm``).
Writing builds each of those boxes from the items the engine keeps, in one canonical form: item names empty,
reserved fields and flags zero, the smallest version and field sizes that hold the values, offsets recomputed;
property boxes are written in the canonical form :mod:`.heif_props` gives them.

Budgets: every count read here is checked against :class:`Budget` (a limit relative to the file's size) before
anything is built from it, entries are read one by one (never all boxes first), and the walk has a fixed depth
(``meta`` > ``iprp`` > ``ipco`` > property; ``meta`` > ``iinf`` > ``infe``): no recursion.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..bytemodel import Buffer
from .base import Refusal
from .isobmff import Box, BoxError, box, cstring, full, full_box, iter_boxes, type_name, uint

XMP_CONTENT_TYPE = b"application/rdf+xml"

BUDGETS: dict[str, tuple[int, int, int]] = {
    "items": (1_000, 64, 65_535),
    "properties": (1_000, 32, 32_767),
    "property associations": (10_000, 4, 2_000_000),
    "item references": (70_000, 4, 4_000_000),
    "item extents": (10_000, 16, 1_000_000),
    "entity-group members": (10_000, 16, 1_000_000),
}
"""Per count: (floor, file bytes per entry, ceiling). A file may hold ``min(ceiling, max(floor, size // per))``:
the floor is what any real file needs whatever its size (libheif's own default is 1,000 items; one 256 x 256
grid of a single tile is 65,536 references), the ratio keeps a small file from declaring millions of entries,
the ceiling bounds memory whatever the size. ``item references`` counts the targets of all ``iref`` entries."""


class BudgetExceeded(Refusal):
    """A count in the ``meta`` box is beyond what the file's size allows."""


@dataclass(frozen=True)
class Budget:
    """The counts a file of ``size`` bytes may hold (see :data:`BUDGETS`)."""

    size: int

    def limit(self, kind: str) -> int:
        floor, per, ceiling = BUDGETS[kind]
        return min(ceiling, max(floor, self.size // per))

    def check(self, kind: str, count: int) -> None:
        limit = self.limit(kind)
        if count > limit:
            raise BudgetExceeded(f"too many {kind} for the file's size ({count} > {limit})")


@dataclass(slots=True)
class Item:
    """One item of the ``meta`` box."""

    id: int
    type: bytes
    infe: Box
    hidden: bool = False
    version: int = 2
    flags: int = 0
    """The ``infe`` flags: bit 0 is "hidden"; any other bit is free and makes the entry metadata."""
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
        """A MIME item whose content type names XMP, parameters allowed as ExifTool reads it (the rewrite spells it
        exactly ``application/rdf+xml``, the only spelling libheif reads)."""
        return self.type == b"mime" and self.content_type.split(b";")[0].strip() == XMP_CONTENT_TYPE


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
    flags: int = 0
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


def parse_meta(data: Buffer, meta_box: Box, budget: Budget | None = None) -> Meta:
    """Read a HEIF ``meta`` box; raises ``BoxError`` on anything that does not parse exactly and
    :class:`BudgetExceeded` on counts beyond ``budget`` (by default, that of a file of ``len(data)`` bytes)."""
    budget = budget or Budget(len(data))
    version, flags, body = full_box(data, meta_box)
    if version != 0:
        raise BoxError(f"meta box version {version}")
    meta = Meta(box=meta_box, children=_children(data, body, meta_box.end, 100, "meta"), flags=flags)
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
    _iinf(data, meta, by_type[b"iinf"], budget)
    meta.idat = by_type.get(b"idat")
    meta.dinf = by_type.get(b"dinf")
    _iloc(data, meta, by_type[b"iloc"], budget)
    if b"iref" in by_type:
        _iref(data, meta, by_type[b"iref"], budget)
    if b"iprp" in by_type:
        _iprp(data, meta, by_type[b"iprp"], budget)
    if b"grpl" in by_type:
        _grpl(data, meta, by_type[b"grpl"], budget)
    if meta.primary not in meta.items:
        raise BoxError("the primary item does not exist")
    return meta


def _children(data: Buffer, start: int, end: int, limit: int, parent: str) -> list[Box]:
    """The boxes of a container that holds a handful of them (``meta``, ``iprp``, ``dinf``)."""
    found = []
    for child in iter_boxes(data, start, end):
        found.append(child)
        if len(found) > limit:
            raise BoxError(f"{parent} holds more than {limit} boxes")
    return found


def _entries(data: Buffer, start: int, end: int, count: int, parent: str) -> Iterator[Box]:
    """Exactly ``count`` boxes filling ``[start, end)``, read one at a time (a count was checked before)."""
    seen = 0
    for entry in iter_boxes(data, start, end):
        seen += 1
        if seen > count:
            break
        yield entry
    if seen != count:
        raise BoxError(f"{parent} does not hold exactly its {count} entries")


def _hdlr(data: Buffer, meta: Meta, hdlr: Box) -> None:
    _, _, pos = full_box(data, hdlr)
    if pos + 20 > hdlr.end:
        raise BoxError("hdlr is cut off")
    meta.handler = bytes(data[pos + 4 : pos + 8])
    if meta.handler != b"pict":
        raise BoxError(f"the meta handler is {type_name(meta.handler)}, not pict: not a HEIF image")
    meta.handler_name, _ = cstring(data, pos + 20, hdlr.end)


def _pitm(data: Buffer, meta: Meta, pitm: Box) -> None:
    version, _, pos = full_box(data, pitm)
    size = 2 if version == 0 else 4
    meta.primary = uint(data, pos, size, pitm.end)
    meta.versions[b"pitm"] = version
    if pos + size != pitm.end:
        raise BoxError("pitm has extra bytes")


def _iinf(data: Buffer, meta: Meta, iinf: Box, budget: Budget) -> None:
    version, _, pos = full_box(data, iinf)
    size = 2 if version == 0 else 4
    count = uint(data, pos, size, iinf.end)
    meta.versions[b"iinf"] = version
    budget.check("items", count)
    for entry in _entries(data, pos + size, iinf.end, count, "iinf"):
        if entry.type != b"infe":
            raise BoxError(f"iinf holds a {entry.name} box where an item entry should be")
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
    item = Item(id=item_id, type=kind, infe=infe, hidden=bool(flags & 1), version=version, flags=flags, name=name)
    if kind == b"mime":
        item.content_type, pos = cstring(data, pos, infe.end)
        if pos < infe.end:
            item.content_encoding, pos = cstring(data, pos, infe.end)
    elif kind == b"uri ":
        _, pos = cstring(data, pos, infe.end)
    item.other = bytes(data[pos : infe.end])
    return item


def _iloc(data: Buffer, meta: Meta, iloc: Box, budget: Budget) -> None:
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
    budget.check("items", count)
    extents_left = budget.limit("item extents")
    for _ in range(count):
        item_id = uint(data, pos, id_size, iloc.end)
        pos += id_size
        method = uint(data, pos, 2, iloc.end) & 15 if version else 0
        pos += 2 if version else 0
        reference, base = uint(data, pos, 2, iloc.end), uint(data, pos + 2, base_size, iloc.end)
        pos += 2 + base_size
        extent_count = uint(data, pos, 2, iloc.end)
        pos += 2
        if extent_count and not length_size:
            raise BoxError(f"item {item_id} has extents of unspecified length (the rest of the file): not supported")
        extents_left -= extent_count
        if extents_left < 0:
            budget.check("item extents", budget.limit("item extents") - extents_left)
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


def _iref(data: Buffer, meta: Meta, iref: Box, budget: Budget) -> None:
    version, _, pos = full_box(data, iref)
    size = 2 if version == 0 else 4
    meta.versions[b"iref"] = version
    targets, limit = 0, budget.limit("item references")
    for entry in iter_boxes(data, pos, iref.end):
        from_id = uint(data, entry.body, size, entry.end)
        count = uint(data, entry.body + size, 2, entry.end)
        at = entry.body + size + 2
        if at + count * size != entry.end:
            raise BoxError(f"iref {entry.name} entry does not match its length")
        targets += max(count, 1)
        if targets > limit:
            budget.check("item references", targets)
        code = f">{count}{'H' if size == 2 else 'I'}"
        to_ids = struct.unpack(code, data[at : entry.end])
        meta.references.append(Reference(entry.type, from_id, to_ids))


def _iprp(data: Buffer, meta: Meta, iprp: Box, budget: Budget) -> None:
    children = _children(data, iprp.body, iprp.end, 16, "iprp")
    containers = [c for c in children if c.type == b"ipco"]
    if len(containers) != 1 or any(c.type not in (b"ipco", b"ipma") for c in children):
        raise BoxError("iprp holds something other than one ipco and its ipma boxes")
    limit = budget.limit("properties")
    for prop in iter_boxes(data, containers[0].body, containers[0].end):
        meta.properties.append(prop)
        if len(meta.properties) > limit:
            budget.check("properties", len(meta.properties))
    associations = [budget.limit("property associations")]
    for ipma in (c for c in children if c.type == b"ipma"):
        _ipma(data, meta, ipma, budget, associations)


def _ipma(data: Buffer, meta: Meta, ipma: Box, budget: Budget, left: list[int]) -> None:
    version, flags, pos = full_box(data, ipma)
    id_size, wide = (2 if version == 0 else 4), bool(flags & 1)
    meta.versions[b"ipma"] = version
    count = uint(data, pos, 4, ipma.end)
    pos += 4
    budget.check("items", count)
    for _ in range(count):
        item_id = uint(data, pos, id_size, ipma.end)
        associations = uint(data, pos + id_size, 1, ipma.end)
        pos += id_size + 1
        left[0] -= associations
        if left[0] < 0:
            budget.check("property associations", budget.limit("property associations") - left[0])
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


def _grpl(data: Buffer, meta: Meta, grpl: Box, budget: Budget) -> None:
    members, limit = 0, budget.limit("entity-group members")
    for group in iter_boxes(data, grpl.body, grpl.end):
        version, flags, pos = full_box(data, group)
        group_id, count = uint(data, pos, 4, group.end), uint(data, pos + 4, 4, group.end)
        if pos + 8 + 4 * count != group.end:
            raise BoxError(f"entity group {group.name} does not match its length")
        members += max(count, 1)
        if members > limit:
            budget.check("entity-group members", members)
        entities = struct.unpack(f">{count}I", data[pos + 8 : group.end])
        meta.groups.append(Group(group.type, version, flags, group_id, entities))


# ---------------------------------------------------------------------- writing


def hdlr_box(handler: bytes) -> bytes:
    """The handler box: pre-defined and reserved fields zero, an empty name."""
    return full(b"hdlr", 0, 0, b"\0\0\0\0" + handler + bytes(12) + b"\0")


def pitm_box(primary: int) -> bytes:
    return (
        full(b"pitm", 0, 0, struct.pack(">H", primary))
        if primary <= 0xFFFF
        else full(b"pitm", 1, 0, struct.pack(">I", primary))
    )


def infe_box(item: Item) -> bytes:
    """An item entry: version 2 (3 for a 32-bit id), only the hidden flag, no name, no protection; a MIME item
    (only XMP is ever kept) with the canonical XMP content type and no encoding."""
    version = 2 if item.id <= 0xFFFF else 3
    ident = struct.pack(">H" if version == 2 else ">I", item.id)
    tail = XMP_CONTENT_TYPE + b"\0" if item.type == b"mime" else b""
    return full(b"infe", version, 1 if item.hidden else 0, ident + b"\0\0" + item.type + b"\0" + tail)


def iinf_header(count: int) -> bytes:
    """The ``iinf`` box header and entry count for ``count`` entries (the entries follow)."""
    wide = count > 0xFFFF
    payload_count = struct.pack(">I" if wide else ">H", count)
    return bytes([1 if wide else 0, 0, 0, 0]) + payload_count


def iinf_box(items: list[Item]) -> bytes:
    """Item entries (:func:`infe_box`) in the order given."""
    return box(b"iinf", iinf_header(len(items)) + b"".join(infe_box(item) for item in items))


def iref_box(references: list[Reference]) -> bytes:
    if not references:
        return b""
    wide = any(i > 0xFFFF for r in references for i in (r.from_id, *r.to_ids))
    code = "I" if wide else "H"
    body = [
        box(r.type, struct.pack(f">{code}H{len(r.to_ids)}{code}", r.from_id, len(r.to_ids), *r.to_ids))
        for r in references
    ]
    return full(b"iref", 1 if wide else 0, 0, b"".join(body))


def ipma_box(associations: dict[int, list[tuple[bool, int]]], count: int) -> bytes:
    """One ``ipma`` mapping items to ``count`` properties (indices from 1): version 1 only for 32-bit item ids,
    flag 1 only when an index needs 15 bits."""
    wide = count > 127
    ids_wide = any(i > 0xFFFF for i in associations)
    entries = []
    for item_id, links in associations.items():
        entries.append(struct.pack(">I" if ids_wide else ">H", item_id) + bytes([len(links)]))
        values = [(int(essential) << (15 if wide else 7)) | index for essential, index in links]
        entries.append(struct.pack(f">{len(values)}H", *values) if wide else bytes(values))
    return full(
        b"ipma", 1 if ids_wide else 0, 1 if wide else 0, struct.pack(">I", len(associations)) + b"".join(entries)
    )


def iprp_box(properties: list[bytes], associations: dict[int, list[tuple[bool, int]]]) -> bytes:
    """``ipco`` holding ``properties`` and one ``ipma`` mapping items to them (indices from 1)."""
    return box(b"iprp", box(b"ipco", b"".join(properties)) + ipma_box(associations, len(properties)))


def group_box(group: Group) -> bytes:
    """An entity group: version and flags zero, its id and members."""
    ids = struct.pack(f">II{len(group.entities)}I", group.group_id, len(group.entities), *group.entities)
    return full(group.type, 0, 0, ids)


def grpl_box(groups: list[Group]) -> bytes:
    if not groups:
        return b""
    return box(b"grpl", b"".join(group_box(g) for g in groups))


def iloc_box(locations: list[tuple[int, int, list[tuple[int, int]]]], wide: bool) -> bytes:
    """``iloc`` for (item id, construction method, [(offset, length)]) entries; version 1 (or 2 for big ids),
    offsets and lengths of 4 bytes (8 when ``wide``), no base offset, no extent index."""
    size = 8 if wide else 4
    ids_wide = any(item_id > 0xFFFF for item_id, _, _ in locations)
    version = 2 if ids_wide else 1
    code, id_code = ("Q" if wide else "I"), ("I" if ids_wide else "H")
    body = [struct.pack(f">H{id_code}", (size << 12) | (size << 8), len(locations))]
    for item_id, method, extents in locations:
        body.append(struct.pack(f">{id_code}HHH", item_id, method, 0, len(extents)))
        body.append(struct.pack(f">{2 * len(extents)}{code}", *(v for extent in extents for v in extent)))
    return full(b"iloc", version, 0, b"".join(body))
