"""HEIF/HEIC and AVIF still images: the byte model of the file, and its rebuild.

Which items stay: the primary image and every image a viewer needs to show it and what goes with it (grid
tiles, overlays, alpha and depth planes, HDR gain maps, ISO 21496-1 tone-map items, stereo pairs and other
entity groups), found by following the item references from the displayed images. Thumbnails and images nothing
reaches go. EXIF and XMP items are kept in canonical form when they hold a kept value (orientation, gain-map
parameters) and describe a kept image; every other item (other XMP, MIME text, URIs, unknown types) goes.

Bytes are: structure (``ftyp``, the ``meta`` boxes read field by field by :mod:`.heif_meta`, decoding properties
such as ``hvcC``, ``ispe``, ``colr``/nclx, ``irot``, ``auxC``, the data of derived images), image data (the data
of coded image items), kept items (canonical EXIF/XMP, the reduced ICC of a ``colr`` property), or metadata:
item names, entries and properties of removed items, ``free``/``skip`` boxes, unknown or vendor (``uuid``,
``udes``) properties, and bytes no kept item references. The rebuild writes ``ftyp``, a new ``meta`` and one
``mdat`` holding the kept items' data, copied byte for byte; offsets are recomputed.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, claims_to_spans, merge_ranges
from ..kept import exif as kept_exif
from ..kept import gainmap
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp
from ..policy import ScrubPolicy
from . import heif_meta as hm
from . import motion_photo
from .base import FormatHandler, Refusal, Tags, merged_tags
from .isobmff import Box, BoxError, box, brands, iter_boxes
from .movie import Movie, parse_movie, rebuild_moov
from .movie_tags import FILE_TAGS, MOVIE_TAGS, VISUAL_ENTRY

CODED = frozenset({b"hvc1", b"av01", b"avc1", b"unci", b"j2k1", b"vvc1", b"hvt1", b"jpeg", b"mski"})
DERIVED = frozenset({b"grid", b"iovl", b"iden", b"tmap"})
DECODING_PROPERTIES = frozenset(
    {
        b"hvcC",
        b"av1C",
        b"avcC",
        b"vvcC",
        b"jpgC",
        b"j2kH",
        b"uncC",
        b"cmpd",
        b"ispe",
        b"pixi",
        b"colr",
        b"irot",
        b"imir",
        b"clap",
        b"pasp",
        b"auxC",
        b"lsel",
        b"a1op",
        b"a1lx",
        b"clli",
        b"mdcv",
        b"cclv",
        b"amve",
        b"rloc",
        b"iscl",
        b"cmex",
        b"cmin",
    }
)
"""Properties that tell a decoder how to decode or show an item: kept as they are."""
_EXIFTOOL_HASHED = frozenset({b"av01", b"avc1", b"hvc1", b"lhv1", b"hvt1"})
"""Item types ExifTool's ImageDataHash covers (every such item, thumbnails included, in item-ID order)."""
_STRUCTURAL_REFERENCES = frozenset({b"dimg", b"auxl", b"base", b"prem", b"tbas"})
_HEIC_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


@dataclass
class HeifModel(ByteModel):
    """A walked HEIF file: the byte model plus what the rebuild needs."""

    ftyp: Box | None = None
    meta: hm.Meta | None = None
    kept_items: list[int] = field(default_factory=list)
    """Kept items in ``iinf`` order."""
    replaced: dict[int, bytes] = field(default_factory=dict)
    """Canonical data of kept EXIF and XMP items."""
    properties: list[bytes] = field(default_factory=list)
    """The output ``ipco`` boxes, in order."""
    associations: dict[int, list[tuple[bool, int]]] = field(default_factory=dict)
    """Per kept item, its (essential, output property index) pairs."""
    references: list[hm.Reference] = field(default_factory=list)
    groups: list[hm.Group] = field(default_factory=list)
    moov: Box | None = None
    movie: Movie | None = None
    """The image sequence's movie header (AVIF/HEIF sequences), if any."""
    xmp_values: dict[int, XmpValues] = field(default_factory=dict)
    """The kept values of each XMP item (rewritten to point at a kept motion photo movie)."""
    motion: motion_photo.EmbeddedMovie | None = None
    """A motion photo's movie (Samsung and Google HEIC: the payload of a top-level ``mpvd`` box)."""
    motion_header: int = 8
    """The size of the ``mpvd`` box's header (8, or 16 with a 64-bit size), which the XMP's padding counts."""


def _reachable(meta: hm.Meta) -> set[int]:
    """The images a viewer shows or needs to show them, following references from the displayed images."""
    thumbnails = {r.from_id for r in meta.references if r.type == b"thmb"}
    images = {i for i, item in meta.items.items() if item.type in CODED | DERIVED}
    kept = {meta.primary} | {i for i in images if not meta.items[i].hidden and i not in thumbnails}
    changed = True
    while changed:
        before = len(kept)
        for ref in meta.references:
            if ref.type in _STRUCTURAL_REFERENCES - {b"auxl"} and ref.from_id in kept:
                kept |= set(ref.to_ids) & images
            if ref.type in (b"auxl", b"prem") and set(ref.to_ids) & kept and ref.from_id in images:
                kept.add(ref.from_id)
        for group in meta.groups:
            if set(group.entities) & kept:
                kept |= set(group.entities) & images
        changed = len(kept) != before
    return kept - (thumbnails - {meta.primary})


class _Walk:
    """Decides, item by item and box by box, what each byte of a HEIF file is."""

    def __init__(self, data: Buffer, model: HeifModel, meta: hm.Meta, policy: ScrubPolicy) -> None:
        self.data, self.model, self.meta, self.policy = data, model, meta, policy
        self.claims: list[tuple[int, int, Kind, str]] = []
        self.images = _reachable(meta)

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.claims.append((start, end, kind, label))

    def run(self) -> None:
        self.items()
        self.properties()
        self.links()
        self.meta_boxes()

    # -- items

    def items(self) -> None:
        for item_id, item in self.meta.items.items():
            kind = self.item_kind(item)
            if kind is not Kind.METADATA or item_id in self.model.replaced:
                self.model.kept_items.append(item_id)  # a replaced item is rewritten in canonical form
            label = f"item {item_id} ({_4cc(item.type)})"
            for start, length in item.extents:
                self.claim(start, start + length, kind, label)
            if item.type in CODED and kind is Kind.IMAGE:
                self.model.proof.append(f"item {item_id} {_4cc(item.type)}".encode())
                self.model.proof += [(start, start + length) for start, length in item.extents]
            elif item.type in DERIVED and kind is Kind.STRUCTURE:
                self.model.proof.append(f"item {item_id} {_4cc(item.type)}".encode() + self.payload(item))

    def payload(self, item: hm.Item) -> bytes:
        return b"".join(bytes(self.data[s : s + n]) for s, n in item.extents)

    def item_kind(self, item: hm.Item) -> Kind:
        if item.id in self.images:
            if item.type in DERIVED:
                self.check_derived(item)
                return Kind.STRUCTURE
            return Kind.IMAGE
        described = self.described(item)
        if item.type == b"Exif" and described:
            return self.exif(item)
        if item.is_xmp and described:
            return self.xmp(item)
        return Kind.METADATA

    def described(self, item: hm.Item) -> bool:
        """True when the item describes a kept image (an item describing nothing describes the file)."""
        targets = [i for r in self.meta.references if r.type == b"cdsc" and r.from_id == item.id for i in r.to_ids]
        return not targets or bool(set(targets) & self.images)

    def check_derived(self, item: hm.Item) -> None:
        data = self.payload(item)
        inputs = sum(len(r.to_ids) for r in self.meta.references if r.type == b"dimg" and r.from_id == item.id)
        if not _derived_exact(item.type, data, inputs):
            raise Refusal(f"the {_4cc(item.type)} description of item {item.id} does not match its size")

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
        values = read_xmp(data, keep_copyright=self.policy.keep_copyright) if not item.content_encoding else XmpValues()
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
                targets = [
                    i for r in self.meta.references if r.type == b"cdsc" and r.from_id == item_id for i in r.to_ids
                ]
                if not targets or self.meta.primary in targets:
                    return item_id
        return None

    # -- properties

    def properties(self) -> None:
        """Each ipco box: kept (decoding, or canonical ICC) if a kept item uses it, else metadata."""
        used: dict[int, bool] = {}
        for item_id in self.model.kept_items:
            for essential, index in self.meta.items[item_id].properties:
                used[index] = used.get(index, False) or essential
        new_index: dict[int, int] = {}
        for index, prop in enumerate(self.meta.properties, start=1):
            kind, output = self.property(prop, index in used, used.get(index, False))
            self.claim(prop.start, prop.end, kind, f"property {prop.name}")
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

    def property(self, prop: Box, used: bool, essential: bool) -> tuple[Kind, bytes | None]:
        raw = bytes(self.data[prop.start : prop.end])
        if not used:
            return Kind.METADATA, None
        if prop.type == b"colr" and raw[prop.body - prop.start : prop.body - prop.start + 4] in (b"prof", b"rICC"):
            return self.icc_property(prop, raw)
        if prop.type in DECODING_PROPERTIES:
            return Kind.STRUCTURE, raw
        if essential:
            raise Refusal(f"an image needs the property {prop.name}, which the engine does not know")
        return Kind.METADATA, None

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
        for group in self.meta.groups:
            entities = tuple(e for e in group.entities if e in kept)
            if entities:
                self.model.groups.append(hm.Group(group.type, group.version, group.flags, group.group_id, entities))
        for ref in self.model.references:
            if ref.type in _STRUCTURAL_REFERENCES:
                self.model.proof.append(ref.type + b"".join(i.to_bytes(4, "big") for i in (ref.from_id, *ref.to_ids)))
        self.model.proof.append(b"primary" + self.meta.primary.to_bytes(4, "big"))

    def meta_boxes(self) -> None:
        meta, kept = self.meta, set(self.model.kept_items)
        self.claim(meta.box.start, meta.box.body + 4, Kind.STRUCTURE, "meta")
        for child in meta.children:
            self.meta_child(child, kept)

    def meta_child(self, child: Box, kept: set[int]) -> None:
        meta = self.meta
        same = {
            b"hdlr": meta.handler_name == b"",
            b"pitm": True,
            b"iloc": set(meta.items) == kept,
            b"iref": self.model.references == meta.references,
            b"grpl": self.model.groups == meta.groups,
            b"dinf": True,
        }
        if child.type == b"iinf":
            self.iinf(child, kept)
        elif child.type == b"iprp":
            self.iprp(child, kept)
        elif child.type == b"idat":
            self.claim(child.start, child.body, Kind.STRUCTURE, "idat")
        elif child.type in same:
            self.claim(child.start, child.end, Kind.STRUCTURE if same[child.type] else Kind.METADATA, child.name)
        else:
            self.claim(child.start, child.end, Kind.METADATA, f"{child.name} box in meta")

    def iinf(self, iinf: Box, kept: set[int]) -> None:
        entries = [item.infe for item in self.meta.items.values()]
        self.claim(iinf.start, entries[0].start if entries else iinf.end, Kind.STRUCTURE, "iinf")
        for item in self.meta.items.values():
            clean = item.id in kept and not item.name and not item.content_encoding and not item.other
            label = f"item {item.id} entry" + ("" if item.id in kept else " (item removed)")
            self.claim(item.infe.start, item.infe.end, Kind.STRUCTURE if clean else Kind.METADATA, label)

    def iprp(self, iprp: Box, kept: set[int]) -> None:
        children = list(iter_boxes(self.data, iprp.body, iprp.end))
        self.claim(iprp.start, iprp.body, Kind.STRUCTURE, "iprp")
        for child in children:
            if child.type == b"ipco":
                self.claim(child.start, child.body, Kind.STRUCTURE, "ipco")
            else:
                unchanged = set(self.meta.items) == kept and len(self.model.properties) == len(self.meta.properties)
                self.claim(child.start, child.end, Kind.STRUCTURE if unchanged else Kind.METADATA, "ipma")


def _sequence(data: Buffer, model: HeifModel, walker: _Walk, moovs: list[Box]) -> None:
    """The movie header of an image sequence, and its tracks' samples as image data."""
    if len(moovs) > 1:
        raise BoxError("the file has more than one moov box")
    if not moovs:
        return
    model.moov, model.movie = moovs[0], parse_movie(data, moovs[0])
    walker.claims += model.movie.claims
    for track in model.movie.tracks:
        model.proof.append(f"track {track.track_id} {track.handler.decode('latin-1')}".encode())
        for start, length in track.chunks:
            walker.claim(start, start + length, Kind.IMAGE, f"track {track.track_id} samples")
            model.proof.append((start, start + length))


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
    model.motion, model.motion_header = movie, mpvd.body - mpvd.start
    model.images.append(movie.model.proof_hash(memoryview(walker.data)[movie.start : movie.end]))
    model.embedded.append((movie.start, movie.end))
    model.notes.append(motion_photo.KEPT_NOTE)


def _motion_xmp_kinds(model: HeifModel) -> None:
    """An XMP item that points at a movie the file does not keep is not in its clean form."""
    if model.motion is not None:
        return
    stale = {f"item {i} (mime)" for i, values in model.xmp_values.items() if values.is_motion_photo}
    model.spans = [replace(span, kind=Kind.METADATA) if span.label in stale else span for span in model.spans]


def _top_level(walker: _Walk, boxes: list[Box]) -> None:
    """ftyp and the mdat header are structure; meta and moov are walked; any other top-level box is metadata."""
    for top in boxes:
        if top.type == b"ftyp":
            walker.claim(top.start, top.end, Kind.STRUCTURE, "ftyp")
        elif top.type == b"mdat":
            walker.claim(top.start, top.body, Kind.STRUCTURE, "mdat header")
        elif top.type == b"mpvd" and walker.model.motion is None:
            _motion(walker, top)
        elif top.type not in (b"meta", b"moov"):
            walker.claim(top.start, top.end, Kind.METADATA, f"{top.name} box")


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


def _derived_exact(kind: bytes, data: bytes, inputs: int) -> bool:
    """The data of a derived image (grid, overlay, identity, tone map) is exactly its declared fields."""
    if kind == b"iden":
        return not data
    if kind == b"tmap":
        return gainmap.is_exact(data[1:]) if data[:1] == b"\0" else gainmap.is_exact(data)
    if len(data) < 2 or data[0] != 0:
        return False
    wide = 4 if data[1] & 1 else 2
    if kind == b"grid":
        return len(data) == 4 + 2 * wide
    return len(data) == 10 + 2 * wide + inputs * 2 * wide  # iovl: fill colour, size, offsets per input


def _qt(*names: str) -> Allowlist:
    return Allowlist.of("QuickTime", names)


_COLOUR = _qt("ColorProfiles", "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag")
HEIF_TAGS: dict[str, Tags] = {
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
    "property colr": lambda policy: _COLOUR | kept_icc.allowlist(policy),
    "property irot": _qt("Rotation"),
    "property imir": _qt("Mirroring"),
    "property clap": _qt("CleanAperture"),
    "property pasp": _qt("PixelAspectRatio"),
    "property auxC": _qt("AuxiliaryImageType"),
    "property clli": _qt("ContentLightLevel"),
    "property mdcv": _qt("MasteringDisplayColorVolume"),
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
        model.ftyp, model.meta = boxes[0], hm.parse_meta(data, metas[0])
        walker = _Walk(data, model, model.meta, policy)
        walker.run()
        _sequence(data, model, walker, [b for b in boxes if b.type == b"moov"])
        _top_level(walker, boxes)
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
        return _rebuild(_pointing_at(model, len(movie)), data) + _mpvd(movie, model.motion_header)


def _pointing_at(model: HeifModel, movie: int) -> HeifModel:
    """The model with its XMP items pointing at the movie the output keeps (``movie`` bytes; 0: none)."""
    replaced = dict(model.replaced)
    for item_id, values in model.xmp_values.items():
        if values.is_motion_photo:
            pointing = values.with_motion(movie, movie) if movie else values.without_motion()
            replaced[item_id] = build_xmp(pointing) or replaced[item_id]
    return replace(model, replaced=replaced)


def _mpvd(movie: bytes, header: int) -> bytes:
    """The ``mpvd`` box holding a motion photo's movie, with the header size the input had (its XMP counts it)."""
    if not movie:
        return b""
    if header == 16:
        return struct.pack(">I4sQ", 1, b"mpvd", len(movie) + 16) + movie
    return box(b"mpvd", movie)


def _rebuild(model: HeifModel, data: Buffer) -> bytes:
    """ftyp, a new meta, the rebuilt moov (sequences) and one mdat: every kept range of image data copied once
    (items and track samples may share bytes), then the canonical EXIF/XMP items."""
    assert model.meta is not None and model.ftyp is not None
    plan = _RebuildPlan(model, data)
    view = memoryview(data)
    ftyp = bytes(view[model.ftyp.start : model.ftyp.end])
    header = 16 if plan.wide else 8
    meta_box, moov_box = plan.boxes(0)
    meta_box, moov_box = plan.boxes(len(ftyp) + len(meta_box) + len(moov_box) + header)
    replaced = [model.replaced[i.id] for i in plan.items if i.id in model.replaced]
    mdat = [bytes(view[s:e]) for s, e in plan.blocks] + replaced
    size = sum(len(part) for part in mdat) + header
    mdat_header = struct.pack(">I4sQ", 1, b"mdat", size) if plan.wide else struct.pack(">I4s", size, b"mdat")
    return b"".join([ftyp, meta_box, moov_box, mdat_header, *mdat])


class _RebuildPlan:
    """What the rebuilt file holds: the kept items, their idat bytes, and the merged ranges of mdat image data."""

    def __init__(self, model: HeifModel, data: Buffer) -> None:
        assert model.meta is not None
        self.model, self.data, self.meta = model, data, model.meta
        view = memoryview(data)
        self.items = [self.meta.items[i] for i in model.kept_items]
        self.idat, self.in_idat = bytearray(), dict[int, list[tuple[int, int]]]()
        for item in self.items:
            if item.method == 1 and item.id not in model.replaced:
                self.in_idat[item.id] = [(len(self.idat), item.size)]
                self.idat += b"".join(bytes(view[s : s + n]) for s, n in item.extents)
        ranges = [
            (s, s + n)
            for item in self.items
            if item.method == 0 and item.id not in model.replaced
            for s, n in item.extents
        ]
        if model.movie is not None:
            ranges += [(s, s + n) for track in model.movie.tracks for s, n in track.chunks]
        self.blocks = merge_ranges(ranges)
        replaced = sum(len(model.replaced[i.id]) for i in self.items if i.id in model.replaced)
        self.wide = sum(e - s for s, e in self.blocks) + replaced + len(data) > 0xFFFFFFF0

    def boxes(self, base: int) -> tuple[bytes, bytes]:
        """The meta and moov boxes when the mdat payload starts at ``base``."""
        starts, position = {}, base
        for start, end in self.blocks:
            starts[start] = position
            position += end - start
        moved = _mover(self.blocks, starts)
        meta, model, view = self.meta, self.model, memoryview(self.data)
        body = hm.hdlr_box(meta.handler) + hm.pitm_box(meta.primary)
        if meta.dinf is not None:
            body += bytes(view[meta.dinf.start : meta.dinf.end])
        body += hm.iloc_box(self._locations(moved, position), self.wide) + hm.iinf_box(self.items)
        body += hm.iref_box(model.references)
        body += hm.iprp_box(model.properties, model.associations) + hm.grpl_box(model.groups)
        body += box(b"idat", bytes(self.idat)) if self.idat else b""
        moov = b""
        if model.movie is not None and model.moov is not None:
            moov = rebuild_moov(self.data, model.moov, model.movie, moved, self.wide)
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
