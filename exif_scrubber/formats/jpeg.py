"""JPEG, MPO and Ultra HDR: the byte model of a JPEG file, and its rewrite.

Every segment of an image is one of: decoding structure (SOF, DQT, DHT, DAC, DRI, DNL, SOS, checked field by
field by :mod:`.jpeg_segments`) and scan data (image data); a kept item in canonical form (JFIF density without
a thumbnail, the minimal EXIF of :mod:`..kept.exif`, the XMP of :mod:`..kept.xmp`, the ICC profile reduced by
:mod:`..kept.icc` in canonical chunks, the MPF index of :mod:`.mpf`, ISO 21496-1 gain-map metadata, the 12-byte
Adobe segment); or metadata: every other APPn, COM, any segment after the image data, bytes between segments.

Secondary images (MPO views, Ultra HDR gain maps) are found through the MPF index and modelled the same way;
anything else after the primary image's EOI is a trailer (metadata). The rewrite drops whole segments, writes
the kept items in canonical form, rewrites every secondary image the same way and rebuilds the MPF index and the
Ultra HDR container directory with the new sizes; scan data and decoding segments are copied byte for byte.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind
from ..kept import exif as kept_exif
from ..kept import gainmap, iptc
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.exif import ExifValues, build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp
from ..policy import ScrubPolicy
from . import motion_photo, mpf
from .base import FormatHandler, Refusal, Tags, source_of
from .jpeg_segments import (
    DECODING,
    EOI,
    SCAN,
    SOI,
    SOS,
    STRAY,
    JpegStructureError,
    Segment,
    exiftool_ranges,
    frame_size,
    walk,
)

EXIF_SIG = b"Exif\0"
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\0"
ICC_SIG = b"ICC_PROFILE\0"
ICC_CHUNK = 65535 - 2 - len(ICC_SIG) - 2
"""Profile bytes per APP2 segment (the largest segment minus its length, signature and sequence bytes)."""
_KEPT_SIGNATURES = (
    (0xE0, b"JFIF\0", "jfif"),
    (0xE1, EXIF_SIG, "exif"),
    (0xE1, XMP_SIG, "xmp"),
    (0xE2, ICC_SIG, "icc"),
    (0xE2, mpf.SIGNATURE, "mpf"),
    (0xE2, gainmap.SIGNATURE, "iso"),
    (0xEE, b"Adobe", "adobe"),
    (0xED, iptc.SIGNATURE, "iptc"),
)
_APP_NAMES = {
    ICC_SIG: "ICC profile",
    b"Adobe": "Adobe",
    b"JFXX\0": "JFIF thumbnail (JFXX)",
    b"http://ns.adobe.com/xmp/extension/\0": "ExtendedXMP",
    b"Photoshop 3.0\0": "Photoshop IRB / IPTC",
    b"Ducky": "Ducky",
    b"FPXR": "FlashPix",
    b"JP": "JUMBF / C2PA",
    mpf.SIGNATURE: "MPF index",
    gainmap.SIGNATURE: "ISO 21496-1 gain map",
    b"AROT": "AROT",
    b"HPQ": "HP",
    b"GoPro": "GoPro",
    b"SEAL": "SEAL",
    b"Qualcomm": "Qualcomm",
    b"QVCI": "Casio",
    b"Meta": "Kodak Meta",
    b"AVI1": "AVI1",
    EXIF_SIG: "EXIF (another block)",
    XMP_SIG: "XMP (another packet)",
    b"JFIF\0": "JFIF (another segment)",
}


@dataclass
class KeptItems:
    """The canonical forms of what a JPEG image keeps (None: not present or not kept)."""

    jfif: bytes | None = None
    exif: ExifValues = field(default_factory=ExifValues)
    xmp: XmpValues = field(default_factory=XmpValues)
    icc: bytes | None = None
    mpf: mpf.MpIndex | None = None
    iptc: iptc.IptcValues = field(default_factory=iptc.IptcValues)
    iso: bytes | None = None
    adobe: bytes | None = None


@dataclass
class JpegModel(ByteModel):
    """A walked JPEG image (primary or secondary): the byte model plus what the rewrite needs."""

    segments: list[Segment] = field(default_factory=list)
    kept: KeptItems = field(default_factory=KeptItems)
    image_end: int = 0
    size_px: tuple[int, int] | None = None
    secondaries: list[tuple[int, JpegModel]] = field(default_factory=list)
    """(offset in the file, model) of each MPF secondary image, in file order."""
    motion: motion_photo.EmbeddedMovie | None = None
    """A motion photo's movie after the images (kept, cleaned, unless the policy drops it)."""


class _Walk:
    """Labels the segments of one JPEG image and collects its kept items."""

    def __init__(self, data: Buffer, model: JpegModel, policy: ScrubPolicy) -> None:
        self.data, self.model, self.policy = data, model, policy
        self.labels: dict[int, tuple[Kind, str]] = {}
        self.icc_segments: list[int] = []
        self.scanning = False
        self.seen: set[str] = set()
        """Kinds of kept segment already met: only the first of each counts (as decoders read them)."""

    def payload(self, segment: Segment) -> bytes:
        return bytes(self.data[segment.payload_start : segment.end])

    def run(self) -> None:
        for index, segment in enumerate(self.model.segments):
            self.labels[index] = self._label(index, segment)
        self._resolve_icc()
        for index, segment in enumerate(self.model.segments):
            kind, label = self.labels[index]
            self.model.add(segment.start, segment.end, kind, label)
            if kind is not Kind.METADATA and (segment.marker in DECODING or segment.marker == SCAN):
                self.model.proof.append((segment.start + segment.fill, segment.end))

    def _label(self, index: int, segment: Segment) -> tuple[Kind, str]:
        marker = segment.marker
        if marker in (SOI, EOI) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            return Kind.STRUCTURE, "marker"
        if marker == SCAN:
            return Kind.IMAGE, "scan data"
        if marker == STRAY:
            return Kind.METADATA, "bytes between segments"
        if marker in DECODING:
            self.scanning = self.scanning or marker == SOS
            return Kind.STRUCTURE, f"0xFF{marker:02X}"
        if self.scanning:
            return Kind.METADATA, _app_name(marker, self.payload(segment)) + " after the image data"
        if 0xE0 <= marker <= 0xEF:
            return self._app(index, segment)
        return Kind.METADATA, _app_name(marker, self.payload(segment))

    def _app(self, index: int, segment: Segment) -> tuple[Kind, str]:
        payload = self.payload(segment)
        kind = next((k for m, sig, k in _KEPT_SIGNATURES if segment.marker == m and payload.startswith(sig)), None)
        dropped = (kind == "icc" and self.policy.strip_icc) or (kind == "iptc" and not self.policy.keep_copyright)
        if kind is None or (kind in self.seen and kind != "icc") or dropped:
            return Kind.METADATA, _app_name(segment.marker, payload)
        self.seen.add(kind)
        if kind == "icc":
            self.icc_segments.append(index)
            return Kind.KEPT, "APP2 ICC profile"  # decided by _resolve_icc once every chunk is known
        readers = {
            "jfif": self._jfif, "exif": self._exif, "xmp": self._xmp, "mpf": self._mpf, "iso": self._iso,
            "adobe": self._adobe, "iptc": self._iptc,
        }  # fmt: skip
        return readers[kind](payload)

    def _jfif(self, payload: bytes) -> tuple[Kind, str]:
        if len(payload) < 14:
            return Kind.METADATA, "APP0 JFIF (truncated)"
        canonical = payload[:12] + b"\0\0"
        self.model.kept.jfif = canonical
        return (Kind.STRUCTURE, "APP0 JFIF") if payload == canonical else (Kind.METADATA, "APP0 JFIF thumbnail")

    def _exif(self, payload: bytes) -> tuple[Kind, str]:
        values = read_exif(
            payload[6:],
            keep_copyright=self.policy.keep_copyright,
            keep_pairing=self.policy.keep_live_photo_pairing,
        )
        self.model.kept.exif, self.model.orientation = values, values.orientation
        canonical = build_exif(values)
        return _kept_if(bool(canonical) and payload == b"Exif\0\0" + canonical, "APP1 EXIF")

    def _xmp(self, payload: bytes) -> tuple[Kind, str]:
        values = read_xmp(payload[len(XMP_SIG) :], keep_copyright=self.policy.keep_copyright)
        self.model.kept.xmp, self.model.xmp_orientation = values, values.orientation
        canonical = build_xmp(values)
        return _kept_if(bool(canonical) and payload == XMP_SIG + canonical, "APP1 XMP")

    def _mpf(self, payload: bytes) -> tuple[Kind, str]:
        try:
            index = mpf.parse(payload)
        except mpf.MpfError:
            return Kind.METADATA, "APP2 MPF index (unreadable)"
        self.model.kept.mpf = index
        return _kept_if(payload == mpf.build(index), "APP2 MPF index")  # offsets are checked by the caller

    def _iso(self, payload: bytes) -> tuple[Kind, str]:
        body = payload[len(gainmap.SIGNATURE) :]
        if not gainmap.is_exact(body):
            return Kind.METADATA, "APP2 ISO 21496-1 gain map (malformed)"
        self.model.kept.iso = body
        self.model.proof.append(b"iso21496" + body)
        return Kind.KEPT, "APP2 ISO 21496-1 gain map"

    def _iptc(self, payload: bytes) -> tuple[Kind, str]:
        values = iptc.read_iptc(payload)
        self.model.kept.iptc = values
        canonical = iptc.build_iptc(values)
        return _kept_if(bool(canonical) and payload == canonical, "APP13 IPTC (rights kept by policy)")

    def _adobe(self, payload: bytes) -> tuple[Kind, str]:
        if len(payload) < 12:
            return Kind.METADATA, "APP14 Adobe (truncated: decoders ignore it)"
        self.model.kept.adobe = payload[:12]
        return (Kind.STRUCTURE, "APP14 Adobe") if len(payload) == 12 else (Kind.METADATA, "APP14 Adobe extra bytes")

    def _resolve_icc(self) -> None:
        """Assemble the ICC chunks; keep them only if they are the canonical chunks of a canonical profile."""
        if not self.icc_segments:
            return
        payloads = [self.payload(self.model.segments[i]) for i in self.icc_segments]
        kept = self._kept_profile(_assemble_icc(payloads))
        canonical = kept is not None and payloads == _icc_payloads(kept)
        for index in self.icc_segments:
            self.labels[index] = _kept_if(canonical, "APP2 ICC profile")

    def _kept_profile(self, profile: bytes | None) -> bytes | None:
        if profile is None:
            return None
        try:
            reduced = profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if looks_like_icc(profile):
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return None  # not a profile at all: decoders ignore it, so it goes
        self.model.kept.icc = reduced
        return reduced


def _kept_if(canonical: bool, label: str) -> tuple[Kind, str]:
    return (Kind.KEPT, label) if canonical else (Kind.METADATA, label)


def looks_like_icc(profile: bytes) -> bool:
    """True when ``profile`` has an ICC header (decoders would use it), whatever else is wrong with it."""
    return len(profile) >= 128 and profile[36:40] == b"acsp"


def _assemble_icc(payloads: list[bytes]) -> bytes | None:
    """The profile of the APP2 chunks, or None when their sequence numbers are inconsistent."""
    chunks: dict[int, bytes] = {}
    counts = set()
    for payload in payloads:
        if len(payload) < len(ICC_SIG) + 2:
            return None
        sequence, count = payload[len(ICC_SIG)], payload[len(ICC_SIG) + 1]
        counts.add(count)
        if sequence in chunks or not 1 <= sequence <= count:
            return None
        chunks[sequence] = payload[len(ICC_SIG) + 2 :]
    if len(counts) != 1 or len(chunks) != counts.pop():
        return None
    return b"".join(chunks[i] for i in sorted(chunks))


def _icc_payloads(profile: bytes) -> list[bytes]:
    parts = [profile[i : i + ICC_CHUNK] for i in range(0, len(profile), ICC_CHUNK)]
    return [ICC_SIG + bytes([n + 1, len(parts)]) + part for n, part in enumerate(parts)]


def _app_name(marker: int, payload: bytes) -> str:
    number = "COM" if marker == 0xFE else f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"0xFF{marker:02X}"
    return next((f"{number} {name}" for sig, name in _APP_NAMES.items() if payload.startswith(sig)), number)


def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def walk_image(data: Buffer, policy: ScrubPolicy) -> JpegModel:
    """The byte model of one JPEG image held in ``data`` (anything after its EOI is labelled, not followed)."""
    model = JpegModel(format="JPEG", size=len(data))
    model.segments = walk(data)
    _Walk(data, model, policy).run()
    if model.kept.adobe is not None:
        model.proof.append(b"adobe-transform" + model.kept.adobe[11:12])
    model.image_end = model.segments[-1].end
    size = frame_size(data, model.segments)
    model.size_px = (size[0], size[1]) if size else None
    return model


def _mpf_header(model: JpegModel, data: Buffer) -> int | None:
    """Offset of the MPF TIFF header (what MP entry offsets count from) in the primary image."""
    for segment in model.segments:
        if segment.marker == 0xE2 and bytes(data[segment.payload_start : segment.payload_start + 4]) == mpf.SIGNATURE:
            return segment.payload_start + len(mpf.SIGNATURE)
    return None


def _secondaries(data: Buffer, model: JpegModel, policy: ScrubPolicy) -> list[tuple[int, JpegModel]]:
    """The secondary images the MPF index points at, each walked; [] when the index does not hold together."""
    index, header = model.kept.mpf, _mpf_header(model, data)
    if index is None or header is None or len(index.entries) < 2:
        return []
    found, view = [], memoryview(data)
    for entry in index.entries[1:]:
        start = header + entry.offset
        if entry.offset == 0 or start < model.image_end or start + entry.size > len(data):
            return []
        try:
            secondary = walk_image(view[start : start + entry.size], policy)
        except (JpegStructureError, mpf.MpfError):
            return []
        if secondary.image_end < secondary.size:
            secondary.add(secondary.image_end, secondary.size, Kind.METADATA, "bytes after EOI")
        found.append((start, secondary))
    return sorted(found, key=lambda item: item[0])


_SECONDARY = re.compile(r"image \d+: ")
"""How the labels of a secondary image's spans start."""
STRUCTURE_TAGS: dict[str, Tags] = {
    "APP0 JFIF": Allowlist.of("JFIF", ["JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"]),
    "APP14 Adobe": Allowlist.of("Adobe", ["APP14Flags0", "APP14Flags1", "ColorTransform", "DCTEncodeVersion"]),
    "APP1 EXIF": kept_exif.allowlist,
    "APP1 XMP": kept_xmp.allowlist,
    "APP2 ICC profile": kept_icc.allowlist,
    "APP13 IPTC (rights kept by policy)": iptc.allowlist,
    "APP2 ISO 21496-1 gain map": Allowlist.of("APP2", ["UniformResourceName"]),
    "APP2 MPF index": Allowlist.of(
        "MPF#",
        [
            "MPFVersion",
            "NumberOfImages",
            "TotalFrames",
            "MPIndividualNum",
            "PanOrientation",
            "PanOverlapH",
            "PanOverlapV",
            "BaseViewpointNum",
            "ConvergenceAngle",
            "BaselineLength",
            "VerticalDivergence",
            "AxisDistanceX",
            "AxisDistanceY",
            "AxisDistanceZ",
            "YawAngle",
            "PitchAngle",
            "RollAngle",
        ],
    )
    | Allowlist.of(
        "MPImage#",
        [
            "MPImageFlags",
            "MPImageFormat",
            "MPImageType",
            "MPImageLength",
            "MPImageStart",
            "DependentImage1EntryNumber",
            "DependentImage2EntryNumber",
        ],
    ),
    "secondary image": Allowlist.of("MPImage#", ["MPImage#"]) | Allowlist.of("Google", ["GainMapImage"]),
    "motion photo video": Allowlist.of("Google", ["MotionPhotoVideo"]),
    "Samsung motion photo trailer": Allowlist.of("Samsung", ["EmbeddedVideoType", "EmbeddedVideoFile"]),
}
"""ExifTool's names for what the JPEG walker keeps. A secondary image (an MPO view, a gain map the MPF index or
the Ultra HDR container directory names) is image data of the file: ExifTool shows it as a binary tag; so is a
motion photo's movie (its own tags are the movie handler's, read from the movie alone)."""


class JpegHandler(FormatHandler):
    """Baseline, progressive, lossless and arithmetic JPEG; MPO and Ultra HDR multi-picture files."""

    name = "JPEG"
    mime_type = "image/jpeg"
    extension = "jpg"
    mime_types = frozenset({"image/jpeg", "image/mpo"})
    pillow_formats = frozenset({"JPEG", "MPO"})
    leftover_group: ClassVar[str] = "JPEG"
    ranged_audit: ClassVar[bool] = False  # markers / sub-block sizes lie inside the image data
    structure_tags = STRUCTURE_TAGS

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

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> JpegModel:
        view = memoryview(data)
        model = walk_image(view, policy)
        model.size = len(data)
        model.secondaries = _secondaries(view, model, policy)
        model.frames = 1 + len(model.secondaries)
        pos = model.image_end
        for start, secondary in model.secondaries:
            if start > pos:
                model.add(pos, start, Kind.METADATA, "bytes between images")
            for span in secondary.spans:
                model.add(
                    start + span.start, start + span.end, span.kind, f"image {len(model.images) + 2}: {span.label}"
                )
            model.images.append(secondary.proof_hash(view[start : start + secondary.size]))
            pos = start + secondary.size
        _trailer(model, view, pos, policy)
        model.exiftool_ranges = exiftool_ranges(view, model.segments)
        if not _mpf_consistent(model, view):
            _relabel(model, "APP2 MPF index", Kind.METADATA)
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, JpegModel)
        return rewrite_file(model, data, policy)


def _trailer(model: JpegModel, view: memoryview, pos: int, policy: ScrubPolicy) -> None:
    """What follows the last image: a motion photo's movie (walked by the movie handler), or metadata."""
    if pos >= len(view):
        if model.kept.xmp.is_motion_photo:
            _relabel(model, "APP1 XMP", Kind.METADATA)  # it points at a movie the file does not have
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
        _relabel(model, "APP1 XMP", Kind.METADATA)


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


def _xmp_for(model: JpegModel, secondaries: list[bytes], from_end: int) -> XmpValues:
    """The primary's XMP pointing at what the output holds: the gain map's length; the movie, ``from_end`` bytes
    before the end of the file (a container item's length and a MicroVideo offset both count that way)."""
    xmp = model.kept.xmp.with_lengths({"GainMap": len(secondaries[0])}) if secondaries else model.kept.xmp
    xmp = xmp.without_motion() if model.motion is None else xmp.with_motion(from_end, from_end)
    if not secondaries and model.motion is None:
        xmp = replace(xmp, container=())  # a directory of images the file does not have: it goes
    return xmp


def rewrite_file(model: JpegModel, data: Buffer, policy: ScrubPolicy) -> bytes:
    """The clean file of ``model``: the primary image, then every secondary image, each rewritten, then a motion
    photo's movie."""
    view = memoryview(data)
    secondaries = [rewrite_file(sub, view[start : start + sub.size], policy) for start, sub in model.secondaries]
    tail, from_end = _motion_tail(model, view, policy)
    kept = replace(model.kept, xmp=_xmp_for(model, secondaries, from_end))
    if kept.mpf is not None and kept.mpf.entries and not secondaries:
        kept.mpf = None  # the index points at nothing: the secondary images were a trailer
    primary, mpf_at = _rewrite_image(model, view, kept, policy)
    if not secondaries or kept.mpf is None:
        return primary + tail
    index = _index_for(kept.mpf, len(primary), [len(s) for s in secondaries], mpf_at)
    primary, _ = _rewrite_image(model, view, replace(kept, mpf=index), policy)
    return primary + b"".join(secondaries) + tail


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
        segments += [(0xE2, payload) for payload in _icc_payloads(kept.icc)]
    segments += [(0xEE, kept.adobe or b""), (0xE2, mpf.build(kept.mpf) if kept.mpf is not None else b"")]
    return [(marker, payload) for marker, payload in segments if payload]


def _rewrite_image(model: JpegModel, view: memoryview, kept: KeptItems, policy: ScrubPolicy) -> tuple[bytes, int]:
    """The image with its kept items in canonical form, and where its MPF payload starts (-1: none)."""
    out, mpf_at = bytearray(b"\xff\xd8"), -1
    for marker, payload in _kept_segments(kept, policy):
        if payload.startswith(mpf.SIGNATURE) and marker == 0xE2:
            mpf_at = len(out) + 4
        out += _segment(marker, payload)
    for segment in model.segments:
        if segment.marker in DECODING or segment.marker == SCAN:
            out += view[segment.start + segment.fill : segment.end]
    out += b"\xff\xd9"
    return bytes(out), mpf_at


def _index_for(index: mpf.MpIndex, primary: int, sizes: list[int], signature_at: int) -> mpf.MpIndex:
    """The MP index of the rewritten file: entry sizes, and offsets counted from the MPF TIFF header."""
    header = signature_at + len(mpf.SIGNATURE)
    entries, position = [replace(index.entries[0], size=primary, offset=0)], primary
    for entry, size in zip(index.entries[1:], sizes, strict=True):
        entries.append(replace(entry, size=size, offset=position - header))
        position += size
    return replace(index, entries=entries)


def _mpf_consistent(model: JpegModel, view: memoryview) -> bool:
    """A kept MPF index must describe the file exactly: its entries are the images' real sizes and places."""
    index, header = model.kept.mpf, _mpf_header(model, view)
    if index is None or header is None or not index.entries:
        return True
    if len(index.entries) != len(model.secondaries) + 1:
        return False
    sizes = [model.image_end] + [sub.size for _, sub in model.secondaries]
    starts = [0] + [start - header for start, _ in model.secondaries]
    return all(e.size == s and e.offset == o for e, s, o in zip(index.entries, sizes, starts, strict=True))


def _relabel(model: JpegModel, label: str, kind: Kind) -> None:
    model.spans = [replace(span, kind=kind) if span.label == label else span for span in model.spans]
