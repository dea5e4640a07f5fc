"""JUMBF (ISO/IEC 19566-5) boxes, as C2PA stores its manifests: a strict, bounded walker.

A manifest store is one superbox (``jumb``) whose description box (``jumd``) says what it holds; inside it, more
superboxes and content boxes (``cbor``, ``json``, ``bfdb``/``bidb`` embedded files, ``uuid``). Every byte belongs to
a box header, a description field or a content box: a description with bytes after its last field, a box that runs
past its parent, an unknown toggle bit or nesting beyond :data:`MAX_DEPTH` is an error. Nothing is interpreted here;
:mod:`.store` gives the boxes their C2PA meaning.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAX_DEPTH = 8
"""A C2PA store nests five deep (store, manifest, assertion store, assertion, content); room for more."""
MAX_LABEL = 1024
MIN_BOX = 8

C2PA_SUFFIX = bytes.fromhex("00110010800000aa00389b71")
"""The last 12 bytes of every C2PA description type (``c2pa``, ``c2ma``, ``cbor``, ...: the first four are ASCII)."""
EMBEDDED_FILE = bytes.fromhex("40cb0c32bb8a489da70b2ad6f47f4369")
"""The JUMBF embedded-file content type (a thumbnail: a ``bfdb`` description and ``bidb`` data)."""

_REQUESTABLE, _LABEL, _ID, _SIGNATURE, _PRIVATE = 0x01, 0x02, 0x04, 0x08, 0x10
_KNOWN_TOGGLES = _REQUESTABLE | _LABEL | _ID | _SIGNATURE | _PRIVATE


class JumbfError(ValueError):
    """The bytes are not a well-formed JUMBF superbox (one line, never the bytes themselves)."""


@dataclass(frozen=True, slots=True)
class Box:
    """A content box: its type and where its payload lies in the store's bytes."""

    kind: bytes
    start: int
    end: int
    payload_start: int


@dataclass
class Superbox:
    """A ``jumb`` box: its description and what it holds, in order."""

    start: int
    end: int
    content_type: bytes
    """The 16-byte type of the description."""
    toggles: int
    label: str | None
    salt: bytes | None
    """The payload of a ``c2sh`` private box (an assertion's salt), when there is one."""
    boxes: list[Box] = field(default_factory=list)
    children: list[Superbox] = field(default_factory=list)

    @property
    def c2pa_type(self) -> str | None:
        """The four-letter C2PA type (``c2ma``, ``cbor`` ...), or None for any other type."""
        if self.content_type[4:] == C2PA_SUFFIX and self.content_type[:4].isascii():
            return self.content_type[:4].decode("ascii")
        return None


def _header(data: bytes, pos: int, end: int) -> tuple[int, bytes, int]:
    """(box end, type, payload start) of the box at ``pos`` inside ``[pos, end)``."""
    if pos + MIN_BOX > end:
        raise JumbfError("truncated box header")
    size, kind = struct.unpack(">I4s", data[pos : pos + 8])
    start = pos + 8
    if size == 1:
        if pos + 16 > end:
            raise JumbfError("truncated box header")
        (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        start = pos + 16
    if size < start - pos or pos + size > end:
        raise JumbfError("a box runs past its container" if size else "a box of unspecified size")
    return pos + size, kind, start


class _Walk:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.count = 0
        self.limit = max(16, len(data) // MIN_BOX)

    def superbox(self, pos: int, end: int, depth: int) -> Superbox:
        if depth > MAX_DEPTH:
            raise JumbfError(f"boxes nested deeper than {MAX_DEPTH}")
        box_end, kind, start = _header(self.data, pos, end)
        if kind != b"jumb":
            raise JumbfError("expected a JUMBF superbox")
        self.count += 1
        desc_end, desc_kind, desc_start = _header(self.data, start, box_end)
        if desc_kind != b"jumd":
            raise JumbfError("a superbox without its description box")
        box = self._description(pos, box_end, desc_start, desc_end)
        cursor = desc_end
        while cursor < box_end:
            self.count += 1
            if self.count > self.limit:
                raise JumbfError("more boxes than the store's size allows")
            child_end, child_kind, child_start = _header(self.data, cursor, box_end)
            if child_kind == b"jumb":
                box.children.append(self.superbox(cursor, box_end, depth + 1))
            else:
                box.boxes.append(Box(child_kind, cursor, child_end, child_start))
            cursor = child_end
        return box

    def _description(self, pos: int, end: int, start: int, stop: int) -> Superbox:
        data = self.data
        if start + 17 > stop:
            raise JumbfError("truncated description box")
        content_type, toggles = bytes(data[start : start + 16]), data[start + 16]
        if toggles & ~_KNOWN_TOGGLES:
            raise JumbfError("unknown description toggles")
        cursor, label, salt = start + 17, None, None
        if toggles & _LABEL:
            nul = data.find(b"\0", cursor, min(stop, cursor + MAX_LABEL + 1))
            if nul < 0:
                raise JumbfError("an unterminated or over-long label")
            try:
                label = bytes(data[cursor:nul]).decode("utf-8")
            except UnicodeDecodeError:
                raise JumbfError("a label that is not UTF-8") from None
            cursor = nul + 1
        cursor += 4 if toggles & _ID else 0
        cursor += 32 if toggles & _SIGNATURE else 0
        if toggles & _PRIVATE:
            private_end, private_kind, private_start = _header(data, cursor, stop)
            if private_kind != b"c2sh":
                raise JumbfError("an unknown private box in a description")
            salt, cursor = bytes(data[private_start:private_end]), private_end
        if cursor != stop:
            raise JumbfError("bytes after the last field of a description box")
        return Superbox(pos, end, content_type, toggles, label, salt)


def parse(data: bytes) -> Superbox:
    """The one superbox ``data`` holds, exactly (no byte before or after it)."""
    walk = _Walk(data)
    root = walk.superbox(0, len(data), 1)
    if root.end != len(data):
        raise JumbfError("bytes after the manifest store")
    return root
