"""The kept XMP: a packet the engine writes itself, holding only values that change how the image is shown.

Kept values, each checked against a strict pattern (numbers, booleans, versions, and names from fixed lists,
never free text):

* ``tiff:Orientation`` (1..8), for files that carry their orientation in XMP;
* HDR gain-map rendering parameters: Adobe/Google ``hdrgm`` (Ultra HDR), Apple ``HDRGainMap`` and ``apdi``, each
  number written again from its value (decimals rounded to :data:`DECIMAL_PLACES` places and at most
  :data:`MAX_DECIMAL`, integers 32-bit, versions without leading zeros), so no digit passes that is not the number;
* the Google container directory (``Container:Directory``) that tells readers where an Ultra HDR gain map is,
  whose ``Item:Length`` the rewrite updates;
* the AI disclosure: ``Iptc4xmpExt:DigitalSourceType`` when it says AI generated or edited the image (read from
  it or the deprecated ``DigitalSourcefileType``; :mod:`.ai_disclosure`), unless the policy drops it;
* with ``keep_copyright`` only, the rights fields (``dc:rights``, ``dc:creator``, ``photoshop:Credit``,
  ``xmpRights:Marked``/``WebStatement``/``UsageTerms``): free text, kept because the policy asks for it.

A packet is kept as it is only when it equals, byte for byte, the packet built here from its own values:
comments, processing instructions, other properties, padding and any other text make it metadata. Parsing never
resolves entities or DTDs: a packet with a ``<!DOCTYPE`` or ``<!ENTITY`` is not read at all.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from ..allowlist import Allowlist
from ..policy import ScrubPolicy
from . import ai_disclosure

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
TIFF = "http://ns.adobe.com/tiff/1.0/"
HDRGM = "http://ns.adobe.com/hdr-gain-map/1.0/"
HDRGAINMAP = "http://ns.apple.com/HDRGainMap/1.0/"
APDI = "http://ns.apple.com/pixeldatainfo/1.0/"
CAMERA = "http://ns.google.com/photos/1.0/camera/"
CONTAINER = "http://ns.google.com/photos/1.0/container/"
ITEM = "http://ns.google.com/photos/1.0/container/item/"
DC = "http://purl.org/dc/elements/1.1/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
XMP_RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_RIGHTS = (
    (DC, "rights", "alt"), (DC, "creator", "seq"), (PHOTOSHOP, "Credit", "text"), (XMP_RIGHTS, "Marked", "bool"),
    (XMP_RIGHTS, "WebStatement", "text"), (XMP_RIGHTS, "UsageTerms", "alt"),
)  # fmt: skip
"""Rights fields kept with ``keep_copyright``: namespace, property and how it is written."""
_MAX_TEXT = 2000
_PREFIXES = {
    TIFF: "tiff", HDRGM: "hdrgm", HDRGAINMAP: "HDRGainMap", APDI: "apdi", DC: "dc", PHOTOSHOP: "photoshop",
    XMP_RIGHTS: "xmpRights", IPTC_EXT: "Iptc4xmpExt",
}  # fmt: skip

_DECIMAL = re.compile(r"[+-]?(?:\d{1,64}(?:\.\d{0,64})?|\.\d{1,64})(?:[eE][+-]?\d{1,3})?")
"""A decimal as written (any precision up to 64 digits: it is rounded to :data:`DECIMAL_PLACES` places)."""
_INT32 = re.compile(r"[+-]?\d{1,10}")
_VERSION = re.compile(r"\d{1,3}(?:\.\d{1,3}){0,2}")
_BOOLEAN = frozenset({"True", "False"})
_AUX_TYPES = frozenset({"urn:com:apple:photo:2020:aux:hdrgainmap"})
_SEMANTICS = frozenset({"Primary", "GainMap", "MotionPhoto"})
_MIMES = frozenset({"image/jpeg", "image/heic", "image/avif", "image/png", "video/mp4", "video/quicktime"})
MOTION_PROPERTIES = (
    "MotionPhoto", "MotionPhotoVersion", "MotionPhotoPresentationTimestampUs",
    "MicroVideo", "MicroVideoVersion", "MicroVideoOffset", "MicroVideoPresentationTimestampUs",
)  # fmt: skip
"""Google's motion-photo fields (``GCamera``): flags, versions, the still's timestamp in the movie, the offset of
the movie from the end of the file. Integers only; kept when the movie is kept, offsets rewritten."""
_INTEGER = re.compile(r"-?\d{1,12}")
TOOLKITS = re.compile(r"(Image::ExifTool|Adobe XMP Core|XMP Core|XMP toolkit) [0-9][0-9A-Za-z.\-_ ]{0,40}")
"""The ``x:xmptk`` of the XMP writers whose name is all a toolkit field says (a packet another tool wrote may
carry it and still be harmless; the engine's canonical packet has none)."""
MAX_DECIMAL = Decimal(10_000)
"""Kept decimals are at most this in magnitude (gain-map log2 ratios, headrooms and offsets are small numbers)."""
DECIMAL_PLACES = 6
"""Kept decimals are written with this many decimal places (as libultrahdr writes them)."""
_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)


def decimal(text: str) -> str | None:
    """A number re-formatted from its value: at most :data:`MAX_DECIMAL`, :data:`DECIMAL_PLACES` places."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = Decimal(text)
    if abs(value) > MAX_DECIMAL:
        return None
    value = value.quantize(_QUANTUM)
    return f"{value if value else abs(value):f}"  # no "-0.000000"


def integer(text: str) -> str | None:
    """A 32-bit integer re-formatted from its value."""
    if _INT32.fullmatch(text) is None or not -(2**31) <= int(text) < 2**32:
        return None
    return str(int(text))


def version(text: str) -> str | None:
    """A dotted version re-formatted from its numbers."""
    return ".".join(str(int(part)) for part in text.split(".")) if _VERSION.fullmatch(text) else None


def _one_of(allowed: frozenset[str]) -> Callable[[str], str | None]:
    return lambda text: text if text in allowed else None


_PROPERTIES: dict[str, dict[str, Callable[[str], str | None]]] = {
    HDRGM: {
        "Version": version, "GainMapMin": decimal, "GainMapMax": decimal, "Gamma": decimal, "OffsetSDR": decimal,
        "OffsetHDR": decimal, "HDRCapacityMin": decimal, "HDRCapacityMax": decimal,
        "BaseRenditionIsHDR": _one_of(_BOOLEAN),
    },
    HDRGAINMAP: {"HDRGainMapVersion": integer, "HDRGainMapHeadroom": decimal},
    APDI: {
        "AuxiliaryImageType": _one_of(_AUX_TYPES), "NativeFormat": integer, "StoredFormat": integer,
        "IntMinValue": integer, "IntMaxValue": integer, "FloatMinValue": decimal, "FloatMaxValue": decimal,
    },
}  # fmt: skip
"""Gain-map properties kept, per namespace, with the function that writes a value in canonical form (None: the
value is not one the property can have, so it is not kept). Every kept value is written from what it means, so no
digit of the input passes unless it is part of the number."""
_UNSAFE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_MAX_PACKET = 4 * 1024 * 1024

PACKET_HEAD = b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
PACKET_TAIL = b'\n<?xpacket end="w"?>'

Value = str | tuple[str, ...]
"""A property value: one string, or an ordered list (``rdf:Seq``, e.g. per-channel gains)."""


@dataclass(frozen=True)
class ContainerItem:
    """One entry of the Google container directory."""

    semantic: str
    mime: str
    length: int | None = None
    padding: int | None = None


@dataclass(frozen=True)
class XmpValues:
    """What the engine keeps of an XMP packet."""

    orientation: int | None = None
    gain_map: tuple[tuple[str, str, Value], ...] = ()
    """(namespace, property, value) of the kept gain-map properties, in a fixed order."""
    container: tuple[ContainerItem, ...] = field(default=())
    rights: tuple[tuple[str, str, Value], ...] = ()
    """(namespace, property, value) of the rights fields kept with ``keep_copyright``."""
    motion: tuple[tuple[str, int], ...] = ()
    """(property, value) of the motion-photo fields (:data:`MOTION_PROPERTIES`), in that order."""
    digital_source_type: str | None = None
    """The AI disclosure, as a canonical IPTC digital source type URI (:mod:`.ai_disclosure`)."""

    @property
    def empty(self) -> bool:
        return self == XmpValues()

    def with_lengths(self, lengths: dict[str, int]) -> XmpValues:
        """The same values with the container items of ``lengths``' semantics set to new lengths."""
        items = tuple(replace(i, length=lengths.get(i.semantic, i.length)) for i in self.container)
        return replace(self, container=items)

    @property
    def is_motion_photo(self) -> bool:
        """The packet says a movie comes with the photo (a container item or a MicroVideo offset)."""
        return any(i.semantic == "MotionPhoto" for i in self.container) or self.micro_video_offset is not None

    @property
    def motion_length(self) -> int | None:
        """The ``Item:Length`` of the container's motion-photo item."""
        return next((i.length for i in self.container if i.semantic == "MotionPhoto"), None)

    @property
    def micro_video_offset(self) -> int | None:
        return next((value for name, value in self.motion if name == "MicroVideoOffset"), None)

    def with_motion(self, length: int, offset: int) -> XmpValues:
        """The values pointing at a kept movie: the container item's length, the MicroVideo offset from the end."""
        motion = tuple((n, offset if n == "MicroVideoOffset" else v) for n, v in self.motion)
        return replace(self.with_lengths({"MotionPhoto": length}), motion=motion)

    def without_motion(self) -> XmpValues:
        """The values without any motion-photo field or container item (no movie is kept)."""
        container = tuple(i for i in self.container if i.semantic != "MotionPhoto")
        if len(container) == 1 and container[0].semantic == "Primary":
            container = ()
        return replace(self, motion=(), container=container)

    def with_item_lengths(self, lengths: list[int]) -> XmpValues:
        """The same values with the container's image items after the primary (not a motion photo's movie) set to
        ``lengths``, in order."""
        sizes = iter(lengths)
        items = tuple(
            replace(item, length=next(sizes)) if n and item.semantic != "MotionPhoto" else item
            for n, item in enumerate(self.container)
        )
        return replace(self, container=items)


def parse_xml(packet: bytes) -> ET.Element | None:
    """The packet's XML tree, or None when it is not safe, well-formed XML."""
    if len(packet) > _MAX_PACKET or _UNSAFE.search(packet):
        return None
    text = packet.rstrip(b"\0 \t\r\n")
    try:
        return ET.fromstring(text)  # noqa: S314 - no DTD or entity can reach the parser (checked above)
    except ET.ParseError:
        return None


def read_xmp(packet: bytes, *, keep_copyright: bool = False, keep_ai_disclosure: bool = True) -> XmpValues:
    """The kept values of ``packet`` (empty when it cannot be read)."""
    root = parse_xml(packet)
    if root is None:
        return XmpValues()
    descriptions = list(root.iter(f"{{{RDF}}}Description"))
    return XmpValues(
        orientation=_orientation(descriptions),
        gain_map=tuple(_gain_map(descriptions)),
        container=_container(descriptions),
        rights=tuple(_rights(descriptions)) if keep_copyright else (),
        motion=_motion(descriptions),
        digital_source_type=_digital_source_type(descriptions) if keep_ai_disclosure else None,
    )


def xmp_options(policy: ScrubPolicy) -> dict[str, bool]:
    """The :func:`read_xmp` options of ``policy`` (what a walker passes)."""
    return {"keep_copyright": policy.keep_copyright, "keep_ai_disclosure": policy.keep_ai_disclosure}


def _digital_source_type(descriptions: list[ET.Element]) -> str | None:
    """The first AI digital source type of the packet, canonical (the deprecated property name accepted)."""
    for element in descriptions:
        for name in ("DigitalSourceType", "DigitalSourcefileType"):
            value = _property(element, IPTC_EXT, name)
            found = ai_disclosure.canonical(value) if isinstance(value, str) else None
            if found is not None:
                return found
    return None


def _rights(descriptions: list[ET.Element]) -> list[tuple[str, str, Value]]:
    found = []
    for namespace, name, form in _RIGHTS:
        value = next((v for e in descriptions if (v := _property(e, namespace, name)) is not None), None)
        if value is None:
            continue
        if form in ("alt", "text", "bool") and isinstance(value, tuple):
            value = value[0]
        if form == "bool" and value not in _BOOLEAN:
            continue
        values = value if isinstance(value, tuple) else (value,)
        if all(0 < len(v) <= _MAX_TEXT for v in values):
            found.append((namespace, name, value))
    return found


def _property(element: ET.Element, namespace: str, name: str) -> Value | None:
    """A property written as an attribute, a simple element, or an ``rdf:Seq``/``rdf:Bag`` of values."""
    key = f"{{{namespace}}}{name}"
    if key in element.attrib:
        return element.attrib[key].strip()
    child = element.find(key)
    if child is None:
        return None
    items = [li.text.strip() for li in child.iter(f"{{{RDF}}}li") if li.text]
    if items:
        return tuple(items)
    return child.text.strip() if child.text else None


def _orientation(descriptions: list[ET.Element]) -> int | None:
    for element in descriptions:
        raw = _property(element, TIFF, "Orientation")
        if isinstance(raw, str) and raw.isdigit() and 1 <= int(raw) <= 8:
            return int(raw)
    return None


def _canonical(value: Value, write: Callable[[str], str | None]) -> Value | None:
    """``value`` in canonical form (one value, or a list of 3 per-channel values), or None when it is not valid."""
    values = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and len(value) not in (1, 3):
        return None
    written = [write(v) for v in values]
    if any(w is None for w in written):
        return None
    canonical = tuple(w for w in written if w is not None)
    return canonical if isinstance(value, tuple) else canonical[0]


def _gain_map(descriptions: list[ET.Element]) -> list[tuple[str, str, Value]]:
    found: dict[tuple[str, str], Value] = {}
    for element in descriptions:
        for namespace, properties in _PROPERTIES.items():
            for name, write in properties.items():
                value = _property(element, namespace, name)
                canonical = _canonical(value, write) if value is not None else None
                if canonical is not None:
                    found.setdefault((namespace, name), canonical)
    order = [(ns, name) for ns, properties in _PROPERTIES.items() for name in properties]
    return [(ns, name, found[ns, name]) for ns, name in order if (ns, name) in found]


def _motion(descriptions: list[ET.Element]) -> tuple[tuple[str, int], ...]:
    found: dict[str, int] = {}
    for element in descriptions:
        for name in MOTION_PROPERTIES:
            value = _property(element, CAMERA, name)
            if isinstance(value, str) and _INTEGER.fullmatch(value):
                found.setdefault(name, int(value))
    return tuple((name, found[name]) for name in MOTION_PROPERTIES if name in found)


def _container(descriptions: list[ET.Element]) -> tuple[ContainerItem, ...]:
    for element in descriptions:
        directory = element.find(f"{{{CONTAINER}}}Directory")
        if directory is None:
            continue
        items = []
        for li in directory.iter(f"{{{RDF}}}li"):
            holder = li.find(f"{{{CONTAINER}}}Item")
            item = _container_item(holder if holder is not None else li)
            if item is None:
                return ()
            items.append(item)
        return tuple(items)
    return ()


def _container_item(element: ET.Element) -> ContainerItem | None:
    semantic, mime = _property(element, ITEM, "Semantic"), _property(element, ITEM, "Mime")
    length, padding = _property(element, ITEM, "Length"), _property(element, ITEM, "Padding")
    if semantic not in _SEMANTICS or mime not in _MIMES:
        return None
    for number in (length, padding):
        if number is not None and not (isinstance(number, str) and number.isdigit() and len(number) <= 12):
            return None
    return ContainerItem(
        str(semantic),
        str(mime),
        int(length) if isinstance(length, str) else None,
        int(padding) if isinstance(padding, str) else None,
    )


def build_xmp(values: XmpValues) -> bytes:
    """The canonical packet for ``values`` (empty bytes when there is nothing to keep)."""
    if values.empty:
        return b""
    namespaces = {TIFF} if values.orientation is not None else set()
    namespaces |= {ns for ns, _, _ in (*values.gain_map, *values.rights)}
    namespaces |= {IPTC_EXT} if values.digital_source_type is not None else set()
    declarations = "".join(f' xmlns:{_PREFIXES[ns]}="{ns}"' for ns in _PREFIXES if ns in namespaces)
    if values.motion:
        declarations += f' xmlns:GCamera="{CAMERA}"'
    if values.container:
        declarations += f' xmlns:Container="{CONTAINER}" xmlns:Item="{ITEM}"'
    attributes = f' tiff:Orientation="{values.orientation}"' if values.orientation is not None else ""
    attributes += "".join(f' GCamera:{name}="{value}"' for name, value in values.motion)
    if values.digital_source_type is not None:
        attributes += f' Iptc4xmpExt:DigitalSourceType="{values.digital_source_type}"'
    elements = ""
    for ns, name, value in values.gain_map:
        qualified = f"{_PREFIXES[ns]}:{name}"
        if isinstance(value, tuple):
            items = "".join(f"<rdf:li>{v}</rdf:li>" for v in value)
            elements += f"<{qualified}><rdf:Seq>{items}</rdf:Seq></{qualified}>"
        else:
            attributes += f' {qualified}="{value}"'
    rights_attributes, rights_elements = _rights_xml(values.rights)
    attributes += rights_attributes
    elements += rights_elements
    if values.container:
        elements += "<Container:Directory><rdf:Seq>" + "".join(map(_item, values.container)) + "</rdf:Seq>"
        elements += "</Container:Directory>"
    description = f'<rdf:Description rdf:about=""{declarations}{attributes}'
    description += f">{elements}</rdf:Description>" if elements else "/>"
    body = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">{description}</rdf:RDF></x:xmpmeta>'
    return PACKET_HEAD + body.encode() + PACKET_TAIL


def _rights_xml(rights: tuple[tuple[str, str, Value], ...]) -> tuple[str, str]:
    """The rights fields as attributes (simple values) and elements (language alternatives, lists), escaped."""
    forms = {(ns, name): form for ns, name, form in _RIGHTS}
    attributes = elements = ""
    for ns, name, value in rights:
        qualified, form = f"{_PREFIXES[ns]}:{name}", forms[ns, name]
        values = value if isinstance(value, tuple) else (value,)
        if form in ("text", "bool"):
            attributes += f" {qualified}={quoteattr(values[0])}"
        elif form == "alt":
            item = f'<rdf:li xml:lang="x-default">{escape(values[0])}</rdf:li>'
            elements += f"<{qualified}><rdf:Alt>{item}</rdf:Alt></{qualified}>"
        else:
            items = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in values)
            elements += f"<{qualified}><rdf:Seq>{items}</rdf:Seq></{qualified}>"
    return attributes, elements


def _item(item: ContainerItem) -> str:
    length = f' Item:Length="{item.length}"' if item.length is not None else ""
    length += f' Item:Padding="{item.padding}"' if item.padding is not None else ""
    fields = f'Item:Semantic="{item.semantic}" Item:Mime="{item.mime}"{length}'
    return f'<rdf:li rdf:parseType="Resource"><Container:Item {fields}/></rdf:li>'


def canonical_xmp(
    packet: bytes, *, keep_copyright: bool = False, keep_ai_disclosure: bool = True
) -> tuple[XmpValues, bytes]:
    """The kept values of ``packet`` and the canonical packet holding them."""
    values = read_xmp(packet, keep_copyright=keep_copyright, keep_ai_disclosure=keep_ai_disclosure)
    return values, build_xmp(values)


_GROUPS = {TIFF: "XMP-tiff", HDRGM: "XMP-hdrgm", HDRGAINMAP: "XMP-HDRGainMap", APDI: "XMP-apdi", DC: "XMP-dc",
           PHOTOSHOP: "XMP-photoshop", XMP_RIGHTS: "XMP-xmpRights", IPTC_EXT: "XMP-iptcExt"}  # fmt: skip
"""ExifTool's family-1 group of each namespace the canonical packet may hold."""


def _tag_name(name: str) -> str:
    return name[:1].upper() + name[1:]


def allowlist(policy: ScrubPolicy) -> Allowlist:
    """What ExifTool reads of a canonical packet under ``policy``: the orientation, gain-map parameters, the
    Google container directory, the AI disclosure (a canonical AI digital source type only) and, with
    ``keep_copyright``, the rights fields."""
    kept = Allowlist.of("XMP-tiff", ["Orientation"])
    for namespace, properties in _PROPERTIES.items():
        kept |= Allowlist.of(_GROUPS[namespace], [_tag_name(name) for name in properties])
    kept |= Allowlist.of(
        "XMP-GContainer",
        ["DirectoryItemSemantic", "DirectoryItemMime", "DirectoryItemLength", "DirectoryItemPadding"],
    )
    kept |= Allowlist.of("XMP-GCamera", MOTION_PROPERTIES)
    kept |= Allowlist.of("XMP-x", ["XMPToolkit"], {"XMPToolkit": lambda value: bool(TOOLKITS.fullmatch(str(value)))})
    if policy.keep_ai_disclosure:
        kept |= Allowlist.of(
            _GROUPS[IPTC_EXT], ["DigitalSourceType"], {"DigitalSourceType": ai_disclosure.CANONICAL.__contains__}
        )
    if policy.keep_copyright:
        for namespace, name, _ in _RIGHTS:
            kept |= Allowlist.of(_GROUPS[namespace], [_tag_name(name)])
    return kept
