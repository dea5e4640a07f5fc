"""Kept items that are harmless though not in the engine's canonical form (judged by accounting, not equality).

Another tool that scrubbed a photo leaves, say, an EXIF block holding only Orientation and the resolution tags it
adds, little-endian and laid out its own way. Such a block differs from the engine's canonical block, so the engine
rewrites it; but it holds nothing personal: every field in it is one the policy keeps and every byte of it is
accounted for. The audit calls such a file clean, with the note ``non-canonical`` (``--fail-on non-canonical`` makes
it fail for teams that want the engine's form only). A block is harmless only when:

- EXIF: every IFD entry is a kept display tag or block structure (version numbers, pixel dimensions, IFD
  pointers), with the type and count the standard gives it; no thumbnail IFD; every byte is the header, an IFD, a
  value an entry points at, or zero padding.
- XMP: every property is the orientation (or, with ``keep_copyright``, a rights field) and the toolkit is a known
  writer's. Gain-map parameters, a container directory and motion-photo fields are kept only when what they
  describe is kept, which the packet alone cannot tell: they stay findings until the engine writes them.
- ICC: the profile parses, and every tag is a registered ICC.1 tag (a private tag can hold anything).
Anything else that is not canonical stays a finding.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

from ..policy import ScrubPolicy
from . import exif as kept_exif
from . import icc as kept_icc
from . import xmp as kept_xmp

_SHORT, _LONG, _ASCII, _RATIONAL, _UNDEFINED = 3, 4, 2, 5, 7
_VERSION = re.compile(rb"[0-9]{4}")
_Allowed = dict[int, tuple[tuple[int, ...], int]]
"""Tag -> (the types it may have, its count, 0 for any)."""
_IFD0: _Allowed = {
    kept_exif.ORIENTATION: ((_SHORT,), 1),
    kept_exif.X_RESOLUTION: ((_RATIONAL,), 1),
    kept_exif.Y_RESOLUTION: ((_RATIONAL,), 1),
    kept_exif.RESOLUTION_UNIT: ((_SHORT,), 1),
    kept_exif.YCBCR_POSITIONING: ((_SHORT,), 1),
    kept_exif.EXIF_IFD: ((_LONG, 13), 1),
}
_EXIF_IFD: _Allowed = {
    kept_exif.COLOR_SPACE: ((_SHORT,), 1),
    kept_exif.GAMMA: ((_RATIONAL,), 1),
    0x9000: ((_UNDEFINED,), 4),  # ExifVersion
    0xA000: ((_UNDEFINED,), 4),  # FlashpixVersion
    0x9101: ((_UNDEFINED,), 4),  # ComponentsConfiguration
    0xA002: ((_SHORT, _LONG), 1),  # PixelXDimension
    0xA003: ((_SHORT, _LONG), 1),  # PixelYDimension
    kept_exif.INTEROP_IFD: ((_LONG, 13), 1),
}
_INTEROP: _Allowed = {kept_exif.INTEROP_INDEX: ((_ASCII,), 4), 0x0002: ((_UNDEFINED,), 4)}
_RIGHTS: _Allowed = {kept_exif.ARTIST: ((_ASCII,), 0), kept_exif.COPYRIGHT: ((_ASCII,), 0)}
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_ENTRIES = 64
_EXIFTOOL_FILLER = b"ExifMeta"


class _NotHarmless(Exception):
    pass


class _Exif:
    """Walks a TIFF structure and records which bytes its entries account for."""

    def __init__(self, tiff: bytes, policy: ScrubPolicy) -> None:
        self.tiff, self.policy = tiff, policy
        self.order = "<" if tiff[:2] == b"II" else ">"
        self.used: list[tuple[int, int]] = [(0, 8)]
        self.pointers: dict[int, int] = {}

    def u(self, fmt: str, at: int) -> tuple[int, ...]:
        size = struct.calcsize(self.order + fmt)
        if at < 0 or at + size > len(self.tiff):
            raise _NotHarmless
        return struct.unpack_from(self.order + fmt, self.tiff, at)

    def ifd(self, at: int, allowed: _Allowed, *, last: bool) -> None:
        (count,) = self.u("H", at)
        if count > _MAX_ENTRIES:
            raise _NotHarmless
        self.used.append((at, at + 2 + 12 * count + 4))
        for index in range(count):
            self.entry(at + 2 + 12 * index, allowed)
        if last and self.u("I", at + 2 + 12 * count)[0] != 0:
            raise _NotHarmless  # IFD1: a thumbnail
        if not last and self.u("I", at + 2 + 12 * count)[0] != 0:
            raise _NotHarmless

    def entry(self, at: int, allowed: _Allowed) -> None:
        tag, kind, count = self.u("HHI", at)
        types, expected = allowed.get(tag, ((), -1))
        if kind not in types or (expected and count != expected) or not count:
            raise _NotHarmless
        size = _SIZES[kind] * count
        place = at + 8 if size <= 4 else self.u("I", at + 8)[0]
        if size > 4:
            if place + size > len(self.tiff):
                raise _NotHarmless
            self.used.append((place, place + size))
        self.value(tag, kind, bytes(self.tiff[place : place + size]))
        if tag in (kept_exif.EXIF_IFD, kept_exif.INTEROP_IFD):
            self.pointers[tag] = self.u("I", place)[0]

    def value(self, tag: int, kind: int, raw: bytes) -> None:
        if tag in (0x9000, 0xA000, 0x0002) and not _VERSION.fullmatch(raw):
            raise _NotHarmless
        if tag == 0x9101 and any(b > 6 for b in raw):
            raise _NotHarmless
        if tag == kept_exif.INTEROP_INDEX and raw.rstrip(b"\0").decode("latin-1") not in ("R98", "R03", "THM"):
            raise _NotHarmless
        if kind == _ASCII and raw[-1:] != b"\0":
            raise _NotHarmless

    def unaccounted(self) -> bool:
        """True when a non-zero byte of the block lies outside everything the entries account for (but for
        ExifTool's own ``ExifMeta`` between the header and IFD0, which it writes in WebP and PNG)."""
        covered = bytearray(len(self.tiff))
        for start, end in [*self.used, *([(8, 16)] if self.tiff[8:16] == _EXIFTOOL_FILLER else [])]:
            covered[start:end] = b"\x01" * (end - start)
        return any(byte and not mark for byte, mark in zip(self.tiff, covered, strict=True))


def exif_harmless(tiff: bytes, policy: ScrubPolicy) -> bool:
    """True when the TIFF structure of an EXIF block holds only kept display values and block structure."""
    if len(tiff) < 8 or tiff[:4] not in (b"II*\0", b"MM\0*"):
        return False
    walk = _Exif(bytes(tiff), policy)
    ifd0 = {**_IFD0, **(_RIGHTS if policy.keep_copyright else {})}
    try:
        walk.ifd(walk.u("I", 4)[0], ifd0, last=True)
        if kept_exif.EXIF_IFD in walk.pointers:
            walk.ifd(walk.pointers[kept_exif.EXIF_IFD], _EXIF_IFD, last=False)
        if kept_exif.INTEROP_IFD in walk.pointers:
            walk.ifd(walk.pointers[kept_exif.INTEROP_IFD], _INTEROP, last=False)
    except (_NotHarmless, struct.error, KeyError):
        return False
    return not walk.unaccounted()


_STRUCTURE_NAMESPACES = ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "adobe:ns:meta/", "xml")


def _properties(root: ET.Element) -> list[tuple[str, str]]:
    """(namespace, name) of every property of every ``rdf:Description`` (attributes and child elements)."""
    found = []
    rdf = kept_xmp.RDF
    for description in root.iter(f"{{{rdf}}}Description"):
        for key in description.attrib:
            namespace, _, name = key[1:].partition("}") if key.startswith("{") else ("", "", key)
            if namespace not in _STRUCTURE_NAMESPACES:
                found.append((namespace, name))
        for child in description:
            namespace, _, name = child.tag[1:].partition("}")
            found.append((namespace, name))
    return found


_PACKET_BEGIN = re.compile(
    rb"\s*<\?xpacket begin=[\"'](?:\xef\xbb\xbf)?[\"'] id=[\"']W5M0MpCehiHzreSzNTczkc9d[\"']\s*\?>"
)
_PACKET_END = re.compile(rb"<\?xpacket end=[\"'][rw][\"']\s*\?>")
_PADDING = b" \t\n\r\x0b\x0c\0"


def packet_body(packet: bytes) -> bytes:
    """The XML inside the packet wrapper XMP writers put around it (the padding before the end is whitespace).
    Linear in the packet's size: no backtracking over a long run of padding."""
    begin = _PACKET_BEGIN.match(packet)
    body = packet[begin.end() :] if begin else packet.lstrip(_PADDING[:-1])
    body = body.rstrip(_PADDING)
    last = body.rfind(b"<?xpacket")
    if last >= 0 and _PACKET_END.fullmatch(body, last):
        body = body[:last]
    return body


def _only_markup(packet: bytes, root: ET.Element) -> bool:
    """No comment, CDATA, other processing instruction or DTD in the packet, no text outside property values."""
    body = packet_body(packet)
    if any(marker in body for marker in (b"<!--", b"<![CDATA[", b"<?", b"<!")):
        return False
    structure = {f"{{{kept_xmp.RDF}}}RDF", f"{{{kept_xmp.RDF}}}Description", "{adobe:ns:meta/}xmpmeta"}
    return all(
        not (element.tag in structure and (element.text or "").strip()) and not (element.tail or "").strip()
        for element in root.iter()
    )


def xmp_harmless(packet: bytes, policy: ScrubPolicy) -> bool:
    """True when every property of the packet is a kept value and its toolkit name is a known writer's, with
    nothing else in it (no comment, no text outside the values)."""
    root = kept_xmp.parse_xml(packet)
    if root is None or not _only_markup(packet, root):
        return False
    toolkit = root.attrib.get("{adobe:ns:meta/}xmptk")
    if toolkit is not None and not kept_xmp.TOOLKITS.fullmatch(toolkit):
        return False
    values = kept_xmp.read_xmp(packet, keep_copyright=policy.keep_copyright)
    kept = {(namespace, name) for namespace, name, _ in values.rights}
    if values.orientation is not None:
        kept.add((kept_xmp.TIFF, "Orientation"))
    return all(item in kept for item in _properties(root))


def icc_harmless(profile: bytes) -> bool:
    """True when the profile parses and holds only tags ICC.1 registers (whose contents are colour data or the
    profile's own names, not the photo's)."""
    try:
        kept_icc.reduce_icc(profile)
    except kept_icc.IccError:
        return False
    count = int.from_bytes(profile[128:132], "big")
    signatures = [profile[132 + 12 * i : 136 + 12 * i] for i in range(count)]
    return all(signature in kept_icc.REGISTERED_TAGS for signature in signatures)


def harmless(kind: str, payload: bytes, policy: ScrubPolicy) -> bool:
    """:func:`exif_harmless`, :func:`xmp_harmless` or :func:`icc_harmless`, by ``kind``."""
    if kind == "exif":
        return exif_harmless(payload, policy)
    if kind == "xmp":
        return xmp_harmless(payload, policy)
    return kind == "icc" and not policy.strip_icc and icc_harmless(payload)
