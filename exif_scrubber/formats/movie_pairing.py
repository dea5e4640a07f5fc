"""The Live Photo pairing identifier of a movie (``com.apple.quicktime.content.identifier`` in ``Keys``), kept
only in canonical form when the policy asks for it: a ``meta`` box holding exactly one key and its UUID value."""

from __future__ import annotations

import struct

from ..bytemodel import Buffer
from ..kept.exif import CONTENT_IDENTIFIER
from .isobmff import Box, BoxError, box, full, iter_boxes

PAIRING_KEY = b"com.apple.quicktime.content.identifier"


def pairing_meta(identifier: str) -> bytes:
    """The canonical movie ``meta`` box (QuickTime style, as Apple writes it) holding only ``identifier``."""
    handler = full(b"hdlr", 0, 0, bytes(4) + b"mdta" + bytes(12) + b"\0")
    keys = full(b"keys", 0, 0, struct.pack(">II", 1, 8 + len(PAIRING_KEY)) + b"mdta" + PAIRING_KEY)
    value = box(b"data", struct.pack(">II", 1, 0) + identifier.encode("ascii"))
    return box(b"meta", handler + keys + box(b"ilst", box(struct.pack(">I", 1), value)))


def pairing_box(data: Buffer, top: Box) -> bytes | None:
    """The canonical ``meta`` box to write in place of ``top`` (a ``meta`` or ``udta`` box of ``moov``: Apple writes
    ``moov/meta``, FFmpeg ``moov/udta/meta``) when it holds the pairing identifier, else None."""
    metas = [top] if top.type == b"meta" else []
    if top.type == b"udta":
        try:
            metas = [child for child in iter_boxes(data, top.body, top.end) if child.type == b"meta"]
        except BoxError:  # a udta that is not a list of boxes (QuickTime's terminator, vendor data): no pairing
            return None
    for meta in metas:
        identifier = _identifier(data, meta)
        if identifier is not None:
            return pairing_meta(identifier)
    return None


def _identifier(data: Buffer, meta: Box) -> str | None:
    body = meta.body + (4 if bytes(data[meta.body : meta.body + 4]) == bytes(4) else 0)  # ISO style: version, flags
    try:
        children = {child.type: child for child in iter_boxes(data, body, meta.end)}
    except ValueError:
        return None
    keys, items = children.get(b"keys"), children.get(b"ilst")
    if keys is None or items is None:
        return None
    wanted = _key_index(data, keys)
    for item in iter_boxes(data, items.body, items.end):
        if int.from_bytes(item.type, "big") != wanted:
            continue
        for value in iter_boxes(data, item.body, item.end):
            if value.type == b"data" and bytes(data[value.body : value.body + 4]) == b"\0\0\0\x01":
                text = bytes(data[value.body + 8 : value.end]).decode("latin-1")
                return text if CONTENT_IDENTIFIER.fullmatch(text) else None
    return None


def _key_index(data: Buffer, keys: Box) -> int:
    """The 1-based index of the pairing key in a ``keys`` box (0: not there)."""
    pos = keys.body + 8
    for index in range(1, int.from_bytes(data[keys.body + 4 : keys.body + 8], "big") + 1):
        if pos + 8 > keys.end:
            return 0
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8 or pos + size > keys.end:
            return 0
        if bytes(data[pos + 8 : pos + size]) == PAIRING_KEY:
            return index
        pos += size
    return 0
