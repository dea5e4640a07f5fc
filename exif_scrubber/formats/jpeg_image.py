"""The byte model of one JPEG image (a primary image, or one secondary image of an MPF file).

Every segment is one of: decoding structure (SOF, DQT, DHT, DAC, DRI, DNL, SOS, checked field by field by
:mod:`.jpeg_segments`; a table no scan reads, or one redefined before any scan reads it, is metadata:
:mod:`.jpeg_tables`), scan data (image data), a kept item in canonical form, or metadata (every other APPn, COM, any
segment after the first scan, stray markers, fill bytes and bytes between segments).

Which of several segments of one kind counts is what decoders do: the last JFIF ``APP0`` and the last Adobe
``APP14`` that libjpeg recognises (it decides the colour conversion from them), the last MPF ``APP2`` (Pillow's MP
index), the first EXIF, XMP, IPTC, ISO 21496-1 and JPS segment; the others are metadata.

The proof of one image covers what decides its decoded pixels: the colour-conversion inputs libjpeg reads (whether
a JFIF marker and an Adobe marker were seen before the first scan, and the Adobe transform), every frame and scan
header, the exact tables and restart interval each scan is decoded with, and the scan data. An image that is a gain
map also hashes its ISO 21496-1 block.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..bytemodel import Buffer, ByteModel, Kind
from ..kept import gainmap, iptc
from ..kept.exif import ExifValues, build_exif, read_exif
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp, xmp_options
from ..policy import ScrubPolicy
from . import jpeg_app, jpeg_tables, motion_photo, mpf
from .base import Refusal
from .jpeg_segments import DECODING, EOI, SCAN, SOI, SOS, STRAY, Segment, frame_size, walk

EXIF_SIG = b"Exif\0"
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\0"
ICC_SIG = b"ICC_PROFILE\0"
ICC_CHUNK = 65535 - 2 - len(ICC_SIG) - 2
"""Profile bytes per APP2 segment (the largest segment minus its length, signature and sequence bytes)."""
_KEPT_SIGNATURES = (
    (0xE0, jpeg_app.JFIF_SIG, "jfif"),
    (0xE1, EXIF_SIG, "exif"),
    (0xE1, XMP_SIG, "xmp"),
    (0xE2, ICC_SIG, "icc"),
    (0xE2, mpf.SIGNATURE, "mpf"),
    (0xE2, gainmap.SIGNATURE, "iso"),
    (0xE3, jpeg_app.JPS_SIG, "jps"),
    (0xEE, jpeg_app.ADOBE_SIG, "adobe"),
    (0xED, iptc.SIGNATURE, "iptc"),
)
_LAST_WINS = frozenset({"jfif", "adobe", "mpf"})
"""Kinds decoders take from the last segment that has them (libjpeg: JFIF, Adobe; Pillow: the MP index)."""
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
    jpeg_app.JPS_SIG: "JPS stereo descriptor",
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
XMP_LABEL, MPF_LABEL, ISO_LABEL = "APP1 XMP", "APP2 MPF index", "APP2 ISO 21496-1 gain map"


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
    """The ISO 21496-1 block (after its signature)."""
    adobe: int | None = None
    """The Adobe colour transform."""
    jps: bytes | None = None


@dataclass
class Secondary:
    """One secondary image of an MPF file: the MP entry that names it, where it starts, its model."""

    entry: int
    start: int
    model: JpegModel


@dataclass
class JpegModel(ByteModel):
    """A walked JPEG image (primary or secondary): the byte model plus what the rewrite needs."""

    segments: list[Segment] = field(default_factory=list)
    kept: KeptItems = field(default_factory=KeptItems)
    image_end: int = 0
    size_px: tuple[int, int] | None = None
    usage: jpeg_tables.Usage = field(default_factory=jpeg_tables.Usage)
    mpf_header: int | None = None
    """Offset of the TIFF header of the MPF segment that counts (what MP entry offsets count from)."""
    secondaries: list[Secondary] = field(default_factory=list)
    """The MPF secondary images, in the order of the MP index."""
    motion: motion_photo.EmbeddedMovie | None = None
    """A motion photo's movie after the images (kept, cleaned, unless the policy drops it)."""


class _Walk:
    """Labels the segments of one JPEG image and collects its kept items."""

    def __init__(self, data: Buffer, model: JpegModel, policy: ScrubPolicy, *, primary: bool) -> None:
        self.data, self.model, self.policy, self.primary = data, model, policy, primary
        self.labels: dict[int, tuple[Kind, str]] = {}
        self.icc_segments: list[int] = []
        self.scanning = False
        self.seen: dict[str, int] = {}
        """Kinds of kept segment met so far, with the index of the one that counts."""
        self.jfif_seen = False

    def payload(self, segment: Segment) -> bytes:
        return bytes(self.data[segment.payload_start : segment.end])

    def run(self) -> None:
        for index, segment in enumerate(self.model.segments):
            self.labels[index] = self._label(index, segment)
        self._resolve_icc()
        self.model.usage = jpeg_tables.resolve(self.model.segments, self.payload)
        self._label_tables()
        self.model.proof.append(self._colour())
        for index, segment in enumerate(self.model.segments):
            kind, label = self.labels[index]
            if segment.fill:
                self.model.add(segment.start, segment.start + segment.fill, Kind.METADATA, "0xFF fill bytes")
            self.model.add(segment.start + segment.fill, segment.end, kind, label)
            self._prove(index, segment, kind)

    def _colour(self) -> bytes:
        """What libjpeg decides the colour conversion from, besides the frame's components."""
        transform = self.model.kept.adobe
        return b"colour" + bytes([self.jfif_seen, transform is not None, transform or 0])

    def _prove(self, index: int, segment: Segment, kind: Kind) -> None:
        usage, proof = self.model.usage, self.model.proof
        if segment.marker == SCAN:
            proof.append((segment.start, segment.end))
        elif segment.marker in DECODING and kind is not Kind.METADATA:
            if usage.resolved and segment.marker in jpeg_tables.TABLE_MARKERS:
                return  # hashed through the scans that use them
            proof.append((segment.start + segment.fill, segment.end))
            if segment.marker == SOS and usage.resolved:
                proof.append(b"scan tables" + usage.scans[index])

    def _label_tables(self) -> None:
        usage = self.model.usage
        for index, segment in enumerate(self.model.segments):
            if segment.marker not in jpeg_tables.TABLE_MARKERS:
                continue
            payload = self.payload(segment)
            found = jpeg_tables.entries(segment.marker, payload)
            if not all(usage.is_used(index, number) for number in range(len(found))):
                self.labels[index] = (Kind.METADATA, f"unused {jpeg_tables.TABLE_NAMES[segment.marker]} table")

    def _label(self, index: int, segment: Segment) -> tuple[Kind, str]:
        marker = segment.marker
        if marker in (SOI, EOI):
            return Kind.STRUCTURE, "marker"
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            return Kind.METADATA, "stray marker outside the scan data"
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
        if kind == "jfif" and not jpeg_app.is_jfif(payload):
            return Kind.METADATA, "APP0 JFIF (too short: decoders ignore it)"
        if kind == "adobe" and jpeg_app.adobe_transform(payload) is None:
            return Kind.METADATA, "APP14 Adobe (truncated: decoders ignore it)"
        self.jfif_seen = self.jfif_seen or kind == "jfif"
        dropped = (kind == "icc" and self.policy.strip_icc) or (kind == "iptc" and not self.policy.keep_copyright)
        if kind is None or dropped or (kind in self.seen and kind not in _LAST_WINS and kind != "icc"):
            return Kind.METADATA, _app_name(segment.marker, payload)
        if kind in _LAST_WINS and kind in self.seen:
            earlier = self.labels[self.seen[kind]][1]
            self.labels[self.seen[kind]] = (Kind.METADATA, f"{earlier} (a later one counts)")
        self.seen[kind] = index
        if kind == "icc":
            self.icc_segments.append(index)
            return Kind.KEPT, "APP2 ICC profile"  # decided by _resolve_icc once every chunk is known
        if kind == "mpf":
            return self._mpf(payload, segment.payload_start + len(mpf.SIGNATURE))
        readers = {
            "jfif": self._jfif, "exif": self._exif, "xmp": self._xmp, "iso": self._iso, "adobe": self._adobe,
            "iptc": self._iptc, "jps": self._jps,
        }  # fmt: skip
        return readers[kind](payload)

    def _jfif(self, payload: bytes) -> tuple[Kind, str]:
        self.model.kept.jfif = jpeg_app.jfif(payload)
        return _kept_if(payload == self.model.kept.jfif, "APP0 JFIF")

    def _adobe(self, payload: bytes) -> tuple[Kind, str]:
        self.model.kept.adobe = jpeg_app.adobe_transform(payload)
        return _kept_if(payload == jpeg_app.adobe(self.model.kept.adobe or 0), "APP14 Adobe")

    def _jps(self, payload: bytes) -> tuple[Kind, str]:
        self.model.kept.jps = jpeg_app.jps(payload)
        return _kept_if(payload == self.model.kept.jps, "APP3 JPS stereo descriptor")

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
        values = read_xmp(payload[len(XMP_SIG) :], **xmp_options(self.policy))
        if not self.primary:  # the file's images and its movie are named by the primary's packet only
            values = replace(values, container=(), motion=())
        self.model.kept.xmp, self.model.xmp_orientation = values, values.orientation
        canonical = build_xmp(values)
        return _kept_if(bool(canonical) and payload == XMP_SIG + canonical, XMP_LABEL)

    def _mpf(self, payload: bytes, header: int) -> tuple[Kind, str]:
        self.model.kept.mpf, self.model.mpf_header = None, None
        try:
            index = mpf.parse(payload)
        except mpf.MpfBudgetError as exc:
            raise Refusal(str(exc)) from None
        except mpf.MpfError:
            return Kind.METADATA, "APP2 MPF index (unreadable)"
        if bool(index.entries) != self.primary:
            return Kind.METADATA, "APP2 MPF index (an index in a secondary image, or none in the primary)"
        self.model.kept.mpf, self.model.mpf_header = index, header
        return _kept_if(payload == mpf.build(index), MPF_LABEL)  # offsets are checked by the caller

    def _iso(self, payload: bytes) -> tuple[Kind, str]:
        body = payload[len(gainmap.SIGNATURE) :]
        if not gainmap.is_exact(body) or gainmap.is_version_only(body) != self.primary:
            return Kind.METADATA, "APP2 ISO 21496-1 gain map (malformed, or not the block this image carries)"
        self.model.kept.iso = body
        if not self.primary:
            self.model.proof.append(b"iso21496" + body)  # the gain map's own parameters decide how it renders
        return Kind.KEPT, ISO_LABEL  # in a primary image: kept only if the gain map is (settled by the caller)

    def _iptc(self, payload: bytes) -> tuple[Kind, str]:
        values = iptc.read_iptc(payload)
        self.model.kept.iptc = values
        canonical = iptc.build_iptc(values)
        return _kept_if(bool(canonical) and payload == canonical, "APP13 IPTC (rights kept by policy)")

    def _resolve_icc(self) -> None:
        """Assemble the ICC chunks; keep them only if they are the canonical chunks of a canonical profile."""
        if not self.icc_segments:
            return
        payloads = [self.payload(self.model.segments[i]) for i in self.icc_segments]
        kept = self._kept_profile(_assemble_icc(payloads))
        canonical = kept is not None and payloads == icc_payloads(kept)
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


def icc_payloads(profile: bytes) -> list[bytes]:
    """The canonical APP2 chunks of ``profile``."""
    parts = [profile[i : i + ICC_CHUNK] for i in range(0, len(profile), ICC_CHUNK)]
    return [ICC_SIG + bytes([n + 1, len(parts)]) + part for n, part in enumerate(parts)]


def _app_name(marker: int, payload: bytes) -> str:
    number = "COM" if marker == 0xFE else f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"0xFF{marker:02X}"
    return next((f"{number} {name}" for sig, name in _APP_NAMES.items() if payload.startswith(sig)), number)


def walk_image(data: Buffer, policy: ScrubPolicy, *, primary: bool = True) -> JpegModel:
    """The byte model of the JPEG image that starts ``data`` and ends at its EOI (``model.image_end``): its spans
    cover ``[0, image_end)``; anything after is the caller's."""
    model = JpegModel(format="JPEG", size=len(data))
    model.segments = walk(data)
    _Walk(data, model, policy, primary=primary).run()
    model.image_end = model.segments[-1].end
    size = frame_size(data, model.segments)
    model.size_px = (size[0], size[1]) if size else None
    return model
