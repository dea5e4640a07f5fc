"""Which HEIF items a viewer needs, found in time linear in the size of the item graph, and the canonical form of
derived image descriptions (``grid``, ``iovl``, ``iden``, ``tmap``).

The graph: from the displayed images (the primary and every image that is neither hidden nor a thumbnail),
references lead forward to what an image is built from (``dimg``, ``base``, ``prem``, ``tbas``) and backward to
the auxiliary images of a kept image (``auxl`` and ``prem`` point from the auxiliary image to its master); an
entity group holding a kept image keeps its other images. Each item and each group is visited once, through
adjacency maps built in one pass over the references (issue 18: a backwards chain of 15,000 derived items made
the former fixed-point loop quadratic).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Callable, Iterable

from ..kept import gainmap
from . import heif_meta as hm
from .base import Refusal

CODED = frozenset({b"hvc1", b"av01", b"avc1", b"unci", b"j2k1", b"vvc1", b"hvt1", b"jpeg", b"mski"})
DERIVED = frozenset({b"grid", b"iovl", b"iden", b"tmap"})
_FORWARD = frozenset({b"dimg", b"base", b"prem", b"tbas"})
_BACKWARD = frozenset({b"auxl", b"prem"})
STRUCTURAL_REFERENCES = _FORWARD | _BACKWARD


class References:
    """The references of a ``meta`` box by item, built once (each lookup is then constant time)."""

    def __init__(self, meta: hm.Meta) -> None:
        self.described: dict[int, list[int]] = defaultdict(list)
        """Per item, the items it describes (``cdsc``)."""
        self.inputs: dict[int, int] = defaultdict(int)
        """Per derived item, the number of its ``dimg`` inputs."""
        self.thumbnails: set[int] = set()
        for ref in meta.references:
            if ref.type == b"cdsc":
                self.described[ref.from_id] += ref.to_ids
            elif ref.type == b"dimg":
                self.inputs[ref.from_id] += len(ref.to_ids)
            elif ref.type == b"thmb":
                self.thumbnails.add(ref.from_id)


def reachable(meta: hm.Meta, references: References, usable: Callable[[int], bool]) -> set[int]:
    """The images a viewer shows or needs to show them. ``usable(item)`` says whether an auxiliary image may be
    kept (its type is known); one that is not is reached only if something else needs it."""
    images = {i for i, item in meta.items.items() if item.type in CODED | DERIVED}
    edges = _edges(meta, images, usable)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(meta.groups):
        for entity in group.entities:
            groups[entity].append(index)
    thumbnails = references.thumbnails
    shown = {meta.primary} | {i for i in images if not meta.items[i].hidden and i not in thumbnails}
    kept, queue, visited_groups = set(shown), list(shown), set()
    while queue:
        current = queue.pop()
        neighbours: list[Iterable[int]] = [edges.get(current, ())]
        for index in groups.get(current, ()):
            if index not in visited_groups:
                visited_groups.add(index)
                neighbours.append(meta.groups[index].entities)
        for target in (t for targets in neighbours for t in targets):
            if target in images and target not in kept:
                kept.add(target)
                queue.append(target)
    return kept - (thumbnails - {meta.primary})


def _edges(meta: hm.Meta, images: set[int], usable: Callable[[int], bool]) -> dict[int, list[int]]:
    """Per item, the items keeping it keeps: what it is built from, and its auxiliary images."""
    edges: dict[int, list[int]] = defaultdict(list)
    for ref in meta.references:
        if ref.type in _FORWARD:
            edges[ref.from_id] += ref.to_ids
        if ref.type in _BACKWARD and ref.from_id in images and (ref.type != b"auxl" or usable(ref.from_id)):
            for target in ref.to_ids:
                edges[target].append(ref.from_id)
    return edges


def canonical_derived(item: hm.Item, data: bytes, inputs: int) -> bytes:
    """The canonical description of a derived image from its parsed fields; raises ``Refusal`` when the data
    does not parse or does not match its inputs (a viewer could not show the image)."""
    kind = item.type
    if kind == b"iden":
        if data:
            raise Refusal(f"the iden description of item {item.id} is not empty")
        return b""
    if kind == b"tmap":
        if not (gainmap.is_exact(data[1:]) if data[:1] == b"\0" else gainmap.is_exact(data)):
            raise Refusal(f"the tmap description of item {item.id} does not match its size")
        return data
    if len(data) < 2 or data[0] != 0:
        raise Refusal(f"the {kind.decode()} description of item {item.id} does not match its size")
    wide = data[1] & 1
    if kind == b"grid":
        return _grid(item, data, wide, inputs)
    return _overlay(item, data, wide, inputs)


def _grid(item: hm.Item, data: bytes, wide: int, inputs: int) -> bytes:
    size = 4 if wide else 2
    if len(data) != 4 + 2 * size:
        raise Refusal(f"the grid description of item {item.id} does not match its size")
    rows, columns = data[2] + 1, data[3] + 1
    width, height = struct.unpack(">II" if wide else ">HH", data[4:])
    if rows * columns != inputs:
        raise Refusal(f"the grid of item {item.id} has {rows} x {columns} cells but {inputs} tiles")
    big = width > 0xFFFF or height > 0xFFFF
    return bytes([0, int(big), rows - 1, columns - 1]) + struct.pack(">II" if big else ">HH", width, height)


def _overlay(item: hm.Item, data: bytes, wide: int, inputs: int) -> bytes:
    size = 4 if wide else 2
    if len(data) != 10 + 2 * size + inputs * 2 * size:
        raise Refusal(f"the iovl description of item {item.id} does not match its size")
    fill = data[2:10]
    width, height = struct.unpack(">II" if wide else ">HH", data[10 : 10 + 2 * size])
    offsets = struct.unpack(f">{2 * inputs}{'i' if wide else 'h'}", data[10 + 2 * size :])
    big = width > 0xFFFF or height > 0xFFFF or any(not -0x8000 <= v <= 0x7FFF for v in offsets)
    code = "I" if big else "H"
    return (
        bytes([0, int(big)])
        + fill
        + struct.pack(f">2{code}", width, height)
        + struct.pack(f">{2 * inputs}{'i' if big else 'h'}", *offsets)
    )
