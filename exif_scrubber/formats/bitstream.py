"""Text hidden inside coded video: SEI user data in H.264/HEVC samples, metadata and padding OBUs in AV1.

A sample of an ``avc1``/``hvc1``-family track is a run of NAL units, each behind a big-endian length of the size
its ``avcC``/``hvcC`` declares (ISO/IEC 14496-15). A sample of an ``av01`` track is one temporal unit: a run of
OBUs (AV1-ISOBMFF). This module splits samples into those units and decides, unit by unit, what stays:

- H.264 (NAL type 6) and HEVC (prefix 39, suffix 40) SEI NAL units are read message by message (payload type
  and size with their 0xFF extension bytes, sizes counted in RBSP bytes, emulation prevention removed). Messages
  that carry chosen bytes go: registered (ITU-T T.35, type 4) and unregistered user data (type 5: x264's settings;
  Sony's and Panasonic's MDPM records with date, time and GPS), filler payload (3), HEVC time codes (136), and the
  nesting messages (H.264 30 and 37, HEVC 133 and 162) that can wrap any of them. Every other message is kept byte
  for byte; a changed SEI NAL unit is written anew (same header, the kept messages, a canonical RBSP trailing bit,
  emulation prevention re-inserted) and dropped when no message is left.
- Filler data NAL units (H.264 12, HEVC 38) are kept only when they hold what the standards say (0xFF bytes);
  empty NAL units (length 0) go. Every other NAL unit is kept byte for byte.
- AV1: padding OBUs, reserved OBU types, temporal delimiters with a payload, and metadata OBUs of ITU-T T.35,
  timecode and unregistered types go; HDR content light level, mastering display and scalability metadata (what
  a display uses) are kept, written anew from their parsed fields. Reserved header bits are zeroed.

Everything is checked strictly: a unit that runs past its sample, a cut-off length, an SEI payload that runs past
its NAL unit, a forbidden bit set: the sample does not parse as its codec (:class:`BitstreamError`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from ..bytemodel import Buffer
from ..errors import StructureError
from .t35 import canonical_t35

Codec = Literal["avc", "hevc", "av1"]
AVC_ENTRIES = frozenset({b"avc1", b"avc2", b"avc3", b"avc4", b"dva1", b"dvav"})
HEVC_ENTRIES = frozenset({b"hvc1", b"hev1", b"dvh1", b"dvhe"})
AV1_ENTRIES = frozenset({b"av01"})
CONFIG_BOX = {**dict.fromkeys(AVC_ENTRIES, b"avcC"), **dict.fromkeys(HEVC_ENTRIES, b"hvcC"), b"av01": b"av1C"}
"""The configuration box of each sample entry (or HEIF item type) whose samples this module parses."""
MAX_UNITS = 4096
"""NAL units or OBUs in one sample (HEVC level 6.2 allows 600 slice segments a picture; 4096 leaves room for
parameter sets, SEI and H.264's slice-per-row encoders)."""
MAX_SEI_MESSAGES = 256
"""SEI messages in one NAL unit."""

_AVC_SEI, _AVC_FILLER = 6, 12
_HEVC_SEI, _HEVC_FILLER = (39, 40), 38
_AVC_LOOKED_AT = frozenset({_AVC_SEI, _AVC_FILLER})
_AVC_VCL = frozenset({1, 2, 3, 4, 5, 20, 21})
"""H.264 NAL unit types of coded slice data (and SVC/MVC/3D slice extensions)."""
_HEVC_FIRST_NON_VCL = 32
"""HEVC NAL unit types below 32 carry coded slice segments."""
_HEVC_LOOKED_AT = frozenset({*_HEVC_SEI, _HEVC_FILLER})
_SEI_T35 = 4
_DROPPED_SEI = {"avc": {3, 5, 30, 37}, "hevc": {3, 5, 133, 136, 162}}
"""SEI payload types that go: filler, unregistered user data, HEVC time code, nesting messages (T.35 registered
user data goes unless it is HDR10+, :mod:`.t35`)."""
_START = b"\x00\x00\x01"
"""An Annex B start code (a four-byte one ends with it too)."""
_EPB = re.compile(rb"\x00\x00\x03")
_NEEDS_EPB = re.compile(rb"\x00\x00(?=[\x00-\x03])")
_START_CODE = re.compile(rb"\x00\x00[\x00-\x02]")

OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER, OBU_METADATA, OBU_PADDING = 1, 2, 5, 15
_OBU_KNOWN = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 15})
_METADATA_KEPT = {1: "HDR content light level", 2: "HDR mastering display", 3: "scalability"}
"""AV1 metadata types kept (what a display or a layer selector uses); T.35 (4) only when it is HDR10+; timecode
(5), unregistered user private (6..31) and reserved types go."""
_METADATA_T35 = 4


class BitstreamError(StructureError):
    """A sample, NAL unit, OBU or configuration record that does not parse as its codec."""


@dataclass(frozen=True, slots=True)
class SampleFormat:
    """How a track's samples (or an item's data) are laid out: the codec and the NAL length size."""

    codec: Codec
    length_size: int = 0
    """Bytes of each NAL unit's length prefix (H.264/HEVC: from the configuration record); 0 for AV1."""


@dataclass(frozen=True, slots=True)
class Change:
    """Bytes ``[start, end)`` of a sample that the clean sample does not hold as they are (a unit dropped or
    written anew), and what they were."""

    start: int
    end: int
    label: str
    """``SEI user data``, ``AV1 padding OBU`` ...: names the kind of unit, never its content."""


@dataclass(frozen=True, slots=True)
class CleanSample:
    """A sample and what cleaning it does."""

    changes: tuple[Change, ...]
    """Empty when the sample is clean already."""
    parts: tuple[tuple[int, int] | bytes, ...]
    """The clean sample, in order: ranges of the input kept byte for byte and units written anew."""
    size: int
    """Bytes of the clean sample."""

    def data(self, sample: Buffer) -> bytes:
        """The clean sample's bytes (``sample``: the bytes this was computed from)."""
        view = memoryview(sample)
        return b"".join(p if isinstance(p, bytes) else view[p[0] : p[1]] for p in self.parts)


# ---------------------------------------------------------------------- the public contract


def sample_format(entry: bytes, config: Buffer) -> SampleFormat | None:
    """The layout of the samples of a sample entry (or HEIF item) of type ``entry`` with the configuration
    record ``config`` (the payload of its ``avcC``/``hvcC``/``av1C``); None for codecs this module does not parse.
    Raises :class:`BitstreamError` when the record is malformed."""
    if entry in AVC_ENTRIES:
        return SampleFormat("avc", _length_size(config, 4, "avcC"))
    if entry in HEVC_ENTRIES:
        return SampleFormat("hevc", _length_size(config, 21, "hvcC"))
    if entry in AV1_ENTRIES:
        if len(config) < 4 or config[0] != 0x81:
            raise BitstreamError("av1C is not an AV1 codec configuration record (marker and version 1)")
        return SampleFormat("av1")
    return None


def inspect_sample(fmt: SampleFormat, sample: Buffer) -> CleanSample:
    """What cleaning ``sample`` changes, and the clean sample; raises :class:`BitstreamError` when it does not
    parse as ``fmt``'s codec. Never raises anything else on bad input."""
    if fmt.codec == "av1":
        return _clean_units(_av1_units(sample), sample)
    if _plain(sample, fmt):  # no copy of the sample: a large image item is only read, by the hash after this
        return _unchanged(len(sample))
    raw = bytes(sample)  # one copy: indexing and searching bytes is what Python does fastest
    return _clean_units(_nal_units(raw, fmt), raw)


def _plain(sample: Buffer, fmt: SampleFormat) -> bool:
    """True when ``sample`` is well-formed NAL units none of which cleaning looks into (no SEI, filler or empty
    unit, no start code inside a unit): the common case, checked without building anything and without copying
    slice data. False sends the sample to the full parse (which also says what is wrong with a malformed one)."""
    size, pos, count, width = len(sample), 0, 0, fmt.length_size
    hevc = fmt.codec == "hevc"
    while pos < size and count < MAX_UNITS:
        count += 1
        length = int.from_bytes(sample[pos : pos + width], "big")
        body = pos + width
        pos = body + length
        if length < 2 or pos > size:
            return False
        first = sample[body]
        if hevc:
            kind = (first >> 1) & 0x3F
            if first & 0x80 or not sample[body + 1] & 0x07 or kind in _HEVC_LOOKED_AT:
                return False
            slice_data = kind < _HEVC_FIRST_NON_VCL
        else:
            kind = first & 0x1F
            if first & 0x80 or kind in _AVC_LOOKED_AT:
                return False
            slice_data = kind in _AVC_VCL
        if not slice_data and bytes(sample[body:pos]).find(_START) >= 0:  # a parameter set: a few bytes
            return False
    return pos == size


@functools.lru_cache(maxsize=64)
def _format_of(codec: bytes, config: bytes) -> SampleFormat:
    fmt = sample_format(codec, config)
    if fmt is None:
        raise BitstreamError(f"samples of {codec!r} are not parsed")
    return fmt


def clean_sample(codec: bytes, config: Buffer, sample: Buffer) -> bytes:
    """``sample`` (of a track or item of type ``codec`` whose configuration record payload is ``config``) without
    the SEI user data, AV1 metadata and padding this module removes; every other unit byte for byte.
    Raises :class:`BitstreamError` when the sample does not parse as ``codec`` or ``codec`` is not parsed."""
    cleaned = inspect_sample(_format_of(codec, bytes(config)), sample)
    return cleaned.data(sample) if cleaned.changes else bytes(sample)


def sample_parses(codec: bytes, config: Buffer, sample: Buffer) -> bool:
    """True when ``sample`` splits into well-formed units of ``codec`` (the walker's check that a track whose
    handler says video holds video)."""
    try:
        inspect_sample(_format_of(codec, bytes(config)), sample)
    except BitstreamError:
        return False
    return True


# ---------------------------------------------------------------------- units


@dataclass(frozen=True, slots=True)
class _Unit:
    """One NAL unit or OBU of a sample: ``[start, end)`` with its length prefix or header, and the verdict."""

    start: int
    end: int
    replacement: bytes | None = None
    """None: kept byte for byte; bytes (possibly empty): written as these bytes instead."""
    label: str = ""


def _clean_units(units: Iterator[_Unit], sample: Buffer) -> CleanSample:
    changes: list[Change] = []
    parts: list[tuple[int, int] | bytes] = []
    run_start = run_end = 0
    for unit in units:
        if unit.replacement is None:
            if unit.start != run_end:
                run_start = unit.start
            run_end = unit.end
            continue
        if run_end > run_start:
            parts.append((run_start, run_end))
        run_start = run_end = unit.end
        changes.append(Change(unit.start, unit.end, unit.label))
        if unit.replacement:
            parts.append(unit.replacement)
    if run_end > run_start:
        parts.append((run_start, run_end))
    if not changes:
        return _unchanged(len(sample))
    size = sum(len(p) if isinstance(p, bytes) else p[1] - p[0] for p in parts)
    return CleanSample(tuple(changes), tuple(parts), size)


def _unchanged(size: int) -> CleanSample:
    return CleanSample((), ((0, size),) if size else (), size)


def _nal_units(sample: bytes, fmt: SampleFormat) -> Iterator[_Unit]:
    size, pos, count, width = len(sample), 0, 0, fmt.length_size
    header_size = 2 if fmt.codec == "hevc" else 1
    while pos < size:
        count += 1
        if count > MAX_UNITS:
            raise BitstreamError(f"too many NAL units in one sample (more than {MAX_UNITS})")
        if pos + width > size:
            raise BitstreamError("a NAL unit length is cut off at the end of the sample")
        length = int.from_bytes(sample[pos : pos + width], "big")
        body, end = pos + width, pos + width + length
        if end > size:
            raise BitstreamError(f"a NAL unit of {length} bytes runs past the end of its sample")
        if length == 0:
            yield _Unit(pos, end, b"", "empty NAL unit")
        elif length < header_size:
            raise BitstreamError("a NAL unit is shorter than its header")
        else:
            yield _nal_unit(sample, fmt, pos, body, end)
        pos = end


def _nal_unit(sample: bytes, fmt: SampleFormat, pos: int, body: int, end: int) -> _Unit:
    """One length-prefixed NAL unit: kept, dropped, or written anew. Units behind start codes inside a unit that is
    not slice data (Annex B inside a length-prefixed unit, as Samsung's slow-motion writer wraps them in an SVC
    prefix unit; FFmpeg's and ExifTool's parsers split there) are judged one by one as well."""
    if _slice_data(sample[body : body + 2], fmt) or sample.find(_START, body, end) < 0:
        replacement, label = _nal_verdict(sample[body:end], fmt)
        if replacement is None:
            return _Unit(pos, end)
        prefix = len(replacement).to_bytes(fmt.length_size, "big") if replacement else b""
        return _Unit(pos, end, prefix + replacement, label)
    pieces: list[bytes] = []
    labels = []
    for start_code, unit in _annex_b(sample[body:end]):
        replacement, label = _nal_verdict(unit, fmt) if unit else (b"", "empty NAL unit")
        kept = unit if replacement is None else replacement
        if kept:
            pieces.append((start_code if pieces else b"") + kept)  # the first unit left needs no start code
        labels += [label] if label else []
    if not labels:
        return _Unit(pos, end)
    joined = b"".join(pieces)
    prefix = len(joined).to_bytes(fmt.length_size, "big") if joined else b""
    return _Unit(pos, end, prefix + joined, labels[0])


def _slice_data(header: bytes, fmt: SampleFormat) -> bool:
    """True for a VCL NAL unit (coded slice data): its payload is not searched for start codes (an encoder never
    writes one there, and bytes hidden in slice data are as out of reach as any other in the picture)."""
    if fmt.codec == "hevc":
        return (header[0] >> 1) & 0x3F < _HEVC_FIRST_NON_VCL
    return header[0] & 0x1F in _AVC_VCL


def _annex_b(nal: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(start code, unit) pairs of a NAL unit that holds start codes: the first unit has none; each start code keeps
    the zero bytes before it (a four-byte start code, trailing zeros)."""
    pos, code, count = 0, b"", 0
    while True:
        found = nal.find(_START, pos)
        count += 1
        if count > MAX_UNITS:
            raise BitstreamError(f"too many start codes in one NAL unit (more than {MAX_UNITS})")
        if found < 0:
            yield code, nal[pos:]
            return
        zeros = found
        while zeros > pos and nal[zeros - 1] == 0:
            zeros -= 1
        yield code, nal[pos:zeros]
        code, pos = nal[zeros : found + 3], found + 3


def _nal_verdict(nal: bytes, fmt: SampleFormat) -> tuple[bytes | None, str]:
    """What becomes of one NAL unit (header included): None (kept as it is), ``b""`` (dropped) or its new bytes;
    and the label of the change."""
    header = 2 if fmt.codec == "hevc" else 1
    if len(nal) < header:
        raise BitstreamError("a NAL unit is shorter than its header")
    first = nal[0]
    if first & 0x80:
        raise BitstreamError("a NAL unit has its forbidden bit set")
    if fmt.codec == "avc":
        kind = first & 0x1F
        sei, filler = kind == _AVC_SEI, kind == _AVC_FILLER
    else:
        if nal[1] & 0x07 == 0:
            raise BitstreamError("an HEVC NAL unit has a temporal id of 0 (nuh_temporal_id_plus1)")
        kind = (first >> 1) & 0x3F
        sei, filler = kind in _HEVC_SEI, kind == _HEVC_FILLER
    if sei:
        return clean_sei(nal, fmt.codec, header), "SEI user data"
    if filler and not _is_filler(nal[header:]):
        return b"", "filler data"
    return None, ""


def _is_filler(payload: bytes) -> bool:
    """Filler data as the standards write it: 0xFF bytes, then the RBSP stop bit."""
    return payload.endswith(b"\x80") and not payload[:-1].strip(b"\xff")


# ---------------------------------------------------------------------- SEI


def unescape(payload: bytes) -> bytes:
    """The RBSP of a NAL unit's payload: each emulation prevention byte (0x03 after two zero bytes) removed."""
    return _EPB.sub(b"\x00\x00", payload)


def escape(rbsp: bytes) -> bytes:
    """A NAL unit payload from an RBSP: an emulation prevention byte after every two zero bytes that precede a
    byte of 0..3 (ITU-T H.264 7.4.1, H.265 7.4.2)."""
    return _NEEDS_EPB.sub(b"\x00\x00\x03", rbsp)


def sei_messages(rbsp: bytes) -> tuple[list[tuple[int, int, int, int]], int]:
    """The messages of an SEI RBSP as (payload type, start, payload start, end) in RBSP offsets (``start``: its
    type byte), and the offset of its RBSP stop byte (0x80)."""
    stop = len(rbsp.rstrip(b"\0")) - 1
    if stop < 0 or rbsp[stop] != 0x80:
        raise BitstreamError("an SEI NAL unit does not end with its RBSP trailing bits")
    messages: list[tuple[int, int, int, int]] = []
    pos = 0
    while pos < stop:
        if len(messages) >= MAX_SEI_MESSAGES:
            raise BitstreamError(f"too many SEI messages in one NAL unit (more than {MAX_SEI_MESSAGES})")
        start = pos
        kind, pos = _sei_number(rbsp, pos, stop)
        size, pos = _sei_number(rbsp, pos, stop)
        if pos + size > stop:
            raise BitstreamError(f"an SEI payload of {size} bytes runs past the end of its NAL unit")
        messages.append((kind, start, pos, pos + size))
        pos += size
    return messages, stop


def _sei_number(rbsp: bytes, pos: int, stop: int) -> tuple[int, int]:
    """A payload type or size: 0xFF bytes adding 255 each, then a last byte."""
    value = 0
    while pos < stop and rbsp[pos] == 0xFF:
        value += 255
        pos += 1
    if pos >= stop:
        raise BitstreamError("an SEI message header is cut off")
    return value + rbsp[pos], pos + 1


def clean_sei(nal: bytes, codec: Codec, header: int) -> bytes | None:
    """An SEI NAL unit (header included, no length prefix) without the messages that go: None when it is kept as
    it is, ``b""`` when nothing is left, else the NAL unit written anew."""
    if _START_CODE.search(nal, header):
        raise BitstreamError("an SEI NAL unit holds a start code (0x000000..02)")
    rbsp = unescape(nal[header:])
    messages, stop = sei_messages(rbsp)
    dropped = _DROPPED_SEI[codec]
    kept: list[bytes] = []
    for kind, start, payload, end in messages:
        if kind == _SEI_T35:
            canonical = canonical_t35(rbsp[payload:end])
            if canonical is not None:
                kept.append(_sei_number_bytes(kind) + _sei_number_bytes(len(canonical)) + canonical)
        elif kind not in dropped:
            kept.append(rbsp[start:end])
    if b"".join(kept) == rbsp[:stop] and stop == len(rbsp) - 1:
        return None
    if not kept:
        return b""
    return nal[:header] + escape(b"".join(kept) + b"\x80")


def _sei_number_bytes(value: int) -> bytes:
    """A payload type or size as SEI writes it (0xFF for each 255, then the rest)."""
    return b"\xff" * (value // 255) + bytes([value % 255])


# ---------------------------------------------------------------------- AV1


def _leb128(data: Buffer, pos: int, end: int) -> tuple[int, int]:
    """An unsigned LEB128 number (at most 8 bytes, below 2**32, AV1 4.10.5) and the offset after it."""
    value = 0
    for index in range(8):
        if pos + index >= end:
            raise BitstreamError("an AV1 size (leb128) is cut off")
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if value >= 1 << 32:
                raise BitstreamError("an AV1 size (leb128) is larger than 2**32 - 1")
            return value, pos + index + 1
    raise BitstreamError("an AV1 size (leb128) is longer than 8 bytes")


def leb128(value: int) -> bytes:
    """``value`` as the shortest LEB128."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _av1_units(sample: Buffer) -> Iterator[_Unit]:
    size, pos, count = len(sample), 0, 0
    while pos < size:
        count += 1
        if count > MAX_UNITS:
            raise BitstreamError(f"too many OBUs in one sample (more than {MAX_UNITS})")
        unit = _obu(sample, pos, size)
        yield unit
        pos = unit.end


def config_obus(obus: Buffer) -> tuple[bytes, bool]:
    """The ``configOBUs`` of an ``av1C`` in canonical form: each sequence header OBU with its forbidden and reserved
    header bits zero, a size field in its shortest LEB128 and its content as it is; any other OBU goes (metadata that
    matters to a display is in the samples or the sample description's own boxes). True when one went."""
    out, other, pos, count = [], False, 0, 0
    while pos < len(obus):
        count += 1
        if count > MAX_UNITS:
            raise BitstreamError(f"too many OBUs in av1C (more than {MAX_UNITS})")
        first = obus[pos]
        if first & 0x80:
            raise BitstreamError("an OBU in av1C has its forbidden bit set")
        extended = bool(first & 0x04)
        header = pos + 1 + extended
        if header > len(obus):
            raise BitstreamError("an OBU extension header in av1C is cut off")
        body, end = header, len(obus)
        if first & 0x02:
            length, body = _leb128(obus, header, len(obus))
            end = body + length
            if end > len(obus):
                raise BitstreamError(f"an OBU of {length} bytes runs past the end of av1C")
        if (first >> 3) & 0x0F == OBU_SEQUENCE_HEADER:
            extension = bytes([obus[pos + 1] & 0xF8]) if extended else b""
            content = bytes(obus[body:end])
            out.append(bytes([first & 0x7C | 0x02]) + extension + leb128(len(content)) + content)
        else:
            other = True
        pos = end
    return b"".join(out), other


def _obu(data: Buffer, pos: int, limit: int) -> _Unit:
    """One OBU at ``pos``: kept as it is, dropped, or written anew (reserved bits zeroed, metadata canonical)."""
    first = data[pos]
    if first & 0x80:
        raise BitstreamError("an OBU has its forbidden bit set")
    kind, extended, sized = (first >> 3) & 0x0F, bool(first & 0x04), bool(first & 0x02)
    header = pos + 1 + extended
    if header > limit:
        raise BitstreamError("an OBU extension header is cut off")
    if sized:
        length, body = _leb128(data, header, limit)
        end = body + length
        if end > limit:
            raise BitstreamError(f"an OBU of {length} bytes runs past the end of its sample")
    else:
        body, end = header, limit  # the last OBU of a sample may run to its end without a size
    if kind not in _OBU_KNOWN:
        return _Unit(pos, end, b"", "AV1 reserved OBU")
    if kind == OBU_PADDING:
        return _Unit(pos, end, b"", "AV1 padding OBU")
    if kind == OBU_TEMPORAL_DELIMITER and end > body:
        return _Unit(pos, end, b"", "AV1 temporal delimiter with a payload")
    if kind == OBU_METADATA:
        return _metadata_obu(data, pos, header, body, end)
    if first & 0x01 or (extended and data[pos + 1] & 0x07):
        raw = bytes(data[pos:end])
        zeroed = bytes([first & 0xFE]) + (bytes([raw[1] & 0xF8]) if extended else b"") + raw[1 + extended :]
        return _Unit(pos, end, zeroed, "AV1 OBU reserved bits")
    return _Unit(pos, end)


def _metadata_obu(data: Buffer, pos: int, header: int, body: int, end: int) -> _Unit:
    metadata_type, fields = _leb128(data, body, end)
    payload = bytes(data[fields:end])
    if metadata_type == _METADATA_T35:
        parsed = canonical_t35(payload)  # HDR10+ stays; the bits after its fields are the trailing bits
    elif metadata_type in _METADATA_KEPT:
        parsed = _METADATA_FIELDS[metadata_type](payload)
        if parsed is None:
            raise BitstreamError(f"AV1 {_METADATA_KEPT[metadata_type]} metadata does not match its size")
    else:
        parsed = None
    if parsed is None:
        return _Unit(pos, end, b"", "AV1 metadata OBU")
    first = data[pos] & 0xFE | 0x02  # reserved bit zeroed; always with a size
    extension = bytes([data[pos + 1] & 0xF8]) if header > pos + 1 else b""
    content = leb128(metadata_type) + parsed + b"\x80"
    canonical = bytes([first]) + extension + leb128(len(content)) + content
    if canonical == bytes(data[pos:end]):
        return _Unit(pos, end)
    return _Unit(pos, end, canonical, "AV1 metadata OBU")


def _fixed(size: int) -> functools.partial[bytes | None]:
    return functools.partial(_exact_fields, size)


def _exact_fields(size: int, payload: bytes) -> bytes | None:
    """``size`` bytes of fields followed by the trailing bits (a 1 bit, then zero bits)."""
    if len(payload) <= size or payload[size] != 0x80 or payload[size + 1 :].strip(b"\0"):
        return None
    return payload[:size]


def _scalability(payload: bytes) -> bytes | None:
    """scalability_mode_idc and, for SCALABILITY_SS (14), the scalability structure (AV1 5.8.5), its reserved
    bits zeroed."""
    if not payload:
        return None
    if payload[0] != 14:
        return _exact_fields(1, payload)
    if len(payload) < 2:
        return None
    flags = payload[1]
    layers = (flags >> 6) + 1
    pos = 2 + (4 * layers if flags & 0x20 else 0) + (layers if flags & 0x10 else 0)
    if flags & 0x08:
        if pos >= len(payload):
            return None
        groups, pos = payload[pos], pos + 1
        for _ in range(groups):
            if pos >= len(payload):
                return None
            pos += 2 + (payload[pos] & 0x07)
    fields = _exact_fields(pos, payload)
    return None if fields is None else bytes([fields[0], flags & 0xF8]) + fields[2:]


_METADATA_FIELDS: dict[int, Callable[[bytes], bytes | None]] = {1: _fixed(4), 2: _fixed(24), 3: _scalability}
"""Per kept metadata type, the check and canonical form of its fields: content light level (max CLL and FALL,
16 bits each), mastering display (3 primaries and a white point, 16+16 bits each; luminance max and min, 32 bits
each), scalability."""


# ---------------------------------------------------------------------- configuration records


def _length_size(config: Buffer, at: int, name: str) -> int:
    if len(config) <= at:
        raise BitstreamError(f"{name} is cut off before its NAL length size")
    return (config[at] & 0x03) + 1
