"""The kept IPTC (with ``keep_copyright`` only): a Photoshop resource block holding the rights fields and nothing else.

Kept datasets: By-line (2:80, repeatable), Credit (2:110) and CopyrightNotice (2:116), with the record version
(2:00) and the UTF-8 coded character set (1:90) they need. The block is built here: one ``8BIM`` IPTC-NAA resource
(0x0404) in a ``Photoshop 3.0`` segment; a segment is kept as it is only when it equals the block built from its
own values. Free text is kept only because the policy asks for it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..allowlist import Allowlist
from ..policy import ScrubPolicy

SIGNATURE = b"Photoshop 3.0\0"
_IPTC_RESOURCE = 0x0404
_UTF8 = b"\x1b%G"
_KEPT = {80: "by_line", 110: "credit", 116: "copyright"}
_MAX_VALUE = 2000


@dataclass(frozen=True)
class IptcValues:
    """The rights fields of an IPTC record."""

    by_line: tuple[str, ...] = ()
    credit: str | None = None
    copyright: str | None = None

    @property
    def empty(self) -> bool:
        return self == IptcValues()


def _resources(data: bytes) -> list[tuple[int, bytes]]:
    """The (id, payload) of each ``8BIM`` resource of a Photoshop block ([] when it does not parse)."""
    found, pos = [], 0
    while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        resource = struct.unpack_from(">H", data, pos + 4)[0]
        name_length = data[pos + 6]
        pos += 6 + ((name_length + 2) & ~1)
        if pos + 4 > len(data):
            return []
        (size,) = struct.unpack_from(">I", data, pos)
        found.append((resource, data[pos + 4 : pos + 4 + size]))
        pos += 4 + size + (size & 1)
    return found


def read_iptc(block: bytes) -> IptcValues:
    """The rights fields of a ``Photoshop 3.0`` block (empty when it cannot be read)."""
    if not block.startswith(SIGNATURE):
        return IptcValues()
    record = next((payload for rid, payload in _resources(block[len(SIGNATURE) :]) if rid == _IPTC_RESOURCE), b"")
    values: dict[str, list[str]] = {}
    pos = 0
    while pos + 5 <= len(record) and record[pos] == 0x1C:
        number, dataset, size = record[pos + 1], record[pos + 2], struct.unpack_from(">H", record, pos + 3)[0]
        if size & 0x8000:
            break  # an extended dataset: not one of the rights fields
        value = record[pos + 5 : pos + 5 + size]
        if number == 2 and dataset in _KEPT and 0 < len(value) <= _MAX_VALUE:
            values.setdefault(_KEPT[dataset], []).append(value.decode("utf-8", "replace"))
        pos += 5 + size
    return IptcValues(
        by_line=tuple(values.get("by_line", [])),
        credit=values.get("credit", [None])[0],
        copyright=values.get("copyright", [None])[0],
    )


def _dataset(number: int, dataset: int, value: bytes) -> bytes:
    return struct.pack(">BBBH", 0x1C, number, dataset, len(value)) + value


def build_iptc(values: IptcValues) -> bytes:
    """The canonical ``Photoshop 3.0`` block for ``values`` (empty bytes when there is nothing to keep)."""
    if values.empty:
        return b""
    record = _dataset(1, 90, _UTF8) + _dataset(2, 0, b"\0\x04")
    record += b"".join(_dataset(2, 80, name.encode()) for name in values.by_line)
    if values.credit:
        record += _dataset(2, 110, values.credit.encode())
    if values.copyright:
        record += _dataset(2, 116, values.copyright.encode())
    resource = b"8BIM" + struct.pack(">H", _IPTC_RESOURCE) + b"\0\0" + struct.pack(">I", len(record)) + record
    return SIGNATURE + resource + (b"\0" if len(record) & 1 else b"")


_NAMES = Allowlist.of("IPTC", ["By-line", "Credit", "CopyrightNotice", "ApplicationRecordVersion", "CodedCharacterSet"])


def allowlist(policy: ScrubPolicy) -> Allowlist:
    """What ExifTool reads of a canonical block: kept only with ``keep_copyright``."""
    return _NAMES if policy.keep_copyright else Allowlist()
