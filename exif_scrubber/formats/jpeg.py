"""JPEG, MPO, Ultra HDR and JPS: the byte model of a JPEG file, and its rewrite.

The primary image is walked by :mod:`.jpeg_image` (segments, kept items, tables, proof). Secondary images (MPO
views, Ultra HDR and Apple gain maps) are the ones the MP index names: each entry is mapped to the image at its
offset (never by order), walked the same way and proven on its own. An entry that names no whole JPEG image is
dropped (and the report says so); anything else after the primary image's EOI is a trailer (metadata). What only
means something with a gain map (the primary's ISO 21496-1 version block, its gain-map XMP values, the Ultra HDR
container directory) is kept only when the file keeps one.

The rewrite writes the kept items in canonical form, the decoding segments with only the tables the scans use, and
the scan data byte for byte; then every secondary image rewritten the same way, in the order of the MP index, with
the MP index and the container directory rebuilt with the new sizes and offsets.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, Span
from ..kept import exif as kept_exif
from ..kept import gainmap, iptc
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import build_exif
from ..kept.xmp import ContainerItem, XmpValues, build_xmp
from ..pixels import PixelProbe
from ..policy import ScrubPolicy
from . import jpeg_app, jpeg_tables, motion_photo, mpf
from .base import FormatHandler, Tags, source_of
from .jpeg_image import (
    ICC_SIG,
    ISO_LABEL,
    MPF_LABEL,
    XMP_LABEL,
    XMP_SIG,
    JpegModel,
    KeptItems,
    Secondary,
    icc_payloads,
    walk_image,
)
from .jpeg_probe import probe_jpeg
from .jpeg_segments import DECODING, SCAN, JpegStructureError, exiftool_ranges

SOI = b"\xff\xd8"

__all__ = ["STRUCTURE_TAGS", "JpegHandler", "JpegModel", "rewrite_file"]

_SECONDARY = re.compile(r"image \d+: ")
"""How the labels of a secondary image's spans start."""
_MPF_TAGS = [
    "MPFVersion", "NumberOfImages", "TotalFrames", "MPIndividualNum", "PanOrientation", "PanOverlapH", "PanOverlapV",
    "BaseViewpointNum", "ConvergenceAngle", "BaselineLength", "VerticalDivergence", "AxisDistanceX", "AxisDistanceY",
    "AxisDistanceZ", "YawAngle", "PitchAngle", "RollAngle",
]  # fmt: skip
_MP_IMAGE_TAGS = [
    "MPImageFlags", "MPImageFormat", "MPImageType", "MPImageLength", "MPImageStart", "DependentImage1EntryNumber",
    "DependentImage2EntryNumber",
]  # fmt: skip
STRUCTURE_TAGS: dict[str, Tags] = {
    "APP0 JFIF": Allowlist.of("JFIF", ["JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"]),
    "APP14 Adobe": Allowlist.of("Adobe", ["APP14Flags0", "APP14Flags1", "ColorTransform", "DCTEncodeVersion"]),
    "APP3 JPS stereo descriptor": Allowlist.of("JPS", ["JPSSeparation", "JPSFlags", "JPSLayout", "JPSType"]),
    "APP1 EXIF": kept_exif.allowlist,
    XMP_LABEL: kept_xmp.allowlist,
    "APP2 ICC profile": kept_icc.allowlist,
    "APP13 IPTC (rights kept by policy)": iptc.allowlist,
    ISO_LABEL: Allowlist.of("APP2", ["UniformResourceName"]),
    MPF_LABEL: Allowlist.of("MPF#", _MPF_TAGS) | Allowlist.of("MPImage#", _MP_IMAGE_TAGS),
    "secondary image": Allowlist.of("MPImage#", ["MPImage#"]) | Allowlist.of("Google", ["GainMapImage"]),
    "motion photo video": Allowlist.of("Google", ["MotionPhotoVideo"]),
    "Samsung motion photo trailer": Allowlist.of("Samsung", ["EmbeddedVideoType", "EmbeddedVideoFile"]),
}
"""ExifTool's names for what the JPEG walker keeps. A secondary image (an MPO view, a gain map the MPF index or
the Ultra HDR container directory names) is image data of the file: ExifTool shows it as a binary tag; so is a
motion photo's movie (its own tags are the movie handler's, read from the movie alone)."""


class JpegHandler(FormatHandler):
    """Baseline, progressive, lossless and arithmetic JPEG; MPO, Ultra HDR and JPS stereo files."""

    name = "JPEG"
    mime_type = "image/jpeg"
    extension = "jpg"
    mime_types = frozenset({"image/jpeg", "image/mpo", "image/x-jps"})
    pillow_formats = frozenset({"JPEG", "MPO"})
    leftover_group: ClassVar[str] = "JPEG"
    ranged_audit: ClassVar[bool] = False  # markers / sub-block sizes lie inside the image data
    file_suffixes = (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".jps")
    structure_tags = STRUCTURE_TAGS
    kept_items: ClassVar[dict[str, str]] = {"APP1 EXIF": "exif", XMP_LABEL: "xmp", "APP2 ICC profile": "icc"}

    def item_source(self, label: str) -> str:
        return source_of(_SECONDARY.sub("", label))

    def item_bytes(self, kind: str, spans: list[Span], data: Buffer) -> bytes | None:
        """The EXIF TIFF structure, the XMP packet or the ICC profile (its chunks in sequence order) of the APPn
        segments ``spans`` (one image's)."""
        payloads = [bytes(data[span.start + 4 : span.end]) for span in spans]
        if kind == "exif" and len(payloads) == 1 and payloads[0].startswith(b"Exif\0"):
            return payloads[0][6:]
        if kind == "xmp" and len(payloads) == 1 and payloads[0].startswith(XMP_SIG):
            return payloads[0][len(XMP_SIG) :]
        if kind == "icc" and all(p.startswith(ICC_SIG) and len(p) > len(ICC_SIG) + 2 for p in payloads):
            ordered = sorted(payloads, key=lambda p: p[len(ICC_SIG)])
            return b"".join(p[len(ICC_SIG) + 2 :] for p in ordered)
        return None

    def sources(self, model: ByteModel) -> Iterable[str]:
        """The primary's sources and each secondary image's (its span labels without their ``image N:``)."""
        found = set()
        for span in model.spans:
            if span.label.startswith(motion_photo.PREFIX):
                found.add("motion photo video")  # the movie's own tags: its handler's list, read on its own
                continue
            found.add(source_of(_SECONDARY.sub("", span.label)))
            if _SECONDARY.match(span.label) and span.kind is Kind.IMAGE:
                found.add("secondary image")
        return found

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:3] == b"\xff\xd8\xff"

    def probe(self, path: Path) -> PixelProbe:
        """Pillow's view, with the images counted from the MP index rather than by Pillow's format guess."""
        return probe_jpeg(path)

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> JpegModel:
        view = memoryview(data)
        model = walk_image(view, policy)
        model.size = len(data)
        model.secondaries = _secondaries(view, model, policy)
        model.frames = 1 + len(model.secondaries)
        _settle(model)
        pos = model.image_end
        for secondary in sorted(model.secondaries, key=lambda s: s.start):
            if secondary.start > pos:
                model.add(pos, secondary.start, Kind.METADATA, "bytes between images")
            for span in secondary.model.spans:
                label = f"image {secondary.entry + 1}: {span.label}"
                model.add(secondary.start + span.start, secondary.start + span.end, span.kind, label)
            pos = secondary.start + secondary.model.size
        for secondary in model.secondaries:  # in MP index order: the order viewers show them in
            model.images.append(secondary.model.proof_hash(view[secondary.start : _end_of(secondary)]))
        _trailer(model, view, pos, policy)
        model.exiftool_ranges = exiftool_ranges(view, model.segments)
        model.notes += _xmp_images(model, view)
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, JpegModel)
        return rewrite_file(model, data, policy)


_XMP_IMAGES = (
    (b"http://ns.google.com/photos/1.0/depthmap/", "depth map (Google GDepth, in the XMP): removed"),
    (b"http://ns.google.com/photos/1.0/image/", "the unedited original (Google GImage, in the XMP): removed"),
)
"""Pictures that Google's camera apps store inside the XMP (base64 in extended XMP): a Lens Blur photo's depth map
and its unblurred original. Neither is a kept item (the original can show what the edit hid); the report says they
went, as viewers that use them lose them."""


def _xmp_images(model: JpegModel, view: memoryview) -> list[str]:
    """Notes for the pictures an APP1 XMP segment of the primary image holds (they are removed with the XMP)."""
    packets = [bytes(view[s.payload_start : s.end]) for s in model.segments if s.marker == 0xE1]
    return [note for namespace, note in _XMP_IMAGES if any(namespace in packet for packet in packets)]


def _trailer(model: JpegModel, view: memoryview, pos: int, policy: ScrubPolicy) -> None:
    """What follows the last image: a motion photo's movie (walked by the movie handler), or metadata."""
    if pos >= len(view):
        if model.kept.xmp.is_motion_photo:
            _relabel(model, XMP_LABEL, Kind.METADATA)  # it points at a movie the file does not have
        return
    xmp = model.kept.xmp
    try:
        movie, _ = motion_photo.find_movie(
            view, pos, policy, container_length=xmp.motion_length, micro_offset=xmp.micro_video_offset
        )
    except motion_photo.MalformedMovie as exc:
        movie = None
        model.notes.append(motion_photo.MALFORMED_NOTE.format(exc))
    motion_photo.label_jpeg_trailer(model, view, pos, movie, policy)
    if movie is not None and not policy.drop_motion_photo_video:
        model.motion = movie
        model.notes.append(motion_photo.KEPT_NOTE)
    elif movie is not None:
        model.notes.append(motion_photo.DROPPED_NOTE)
    if model.motion is None and xmp.is_motion_photo:
        _relabel(model, XMP_LABEL, Kind.METADATA)


def _end_of(secondary: Secondary) -> int:
    """Where a secondary image ends in the file."""
    return secondary.start + secondary.model.size


def _secondaries(view: memoryview, model: JpegModel, policy: ScrubPolicy) -> list[Secondary]:
    """The secondary images the MP index names, each mapped by its offset and walked, in the index's order. An entry
    that names no whole JPEG image after the primary one, or an image another entry already names, is left out."""
    index, header = model.kept.mpf, model.mpf_header
    if index is None or header is None or len(index.entries) < 2:
        return []
    found = []
    for number, entry in enumerate(index.entries[1:], start=1):
        start = header + entry.offset
        if entry.offset == 0 or not model.image_end <= start < len(view) or bytes(view[start : start + 2]) != SOI:
            model.notes.append(f"MPF image {number + 1} is not in the file: its entry is dropped")
            continue
        try:
            image = walk_image(view[start:], policy, primary=False)
        except JpegStructureError as exc:
            model.notes.append(f"MPF image {number + 1} is not a whole JPEG image ({exc}): dropped")
            continue
        image.size = image.image_end
        found.append(Secondary(number, start, image))
    kept: list[Secondary] = []
    end = model.image_end
    for secondary in sorted(found, key=lambda s: s.start):
        if secondary.start < end:
            model.notes.append(f"MPF image {secondary.entry + 1} overlaps another image: its entry is dropped")
            continue
        kept.append(secondary)
        end = _end_of(secondary)
    return sorted(kept, key=lambda s: s.entry)


def _settle(model: JpegModel) -> None:
    """Settle what the primary keeps that depends on its secondary images: without one, its gain-map XMP values and
    ISO 21496-1 version block describe nothing and go; the container directory's image items must list the file's
    images (its motion-photo item is settled with the movie). The MP index must describe the file exactly."""
    kept = model.kept
    xmp = replace(kept.xmp, container=_container_for(kept.xmp.container, model.secondaries))
    if not model.secondaries:
        xmp = replace(xmp, gain_map=())
        if kept.iso is not None:
            kept.iso = None
            _relabel(model, ISO_LABEL, Kind.METADATA)
    if xmp != kept.xmp:
        kept.xmp = xmp
        _relabel(model, XMP_LABEL, Kind.METADATA)
    if not _mpf_consistent(model):
        _relabel(model, MPF_LABEL, Kind.METADATA)


def _container_for(items: tuple[ContainerItem, ...], secondaries: list[Secondary]) -> tuple[ContainerItem, ...]:
    """The container directory as it must read: the primary (a JPEG) first, then one item per secondary image in
    file order, each a JPEG of its real length, then a motion photo's movie (settled with the movie). Image items
    that do not list the file's images go; a directory that names nothing but the primary goes."""
    if not items or items[0].semantic != "Primary" or any(i.semantic == "Primary" for i in items[1:]):
        return ()
    images = [item for item in items[1:] if item.semantic != "MotionPhoto"]
    movies = tuple(item for item in items[1:] if item.semantic == "MotionPhoto")
    following: list[ContainerItem] = []
    if len(images) == len(secondaries):
        ordered = sorted(secondaries, key=lambda s: s.start)
        following = [
            ContainerItem(item.semantic, "image/jpeg", secondary.model.size)
            for item, secondary in zip(images, ordered, strict=True)
        ]
    if not following and not movies:
        return ()
    return (replace(items[0], mime="image/jpeg"), *following, *movies)


def _mpf_consistent(model: JpegModel) -> bool:
    """A kept MP index must describe the file exactly: one entry per image, in file order, each with the image's
    real size and offset."""
    index, header = model.kept.mpf, model.mpf_header
    if index is None or header is None or not index.entries:
        return True
    secondaries = model.secondaries
    if [s.entry for s in secondaries] != list(range(1, len(index.entries))):
        return False
    starts = [s.start for s in secondaries]
    if starts != sorted(starts):
        return False
    first = index.entries[0]
    if first.size != model.image_end or first.offset != 0:
        return False
    return all(
        index.entries[s.entry].size == s.model.size and index.entries[s.entry].offset == s.start - header
        for s in secondaries
    )


def _relabel(model: JpegModel, label: str, kind: Kind) -> None:
    model.spans = [replace(span, kind=kind) if span.label == label else span for span in model.spans]


# ---------------------------------------------------------------------- rewrite


def rewrite_file(model: JpegModel, data: Buffer, policy: ScrubPolicy) -> bytes:
    """The clean file of ``model``: the primary image, then every secondary image in MP index order, each
    rewritten, then a motion photo's movie."""
    view = memoryview(data)
    secondaries = [
        _rewrite_image(s.model, view[s.start : _end_of(s)], s.model.kept, policy)[0] for s in model.secondaries
    ]
    tail, from_end = _motion_tail(model, view, policy)
    sizes, index = [len(s) for s in secondaries], model.kept.mpf
    kept = replace(model.kept, xmp=_xmp_for(model, sizes, from_end))
    if not secondaries or index is None:
        if index is not None and index.entries:
            kept = replace(kept, mpf=None)  # the index points at nothing: the secondary images were a trailer
        return _rewrite_image(model, view, kept, policy)[0] + tail
    draft = _index_for(index, model.secondaries, 1 << 16, sizes, 0)  # the final entries: the final segment size
    primary, mpf_at = _rewrite_image(model, view, replace(kept, mpf=draft), policy)
    index = _index_for(index, model.secondaries, len(primary), sizes, mpf_at)
    primary, _ = _rewrite_image(model, view, replace(kept, mpf=index), policy)
    return primary + b"".join(secondaries) + tail


def _motion_tail(model: JpegModel, data: Buffer, policy: ScrubPolicy) -> tuple[bytes, int]:
    """The kept motion photo's movie, cleaned, with the canonical Samsung trailer around it where there was one;
    and how far before the end of the file the movie starts (what the XMP's length and offset say)."""
    if model.motion is None:
        return b"", 0
    movie = motion_photo.clean_movie(data, model.motion, policy)
    if not model.motion.samsung:
        return movie, len(movie)
    head, tail = motion_photo.samsung_parts(len(movie))
    return head + movie + tail, len(movie) + len(tail)


def _xmp_for(model: JpegModel, sizes: list[int], from_end: int) -> XmpValues:
    """The primary's XMP pointing at what the output holds: the secondary images' lengths; the movie, ``from_end``
    bytes before the end of the file (a container item's length and a MicroVideo offset both count that way)."""
    xmp = model.kept.xmp.with_item_lengths(sizes)
    return xmp.without_motion() if model.motion is None else xmp.with_motion(from_end, from_end)


def _kept_segments(kept: KeptItems, policy: ScrubPolicy) -> list[tuple[int, bytes]]:
    """(marker, payload) of every kept item in canonical form, in output order (the MPF index last)."""
    exif = build_exif(kept.exif if policy.keep_copyright else kept.exif.without_copyright())
    xmp = build_xmp(kept.xmp)
    block = iptc.build_iptc(kept.iptc) if policy.keep_copyright else b""
    segments = [
        (0xE0, kept.jfif or b""),
        (0xE1, b"Exif\0\0" + exif if exif else b""),
        (0xE1, XMP_SIG + xmp if xmp else b""),
        (0xED, block),
        (0xE2, gainmap.SIGNATURE + kept.iso if kept.iso is not None else b""),
    ]
    if kept.icc is not None and not policy.strip_icc:
        segments += [(0xE2, payload) for payload in icc_payloads(kept.icc)]
    segments += [
        (0xE3, kept.jps or b""),
        (0xEE, jpeg_app.adobe(kept.adobe) if kept.adobe is not None else b""),
        (0xE2, mpf.build(kept.mpf) if kept.mpf is not None else b""),
    ]
    return [(marker, payload) for marker, payload in segments if payload]


def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _rewrite_image(model: JpegModel, view: memoryview, kept: KeptItems, policy: ScrubPolicy) -> tuple[bytes, int]:
    """The image with its kept items in canonical form and the tables its scans use, and where its MPF payload
    starts (-1: none)."""
    out, mpf_at = bytearray(b"\xff\xd8"), -1
    for marker, payload in _kept_segments(kept, policy):
        if payload.startswith(mpf.SIGNATURE) and marker == 0xE2:
            mpf_at = len(out) + 4
        out += _segment(marker, payload)
    for index, segment in enumerate(model.segments):
        if segment.marker in jpeg_tables.TABLE_MARKERS:
            tables = jpeg_tables.rebuild(segment.marker, view[segment.payload_start : segment.end], model.usage, index)
            out += _segment(segment.marker, tables) if tables else b""
        elif segment.marker in DECODING or segment.marker == SCAN:
            out += view[segment.start + segment.fill : segment.end]
    out += b"\xff\xd9"
    return bytes(out), mpf_at


def _index_for(
    index: mpf.MpIndex, secondaries: list[Secondary], primary: int, sizes: list[int], signature_at: int
) -> mpf.MpIndex:
    """The MP index of the rewritten file: one entry per kept image in the index's order, sizes, offsets counted
    from the MPF TIFF header, dependent-image numbers renumbered (0 where that image is gone)."""
    header = signature_at + len(mpf.SIGNATURE)
    numbers = {1: 1} | {s.entry + 1: n for n, s in enumerate(secondaries, start=2)}

    def dependents(entry: mpf.MpEntry) -> tuple[int, int]:
        return numbers.get(entry.dependent[0], 0), numbers.get(entry.dependent[1], 0)

    first = index.entries[0]
    entries, position = [replace(first, size=primary, offset=0, dependent=dependents(first))], primary
    for secondary, size in zip(secondaries, sizes, strict=True):
        entry = index.entries[secondary.entry]
        entries.append(replace(entry, size=size, offset=position - header, dependent=dependents(entry)))
        position += size
    return replace(index, entries=entries)
