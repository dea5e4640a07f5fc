"""Where each format carries a C2PA manifest store (C2PA 2.x, Appendix A, as c2pa-rs writes it), found among the
spans a format's walker already delimited.

The walker stays the authority on structure: it labels the carrier like any other unknown block (metadata). This
module only recognises, in those spans, the carriers C2PA defines and takes the JUMBF store out of them:

* JPEG: ``APP11`` segments whose payload starts ``JP`` (ISO/IEC 19566-5 packets: instance, sequence, box header
  repeated in every packet), before the first scan;
* PNG: the ``caBX`` chunk;
* WebP: the ``C2PA`` RIFF chunk;
* HEIF, AVIF, MP4, MOV: the top-level ``uuid`` box ``d8fec3d6-1b0e-483c-9297-5828877ec481`` (version and flags,
  purpose ``manifest``, an 8-byte offset, then the store).

A file with two stores, packets out of order or a carrier that does not hold exactly one store has no usable
carrier (:class:`CarrierError`); its blocks stay metadata and are removed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..bytemodel import ByteModel, Kind, Span

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
BMFF_FORMATS = frozenset({"HEIC", "AVIF", "MP4", "MOV", "M4V", "3GP"})
FORMATS = frozenset({"JPEG", "PNG", "WEBP"}) | BMFF_FORMATS
"""Formats whose C2PA carrier is modelled (GIF and TIFF manifests are always removed)."""
MAX_STORE = 64 * 1024 * 1024
KEPT_LABEL = "C2PA manifest (signed by this deployment)"
"""The label of the spans of a manifest store the engine signed and validated: a kept item."""


class CarrierError(ValueError):
    """A C2PA carrier that cannot be read as one manifest store (one line)."""


@dataclass(frozen=True)
class Carrier:
    """The spans that carry a manifest store, and the store itself (its JUMBF bytes)."""

    spans: tuple[Span, ...]
    store: bytes


def find(format_name: str, data: Any, model: ByteModel) -> Carrier | None:
    """The manifest store of a walked file, or None when it has none (or its format has no modelled carrier).
    ``data`` is the file's bytes, or anything that slices like them (the audit's lazily fetched copy)."""
    if format_name not in FORMATS:
        return None
    view = data
    if format_name == "JPEG":
        return _jpeg(view, model)
    reader = _png if format_name == "PNG" else _webp if format_name == "WEBP" else _bmff
    found = [(span, store) for span in model.spans if _candidate(span) and (store := reader(view, span))]
    if not found:
        return None
    if len(found) > 1:
        raise CarrierError("more than one C2PA manifest store")
    span, store = found[0]
    return Carrier((span,), store)


def _candidate(span: Span) -> bool:
    """A block the walker removes, or one already kept as this deployment's manifest."""
    return span.kind is Kind.METADATA or (span.kind is Kind.KEPT and span.label == KEPT_LABEL)


def _png(view: Any, span: Span) -> bytes | None:
    if span.length < 12 or bytes(view[span.start + 4 : span.start + 8]) != b"caBX":
        return None
    (length,) = struct.unpack(">I", view[span.start : span.start + 4])
    if 12 + length != span.length:
        raise CarrierError("a caBX chunk that is not one whole span")
    return bytes(view[span.start + 8 : span.start + 8 + length])


def _webp(view: Any, span: Span) -> bytes | None:
    if span.length < 8 or bytes(view[span.start : span.start + 4]) != b"C2PA":
        return None
    (length,) = struct.unpack("<I", view[span.start + 4 : span.start + 8])
    if span.length not in (8 + length, 8 + length + (length & 1)):
        raise CarrierError("a C2PA chunk that is not one whole span")
    if span.length > 8 + length and view[span.end - 1] != 0:
        raise CarrierError("a C2PA chunk whose padding byte is not zero")
    return bytes(view[span.start + 8 : span.start + 8 + length])


def _bmff(view: Any, span: Span) -> bytes | None:
    if span.length < 24 or bytes(view[span.start + 4 : span.start + 8]) != b"uuid":
        return None
    size, header = struct.unpack(">I", view[span.start : span.start + 4])[0], 8
    if size == 1:
        size, header = struct.unpack(">Q", view[span.start + 8 : span.start + 16])[0], 16
    if bytes(view[span.start + header : span.start + header + 16]) != C2PA_UUID:
        return None
    if size != span.length:
        raise CarrierError("a C2PA uuid box that is not one whole span")
    body = bytes(view[span.start + header + 16 : span.end])
    purpose_end = body.find(b"\0", 4, 64)
    if body[:4] != b"\0\0\0\0" or purpose_end < 0 or body[4:purpose_end] != b"manifest":
        raise CarrierError("a C2PA uuid box that does not hold a manifest store")
    return body[purpose_end + 1 + 8 :]


_Packet = tuple[int, Span, bytes, bytes]
"""(sequence number, span, repeated box header, box bytes) of one APP11 JUMBF packet."""


def _jpeg(view: Any, model: ByteModel) -> Carrier | None:
    """The APP11 JUMBF packets of the C2PA store, before the first scan, reassembled."""
    first_image = next((s.start for s in model.spans if s.kind is Kind.IMAGE), model.size)
    packets: dict[int, list[_Packet]] = {}
    for span in model.spans:
        if _candidate(span) and span.start < first_image:
            found = _packet(view, span)
            if found is not None:
                packets.setdefault(found[0], []).append(found[1])
    stores = [parts for parts in packets.values() if _is_c2pa(parts)]
    if not stores:
        return None
    if len(stores) > 1:
        raise CarrierError("more than one C2PA manifest store")
    parts = sorted(stores[0], key=lambda part: part[0])
    if [part[0] for part in parts] != list(range(1, len(parts) + 1)):
        raise CarrierError("JUMBF packets missing or out of order")
    store = bytearray(parts[0][3])
    for _, _, header, box in parts[1:]:
        if header != parts[0][2]:
            raise CarrierError("JUMBF packets of different boxes under one instance number")
        store += box[len(header) :]
        if len(store) > MAX_STORE:
            raise CarrierError("a manifest store larger than the budget")
    return Carrier(tuple(part[1] for part in parts), bytes(store))


def _packet(view: Any, span: Span) -> tuple[int, _Packet] | None:
    """(instance number, packet) of an APP11 segment that holds a JUMBF packet, else None."""
    head = bytes(view[span.start : min(span.end, span.start + 64)]).lstrip(b"\xff")
    if head[:1] != b"\xeb" or head[3:5] != b"JP" or span.length < 19:
        return None
    segment = bytes(view[span.start : span.end]).lstrip(b"\xff")
    if int.from_bytes(segment[1:3], "big") + 1 != len(segment):
        raise CarrierError("an APP11 segment that is not one whole span")
    instance, sequence = struct.unpack(">HI", segment[5:11])
    box = segment[11:]
    header = box[:16] if box[:4] == b"\0\0\0\x01" else box[:8]
    return instance, (sequence, span, header, box)


def _is_c2pa(parts: list[_Packet]) -> bool:
    """The packet that starts the box is a superbox whose description type is the C2PA store's."""
    first = next((box for sequence, _, _, box in parts if sequence == 1), b"")
    offset = 16 if first[:4] == b"\0\0\0\x01" else 8
    return (
        first[4:8] == b"jumb"
        and first[offset + 4 : offset + 8] == b"jumd"
        and first[offset + 8 : offset + 12] == b"c2pa"
    )


def relabel(model: ByteModel, carrier: Carrier) -> None:
    """Mark the carrier's spans as a kept item: this deployment's validated manifest store."""
    chosen = {(span.start, span.end) for span in carrier.spans}
    model.spans = [
        Span(span.start, span.end, Kind.KEPT, KEPT_LABEL) if (span.start, span.end) in chosen else span
        for span in model.spans
    ]
