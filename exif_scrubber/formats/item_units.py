"""A coded image item of a HEIF or AVIF file (``hvc1``, ``avc1``, ``av01``) read through :mod:`.bitstream`.

The item's data (its extents, one after the other) is one sample: SEI user data in HEVC/H.264 data and metadata or
padding OBUs in AV1 data are metadata byte for byte, the rest of the item is image data. The HEIF rebuild writes an
item that changes after the image data, like a kept EXIF item; the proof of the item is the hash of its clean data
(the input's units that stay; all of the output's). Data that does not parse as the item's codec is malformed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..bytemodel import Buffer, Kind
from .bitstream import BitstreamError, inspect_sample, sample_format
from .heif_meta import Item

_CODEC_NAMES = {"avc": "H.264", "hevc": "HEVC", "av1": "AV1"}


@dataclass
class CodedItem:
    """What reading a coded item found."""

    claims: list[tuple[int, int, Kind, str]] = field(default_factory=list)
    digest: bytes = b""
    """SHA-256 of the item's clean data."""
    data: bytes | None = None
    """The clean data when it differs from the input's (None: the item stays as it is)."""


def coded_item(item: Item, config: bytes, payload: Buffer) -> CodedItem | None:
    """Read ``payload`` (the item's data) as the codec of ``item.type`` with its configuration record ``config``
    (the payload of its ``hvcC``/``avcC``/``av1C`` property); None for a codec :mod:`.bitstream` does not parse.
    Raises :class:`~.bitstream.BitstreamError` when the data does not parse."""
    name = f"item {item.id} ({item.type.decode('latin-1')})"
    try:
        fmt = sample_format(item.type, config)
        if fmt is None:
            return None
        cleaned = inspect_sample(fmt, payload)
    except BitstreamError as exc:
        raise BitstreamError(f"{name} does not parse as its codec: {exc}") from None
    marks = [(c.start, c.end, f"{c.label} in item {item.id}") for c in cleaned.changes]
    claims = _claims(item.extents, marks, name)
    if not cleaned.changes:
        return CodedItem(claims, hashlib.sha256(payload).digest())
    clean = cleaned.data(payload)
    return CodedItem(claims, hashlib.sha256(clean).digest(), clean)


def _claims(
    extents: list[tuple[int, int]], marks: list[tuple[int, int, str]], label: str
) -> list[tuple[int, int, Kind, str]]:
    """Claims for the item's extents: each mark (offsets into the item's data) metadata, where it lies in the file
    (a mark may span extents), the rest image data."""
    claims: list[tuple[int, int, Kind, str]] = []
    offset = 0
    for start, length in extents:
        pos = offset
        for mark_start, mark_end, mark_label in marks:
            first, last = max(mark_start, offset), min(mark_end, offset + length)
            if first >= last:
                continue
            if first > pos:
                claims.append((start + pos - offset, start + first - offset, Kind.IMAGE, label))
            claims.append((start + first - offset, start + last - offset, Kind.METADATA, mark_label))
            pos = last
        if offset + length > pos:
            claims.append((start + pos - offset, start + length, Kind.IMAGE, label))
        offset += length
    return claims
