"""ICC colour profiles reduced to a canonical form: only what colour management needs, every byte accounted for.

``reduce_icc`` parses an ICC v2 or v4 profile (ICC.1:2001-04, ICC.1:2010 v4.3, ICC.1:2022 v4.4) field by
field and writes it again in the canonical form below; ``is_canonical_icc`` says whether a profile already
is in that form. Anything that cannot be parsed and reduced safely raises ``IccError`` (one line, naming the
problem; 4-character codes are the only profile bytes a message shows, escaped when not printable).

Canonical form
--------------
Header (bytes 0..127)
    size (0..3): the output length, a multiple of 4. Kept as they are (what colour management reads): major and
    minor version (8..9), device class, colour space, PCS, 'acsp', rendering intent (64..67) and the PCS
    illuminant (68..79). Zero: preferred CMM (4..7), the reserved version bytes (10..11), platform (40..43),
    flags (44..47), device manufacturer and model (48..55), device attributes (56..63), creator (80..83) and the
    reserved bytes 100..127: none of them changes a rendered pixel, and each can name the device or the software
    that made the profile. Creation date and time (24..35): always 2000-01-01 00:00:00. Profile ID (84..99):
    always the MD5 of the output with flags (44..47), rendering intent (64..67) and the ID itself zeroed, as ICC.1
    defines it (v2 profiles get one too: their reserved bytes there are ignored by readers).
Tags kept, each parsed by its type and written again exactly (reserved fields zero, no bytes beyond what
the type declares, sub-elements rebuilt in processing order, each on a 4-byte boundary, zero padding): only
the tags that decide rendering
    A2B0-2, B2A0-2 (mft1, mft2, mAB, mBA); D2B0-3, B2D0-3 (mpet: cvst with curf/parf/samf, matf, clut,
    bACS/eACS without their data); rXYZ gXYZ bXYZ wtpt bkpt (XYZ); rTRC gTRC bTRC kTRC (curv, para); chad
    (sf32, nine values); cicp.
    The Corbis XYZ and Monaco curve type codes that lcms reads are accepted for the colorant tags.
    Float data containing NaN is refused (a NaN carries free payload bits).
Tags kept with neutral content (ICC.1 requires them)
    desc (the text "ICC profile") and cprt (the text "Not stated"): 'mluc' (one en-US record) in v4 profiles,
    'desc' textDescriptionType (desc) and 'text' (cprt) in v2 profiles.
Tags dropped: every other signature, among them the informational gamt, pre0-2, lumi, chrm, meas, view, tech,
    rig0, rig2, ciis, clro, dmnd, dmdd, and targ, calt, dtim, pseq, psid, vued, meta, clrt, clot, ncol,
    ncl2, ps2s, ps2i, psd0-3, crdi, devs, scrd, scrn, bfd, resp, data, vcgt, MHC2, mmod, dscm, arts,
    aarg/aagg/aabg, A2B3/B2A3 (registered for iccMAX only) and all private tags.
Layout
    the tag table in input order (dropped tags left out), then each distinct tag content once, in order of
    first appearance, on a 4-byte boundary with zero padding; tags whose contents are equal share one
    element (so tags sharing data in the input share it in the output). Inside mpet and cvst, equal entries
    of a position table share one element the same way; lutAtoB/lutBtoA sub-elements are each written out.

Refused
    fewer than 132 bytes, no 'acsp', version other than 2 or 4 (v5 / iccMAX named as such), a size field
    larger than the data (bytes after a smaller size are dropped), a tag table or tag outside the profile,
    overlapping tag data (tags starting at the same offset may share), a kept tag twice, a kept tag of a
    type not parsed for it, truncated or out-of-range type data, overlapping sub-elements.
"""

from __future__ import annotations

import hashlib
import math
import struct
import sys
from array import array
from collections.abc import Callable

from ..allowlist import Allowlist
from ..policy import ScrubPolicy


class IccError(ValueError):
    """The profile cannot be parsed or reduced safely.

    The message is one line, names the problem and never echoes profile text.
    """


_Parser = Callable[[bytes, int, str], bytes]
"""Reads a type's data at a position of a buffer and returns it in canonical form (no padding)."""
_Reader = Callable[[bytes, int, str], tuple[bytes, int]]
"""Reads a sub-element of a lut type at a position; returns it canonical and where its data ends."""

_HEADER_SIZE = 128
_TABLE_START = _HEADER_SIZE + 4
_ZERO4 = bytes(4)
_NEUTRAL_DATE = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
_MAX_IN = 15
"""Input channels of a lut, as lcms bounds them (a CLUT has 15 dimensions at most)."""
_MAX_OUT = 16
_CORBIS_XYZ = bytes.fromhex("17a505b8")
_MONACO_CURV = bytes.fromhex("9478ee00")


def reduce_icc(profile: bytes) -> bytes:
    """The canonical form: only what colour management needs."""
    data = _declared(bytes(profile))
    count = _u32(data, _HEADER_SIZE)
    table_end = _TABLE_START + 12 * count
    if table_end > len(data):
        raise IccError("the ICC tag table runs past the end of the profile")
    entries = [(sig, off, size) for sig, off, size in struct.iter_unpack(">4sII", data[_TABLE_START:table_end])]
    _check_places(entries, table_end, len(data))
    return _assemble(data, _kept_tags(data, entries))


def is_canonical_icc(profile: bytes) -> bool:
    """True when reduce_icc(profile) == profile (False on IccError)."""
    try:
        return reduce_icc(profile) == bytes(profile)
    except IccError:
        return False


# -- helpers ---------------------------------------------------------------------------------------------------


def _code(sig: bytes) -> str:
    """A 4-byte code for a message: quoted, escaped where not printable ASCII."""
    return "'" + "".join(chr(c) if 0x20 <= c < 0x7F and c not in b"'\\" else f"\\x{c:02x}" for c in sig) + "'"


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def _u32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def _need(data: bytes, end: int, what: str) -> None:
    if end > len(data):
        raise IccError(f"{what} is truncated")


def _pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _place(contents: list[bytes], start: int) -> tuple[list[int], bytes]:
    """Lay contents out from ``start``: each distinct one once, 4-byte aligned; their offsets and the bytes."""
    placed: dict[bytes, int] = {}
    body = bytearray()
    for content in contents:
        if content not in placed:
            placed[content] = start + len(body)
            body += _pad4(content)
    return [placed[content] for content in contents], bytes(body)


def _floats(raw: bytes, what: str) -> bytes:
    """Big-endian float32 values, refused when one is a NaN (its payload bits would be free space)."""
    values = array("f", raw)
    if sys.byteorder == "little":
        values.byteswap()
    if any(map(math.isnan, values)):
        raise IccError(f"{what} has a NaN in its float data")
    return raw


def _channels(n_in: int, n_out: int, what: str) -> None:
    if not (1 <= n_in <= _MAX_IN and 1 <= n_out <= _MAX_OUT):
        raise IccError(f"{what} has a channel count out of range")


def _disjoint(spans: set[tuple[int, int]], what: str) -> None:
    """Sub-element spans (start, end) may repeat exactly but must not otherwise overlap."""
    reach = 0
    for start, end in sorted(spans):
        if start < reach:
            raise IccError(f"{what} has overlapping sub-elements")
        reach = end


# -- header and tag table --------------------------------------------------------------------------------------


def _declared(profile: bytes) -> bytes:
    """The profile cut to its size field, after checking the header can be trusted that far."""
    if len(profile) < _TABLE_START:
        raise IccError("too short to be an ICC profile")
    if profile[36:40] != b"acsp":
        raise IccError("not an ICC profile (no 'acsp' signature)")
    if profile[8] == 5:
        raise IccError("ICC v5 (iccMAX) profiles are not supported")
    if profile[8] not in (2, 4):
        raise IccError(f"ICC version {profile[8]} is not supported")
    size = _u32(profile, 0)
    if size > len(profile):
        raise IccError("truncated ICC profile: the size field is larger than the data")
    if size < _TABLE_START:
        raise IccError("the ICC size field is smaller than a header and tag count")
    return profile[:size]


def _check_places(entries: list[tuple[bytes, int, int]], table_end: int, size: int) -> None:
    """Every tag's data lies after the tag table, inside the profile, overlapping no other tag's data."""
    for sig, off, length in entries:
        if length and (off < table_end or off + length > size):
            raise IccError(f"tag {_code(sig)} lies outside the profile's tag data")
    group, reach = -1, table_end
    for off, end in sorted((off, off + length) for _, off, length in entries if length):
        if off != group and off < reach:
            raise IccError("ICC tags overlap")
        group, reach = off, max(reach, end)


def _kept_tags(data: bytes, entries: list[tuple[bytes, int, int]]) -> list[tuple[bytes, bytes]]:
    """(signature, canonical content) of each kept tag, in table order."""
    kept: list[tuple[bytes, bytes]] = []
    seen: set[bytes] = set()
    parsed: dict[tuple[int, int], bytes] = {}
    for sig, off, length in entries:
        if sig not in _TAG_TYPES and sig not in _TEXT:
            continue
        if sig in seen:
            raise IccError(f"tag {_code(sig)} appears more than once")
        seen.add(sig)
        if sig in _TEXT:
            kept.append((sig, _TEXT[sig][0] if data[8] >= 4 else _TEXT[sig][1]))
        else:
            kept.append((sig, _tag_content(data, sig, off, length, parsed)))
    return kept


def _tag_content(data: bytes, sig: bytes, off: int, length: int, parsed: dict[tuple[int, int], bytes]) -> bytes:
    what = f"tag {_code(sig)}"
    if length < 8:
        raise IccError(f"{what} is truncated")
    kind = data[off : off + 4]
    if kind not in _TAG_TYPES[sig]:
        raise IccError(f"{what} has type {_code(kind)}, which is not parsed for it")
    if kind in (b"mAB ", b"mBA ") and off % 4:
        raise IccError(f"{what} does not start on a 4-byte boundary")
    if (off, length) not in parsed:
        parsed[off, length] = _TYPES[kind](data[off : off + length], 0, what)
    return parsed[off, length]


def _assemble(data: bytes, kept: list[tuple[bytes, bytes]]) -> bytes:
    """Header, tag table and tag data in the canonical layout, with the profile ID computed last."""
    start = _TABLE_START + 12 * len(kept)
    offsets, body = _place([content for _, content in kept], start)
    table = b"".join(
        struct.pack(">4sII", sig, off, len(content)) for (sig, content), off in zip(kept, offsets, strict=True)
    )
    out = bytearray(_header(data, start + len(body)))
    out += struct.pack(">I", len(kept)) + table + body
    out[84:100] = _profile_id(out)
    return bytes(out)


_HEADER_ZEROED = ((4, 8), (10, 12), (40, 64), (80, 128))
"""Header fields a colour management module does not use, zeroed: preferred CMM, the reserved version bytes,
platform, flags, device manufacturer and model, device attributes, creator, and everything from the profile ID on
(the ID is computed afterwards)."""


def _header(data: bytes, total: int) -> bytes:
    head = bytearray(data[:_HEADER_SIZE])
    head[0:4] = total.to_bytes(4, "big")
    for start, end in _HEADER_ZEROED:
        head[start:end] = bytes(end - start)
    head[24:36] = _NEUTRAL_DATE
    return bytes(head)


def _profile_id(out: bytes | bytearray) -> bytes:
    """ICC.1 profile ID: MD5 over the profile with flags, rendering intent and the ID field zeroed."""
    digest = hashlib.md5(usedforsecurity=False)
    for start, end, zeroed in ((0, 44, 4), (48, 64, 4), (68, 84, 16)):
        digest.update(out[start:end])
        digest.update(bytes(zeroed))
    digest.update(out[100:])
    return digest.digest()


# -- simple types ----------------------------------------------------------------------------------------------


def _fixed(size: int) -> _Parser:
    """A type of fixed size: signature, zeroed reserved bytes, then ``size - 8`` bytes of values."""

    def parse(data: bytes, pos: int, what: str) -> bytes:
        _need(data, pos + size, what)
        return data[pos : pos + 4] + _ZERO4 + data[pos + 8 : pos + size]

    return parse


def _counted(width: int, item: int) -> _Parser:
    """A type whose count (``width`` bytes at 8) gives the number of ``item``-byte values from 12 on."""

    def parse(data: bytes, pos: int, what: str) -> bytes:
        _need(data, pos + 12, what)
        end = pos + 12 + item * int.from_bytes(data[pos + 8 : pos + 8 + width], "big")
        _need(data, end, what)
        return data[pos : pos + 4] + _ZERO4 + data[pos + 8 : end]

    return parse


_PARA_PARAMS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


def _para(data: bytes, pos: int, what: str) -> bytes:
    """parametricCurveType: function type, reserved, then the function's s15Fixed16 parameters."""
    _need(data, pos + 12, what)
    params = _PARA_PARAMS.get(_u16(data, pos + 8))
    if params is None:
        raise IccError(f"{what} has an unknown parametric curve function")
    end = pos + 12 + 4 * params
    _need(data, end, what)
    return b"para" + _ZERO4 + data[pos + 8 : pos + 10] + bytes(2) + data[pos + 12 : end]


_curv = _counted(4, 2)


def _curve(data: bytes, pos: int, what: str) -> bytes:
    """A curve embedded in a lutAtoB/lutBtoA curve set: curv or para."""
    _need(data, pos + 4, what)
    kind = data[pos : pos + 4]
    if kind == b"curv":
        return _curv(data, pos, what)
    if kind == b"para":
        return _para(data, pos, what)
    raise IccError(f"{what} has a curve of type {_code(kind)}, which is not parsed")


# -- lut8 / lut16 ----------------------------------------------------------------------------------------------


def _lut(wide: bool) -> _Parser:
    """lut16Type ('mft2', ``wide``) or lut8Type ('mft1'): matrix, input tables, CLUT, output tables."""
    head = 52 if wide else 48

    def parse(data: bytes, pos: int, what: str) -> bytes:
        _need(data, pos + head, what)
        n_in, n_out, grid = data[pos + 8], data[pos + 9], data[pos + 10]
        _channels(n_in, n_out, what)
        if grid == 1:
            raise IccError(f"{what} has a CLUT with a single grid point")
        if wide:
            in_entries, out_entries = _u16(data, pos + 48), _u16(data, pos + 50)
            if not (2 <= in_entries <= 4096 and 2 <= out_entries <= 4096):
                raise IccError(f"{what} has a table size out of range")
            end = pos + head + 2 * (n_in * in_entries + grid**n_in * n_out + n_out * out_entries)
        else:
            end = pos + head + 256 * n_in + grid**n_in * n_out + 256 * n_out
        _need(data, end, what)
        return data[pos : pos + 4] + _ZERO4 + data[pos + 8 : pos + 11] + bytes(1) + data[pos + 12 : end]

    return parse


# -- lutAtoB / lutBtoA -----------------------------------------------------------------------------------------


def _curve_set(count: int) -> _Reader:
    """``count`` curves one after another, each starting on a 4-byte boundary."""

    def read(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
        parts: list[bytes] = []
        end = pos
        for _ in range(count):
            curve = _curve(data, pos, what)
            parts.append(_pad4(curve))
            end = pos + len(curve)
            pos = end + (-end % 4)
        return b"".join(parts), end

    return read


def _ab_matrix(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """3x3 matrix and 3 offsets, s15Fixed16."""
    _need(data, pos + 48, what)
    return data[pos : pos + 48], pos + 48


def _ab_clut(n_in: int, n_out: int) -> _Reader:
    """Grid points (16 bytes, unused ones zero), precision 1 or 2, 3 reserved bytes, then the table."""

    def read(data: bytes, pos: int, what: str) -> tuple[bytes, int]:
        _need(data, pos + 20, what)
        grid = data[pos : pos + n_in]
        if min(grid) < 2:
            raise IccError(f"{what} has a CLUT with fewer than two grid points")
        precision = data[pos + 16]
        if precision not in (1, 2):
            raise IccError(f"{what} has a CLUT precision out of range")
        end = pos + 20 + math.prod(grid) * n_out * precision
        _need(data, end, what)
        return grid + bytes(16 - n_in) + bytes((precision, 0, 0, 0)) + data[pos + 20 : end], end

    return read


def _lut_ab(data: bytes, pos: int, what: str) -> bytes:
    """lutAtoBType / lutBtoAType: sub-elements rebuilt in processing order, offsets recomputed."""
    _need(data, pos + 32, what)
    n_in, n_out = data[pos + 8], data[pos + 9]
    _channels(n_in, n_out, what)
    offsets = struct.unpack_from(">5I", data, pos + 12)  # B, matrix, M, CLUT, A
    plan: tuple[tuple[int, _Reader], ...]
    if data[pos : pos + 4] == b"mAB ":  # A, CLUT, M, matrix, B
        plan = ((4, _curve_set(n_in)), (3, _ab_clut(n_in, n_out)), (2, _curve_set(n_out)), (1, _ab_matrix))
        plan += ((0, _curve_set(n_out)),)
    else:  # B, matrix, M, CLUT, A
        plan = ((0, _curve_set(n_in)), (1, _ab_matrix), (2, _curve_set(n_in)), (3, _ab_clut(n_in, n_out)))
        plan += ((4, _curve_set(n_out)),)
    new_offsets = [0] * 5
    body = bytearray()
    spans: set[tuple[int, int]] = set()
    for slot, read in plan:
        start = offsets[slot]
        if not start:
            continue
        if start < 32 or start % 4:
            raise IccError(f"{what} has a misplaced sub-element")
        content, end = read(data, pos + start, what)
        spans.add((start, end - pos))
        new_offsets[slot] = 32 + len(body)
        body += _pad4(content)
    _disjoint(spans, what)
    return data[pos : pos + 4] + _ZERO4 + bytes((n_in, n_out, 0, 0)) + struct.pack(">5I", *new_offsets) + body


# -- multiProcessElementsType ----------------------------------------------------------------------------------


def _positions(data: bytes, table: int, count: int, what: str) -> list[tuple[int, int]]:
    """A position table of ``count`` (offset, size) entries at ``table``, checked to lie after it, in range."""
    table_end = table + 8 * count
    _need(data, table_end, what)
    entries = [(off, size) for off, size in struct.iter_unpack(">II", data[table:table_end])]
    for off, size in entries:
        if off < table_end or off + size > len(data):
            raise IccError(f"{what} has a sub-element outside its data")
    _disjoint({(off, off + size) for off, size in entries}, what)
    return entries


def _each(data: bytes, entries: list[tuple[int, int]], parse: Callable[[bytes, str], bytes], what: str) -> list[bytes]:
    """Parse each position-table entry once, however often it is listed."""
    done: dict[tuple[int, int], bytes] = {}
    for off, size in entries:
        if (off, size) not in done:
            done[off, size] = parse(data[off : off + size], what)
    return [done[entry] for entry in entries]


def _with_positions(head: bytes, contents: list[bytes]) -> bytes:
    """``head`` (its offsets count from its first byte), a position table, then the distinct contents."""
    start = len(head) + 8 * len(contents)
    offsets, body = _place(contents, start)
    table = b"".join(struct.pack(">II", off, len(c)) for off, c in zip(offsets, contents, strict=True))
    return head + table + body


def _mpet(data: bytes, pos: int, what: str) -> bytes:
    """multiProcessElementsType: channels, element count, position table, elements."""
    element = data[pos:]
    _need(element, 16, what)
    n_in, n_out, count = struct.unpack_from(">HHI", element, 8)
    _channels(n_in, n_out, what)
    if not count:
        raise IccError(f"{what} has no processing elements")
    contents = _each(element, _positions(element, 16, count, what), _mpe_element, what)
    return _with_positions(element[:4] + _ZERO4 + element[8:16], contents)


def _mpe_element(element: bytes, what: str) -> bytes:
    _need(element, 12, what)
    kind = element[:4]
    parse = _MPE_ELEMENTS.get(kind)
    if parse is None:
        raise IccError(f"{what} has a processing element of type {_code(kind)}, which is not parsed")
    return parse(element, what)


def _cvst(element: bytes, what: str) -> bytes:
    """Curve set element: one segmented curve per channel, through a position table."""
    n_in, n_out = struct.unpack_from(">HH", element, 8)
    if n_in != n_out or not n_in:
        raise IccError(f"{what} has a curve set element with unequal channel counts")
    curves = _each(element, _positions(element, 12, n_in, what), _segmented_curve, what)
    return _with_positions(b"cvst" + _ZERO4 + element[8:12], curves)


def _segmented_curve(curve: bytes, what: str) -> bytes:
    """curf: segment count, reserved, break-points (float32), then the segments."""
    _need(curve, 12, what)
    if curve[:4] != b"curf":
        raise IccError(f"{what} has a curve of type {_code(curve[:4])}, which is not parsed")
    segments = _u16(curve, 8)
    if not segments:
        raise IccError(f"{what} has a segmented curve without segments")
    pos = 12 + 4 * (segments - 1)
    _need(curve, pos, what)
    parts = [b"curf", _ZERO4, curve[8:10], bytes(2), _floats(curve[12:pos], what)]
    for _ in range(segments):
        segment, pos = _segment(curve, pos, what)
        parts.append(segment)
    return b"".join(parts)


_PARF_PARAMS = (4, 5, 5)


def _segment(curve: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """parf (formula type 0..2 and its float32 parameters) or samf (count and float32 samples)."""
    _need(curve, pos + 12, what)
    kind = curve[pos : pos + 4]
    if kind == b"parf":
        function = _u16(curve, pos + 8)
        if function >= len(_PARF_PARAMS):
            raise IccError(f"{what} has an unknown curve segment formula")
        end = pos + 12 + 4 * _PARF_PARAMS[function]
        _need(curve, end, what)
        return b"parf" + _ZERO4 + curve[pos + 8 : pos + 10] + bytes(2) + _floats(curve[pos + 12 : end], what), end
    if kind == b"samf":
        end = pos + 12 + 4 * _u32(curve, pos + 8)
        _need(curve, end, what)
        return b"samf" + _ZERO4 + curve[pos + 8 : pos + 12] + _floats(curve[pos + 12 : end], what), end
    raise IccError(f"{what} has a curve segment of type {_code(kind)}, which is not parsed")


def _matf(element: bytes, what: str) -> bytes:
    """Matrix element: input x output float32 coefficients, then output float32 offsets."""
    n_in, n_out = struct.unpack_from(">HH", element, 8)
    end = 12 + 4 * (n_in * n_out + n_out)
    _need(element, end, what)
    return b"matf" + _ZERO4 + element[8:12] + _floats(element[12:end], what)


def _mpe_clut(element: bytes, what: str) -> bytes:
    """CLUT element: 16 grid-point bytes (unused ones zero), then float32 output values."""
    n_in, n_out = struct.unpack_from(">HH", element, 8)
    _channels(n_in, n_out, what)
    _need(element, 28, what)
    grid = element[12 : 12 + n_in]
    if min(grid) < 2:
        raise IccError(f"{what} has a CLUT with fewer than two grid points")
    end = 28 + 4 * math.prod(grid) * n_out
    _need(element, end, what)
    return b"clut" + _ZERO4 + element[8:12] + grid + bytes(16 - n_in) + _floats(element[28:end], what)


def _acs(element: bytes, what: str) -> bytes:
    """bACS / eACS placeholder: channels and ACS signature; its private data is not kept (readers ignore it)."""
    _need(element, 16, what)
    return element[:4] + _ZERO4 + element[8:16]


_MPE_ELEMENTS: dict[bytes, Callable[[bytes, str], bytes]] = {
    b"cvst": _cvst,
    b"matf": _matf,
    b"clut": _mpe_clut,
    b"bACS": _acs,
    b"eACS": _acs,
}

# -- the allow-lists -------------------------------------------------------------------------------------------

_TYPES: dict[bytes, _Parser] = {
    b"XYZ ": _fixed(20),
    _CORBIS_XYZ: _fixed(20),
    b"curv": _curv,
    _MONACO_CURV: _curv,
    b"para": _para,
    b"sf32": _fixed(44),  # only chad is kept with this type: nine values
    b"cicp": _fixed(12),
    b"mft1": _lut(wide=False),
    b"mft2": _lut(wide=True),
    b"mAB ": _lut_ab,
    b"mBA ": _lut_ab,
    b"mpet": _mpet,
}

_A2B = frozenset({b"mft1", b"mft2", b"mAB "})
_B2A = frozenset({b"mft1", b"mft2", b"mBA "})
_MPET = frozenset({b"mpet"})
_XYZ = frozenset({b"XYZ ", _CORBIS_XYZ})
_TRC = frozenset({b"curv", b"para", _MONACO_CURV})

_TAG_TYPES: dict[bytes, frozenset[bytes]] = {
    **dict.fromkeys((b"A2B0", b"A2B1", b"A2B2"), _A2B),
    **dict.fromkeys((b"B2A0", b"B2A1", b"B2A2"), _B2A),
    **dict.fromkeys((b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3"), _MPET),
    **dict.fromkeys((b"rXYZ", b"gXYZ", b"bXYZ", b"wtpt", b"bkpt"), _XYZ),
    **dict.fromkeys((b"rTRC", b"gTRC", b"bTRC"), _TRC),
    b"kTRC": frozenset({b"curv", b"para"}),
    b"chad": frozenset({b"sf32"}),
    b"cicp": frozenset({b"cicp"}),
}
"""Kept tags and the types parsed for each (as lcms reads them, ICC.1 v2 to v4.4): the tags that decide rendering
(lookup tables, colorants, tone curves, white and black points, chromatic adaptation, coding-independent code
points). Informational tags (gamut, preview, luminance, chromaticity, measurement, viewing conditions, technology,
colorant order) are dropped: they change no pixel a viewer shows."""


def _mluc(text: str) -> bytes:
    utf16 = text.encode("utf-16-be")
    return b"mluc" + _ZERO4 + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16


def _text_description(text: str) -> bytes:
    """v2 textDescriptionType: ASCII with its NUL, empty Unicode and ScriptCode parts (67-byte field)."""
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + _ZERO4 + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


_TEXT: dict[bytes, tuple[bytes, bytes]] = {
    b"desc": (_mluc("ICC profile"), _text_description("ICC profile")),
    b"cprt": (_mluc("Not stated"), b"text" + _ZERO4 + b"Not stated\0"),
}
"""Text tags ICC.1 requires, kept with neutral content: (v4 'mluc', v2 'desc'/'text')."""


_GROUPS = Allowlist(groups=frozenset({"ICC_Profile", "ICC-header", "ICC-cicp"}))


def allowlist(policy: ScrubPolicy) -> Allowlist:
    """What ExifTool reads of a canonical profile (its header and the kept tags; ``ICC-meas``, ``ICC-view``,
    ``ICC-chrm``, ``ICC-clrt`` and ``ICC-meta`` come from tags the reduction drops); nothing with ``strip_icc``."""
    return Allowlist() if policy.strip_icc else _GROUPS


REGISTERED_TAGS = frozenset(
    {
        b"bfd ", b"A2B0", b"A2B1", b"A2B2", b"A2B3", b"B2A0", b"B2A1", b"B2A2", b"B2A3", b"B2D0", b"B2D1", b"B2D2",
        b"B2D3", b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"bXYZ", b"bTRC", b"bkpt", b"calt", b"targ", b"chad", b"chrm",
        b"cicp", b"clro", b"clrt", b"clot", b"ciis", b"cprt", b"crdi", b"desc", b"dmnd", b"dmdd", b"devs", b"gamt",
        b"kTRC", b"gXYZ", b"gTRC", b"lumi", b"meas", b"meta", b"mmod", b"ncl2", b"ncol", b"resp", b"rig0", b"rig2",
        b"pre0", b"pre1", b"pre2", b"pseq", b"psid", b"psd0", b"psd1", b"psd2", b"psd3", b"ps2s", b"ps2i", b"rXYZ",
        b"rTRC", b"scrd", b"scrn", b"tech", b"vued", b"view", b"wtpt", b"dtim", b"vcgt", b"MHC2"
    }
)  # fmt: skip
"""Tag signatures ICC.1 registers (plus the display tags vcgt and MHC2 every OS writes): their contents are colour
data or the profile's own names. A signature outside this set is a private tag, which can hold anything."""
