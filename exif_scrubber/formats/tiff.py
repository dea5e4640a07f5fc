"""TIFF and BigTIFF: the byte model of a TIFF file, and its rebuild.

Structure: the header, the image IFDs (pages and the SubIFDs that hold images, not previews: entry count, kept
entries, next pointer, a zero byte of word alignment) and the fields that describe the image, each in the canonical
form :mod:`.tiff_fields` gives it (dimensions, compression, colour, strips and tiles layout, resolution, position,
Orientation, JPEG tables ...). Image data: strips, tiles and old-style JPEG streams, each up to what its pixels
need when uncompressed. Kept items: the ICC profile of each IFD (reduced) and an XMP packet holding only the
Orientation (IFD0). Metadata: every other entry and value (descriptions, page names, make, model, software, dates,
host computer, ink names, EXIF/GPS/IPTC/Photoshop/GeoTIFF, private tags), fields that do not apply to their image
or hold more values than TIFF asks, SubIFDs that are reduced-resolution previews (NewSubfileType bit 0,
SubfileType 2), strip bytes past an uncompressed strip's pixels and every byte no kept entry references.

ExifTool cannot delete private tags or InkNames from a TIFF, so the engine rebuilds the file from the entries
it keeps: image data copied byte for byte, fields written from their canonical values, offsets recomputed. Raw
camera files built on TIFF (a CFA or LinearRaw image, or a DNGVersion tag) are refused as raw.

Budgets (besides those of :mod:`.tiff_ifd`): at most ``BLOCK_BUDGET_BASE + size // BYTES_PER_BLOCK`` strips and
tiles in all, held in compact arrays; kept values may not add up to more than the file (overlapping values).
"""

from __future__ import annotations

import hashlib
import itertools
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel, Kind, claims_to_spans, hash_range
from ..kept import icc as kept_icc
from ..kept import xmp as kept_xmp
from ..kept.icc import IccError, is_canonical_icc, reduce_icc
from ..kept.xmp import XmpValues, build_xmp, read_xmp, xmp_options
from ..policy import ScrubPolicy
from .base import FormatHandler, Refusal, Tags
from .raw import RawCameraFormat
from .tiff_fields import RULES, Field, Image, canonical_field, is_canonical, jpeg_tables, read_values
from .tiff_ifd import (
    Entry,
    Ifd,
    Layout,
    Reader,
    TiffBudgetError,
    TiffStructureError,
    all_ifds,
    read_layout,
    walk_ifds,
)
from .tiff_write import rebuild

ORIENTATION, ICC, XMP, SUB_IFDS, ARTIST, COPYRIGHT = 0x0112, 0x8773, 0x02BC, 0x014A, 0x013B, 0x8298
JPEG_TABLES, JPEG_INTERCHANGE = 0x015B, 0x0201
IMAGE_DATA = {0x0111: 0x0117, 0x0144: 0x0145, 0x0201: 0x0202}
"""Offsets tag -> byte counts tag: StripOffsets, TileOffsets, JPEGInterchangeFormat."""
OJPEG_TABLES = (0x0207, 0x0208, 0x0209)
"""JPEGQTables, JPEGDCTables, JPEGACTables: offsets of the tables of an old-style JPEG image, one per component."""
IMAGE_DATA_TAGS = frozenset(IMAGE_DATA) | frozenset(IMAGE_DATA.values()) | frozenset(OJPEG_TABLES)
_JIF_MARKERS = frozenset({0xC4, 0xDB, 0xDD, *range(0xC0, 0xD0)}) - {0xC8}
"""What an old-style JPEG stream may hold before its first scan: tables, frame headers, a restart interval."""
BLOCK_BUDGET_BASE = 4096
BYTES_PER_BLOCK = 64
"""All IFDs together may hold ``BLOCK_BUDGET_BASE + size // BYTES_PER_BLOCK`` strips and tiles."""
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
    0x0118: "MinSampleValue",
    0x0119: "MaxSampleValue",
    0x011A: "XResolution",
    0x011B: "YResolution",
    0x013E: "WhitePoint",
    0x013F: "PrimaryChromaticities",
    0x0140: "ColorMap",
    0x015B: "JPEGTables",
    0x0117: "StripByteCounts",
}


@dataclass
class TiffModel(ByteModel):
    """A walked TIFF: the byte model plus what the rebuild needs."""

    layout: Layout = field(default_factory=lambda: Layout("<", False))
    pages: list[Ifd] = field(default_factory=list)
    """The IFD0 chain, each IFD with the SubIFD chains it keeps (previews pruned)."""
    fields: dict[int, dict[int, Field]] = field(default_factory=dict)
    """Per IFD (its offset), the fields written from their canonical values."""
    copied: dict[int, set[int]] = field(default_factory=dict)
    """Per IFD (its offset), the kept tags whose value is copied as it is (Artist, Copyright)."""
    blocks: dict[int, list[tuple[int, array[int], array[int]]]] = field(default_factory=dict)
    """Per IFD (its offset): (offsets tag, offsets, byte counts a decoder reads) of its strips, tiles or JPEG
    stream, in compact arrays."""
    icc: dict[int, bytes] = field(default_factory=dict)
    """Per IFD (its offset), the canonical ICC profile."""
    xmp: XmpValues = field(default_factory=XmpValues)

    def proof_hash(self, data: Buffer) -> str:
        """The proof of :class:`ByteModel` and every strip and tile, in walk order, each with its size."""
        digest = hashlib.sha256(super().proof_hash(data).encode())
        view = memoryview(data)
        for ifd in all_ifds(self.pages):
            for tag, starts, sizes in self.blocks.get(ifd.at, []):
                digest.update(tag.to_bytes(2, "big") + len(sizes).to_bytes(8, "big"))
                for start, size in zip(starts, sizes, strict=True):
                    digest.update(size.to_bytes(8, "big"))
                    hash_range(digest, view, start, start + size)
        return digest.hexdigest()

    def exiftool_hash(self, data: Buffer) -> str | None:
        """ExifTool's ``ImageDataHash`` of the file (computed from the IFDs when asked: tests compare it)."""
        if self.layout.big:
            return None
        self.exiftool_ranges = _exiftool_ranges(walk_ifds(Reader(data, self.layout), _first_ifd(data, self.layout)),
                                                Reader(data, self.layout))  # fmt: skip
        return super().exiftool_hash(data)


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
    SUB_IFDS: ("SubIFD",),
    0x0205: ("JPEGLosslessPredictors",), 0x0206: ("JPEGPointTransforms",), 0x0207: ("JPEGQTables",),
    0x0208: ("JPEGDCTables",), 0x0209: ("JPEGACTables",), 0x0211: ("YCbCrCoefficients",),
    0x0212: ("YCbCrSubSampling",), 0x0213: ("YCbCrPositioning",), 0x0214: ("ReferenceBlackWhite",),
    ARTIST: ("Artist",), COPYRIGHT: ("Copyright",),
}  # fmt: skip
"""ExifTool's names for the entries the walker keeps as they are (what one tag is called depends on the IFD: an
IFD1 JPEG stream is a ``ThumbnailImage`` in ExifTool's words, the page of a multi-page TIFF a ``PreviewImage``).
A kept tag without a name here is left for ExifTool to report. ExifTool calls the first SubIFD ``SubIFD``, the
next ``SubIFD1`` ..."""
_IFD_GROUPS = ("IFD#", "SubIFD", "SubIFD#")
STRUCTURE_TAGS: dict[str, Tags] = {"ICC profile": kept_icc.allowlist, "XMP": kept_xmp.allowlist}
"""The kept items of a TIFF, by the label of their value (``IFD0 ICC profile``, ``IFD0 XMP``)."""


def tag_name(tag: int) -> str:
    return _NAMES.get(tag, f"tag 0x{tag:04X}")


def is_preview(ifd: Ifd, reader: Reader) -> bool:
    """A reduced-resolution version of another image: NewSubfileType bit 0, or SubfileType 2."""
    new, old = ifd.entries.get(0x00FE), ifd.entries.get(0x00FF)
    new_value = reader.ints(new)[0] if new is not None and new.type in (3, 4) and new.count else 0
    old_value = reader.ints(old)[0] if old is not None and old.type in (3, 4) and old.count else 0
    return bool(new_value & 1) or old_value == 2


def image_of(ifd: Ifd, reader: Reader) -> Image:
    def first(tag: int, default: int) -> int:
        entry = ifd.entries.get(tag)
        values = read_values(reader, entry) if entry is not None and entry.count else None
        return values[0] if values and isinstance(values[0], int) else default

    bits_entry = ifd.entries.get(0x0102)
    bits = read_values(reader, bits_entry) if bits_entry is not None else None
    return Image(
        bits=tuple(b for b in (bits or [1]) if isinstance(b, int)),
        samples=first(0x0115, 1),
        photometric=first(0x0106, -1),
        compression=first(0x0103, 1),
        sample_format=first(0x0153, 1),
    )


class _Walk:
    """Decides, entry by entry, what each byte of a TIFF is."""

    def __init__(self, data: Buffer, model: TiffModel, reader: Reader, policy: ScrubPolicy) -> None:
        self.data, self.model, self.reader, self.policy = data, model, reader, policy
        self.claimed: list[tuple[int, int, Kind, str]] = []
        """Ranges kept (structure, kept items); image data is added as merged ranges."""
        self.dropped: list[tuple[int, int, str]] = []
        """Ranges of entries and values that are not kept (labelled for the report)."""
        self.blocks_left = BLOCK_BUDGET_BASE + len(data) // BYTES_PER_BLOCK
        self.value_bytes = 0
        """Bytes of kept out-of-line values so far (they cannot add up to more than the file)."""

    def run(self) -> None:
        layout = self.model.layout
        self.claimed.append((0, 16 if layout.big else 8, Kind.STRUCTURE, "TIFF header"))
        self.prune_previews()
        for ifd in all_ifds(self.model.pages):
            self.ifd(ifd)

    def prune_previews(self) -> None:
        """SubIFDs that are reduced-resolution previews are dropped with what is below them; other SubIFDs are
        images of their own and stay."""
        for ifd in list(all_ifds(self.model.pages)):
            chains = []
            for chain in ifd.sub_chains:
                kept = [sub for sub in chain if not is_preview(sub, self.reader)]
                for sub in chain:
                    if sub not in kept:
                        self.dropped.append((sub.at, sub.end, f"{sub.name} (a preview)"))
                if kept:
                    chains.append(kept)
            ifd.sub_chains = chains

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.claimed.append((start, end, kind, label))

    def ifd(self, ifd: Ifd) -> None:
        layout = self.model.layout
        image = image_of(ifd, self.reader)
        self.model.fields[ifd.at], self.model.copied[ifd.at] = {}, set()
        self.claim(ifd.at, ifd.at + layout.count_size, Kind.STRUCTURE, f"{ifd.name} entry count")
        self.claim(ifd.end - layout.inline, ifd.end, Kind.STRUCTURE, f"{ifd.name} next-IFD offset")
        for tag, entry in sorted(ifd.entries.items()):
            label = f"{ifd.name} {tag_name(tag)}"
            kind, reason = self.entry_kind(ifd, entry, image)
            if kind is None:
                self.drop(entry, f"{label} ({reason})" if reason else label)
                continue
            if kind is Kind.METADATA:  # kept, written in canonical form
                self.drop(entry, f"{label} ({reason})")
                continue
            self.claim(entry.at, entry.at + layout.entry_size, Kind.STRUCTURE, f"{ifd.name} entry")
            if entry.out_of_line(layout):
                self.value_bytes += entry.size
                if self.value_bytes > len(self.data):
                    raise TiffStructureError("the kept values of the IFDs overlap")
                self.claim(entry.value_at, entry.value_at + entry.size, kind, label)
        self.image_data(ifd, image)

    def drop(self, entry: Entry, label: str) -> None:
        layout = self.model.layout
        self.dropped.append((entry.at, entry.at + layout.entry_size, label))
        if entry.out_of_line(layout):
            self.dropped.append((entry.value_at, entry.value_at + entry.size, label))

    def entry_kind(self, ifd: Ifd, entry: Entry, image: Image) -> tuple[Kind | None, str]:
        """STRUCTURE or KEPT when the entry is kept as it is; METADATA when it is kept but written in canonical
        form (with the reason); None when it is dropped (with the reason, if any)."""
        tag = entry.tag
        if tag in IMAGE_DATA_TAGS or tag == SUB_IFDS:
            return Kind.STRUCTURE, ""
        if tag in RULES:
            return self.field(ifd, entry, image)
        if tag == JPEG_TABLES:
            return self.tables(ifd, entry, image)
        if tag == ICC and not self.policy.strip_icc:
            return self.icc(ifd, entry), "not in canonical form"
        if tag == XMP and ifd.name == "IFD0":
            return self.xmp(entry), "not in canonical form"
        if tag in (ARTIST, COPYRIGHT) and self.policy.keep_copyright and entry.type == 2:
            self.model.copied[ifd.at].add(tag)
            return Kind.KEPT, ""
        return None, ""

    def field(self, ifd: Ifd, entry: Entry, image: Image) -> tuple[Kind | None, str]:
        rule = RULES[entry.tag]
        result = canonical_field(rule, entry, self.reader, image)
        if isinstance(result, str):
            return None, result
        self.model.fields[ifd.at][entry.tag] = result
        self.model.proof.append(_proof_of(entry.tag, result))
        if is_canonical(entry, self.reader, result):
            return Kind.STRUCTURE, ""
        return Kind.METADATA, "not in the type and count TIFF asks"

    def tables(self, ifd: Ifd, entry: Entry, image: Image) -> tuple[Kind | None, str]:
        if image.compression != 7:
            return None, "without JPEG compression"
        canonical = jpeg_tables(self.reader.value(entry))
        result = Field(7, len(canonical), canonical)
        self.model.fields[ifd.at][entry.tag] = result
        self.model.proof.append(_proof_of(entry.tag, result))
        if is_canonical(entry, self.reader, result):
            return Kind.STRUCTURE, ""
        return Kind.METADATA, "segments other than tables"

    def icc(self, ifd: Ifd, entry: Entry) -> Kind | None:
        profile = self.reader.value(entry)
        try:
            reduced = profile if is_canonical_icc(profile) else reduce_icc(profile)
        except IccError as exc:
            if len(profile) >= 128 and profile[36:40] == b"acsp":
                raise Refusal(f"the colour profile cannot be reduced safely: {exc}") from None
            return None
        self.model.icc[ifd.at] = reduced
        return Kind.KEPT if reduced == profile else Kind.METADATA

    def xmp(self, entry: Entry) -> Kind | None:
        packet = self.reader.value(entry)
        self.model.xmp = read_xmp(packet, **xmp_options(self.policy))
        self.model.xmp_orientation = self.model.xmp.orientation
        canonical = build_xmp(self.model.xmp)
        if not canonical:
            return None
        return Kind.KEPT if packet == canonical else Kind.METADATA

    def image_data(self, ifd: Ifd, image: Image) -> None:
        blocks = self.model.blocks.setdefault(ifd.at, [])
        for offsets_tag, counts_tag in IMAGE_DATA.items():
            offsets, counts = ifd.entries.get(offsets_tag), ifd.entries.get(counts_tag)
            if offsets is None and counts is None:
                continue
            if offsets is None or counts is None:
                raise TiffStructureError(f"{ifd.name} has image data offsets without byte counts")
            starts, sizes = self.image_blocks(ifd, image, offsets, counts)
            blocks.append((offsets_tag, starts, sizes))
            for start, end in _merged(starts, sizes):
                self.claim(start, end, Kind.IMAGE, f"{ifd.name} image data")
        if image.compression == 6:
            self.ojpeg_tables(ifd, blocks)

    def image_blocks(self, ifd: Ifd, image: Image, offsets: Entry, counts: Entry) -> tuple[array[int], array[int]]:
        """The offsets and the sizes a decoder reads of one IFD's strips, tiles or JPEG stream (an uncompressed
        strip up to its pixels, a JPEG stream up to EOI)."""
        if offsets.count != counts.count:
            raise TiffStructureError(f"{ifd.name}: image data offsets and byte counts differ in number")
        self.blocks_left -= offsets.count
        if self.blocks_left < 0:
            budget = BLOCK_BUDGET_BASE + len(self.data) // BYTES_PER_BLOCK
            raise TiffBudgetError(f"too many strips and tiles for the file's size (over {budget})")
        starts, sizes = self.reader.array(offsets), self.reader.array(counts)
        if any(start + size > self.model.size for start, size in zip(starts, sizes, strict=True)):
            raise TiffStructureError(f"{ifd.name}: image data lies past the end of the file")
        if offsets.tag == JPEG_INTERCHANGE:
            return starts, self.jpeg_stream(ifd, starts, sizes)
        needed = _needed_sizes(ifd, image, self.reader, offsets.tag, len(sizes))
        if needed is None:
            return starts, sizes
        cut = array("Q", (min(size, need) for size, need in zip(sizes, needed, strict=True)))
        tails = ((s + n, s + m) for s, n, m in zip(starts, cut, sizes, strict=True) if m > n)
        self.dropped += [(a, b, f"{ifd.name} strip bytes past the pixels") for a, b in itertools.islice(tails, 16)]
        return starts, cut

    def jpeg_stream(self, ifd: Ifd, starts: array[int], sizes: array[int]) -> array[int]:
        """An old-style JPEG stream holds tables, frame headers and scans up to EOI: an APPn or COM segment in it
        (a thumbnail, EXIF, text) cannot be removed without moving the strips that point into it, so the file is
        refused; bytes after EOI are not read and are dropped."""
        if len(starts) != 1 or not sizes[0]:
            return sizes
        stream = bytes(self.data[starts[0] : starts[0] + sizes[0]])
        pos = 2 if stream[:2] == b"\xff\xd8" else 0
        while pos and pos + 4 <= len(stream) and stream[pos] == 0xFF and stream[pos + 1] != 0xDA:
            marker = stream[pos + 1]
            jfif = marker == 0xE0 and stream[pos + 4 : pos + 9] == b"JFIF\0" and stream[pos + 2 : pos + 4] == b"\0\x10"
            adobe = marker == 0xEE and stream[pos + 4 : pos + 10] == b"Adobe\0"
            if marker not in _JIF_MARKERS and not jfif and not adobe:
                raise Refusal(
                    f"{ifd.name}: an old-style JPEG stream with a segment 0x{marker:02X} inside, not supported"
                )
            pos += 2 + int.from_bytes(stream[pos + 2 : pos + 4], "big")
        end = stream.find(b"\xff\xd9", pos)
        if not pos or end < 0 or end + 2 == len(stream):
            return sizes
        self.dropped.append((starts[0] + end + 2, starts[0] + sizes[0], f"{ifd.name} bytes after the JPEG's EOI"))
        return array("Q", [end + 2])

    def ojpeg_tables(self, ifd: Ifd, blocks: list[tuple[int, array[int], array[int]]]) -> None:
        """The quantisation (64 bytes) and Huffman tables (16 counts, then as many values) an old-style JPEG image
        points to: kept and moved like image data."""
        for tag in OJPEG_TABLES:
            entry = ifd.entries.get(tag)
            if entry is None:
                continue
            starts = self.reader.array(entry)
            sizes = array("Q")
            for start in starts:
                counts = bytes(self.data[start : start + 16]) if tag != 0x0207 else b""
                if tag != 0x0207 and len(counts) < 16:
                    raise TiffStructureError(f"{ifd.name}: an old-style JPEG table lies past the end of the file")
                sizes.append(64 if tag == 0x0207 else 16 + sum(counts))
            if any(start + size > self.model.size for start, size in zip(starts, sizes, strict=True)):
                raise TiffStructureError(f"{ifd.name}: an old-style JPEG table lies past the end of the file")
            blocks.append((tag, starts, sizes))
            for start, end in _merged(starts, sizes):
                self.claim(start, end, Kind.STRUCTURE, f"{ifd.name} old-style JPEG tables")


def _proof_of(tag: int, value: Field) -> bytes:
    return tag.to_bytes(2, "big") + value.type.to_bytes(2, "big") + value.count.to_bytes(8, "big") + value.data


def _merged(starts: array[int], sizes: array[int]) -> list[tuple[int, int]]:
    """The union of the ranges ``[start, start + size)``, in order (sorted by start only when they are not)."""
    pairs: Iterable[tuple[int, int]] = zip(starts, sizes, strict=True)
    if any(a > b for a, b in itertools.pairwise(starts)):
        pairs = sorted(zip(starts, sizes, strict=True))
    merged: list[tuple[int, int]] = []
    for start, size in pairs:
        if not size:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], start + size))
        else:
            merged.append((start, start + size))
    return merged


def _needed_sizes(ifd: Ifd, image: Image, reader: Reader, offsets_tag: int, blocks: int) -> list[int] | None:
    """How many bytes each uncompressed strip or tile of ``ifd`` holds, or None when that is not known without
    decoding (compressed data, subsampled YCbCr, an old-style JPEG stream)."""
    if offsets_tag == JPEG_INTERCHANGE or image.compression != 1 or image.photometric == 6:
        return None
    width, height = _first_int(ifd, reader, 0x0100), _first_int(ifd, reader, 0x0101)
    planar = _first_int(ifd, reader, 0x011C) or 1
    bits = image.bits if len(image.bits) == image.samples else image.bits[:1] * image.samples
    if not width or not height or not bits:
        return None
    sample_bits = [sum(bits)] if planar == 1 else list(bits)
    if offsets_tag == 0x0144:
        tile_width, tile_height = _first_int(ifd, reader, 0x0142), _first_int(ifd, reader, 0x0143)
        if not tile_width or not tile_height:
            return None
        per_plane = blocks // len(sample_bits) if blocks % len(sample_bits) == 0 else 0
        if not per_plane:
            return None
        return [((tile_width * b + 7) // 8) * tile_height for b in sample_bits for _ in range(per_plane)]
    rows = _first_int(ifd, reader, 0x0116) or height
    rows = min(rows, height)
    per_plane = -(-height // rows)
    if per_plane * len(sample_bits) != blocks:
        return None
    return [((width * b + 7) // 8) * min(rows, height - i * rows) for b in sample_bits for i in range(per_plane)]


def _first_int(ifd: Ifd, reader: Reader, tag: int) -> int:
    entry = ifd.entries.get(tag)
    values = read_values(reader, entry) if entry is not None and entry.count else None
    return values[0] if values and isinstance(values[0], int) else 0


def _first_ifd(data: Buffer, layout: Layout) -> int:
    return read_layout(data)[1]


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
        """The names of every entry kept, in any IFD, and the kept ICC profiles and XMP."""
        assert isinstance(model, TiffModel)
        kept = {tag for fields in model.fields.values() for tag in fields}
        kept |= {tag for tags in model.copied.values() for tag in tags}
        for ifd in all_ifds(model.pages):
            kept |= set(ifd.entries) & (IMAGE_DATA_TAGS | {SUB_IFDS})
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
        walk = _Walk(data, model, reader, policy)
        walk.run()
        orientation = model.fields[model.pages[0].at].get(ORIENTATION)
        if orientation is not None:
            value = int.from_bytes(orientation.data, "little" if layout.order == "<" else "big")
            model.orientation = value if 1 <= value <= 8 else None
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
