"""ISO 21496-1 gain-map metadata (binary): kept when every byte is one of its declared fields.

Two layouts are in use: the final ISO one (``u16`` minimum and writer versions, a flags byte whose two high bits
say multi-channel and base colour space, then rational headrooms and per-channel parameters; Skia, recent
libultrahdr) and libultrahdr's earlier draft (a ``u8`` version, flags in the low four bits: multi-channel, base
colour space, backward direction, common denominator). The primary image of an Ultra HDR file carries only the
four version bytes. Everything here is numbers: a block parses, with nothing left over and no reserved bit set,
or it is metadata.
"""

from __future__ import annotations

import struct

SIGNATURE = b"urn:iso:std:iso:ts:21496:-1\0"
VERSION_ONLY = 4
"""Size of the block a primary image carries: the minimum and writer versions, nothing else."""


def _final_size(data: bytes) -> int | None:
    if len(data) == VERSION_ONLY:
        return VERSION_ONLY if data[:2] == b"\0\0" else None  # the version-only block of a primary image
    if len(data) < 5 or data[:2] != b"\0\0" or data[4] & 0x3F:
        return None
    channels = 3 if data[4] & 0x80 else 1
    rationals = 2 + 5 * channels  # two headrooms, then min, max, gamma, base and alternate offset per channel
    if len(data) != 5 + 8 * rationals:
        return None
    numerators = [struct.unpack_from(">I", data, 5 + 8 * k)[0] for k in range(rationals)]
    denominators = [struct.unpack_from(">I", data, 9 + 8 * k)[0] for k in range(rationals)]
    gammas = [numerators[2 + 5 * c + 2] for c in range(channels)]
    return len(data) if all(denominators) and all(gammas) else None


def _draft_size(data: bytes) -> int | None:
    if len(data) < 2 or data[0] != 0 or data[1] & 0xF0:
        return None
    channels = 3 if data[1] & 1 else 1
    if data[1] & 8:  # one common denominator, then numerators only
        size = 2 + 4 + 8 + channels * 20
        return size if len(data) == size and struct.unpack_from(">I", data, 2)[0] else None
    size = 2 + 16 + channels * 40
    if len(data) != size:
        return None
    return size if all(struct.unpack_from(">I", data, at)[0] for at in range(6, size, 8)) else None


def is_exact(data: bytes) -> bool:
    """True when ``data`` (after the signature) is an ISO 21496-1 block, every byte a field of it: no byte left over,
    no reserved bit set, no zero denominator or gamma."""
    return len(data) in {size for size in (_final_size(data), _draft_size(data)) if size is not None}


def is_version_only(data: bytes) -> bool:
    """True when ``data`` is the 4-byte version block an Ultra HDR primary image carries."""
    return len(data) == VERSION_ONLY and _final_size(data) == VERSION_ONLY
