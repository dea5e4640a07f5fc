"""ISO 21496-1 gain-map metadata (binary): kept when every byte is one of its declared fields.

Two layouts are in use: the final ISO one (``u16`` minimum and writer versions, a flags byte whose two high bits
say multi-channel and base colour space, then rational headrooms and per-channel parameters; Skia, recent
libultrahdr) and libultrahdr's earlier draft (a ``u8`` version, flags in the low four bits: multi-channel, base
colour space, backward direction, common denominator). The primary image of an Ultra HDR file carries only the
four version bytes. Everything here is numbers: a block parses, with nothing left over and no reserved bit set,
or it is metadata.
"""

from __future__ import annotations

SIGNATURE = b"urn:iso:std:iso:ts:21496:-1\0"


def _final_size(data: bytes) -> int | None:
    if len(data) == 4:
        return 4 if data[:2] == b"\0\0" else None  # the version-only block of a primary image
    if len(data) < 5 or data[:2] != b"\0\0" or data[4] & 0x3F:
        return None
    channels = 3 if data[4] & 0x80 else 1
    return 5 + 16 + channels * 40


def _draft_size(data: bytes) -> int | None:
    if len(data) < 2 or data[0] != 0 or data[1] & 0xF0:
        return None
    channels = 3 if data[1] & 1 else 1
    if data[1] & 8:  # one common denominator, then numerators only
        return 2 + 4 + 8 + channels * 20
    return 2 + 16 + channels * 40


def is_exact(data: bytes) -> bool:
    """True when ``data`` (after the signature) is an ISO 21496-1 block, every byte a field of it."""
    return len(data) in {size for size in (_final_size(data), _draft_size(data)) if size is not None}
