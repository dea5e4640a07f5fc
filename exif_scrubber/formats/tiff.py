"""TIFF and BigTIFF: the byte model of a TIFF file, and its rebuild.

Structure: the header, the image IFDs (pages and SubIFDs: entry count, kept entries, next pointer, a zero
byte of word alignment) and the values of the tags that describe the image (dimensions, compression, colour,
strips and tiles layout, Orientation, JPEG tables ...). Image data: strips, tiles and old-style JPEG streams.
Kept items: the ICC profile of each IFD (reduced) and an XMP packet holding only the Orientation (IFD0).
Metadata: every other entry and value (descriptions, make, model, software, dates, host computer, ink names,
EXIF/GPS/IPTC/Photoshop/GeoTIFF, private tags) and every byte no kept entry references.

ExifTool cannot delete private tags or InkNames from a TIFF, so the engine rebuilds the file from the entries
it keeps: image data and values are copied byte for byte, offsets are recomputed. Raw camera files built on
TIFF (a CFA or LinearRaw image, or a DNGVersion tag) are refused as raw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, claims_to_spans
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags
from .raw import RawCameraFormat
from .tiff_ifd import Entry, Ifd, Layout, Reader, TiffStructureError, all_ifds, read_layout, walk_ifds
from .tiff_write import rebuild

ORIENTATION, ICC, XMP, SUB_IFDS, ARTIST, COPYRIGHT = 0x0112, 0x8773, 0x02BC, 0x014A, 0x013B, 0x8298
IMAGE_DATA = {0x0111: 0x0117, 0x0144: 0x0145, 0x0201: 0x0202}
"""Offsets tag -> byte counts tag: StripOffsets, TileOffsets, JPEGInterchangeFormat."""
DECODING = frozenset(
    {
        0x00FE,
        0x00FF,
        0x0100,
        0x0101,
        0x0102,
        0x0103,
        0x0106,
        0x0107,
        0x0108,
        0x0109,
        0x010A,
        0x0115,
        0x0116,
        0x0117,
        0x0118,
        0x0119,
        0x011A,
        0x011B,
        0x011C,
        0x011D,
        0x011E,
        0x0122,
        0x0123,
        0x0124,
        0x0125,
        0x0128,
        0x0129,
        0x012D,
        0x013D,
        0x013E,
        0x013F,
        0x0140,
        0x0141,
        0x0142,
        0x0143,
        0x0145,
        0x014C,
        0x014E,
        0x0150,
        0x0152,
        0x0153,
        0x0154,
        0x0155,
        0x0156,
        0x015B,
        0x0200,
        0x0202,
        0x0203,
        0x0205,
        0x0206,
        0x0207,
        0x0208,
        0x0209,
        0x0211,
        0x0212,
        0x0213,
        0x0214,
    }
)
"""Tags whose values decide the pixels or their geometry (hashed for the proof, kept byte for byte)."""
KEPT_STRUCTURE = DECODING | set(IMAGE_DATA) | {ORIENTATION, SUB_IFDS}
_RAW_PHOTOMETRIC = frozenset({32803, 34892})
_DNG_VERSION = 0xC612
_NAMES = {
    0x010D: "DocumentName",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x011D: "PageName",
    0x0131: "Software",
    0x0132: "DateTime",
    0x013B: "Artist",
    0x013C: "HostComputer",
    0x014D: "InkNames",
    0x8298: "Copyright",
    0x83BB: "IPTC",
    0x8649: "Photoshop",
    0x8769: "EXIF IFD",
    0x8825: "GPS IFD",
    0x02BC: "XMP",
    0x8773: "ICC profile",
    0x935C: "Photoshop layers",
    0x87AF: "GeoTIFF keys",
    0x830E: "GeoTIFF pixel scale",
    0x8482: "GeoTIFF tie points",
    0x85D8: "GeoTIFF transform",
    0xC612: "DNG version",
    0xC634: "DNG private data",
    0x927C: "maker notes",
}


@dataclass
class TiffModel(ByteModel):
    """A walked TIFF: the byte model plus what the rebuild needs."""

    layout: Layout = field(default_factory=lambda: Layout("<", False))
    pages: list[Ifd] = field(default_factory=list)
    kept_tags: dict[int, set[int]] = field(default_factory=dict)
    """Per IFD (its offset), the tags written as they are."""
    icc: dict[int, bytes] = field(default_factory=dict)
    """Per IFD (its offset), the canonical ICC profile."""
    xmp: XmpValues = field(default_factory=XmpValues)


_EXIFTOOL_NAMES: dict[int, tuple[str, ...]] = {
    0x00FE: ("SubfileType",), 0x00FF: ("OldSubfileType",), 0x0100: ("ImageWidth",), 0x0101: ("ImageHeight",),
    0x0102: ("BitsPerSample",), 0x0103: ("Compression",), 0x0106: ("PhotometricInterpretation",),
    0x0107: ("Thresholding",), 0x0108: ("CellWidth",), 0x0109: ("CellLength",), 0x010A: ("FillOrder",),
    0x0111: ("StripOffsets", "PreviewImageStart", "OtherImageStart", "PreviewImage", "OtherImage"),
    0x0112: ("Orientation",), 0x0115: ("SamplesPerPixel",), 0x0116: ("RowsPerStrip",),
    0x0117: ("StripByteCounts", "PreviewImageLength", "OtherImageLength"), 0x0118: ("MinSampleValue",),
    0x0119: ("MaxSampleValue",), 0x011A: ("XResolution",), 0x011B: ("YResolution",),
    0x011C: ("PlanarConfiguration",), 0x011E: ("XPosition",), 0x011F: ("YPosition",),
    0x0122: ("GrayResponseUnit",), 0x0123: ("GrayResponseCurve",), 0x0124: ("T4Options",), 0x0125: ("T6Options",),
    0x0128: ("ResolutionUnit",), 0x0129: ("PageNumber",), 0x012D: ("TransferFunction",), 0x013D: ("Predictor",),
    0x013E: ("WhitePoint",), 0x013F: ("PrimaryChromaticities",), 0x0140: ("ColorMap",),
    0x0141: ("HalftoneHints",), 0x0142: ("TileWidth",), 0x0143: ("TileLength",), 0x0144: ("TileOffsets",),
    0x0145: ("TileByteCounts",), 0x014C: ("InkSet",), 0x014E: ("NumberofInks",), 0x0150: ("DotRange",),
    0x0152: ("ExtraSamples",), 0x0153: ("SampleFormat",), 0x0154: ("SMinSampleValue",),
    0x0155: ("SMaxSampleValue",), 0x0156: ("TransferRange",), 0x015B: ("JPEGTables",), 0x0200: ("JPEGProc",),
    0x0201: ("ThumbnailOffset", "PreviewImageStart", "OtherImageStart", "ThumbnailImage", "PreviewImage",
             "OtherImage"),
    0x0202: ("ThumbnailLength", "PreviewImageLength", "OtherImageLength"), 0x0203: ("JPEGRestartInterval",),
    0x0205: ("JPEGLosslessPredictors",), 0x0206: ("JPEGPointTransforms",), 0x0207: ("JPEGQTables",),
    0x0208: ("JPEGDCTables",), 0x0209: ("JPEGACTables",), 0x0211: ("YCbCrCoefficients",),
    0x0212: ("YCbCrSubSampling",), 0x0213: ("YCbCrPositioning",), 0x0214: ("ReferenceBlackWhite",),
    ARTIST: ("Artist",), COPYRIGHT: ("Copyright",),
}  # fmt: skip
"""ExifTool's names for the entries the walker keeps as they are (what one tag is called depends on the IFD: an
IFD1 JPEG stream is a ``ThumbnailImage`` in ExifTool's words, the page of a multi-page TIFF a ``PreviewImage``).
A kept tag without a name here (``PageName``, free text) is left for ExifTool to report."""
_IFD_GROUPS = ("IFD#", "SubIFD#")
STRUCTURE_TAGS: dict[str, Tags] = {"ICC profile": kept_icc.allowlist, "XMP": kept_xmp.allowlist}
"""The kept items of a TIFF, by the label of their value (``IFD0 ICC profile``, ``IFD0 XMP``)."""


def tag_name(tag: int) -> str:
    return _NAMES.get(tag, f"tag 0x{tag:04X}")


class _Walk:
    """Decides, entry by entry, what each byte of a TIFF is."""

    def __init__(self, data: Buffer, model: TiffModel, reader: Reader, policy: ScrubPolicy) -> None:
        self.data, self.model, self.reader, self.policy = data, model, reader, policy
        self.claimed: list[tuple[int, int, Kind, str]] = []
        """Ranges kept (structure, image data, kept items)."""
        self.dropped: list[tuple[int, int, str]] = []
        """Ranges of entries and values that are not kept (labelled for the report)."""

    def run(self) -> None:
        layout = self.model.layout
        self.claimed.append((0, 16 if layout.big else 8, Kind.STRUCTURE, "TIFF header"))
        for ifd in all_ifds(self.model.pages):
            self.ifd(ifd)

    def ifd(self, ifd: Ifd) -> None:
        layout = self.model.layout
        kept: set[int] = set()
        self.claimed.append((ifd.at, ifd.at + layout.count_size, Kind.STRUCTURE, f"{ifd.name} entry count"))
        self.claimed.append((ifd.end - layout.inline, ifd.end, Kind.STRUCTURE, f"{ifd.name} next-IFD offset"))
        for tag, entry in sorted(ifd.entries.items()):
            kind = self.entry_kind(ifd, entry)
            label = f"{ifd.name} {tag_name(tag)}"
            entry_end = entry.at + layout.entry_size
            if kind is Kind.METADATA:
                self.dropped.append((entry.at, entry_end, label))
                if entry.out_of_line(layout):
                    self.dropped.append((entry.value_at, entry.value_at + entry.size, label))
                continue
            kept.add(tag)
            self.claimed.append((entry.at, entry_end, Kind.STRUCTURE, f"{ifd.name} entry"))
            if entry.out_of_line(layout):
                self.claimed.append((entry.value_at, entry.value_at + entry.size, kind, label))
            if tag in DECODING:
                self.model.proof.append(entry.tag.to_bytes(2, "big") + self.reader.value(entry))
        self.model.kept_tags[ifd.at] = kept
        self.image_data(ifd)

    def entry_kind(self, ifd: Ifd, entry: Entry) -> Kind:
        tag = entry.tag
        if tag in KEPT_STRUCTURE:
            return Kind.STRUCTURE
        if tag == ICC and not self.policy.strip_icc:
            return self.icc(ifd, entry)
        if tag == XMP and ifd.name == "IFD0":
            return self.xmp(entry)
        if tag in (ARTIST, COPYRIGHT) and self.policy.keep_copyright and entry.type == 2:
            return Kind.KEPT
        return Kind.METADATA

    def icc(self, ifd: Ifd, entry: Entry) -> Kind:
        profile = self.reader.value(entry)
        try:
            reduced = profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if len(profile) >= 128 and profile[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return Kind.METADATA
        self.model.icc[ifd.at] = reduced
        return Kind.KEPT if reduced == profile else Kind.METADATA

    def xmp(self, entry: Entry) -> Kind:
        packet = self.reader.value(entry)
        self.model.xmp = read_xmp(packet, keep_copyright=self.policy.keep_copyright)
        self.model.xmp_orientation = self.model.xmp.orientation
        canonical = build_xmp(self.model.xmp)
        return Kind.KEPT if canonical and packet == canonical else Kind.METADATA

    def image_data(self, ifd: Ifd) -> None:
        for offsets_tag, counts_tag in IMAGE_DATA.items():
            offsets, counts = ifd.entries.get(offsets_tag), ifd.entries.get(counts_tag)
            if offsets is None and counts is None:
                continue
            if offsets is None or counts is None:
                raise TiffStructureError(f"{ifd.name} has image data offsets without byte counts")
            starts, sizes = self.reader.ints(offsets), self.reader.ints(counts)
            if len(starts) != len(sizes):
                raise TiffStructureError(f"{ifd.name}: image data offsets and byte counts differ in number")
            for start, size in zip(starts, sizes, strict=True):
                if start + size > self.model.size:
                    raise TiffStructureError(f"{ifd.name}: image data lies past the end of the file")
                self.claimed.append((start, start + size, Kind.IMAGE, f"{ifd.name} image data"))
                self.model.proof.append((start, start + size))


class TiffHandler(FormatHandler):
    """Classic TIFF and BigTIFF, single and multi-page."""

    name = "TIFF"
    mime_type = "image/tiff"
    extension = "tif"
    mime_types = frozenset({"image/tiff", "image/x-tiff-big"})
    pillow_formats = frozenset({"TIFF"})
    leftover_group: ClassVar[str] = "TIFF"
    structure_tags = STRUCTURE_TAGS

    def sources(self, model: ByteModel) -> set[str]:
        return {span.label.partition(" ")[2] for span in model.spans if span.kind is Kind.KEPT}

    def allowlist(self, model: ByteModel, policy: ScrubPolicy) -> Allowlist:
        """The names of every entry kept as it is, in any IFD, and the kept ICC profiles and XMP."""
        assert isinstance(model, TiffModel)
        kept = {tag for tags in model.kept_tags.values() for tag in tags}
        names = [name for tag in sorted(kept) for name in _EXIFTOOL_NAMES.get(tag, ())]
        return Allowlist.union(Allowlist.of(group, names) for group in _IFD_GROUPS) | super().allowlist(model, policy)

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")

    def walk(self, data: Buffer, policy: ScrubPolicy, *, verify: bool = True) -> TiffModel:
        layout, first = read_layout(data)
        reader = Reader(data, layout)
        model = TiffModel(format=self.name, size=len(data), layout=layout, pages=walk_ifds(reader, first))
        _refuse_raw(model, reader)
        model.frames = len(model.pages)
        orientation = model.pages[0].entries.get(ORIENTATION)
        if orientation is not None and orientation.type == 3 and orientation.count == 1:
            value = reader.ints(orientation)[0]
            model.orientation = value if 1 <= value <= 8 else None
        walk = _Walk(data, model, reader, policy)
        walk.run()
        model.exiftool_ranges = [] if layout.big else _exiftool_ranges(model.pages, reader)
        claims_to_spans(
            model, walk.claimed, data, gap_label="bytes no image structure references", dropped=walk.dropped
        )
        return model.close()  # type: ignore[return-value]

    def rewrite(self, model: ByteModel, data: Buffer, policy: ScrubPolicy) -> bytes:
        assert isinstance(model, TiffModel)
        return rebuild(model, data, policy)


def _exiftool_ranges(ifds: list[Ifd], reader: Reader) -> list[tuple[int, int]]:
    """What ExifTool's ImageDataHash covers (13.59, ``ProcessExif``/``AddImageDataHash``): each IFD's SubIFDs
    first, then its offset/count pairs in the string order of their decimal tag IDs (273, 324, 513), except
    the strips of a JPEG-compressed IFD whose NewSubfileType is not 0 and the JPEG stream of IFD1."""
    ranges: list[tuple[int, int]] = []
    for ifd in ifds:
        for chain in ifd.sub_chains:
            ranges += _exiftool_ranges(chain, reader)
        compression = _short(reader, ifd.entries.get(0x0103))
        subfile = _short(reader, ifd.entries.get(0x00FE))
        for offsets_tag in sorted(IMAGE_DATA, key=str):
            if (offsets_tag == 0x0111 and compression == 7 and subfile != 0) or (
                offsets_tag == 0x0201 and ifd.name == "IFD1"
            ):
                continue
            offsets, counts = ifd.entries.get(offsets_tag), ifd.entries.get(IMAGE_DATA[offsets_tag])
            if offsets is not None and counts is not None:
                pairs = zip(reader.ints(offsets), reader.ints(counts), strict=False)
                ranges += [(start, start + size) for start, size in pairs if size > 0]
    return ranges


def _short(reader: Reader, entry: Entry | None) -> int | None:
    return reader.ints(entry)[0] if entry is not None and entry.type in (3, 4) and entry.count else None


def _refuse_raw(model: TiffModel, reader: Reader) -> None:
    if _DNG_VERSION in model.pages[0].entries:
        raise RawCameraFormat("raw camera format (DNG), not supported")
    for ifd in all_ifds(model.pages):
        photometric = ifd.entries.get(0x0106)
        if photometric is not None and photometric.type == 3 and reader.ints(photometric)[0] in _RAW_PHOTOMETRIC:
            raise RawCameraFormat("raw camera format (a TIFF-based raw: CFA or linear raw data), not supported")
