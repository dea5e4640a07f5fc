"""HEIF/HEIC and AVIF still images: the byte model of the file, and its rebuild in canonical form.

Which items stay: the primary image and every image a viewer needs to show it and what goes with it (grid
tiles, overlays, alpha and depth planes, HDR gain maps, ISO 21496-1 tone-map items, stereo pairs and other
entity groups), found by following the item references from the displayed images (:mod:`.heif_items`).
Thumbnails, auxiliary images of unknown types and images nothing reaches go. EXIF and XMP items are kept in
canonical form when they hold a kept value (orientation, gain-map parameters) and describe a kept image; every
other item (other XMP, MIME text, URIs, unknown types) goes.

Bytes are: structure (``ftyp``, the ``meta`` boxes read field by field by :mod:`.heif_meta`, properties read
field by field by :mod:`.heif_props`, the descriptions of derived images), image data (the data of coded image
items), kept items (canonical EXIF/XMP, the reduced ICC of a ``colr`` property), or metadata. Structure is only
structure when its bytes are the ones the rebuild writes from the parsed values: compatible brands the handler
knows, minor version zero, item names empty, flags and reserved fields zero, no bytes after a property's fields,
no SEI array in ``hvcC``, no ``auxC`` subtype (but a depth map's depth representation), the XMP content type
spelled ``application/rdf+xml``, entity groups numbered after the items, no ``dinf`` (the data references
nothing uses), one ``mdat`` right after the ``meta`` box. A file laid out in any other way is labelled, so it is
never reported already clean, and rebuilt: ``ftyp``, a new ``meta`` (and ``moov`` for sequences) and one
``mdat`` holding the kept items' image data copied byte for byte, then the canonical EXIF/XMP items.
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, Span, claims_to_spans, merge_ranges
from ..kept import exif as kept_exif
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp, xmp_options
from ..policy import ScrubPolicy
from . import heif_meta as hm
from . import heif_props as props
from . import motion_photo
from .base import FormatHandler, Refusal, Tags, merged_tags, source_of
from .bitstream import CONFIG_BOX
from .heif_items import CODED, DERIVED, STRUCTURAL_REFERENCES, References, canonical_derived, reachable
from .isobmff import Box, BoxError, box, brands, iter_boxes
from .item_units import CodedItem, coded_item
from .movie import Movie, parse_movie, rebuild_moov
from .movie_tags import FILE_TAGS, MOVIE_TAGS, VISUAL_ENTRY

RAW_PROPERTIES = frozenset({b"avcC", b"vvcC", b"jpgC", b"j2kH", b"uncC", b"cmpd", b"cclv", b"cmex", b"cmin"})
"""Decoding properties of rarely used codecs kept as they are (not yet read field by field); every other kept
property is parsed and rewritten by :mod:`.heif_props`."""
_EXIFTOOL_HASHED = frozenset({b"av01", b"avc1", b"hvc1", b"lhv1", b"hvt1"})
"""Item types ExifTool's ImageDataHash covers (every such item, thumbnails included, in item-ID order)."""
_HEIC_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
KNOWN_BRANDS = (
    _HEIC_BRANDS
    | _AVIF_BRANDS
    | frozenset(
        {
            b"mif3",
            b"avio",
            b"miaf",
            b"MiHA",
            b"MiHB",
            b"MiHE",
            b"MiPr",
            b"MiCm",
            b"MiAC",
            b"MA1A",
            b"MA1B",
            b"avci",
            b"avcs",
            b"jpeg",
            b"jpgs",
            b"j2ki",
            b"j2is",
            b"vvic",
            b"vvis",
            b"unif",
            b"tmap",
            b"iso8",
            b"iso9",
            b"isom",
            b"mp41",
            b"mp42",
        }
    )
)
"""``ftyp`` brands kept (ISO/IEC 23008-12 and 23000-22 image and sequence brands, AV1 and ISO 21496-1 brands,
the ISO base media brands of image sequences); any other brand is four free bytes and is dropped."""
GROUP_TYPES = frozenset(
    {b"altr", b"ster", b"brst", b"aebr", b"wbbr", b"fobr", b"afbr", b"dobr", b"favc", b"tsyn", b"iaug", b"pano"}
)
"""Entity groups kept (alternatives, stereo pairs, bursts and brackets, ...): ISO/IEC 23008-12 types."""
_GROUP_LABEL = "entity group"


@dataclass
class HeifModel(ByteModel):
    """A walked HEIF file: the byte model plus what the rebuild needs."""

    ftyp: Box | None = None
    ftyp_box: bytes = b""
    """The canonical ``ftyp`` box."""
    meta: hm.Meta | None = None
    kept_items: list[int] = field(default_factory=list)
    """Kept items in ``iinf`` order."""
    replaced: dict[int, bytes] = field(default_factory=dict)
    """Items written after the image data in ``mdat`` (canonical EXIF and XMP; an image item whose data a
    bitstream cleaner rewrote would go here too)."""
    derived: dict[int, bytes] = field(default_factory=dict)
    """Canonical descriptions of kept derived images (written to ``idat``)."""
    properties: list[bytes] = field(default_factory=list)
    """The output ``ipco`` boxes, in order."""
    associations: dict[int, list[tuple[bool, int]]] = field(default_factory=dict)
    """Per kept item, its (essential, output property index) pairs."""
    references: list[hm.Reference] = field(default_factory=list)
    groups: list[hm.Group] = field(default_factory=list)
    kept_boxes: list[bytes] = field(default_factory=list)
    """Top-level boxes written after ``mdat``, each already rebuilt (the ``mpvd`` box of a motion photo, set by
    the rewrite); every other top-level box than ``ftyp``, ``meta``, ``moov``, ``mdat`` and a kept ``mpvd`` is
    labelled metadata by :func:`_top_level`."""
    moov: Box | None = None
    movie: Movie | None = None
    """The image sequence's movie header (AVIF/HEIF sequences), if any."""
    xmp_values: dict[int, XmpValues] = field(default_factory=dict)
    """The kept values of each XMP item (rewritten to point at a kept motion photo movie)."""
    motion: motion_photo.EmbeddedMovie | None = None
    """A motion photo's movie (Samsung and Google HEIC: the payload of a top-level ``mpvd`` box)."""
    motion_box: Box | None = None
    """The ``mpvd`` box holding :attr:`motion`."""
    motion_header: int = 8
    """The size of the ``mpvd`` box's header (8, or 16 with a 64-bit size), which the XMP's padding counts."""


def canonical_ftyp(data: Buffer, ftyp: Box) -> bytes:
    """``ftyp`` with minor version zero and only the brands the handler knows, each once, in their order; an
    unknown major brand is replaced by the first known compatible brand."""
    body = bytes(data[ftyp.body : ftyp.end])
    if len(body) < 8 or len(body) % 4:
        raise BoxError("ftyp does not hold a whole number of brands")
    compatible = list(dict.fromkeys(b for i in range(8, len(body), 4) if (b := body[i : i + 4]) in KNOWN_BRANDS))
    major = body[:4] if body[:4] in KNOWN_BRANDS else next(iter(compatible), b"")
    if not major:
        raise BoxError("ftyp names no brand the engine knows")
    return box(b"ftyp", major + bytes(4) + b"".join(compatible))


class _Walk:
    """Decides, item by item and box by box, what each byte of a HEIF file is."""

    def __init__(self, data: Buffer, model: HeifModel, meta: hm.Meta, policy: ScrubPolicy) -> None:
        self.data, self.model, self.meta, self.policy = data, model, meta, policy
        self.claims: list[tuple[int, int, Kind, str]] = []
        self.refs = References(meta)
        self.images = reachable(meta, self.refs, self.usable_auxiliary)

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.claims.append((start, end, kind, label))

    def run(self) -> None:
        self.items()
        self.properties()
        self.links()
        self.meta_boxes()

    def usable_auxiliary(self, item_id: int) -> bool:
        """True when the item's ``auxC`` names an auxiliary type the engine keeps."""
        for _, index in self.meta.items[item_id].properties:
            prop = self.meta.properties[index - 1]
            if prop.type == b"auxC":
                return props.aux_type(bytes(self.data[prop.body : prop.end])) in props.AUX_TYPES
        return False

    # -- items

    def items(self) -> None:
        for item_id, item in self.meta.items.items():
            kind = self.item_kind(item)
            if kind is not Kind.METADATA or item_id in self.model.replaced or item_id in self.model.derived:
                self.model.kept_items.append(item_id)  # a replaced item is rewritten in canonical form
            label = f"item {item_id} ({_4cc(item.type)})"
            if item_id in self.model.derived and kind is Kind.METADATA:
                label += ": not in canonical form"
            coded = self.bitstream(item) if kind is Kind.IMAGE else None
            if coded is not None:  # H.264, HEVC, AV1: the units that stay are the image data (item_units.py)
                self.claims += coded.claims
                self.model.proof.append(f"item {item_id} {_4cc(item.type)} clean ".encode() + coded.digest)
                if coded.data is not None:
                    self.model.replaced[item_id] = coded.data
                continue
            for start, length in item.extents:
                self.claim(start, start + length, kind, label)
            if item.type in CODED and kind is Kind.IMAGE:
                self.model.proof.append(f"item {item_id} {_4cc(item.type)}".encode())
                self.model.proof += [(start, start + length) for start, length in item.extents]
            elif item_id in self.model.derived:
                self.model.proof.append(f"item {item_id} {_4cc(item.type)}".encode() + self.model.derived[item_id])

    def payload(self, item: hm.Item) -> bytes:
        return b"".join(bytes(self.data[s : s + n]) for s, n in item.extents)

    def bitstream(self, item: hm.Item) -> CodedItem | None:
        """A coded image item whose codec :mod:`.bitstream` parses, read unit by unit (None: another codec)."""
        kind = CONFIG_BOX.get(item.type)
        boxes = [self.meta.properties[index - 1] for _, index in item.properties]
        config = next((b for b in boxes if b.type == kind), None)
        if config is None:
            return None
        if len(item.extents) == 1:  # the usual layout: read in place, not copied (the item may be most of the file)
            start, length = item.extents[0]
            data: Buffer = self.data[start : start + length]
        else:
            data = self.payload(item)
        return coded_item(item, bytes(self.data[config.body : config.end]), data)

    def item_kind(self, item: hm.Item) -> Kind:
        if item.id in self.images:
            if item.type in DERIVED:
                data = self.payload(item)
                self.model.derived[item.id] = canonical_derived(item, data, self.refs.inputs[item.id])
                return Kind.STRUCTURE if self.model.derived[item.id] == data else Kind.METADATA
            return Kind.IMAGE
        described = self.described(item)
        if item.type == b"Exif" and described:
            return self.exif(item)
        if item.is_xmp and described:
            return self.xmp(item)
        return Kind.METADATA

    def described(self, item: hm.Item) -> bool:
        """True when the item describes a kept image (an item describing nothing describes the file)."""
        targets = self.refs.described.get(item.id)
        return not targets or any(t in self.images for t in targets)

    def exif(self, item: hm.Item) -> Kind:
        data = self.payload(item)
        if len(data) < 4:
            return Kind.METADATA
        start = 4 + int.from_bytes(data[:4], "big")
        values = read_exif(
            data[start:], keep_copyright=self.policy.keep_copyright, keep_pairing=self.policy.keep_live_photo_pairing
        )
        canonical = build_exif(values)
        if not canonical:
            return Kind.METADATA
        if item.id == self._primary_metadata(b"Exif"):
            self.model.orientation = values.orientation
        self.model.replaced[item.id] = b"\0\0\0\0" + canonical
        return Kind.KEPT if data == self.model.replaced[item.id] else Kind.METADATA

    def xmp(self, item: hm.Item) -> Kind:
        data = self.payload(item)
        values = read_xmp(data, **xmp_options(self.policy)) if not item.content_encoding else XmpValues()
        canonical = build_xmp(values)
        if not canonical:
            return Kind.METADATA
        if item.id == self._primary_metadata(b"mime"):
            self.model.xmp_orientation = values.orientation
        self.model.replaced[item.id] = canonical
        self.model.xmp_values[item.id] = values
        return Kind.KEPT if data == canonical else Kind.METADATA

    def _primary_metadata(self, kind: bytes) -> int | None:
        """The EXIF (or XMP) item describing the primary image, as ExifTool and Pillow read it."""
        for item_id, item in self.meta.items.items():
            if item.type == kind and (kind != b"mime" or item.is_xmp):
                targets = self.refs.described.get(item_id)
                if not targets or self.meta.primary in targets:
                    return item_id
        return None

    # -- properties

    def properties(self) -> None:
        """Each ipco box: kept in canonical form if a kept item uses it, else metadata."""
        used: dict[int, bool] = {}
        for item_id in self.model.kept_items:
            for essential, index in self.meta.items[item_id].properties:
                used[index] = used.get(index, False) or essential
        new_index: dict[int, int] = {}
        for index, prop in enumerate(self.meta.properties, start=1):
            kind, output, label = self.property(prop, index in used, used.get(index, False))
            self.claim(prop.start, prop.end, kind, label)
            if output is not None:
                self.model.properties.append(output)
                new_index[index] = len(self.model.properties)
        for item_id in self.model.kept_items:
            links = [(e, new_index[i]) for e, i in self.meta.items[item_id].properties if i in new_index]
            self.model.associations[item_id] = links
            self.model.proof.append(f"item {item_id} properties".encode())
            self.model.proof += [
                self.model.properties[i - 1] for e, i in links if not _is_icc(self.model.properties[i - 1])
            ]

    def property(self, prop: Box, used: bool, essential: bool) -> tuple[Kind, bytes | None, str]:
        raw = bytes(self.data[prop.start : prop.end])
        label = f"property {prop.name}"
        if not used:
            return Kind.METADATA, None, label
        if prop.type == b"colr" and raw[prop.body - prop.start : prop.body - prop.start + 4] in (b"prof", b"rICC"):
            kind, output = self.icc_property(prop, raw)
            return kind, output, label
        if prop.type in RAW_PROPERTIES:
            return Kind.STRUCTURE, raw, label
        try:
            result = props.canonical(prop.type, raw[prop.body - prop.start :])
        except props.PropertyError as exc:
            if essential or prop.type == b"auxC":
                raise Refusal(f"an image needs the property {prop.name}, which the engine cannot read: {exc}") from None
            return Kind.METADATA, None, label
        difference = props.difference(raw, result)
        return (Kind.METADATA, result.box, f"{label}: {difference}") if difference else (Kind.STRUCTURE, raw, label)

    def icc_property(self, prop: Box, raw: bytes) -> tuple[Kind, bytes | None]:
        if self.policy.strip_icc:
            return Kind.METADATA, None
        header = raw[: prop.body - prop.start + 4]
        profile = raw[len(header) :]
        try:
            reduced = profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if len(profile) >= 128 and profile[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return Kind.METADATA, None
        output = box(b"colr", header[-4:] + reduced)
        return (Kind.KEPT if output == raw else Kind.METADATA), output

    # -- references, groups and the meta boxes themselves

    def links(self) -> None:
        kept = set(self.model.kept_items)
        for ref in self.meta.references:
            targets = tuple(i for i in ref.to_ids if i in kept)
            if ref.from_id in kept and targets and ref.type != b"thmb":
                self.model.references.append(hm.Reference(ref.type, ref.from_id, targets))
        tracks = {t.track_id for t in self.model.movie.tracks} if self.model.movie is not None else set()
        next_id = max([*kept, *tracks, 0]) + 1
        self.group_output: list[hm.Group | None] = []
        for group in self.meta.groups:
            entities = tuple(e for e in group.entities if e in kept or e in tracks)
            output = None
            if entities and group.type in GROUP_TYPES:
                output = hm.Group(group.type, 0, 0, next_id, entities)  # numbered after the items, in order
                self.model.groups.append(output)
                next_id += 1
            self.group_output.append(output)
        for ref in self.model.references:
            if ref.type in STRUCTURAL_REFERENCES:
                self.model.proof.append(ref.type + b"".join(i.to_bytes(4, "big") for i in (ref.from_id, *ref.to_ids)))
        self.model.proof.append(b"primary" + self.meta.primary.to_bytes(4, "big"))

    def meta_boxes(self) -> None:
        kept = set(self.model.kept_items)
        for child in self.meta.children:
            self.meta_child(child, kept)

    def meta_child(self, child: Box, kept: set[int]) -> None:
        meta, model = self.meta, self.model
        if child.type == b"iinf":
            self.iinf(child, kept)
        elif child.type == b"iprp":
            self.iprp(child)
        elif child.type == b"grpl":
            self.grpl(child)
        elif child.type == b"idat":
            self.claim(child.start, child.body, Kind.STRUCTURE, "idat")
        elif child.type == b"dinf":
            self.claim(child.start, child.end, Kind.METADATA, "dinf (data references nothing uses)")
        elif child.type in (b"hdlr", b"pitm", b"iref"):
            expected = {
                b"hdlr": lambda: hm.hdlr_box(meta.handler),
                b"pitm": lambda: hm.pitm_box(meta.primary),
                b"iref": lambda: hm.iref_box(model.references),
            }[child.type]()
            self.compared(child, expected, child.name)
        elif child.type == b"iloc":
            same = set(meta.items) == kept
            self.claim(child.start, child.end, *self._kind(same, "iloc", "locations of removed items"))
        else:
            self.claim(child.start, child.end, Kind.METADATA, f"{child.name} box in meta")

    def compared(self, child: Box, expected: bytes, label: str) -> None:
        """A box that is structure when it is the very box the rebuild writes."""
        same = bytes(self.data[child.start : child.end]) == expected
        self.claim(child.start, child.end, *self._kind(same, label, "not in canonical form"))

    @staticmethod
    def _kind(same: bool, label: str, why: str) -> tuple[Kind, str]:
        return (Kind.STRUCTURE, label) if same else (Kind.METADATA, f"{label}: {why}")

    def iinf(self, iinf: Box, kept: set[int]) -> None:
        header = bytes(self.data[iinf.body : iinf.body + len(hm.iinf_header(len(kept)))])
        same = header == hm.iinf_header(len(kept))
        entries = [item.infe for item in self.meta.items.values()]
        self.claim(iinf.start, entries[0].start if entries else iinf.end, *self._kind(same, "iinf", "item count"))
        for item in self.meta.items.values():
            label = f"item {item.id} entry"
            if item.id not in kept:
                self.claim(item.infe.start, item.infe.end, Kind.METADATA, f"{label} (item removed)")
                continue
            raw = bytes(self.data[item.infe.start : item.infe.end])
            self.claim(item.infe.start, item.infe.end, *self._kind(raw == hm.infe_box(item), label, _entry_why(item)))

    def iprp(self, iprp: Box) -> None:
        self.claim(iprp.start, iprp.body, Kind.STRUCTURE, "iprp")
        expected = hm.ipma_box(self.model.associations, len(self.model.properties))
        for child in iter_boxes(self.data, iprp.body, iprp.end):
            if child.type == b"ipco":
                self.claim(child.start, child.body, Kind.STRUCTURE, "ipco")
            else:
                self.compared(child, expected, "ipma")

    def grpl(self, grpl: Box) -> None:
        self.claim(grpl.start, grpl.body, *self._kind(bool(self.model.groups), "grpl", "no group kept"))
        for child, output in zip(iter_boxes(self.data, grpl.body, grpl.end), self.group_output, strict=True):
            label = f"{_GROUP_LABEL} {child.name}"
            if output is None:
                self.claim(child.start, child.end, Kind.METADATA, f"{label} (removed)")
            else:
                self.compared(child, hm.group_box(output), label)


def _entry_why(item: hm.Item) -> str:
    if item.name:
        return "item name"
    if item.type == b"mime" and item.content_type != hm.XMP_CONTENT_TYPE:
        return "content type"
    return "flags or fields not in canonical form"


def _sequence(data: Buffer, model: HeifModel, moovs: list[Box]) -> list[tuple[int, int, Kind, str]]:
    """The movie header of an image sequence, and its tracks' samples as image data: the claims."""
    if len(moovs) > 1:
        raise BoxError("the file has more than one moov box")
    if not moovs:
        return []
    model.moov, model.movie = moovs[0], parse_movie(data, moovs[0])
    claims = list(model.movie.claims)
    for track in model.movie.tracks:
        model.proof.append(f"track {track.track_id} {track.handler.decode('latin-1')}".encode())
        for start, length in track.chunks:
            claims.append((start, start + length, Kind.IMAGE, f"track {track.track_id} samples"))
            model.proof.append((start, start + length))
    return claims


def _motion(walker: _Walk, mpvd: Box) -> None:
    """A motion photo's ``mpvd`` box: its movie walked by the movie handler (kept, cleaned), or metadata."""
    model, policy = walker.model, walker.policy
    try:
        movie = motion_photo.walk_movie(walker.data, mpvd.body, mpvd.end, policy)
    except motion_photo.MalformedMovie as exc:
        model.notes.append(motion_photo.MALFORMED_NOTE.format(exc))
        movie = None
    if movie is None or policy.drop_motion_photo_video:
        if movie is not None:
            model.notes.append(motion_photo.DROPPED_NOTE)
        walker.claim(mpvd.start, mpvd.end, Kind.METADATA, "mpvd box")
        return
    walker.claim(mpvd.start, mpvd.body, Kind.STRUCTURE, "mpvd header")
    for span in movie.model.spans:
        walker.claim(movie.start + span.start, movie.start + span.end, span.kind, motion_photo.PREFIX + span.label)
    model.motion, model.motion_box, model.motion_header = movie, mpvd, mpvd.body - mpvd.start
    model.images.append(movie.model.proof_hash(memoryview(walker.data)[movie.start : movie.end]))
    model.embedded.append((movie.start, movie.end))
    model.notes.append(motion_photo.KEPT_NOTE)


def _motion_xmp_kinds(model: HeifModel) -> None:
    """An XMP item that points at a movie the file does not keep is not in its clean form."""
    if model.motion is not None:
        return
    stale = {f"item {i} (mime)" for i, values in model.xmp_values.items() if values.is_motion_photo}
    model.spans = [replace(span, kind=Kind.METADATA) if span.label in stale else span for span in model.spans]


def _top_level(walker: _Walk, boxes: list[Box], ftyp_canonical: bool) -> None:
    """ftyp and the mdat header are structure; meta and moov are walked; a motion photo's ``mpvd`` is walked by
    the movie handler; any other top-level box is metadata."""
    for top in boxes:
        if top.type == b"ftyp":
            walker.claim(top.start, top.end, *walker._kind(ftyp_canonical, "ftyp", "brands or minor version"))
        elif top.type == b"mdat":
            walker.claim(top.start, top.body, Kind.STRUCTURE, "mdat header")
        elif top.type == b"mpvd" and walker.model.motion is None:
            _motion(walker, top)
        elif top.type not in (b"meta", b"moov"):
            walker.claim(top.start, top.end, Kind.METADATA, f"{top.name} box")


def _meta_header(walker: _Walk, meta: hm.Meta, canonical: bool) -> None:
    """The meta box header: structure when its flags are zero and the file is laid out as the rebuild lays it
    out (else, when nothing else is labelled, that is the finding: the file is never reported already clean)."""
    box_ = meta.box
    if meta.flags:
        walker.claim(box_.start, box_.body + 4, Kind.METADATA, "meta: flags")
    elif canonical or any(kind is Kind.METADATA for _, _, kind, _ in walker.claims):
        walker.claim(box_.start, box_.body + 4, Kind.STRUCTURE, "meta")
    else:
        walker.claim(box_.start, box_.body + 4, Kind.METADATA, "meta: layout not canonical")


def _frames(model: HeifModel) -> int:
    """What Pillow counts: the frames of the first visual track of a sequence, else the images shown."""
    if model.movie is not None:
        visual = [t.samples for t in model.movie.tracks if t.handler in (b"pict", b"vide")]
        if visual:
            return visual[0]
    assert model.meta is not None
    items = model.meta.items
    return sum(1 for i in model.kept_items if items[i].type in CODED | DERIVED and not items[i].hidden)


def _4cc(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isascii() and kind.strip().isalnum() else kind.hex()


def _is_icc(prop: bytes) -> bool:
    return prop[4:8] == b"colr" and prop[8:12] in (b"prof", b"rICC")


def _qt(*names: str) -> Allowlist:
    return Allowlist.of("QuickTime", names)


def _brands(value: object) -> bool:
    """An ExifTool brand list (a list, or one comma-separated string) holds only brands the handler keeps."""
    names = value if isinstance(value, list) else str(value).split(",")
    return all(str(name).strip().encode("latin-1").ljust(4) in KNOWN_BRANDS for name in names)


_ICC_REVISIT = re.compile(
    r"(Chromaticity|Measurement|ViewingConditions|ColorRepresentation) pointer references previous \1 directory"
)


def _icc_revisit(value: object) -> bool:
    """ExifTool's warning when a second ICC profile (another image's ``colr``) lays out a sub-directory tag at the
    same offset as the first profile: it skips that tag, which the byte model has accounted for already."""
    return _ICC_REVISIT.fullmatch(str(value)) is not None


_COLOUR = _qt("ColorProfiles", "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag")
_SECOND_ICC = Allowlist.of("ExifTool#", ["Warning"], {"Warning": _icc_revisit})
HEIF_TAGS: dict[str, Tags] = {
    "ftyp": Allowlist.of(
        "QuickTime",
        ["MajorBrand", "MinorVersion", "CompatibleBrands"],
        {"MajorBrand": _brands, "CompatibleBrands": _brands, "MinorVersion": lambda v: str(v) == "0.0.0"},
    ),
    "hdlr": _qt("HandlerType"),
    "pitm": Allowlist.of("Meta", ["PrimaryItemReference"]),
    "idat": Allowlist.of("Meta", ["Unknown_idat"]),
    "grpl": Allowlist.of("QuickTime", ["Unknown_grpl", "Unknown_altr", "Unknown_ster"])
    | Allowlist.of("Meta", ["Unknown_grpl", "Unknown_altr", "Unknown_ster"]),
    "property hvcC": _qt(
        "HEVCConfigurationVersion",
        "GeneralProfileSpace",
        "GeneralTierFlag",
        "GeneralProfileIDC",
        "GenProfileCompatibilityFlags",
        "ConstraintIndicatorFlags",
        "GeneralLevelIDC",
        "MinSpatialSegmentationIDC",
        "ParallelismType",
        "ChromaFormat",
        "BitDepthLuma",
        "BitDepthChroma",
        "AverageFrameRate",
        "ConstantFrameRate",
        "NumTemporalLayers",
        "TemporalIDNested",
    ),
    "property av1C": _qt(
        "AV1ConfigurationVersion",
        "SeqProfile",
        "SeqLevelIdx0",
        "SeqTier0",
        "HighBitDepth",
        "TwelveBit",
        "ChromaFormat",
        "ChromaSubsampling",
        "ChromaSamplePosition",
        "InitialDelaySamples",
        "InitialPresentationDelay",
    ),
    "property ispe": _qt("ImageSpatialExtent") | Allowlist.of("Meta", ["MetaImageSize"]),
    "property pixi": _qt("ImagePixelDepth"),
    "property colr": lambda policy: _COLOUR | _SECOND_ICC | kept_icc.allowlist(policy),
    "property irot": _qt("Rotation"),
    "property imir": _qt("Mirroring"),
    "property clap": _qt("CleanAperture"),
    "property pasp": _qt("PixelAspectRatio"),
    "property auxC": _qt("AuxiliaryImageType"),
    "property clli": _qt("MaxContentLightLevel", "MaxPicAverageLightLevel"),
    "property mdcv": _qt("Unknown_mdcv"),
    "property amve": _qt("Unknown_amve"),
    "property rloc": _qt("RelativeLocation"),
    "property iscl": _qt("Unknown_iscl"),
    "property lsel": _qt("Unknown_lsel"),
    "property a1op": _qt("Unknown_a1op"),
    "property a1lx": _qt("Unknown_a1lx"),
    "item # (Exif)": kept_exif.allowlist,
    "item # (mime)": kept_xmp.allowlist,
    "mpvd header": _qt("MotionPhotoVideo"),
}
"""ExifTool's names for the boxes, properties and kept items of the ``meta`` box the HEIF walker keeps (its
properties are reported in the ``QuickTime`` group; a second ICC profile as ``ICC-header1`` ...). A ``colr``
property is structure (nclx) or a kept item (an ICC profile in canonical form) under the same label."""


class _HeifBase(FormatHandler):
    """Shared by HEIC and AVIF: the walk and the rebuild of the ``meta`` box and ``mdat``."""

    leftover_group: ClassVar[str] = "HEIF-boxes"
    structure_tags = merged_tags(HEIF_TAGS, MOVIE_TAGS, FILE_TAGS)
    kept_items: ClassVar[dict[str, str]] = {"item # (Exif)": "exif", "item # (mime)": "xmp"}

    def item_bytes(self, kind: str, spans: list[Span], data: Buffer) -> bytes | None:
        """An Exif item's TIFF structure (after its offset field), an XMP item's packet."""
        payload = b"".join(bytes(data[span.start : span.end]) for span in spans)
        if kind == "xmp":
            return payload
        if len(payload) < 4:
            return None
        start = 4 + int.from_bytes(payload[:4], "big")
        return payload[start:] if start <= len(payload) else None

    def sources(self, model: ByteModel) -> Iterable[str]:
        """As for every handler, with what a label says after ``": "`` (why a block is not canonical) left out:
        ``property hvcC: SEI array`` is a ``property hvcC`` whose ExifTool names are those of the kept box."""
        return {source_of(span.label.split(": ", 1)[0]) for span in model.spans}

    def allowlist(self, model: ByteModel, policy: ScrubPolicy) -> Allowlist:
        """The kept boxes, properties and items, and the sample descriptions of an image sequence's tracks."""
        assert isinstance(model, HeifModel)
        entries = VISUAL_ENTRY if model.movie is not None and model.movie.tracks else Allowlist()
        return entries | super().allowlist(model, policy)

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> HeifModel:
        model = HeifModel(format=self.name, size=len(data))
        boxes = list(iter_boxes(data, 0, len(data), last_to_end=True))
        if not boxes or boxes[0].type != b"ftyp":
            raise BoxError("the file does not start with an ftyp box")
        metas = [b for b in boxes if b.type == b"meta"]
        if len(metas) != 1:
            raise BoxError("the file has no meta box, or more than one")
        model.ftyp, model.ftyp_box = boxes[0], canonical_ftyp(data, boxes[0])
        model.meta = hm.parse_meta(data, metas[0])
        movie_claims = _sequence(data, model, [b for b in boxes if b.type == b"moov"])
        walker = _Walk(data, model, model.meta, policy)
        walker.run()
        walker.claims += movie_claims
        _top_level(walker, boxes, bytes(data[model.ftyp.start : model.ftyp.end]) == model.ftyp_box)
        motion = model.motion_box
        plan = _RebuildPlan(model, data, motion.end - motion.start if motion is not None else 0)
        canonical = plan.matches(data, motion.start if motion is not None else len(data))
        _meta_header(walker, model.meta, canonical and (motion is None or motion.end == len(data)))
        claims_to_spans(model, walker.claims, data, gap_label="bytes no kept item references")
        _motion_xmp_kinds(model)
        model.exiftool_ranges = [
            (start, start + length)
            for item_id in sorted(model.meta.items)
            if model.meta.items[item_id].type in _EXIFTOOL_HASHED
            for start, length in model.meta.items[item_id].extents
        ]
        model.frames = _frames(model)
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, HeifModel) and model.meta is not None and model.ftyp is not None
        movie = motion_photo.clean_movie(data, model.motion, policy) if model.motion is not None else b""
        return _RebuildPlan(_pointing_at(model, movie), data).file()


def _pointing_at(model: HeifModel, movie: bytes) -> HeifModel:
    """The model with its XMP items pointing at the movie the output keeps (empty: none), and that movie's
    ``mpvd`` box after ``mdat``."""
    replaced = dict(model.replaced)
    for item_id, values in model.xmp_values.items():
        if values.is_motion_photo:
            pointing = values.with_motion(len(movie), len(movie)) if movie else values.without_motion()
            replaced[item_id] = build_xmp(pointing) or replaced[item_id]
    return replace(model, replaced=replaced, kept_boxes=[*model.kept_boxes, *_mpvd(movie, model.motion_header)])


def _mpvd(movie: bytes, header: int) -> list[bytes]:
    """The ``mpvd`` box holding a motion photo's movie, with the header size the input had (its XMP counts it)."""
    if not movie:
        return []
    if header == 16:
        return [struct.pack(">I4sQ", 1, b"mpvd", len(movie) + 16) + movie]
    return [box(b"mpvd", movie)]


class _RebuildPlan:
    """The rebuilt file: ``ftyp``, ``meta``, ``moov`` (sequences), one ``mdat`` holding every kept range of image
    data once (items and track samples may share bytes) and then the replaced items, then the kept top-level
    boxes. Offsets are 32-bit unless the file needs 64."""

    def __init__(self, model: HeifModel, data: Buffer, tail: int = 0) -> None:
        """``tail``: bytes after ``mdat`` besides :attr:`HeifModel.kept_boxes` (an input's own ``mpvd`` box, when
        the walk checks the input's layout without reading the movie)."""
        assert model.meta is not None
        self.model, self.data, self.meta, self.tail = model, data, model.meta, tail
        self.items = [self.meta.items[i] for i in model.kept_items]
        idat, self.in_idat = [], dict[int, list[tuple[int, int]]]()
        position = 0
        for item in self.items:
            if item.id in model.derived:
                part = model.derived[item.id]
            elif item.method == 1 and item.id not in model.replaced:
                part = b"".join(bytes(data[s : s + n]) for s, n in item.extents)
            else:
                continue
            self.in_idat[item.id] = [(position, len(part))] if part else []
            idat.append(part)
            position += len(part)
        self.idat = b"".join(idat)
        ranges = [
            (s, s + n)
            for item in self.items
            if item.id not in self.in_idat and item.id not in model.replaced
            for s, n in item.extents
        ]
        if model.movie is not None:
            ranges += [(s, s + n) for track in model.movie.tracks for s, n in track.chunks]
        self.blocks = merge_ranges(ranges)
        self.replaced = [model.replaced[i.id] for i in self.items if i.id in model.replaced]
        self.payload = sum(e - s for s, e in self.blocks) + sum(len(r) for r in self.replaced)
        self.head, self.wide = self._layout()

    def _layout(self) -> tuple[bytes, bool]:
        """ftyp, meta, moov and the mdat header: 32-bit offsets when the whole file stays below 4 GiB."""
        for wide in (False, True):
            header = 16 if wide else 8
            meta, moov = self.boxes(0, wide)
            base = len(self.model.ftyp_box) + len(meta) + len(moov) + header
            meta, moov = self.boxes(base, wide)
            size = self.payload + header
            end = base + self.payload + sum(len(b) for b in self.model.kept_boxes) + self.tail
            if wide or end <= 0xFFFFFFFF:
                mdat = struct.pack(">I4sQ", 1, b"mdat", size) if wide else struct.pack(">I4s", size, b"mdat")
                return self.model.ftyp_box + meta + moov + mdat, wide
        raise AssertionError("unreachable")

    def file(self) -> bytes:
        view = memoryview(self.data)
        parts = [self.head, *(bytes(view[s:e]) for s, e in self.blocks), *self.replaced, *self.model.kept_boxes]
        return b"".join(parts)

    def matches(self, data: Buffer, end: int) -> bool:
        """True when ``data`` up to ``end`` is laid out exactly as :meth:`file` writes it. Reads the structure and
        the replaced items only, never image data (the audit's ranged walk has not fetched it)."""
        head = self.head
        if len(data) < len(head) or bytes(data[: len(head)]) != head:
            return False
        position = len(head)
        for start, stop in self.blocks:
            if start != position:
                return False
            position = stop
        for part in self.replaced:
            if bytes(data[position : position + len(part)]) != part:
                return False
            position += len(part)
        return position == end

    def boxes(self, base: int, wide: bool) -> tuple[bytes, bytes]:
        """The meta and moov boxes when the mdat payload starts at ``base``."""
        starts, position = {}, base
        for start, end in self.blocks:
            starts[start] = position
            position += end - start
        moved = _mover(self.blocks, starts)
        model = self.model
        body = hm.hdlr_box(self.meta.handler) + hm.pitm_box(self.meta.primary)
        body += hm.iloc_box(self._locations(moved, position), wide) + hm.iinf_box(self.items)
        body += hm.iref_box(model.references)
        body += hm.iprp_box(model.properties, model.associations) + hm.grpl_box(model.groups)
        body += box(b"idat", self.idat) if self.in_idat else b""
        moov = b""
        if model.movie is not None and model.moov is not None:
            moov = rebuild_moov(self.data, model.moov, model.movie, moved, wide)
        return box(b"meta", b"\0\0\0\0" + body), moov

    def _locations(self, moved: Callable[[int], int], position: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """Each kept item's construction method and extents; replaced items follow the image data."""
        locations = []
        for item in self.items:
            if item.id in self.in_idat:
                locations.append((item.id, 1, self.in_idat[item.id]))
            elif item.id in self.model.replaced:
                locations.append((item.id, 0, [(position, len(self.model.replaced[item.id]))]))
                position += len(self.model.replaced[item.id])
            else:
                locations.append((item.id, 0, [(moved(s), n) for s, n in item.extents]))
        return locations


def _mover(blocks: list[tuple[int, int]], starts: dict[int, int]) -> Callable[[int], int]:
    """Where a byte of kept image data at an input offset lands in the output."""
    firsts = [s for s, _ in blocks]

    def moved(offset: int) -> int:
        index = bisect.bisect_right(firsts, offset) - 1
        start, end = blocks[index]
        if not start <= offset < end:
            raise BoxError(f"offset {offset} is not in kept image data")
        return starts[start] + offset - start

    return moved


class HeicHandler(_HeifBase):
    """HEIF/HEIC still images and collections."""

    name = "HEIC"
    mime_type = "image/heic"
    extension = "heic"
    mime_types = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
    pillow_formats = frozenset({"HEIF"})

    @classmethod
    def matches(cls, head: bytes) -> bool:
        found = brands(head)
        return bool(found & _HEIC_BRANDS) and not found & _AVIF_BRANDS


class AvifHandler(_HeifBase):
    """AVIF still images."""

    name = "AVIF"
    mime_type = "image/avif"
    extension = "avif"
    mime_types = frozenset({"image/avif", "image/avif-sequence"})
    pillow_formats = frozenset({"AVIF", "HEIF"})

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return bool(brands(head) & _AVIF_BRANDS)
