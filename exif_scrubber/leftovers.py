"""The one definition of a "leftover": a tag that is neither structure nor kept on purpose.

The engine runs this on every output before accepting it, and the audit CLI runs the same
function on every object it scans. Tags come from ExifTool ``-j -G3:1 -a -u -ee -n``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .kept.exif import CONTENT_IDENTIFIER
from .policy import ScrubPolicy

IGNORED_GROUPS = frozenset({"File", "System", "ExifTool", "Composite", "SourceFile"})
"""Groups that describe the file or ExifTool's own view, not metadata stored in the file."""

ZERO_DATE = "0000:00:00 00:00:00"

_TIFF_STRUCTURE = frozenset(
    {
        "SubfileType",
        "OldSubfileType",
        "ImageWidth",
        "ImageHeight",
        "BitsPerSample",
        "Compression",
        "PhotometricInterpretation",
        "Thresholding",
        "CellWidth",
        "CellLength",
        "FillOrder",
        "StripOffsets",
        "Orientation",
        "SamplesPerPixel",
        "RowsPerStrip",
        "StripByteCounts",
        "MinSampleValue",
        "MaxSampleValue",
        "XResolution",
        "YResolution",
        "PlanarConfiguration",
        "GrayResponseUnit",
        "GrayResponseCurve",
        "T4Options",
        "T6Options",
        "ResolutionUnit",
        "PageNumber",
        "TransferFunction",
        "WhitePoint",
        "PrimaryChromaticities",
        "ColorMap",
        "HalftoneHints",
        "TileWidth",
        "TileLength",
        "TileOffsets",
        "TileByteCounts",
        "InkSet",
        "InkNames",
        "NumberofInks",
        "DotRange",
        "ExtraSamples",
        "SampleFormat",
        "SMinSampleValue",
        "SMaxSampleValue",
        "TransferRange",
        "JPEGTables",
        "JPEGProc",
        "YCbCrCoefficients",
        "YCbCrSubSampling",
        "YCbCrPositioning",
        "ReferenceBlackWhite",
        "Predictor",
        "ICC_Profile",
        # JPEG-compressed pages of a multi-page TIFF are named like previews by ExifTool; in a
        # TIFF they are image data of the page itself, not an embedded thumbnail.
        "PreviewImageStart",
        "PreviewImageLength",
        "PreviewImage",
        "ThumbnailOffset",
        "ThumbnailLength",
    }
)
_EXIF_IFD0_KEPT = frozenset({"Orientation", "XResolution", "YResolution", "ResolutionUnit", "YCbCrPositioning"})
_EXIF_COLOUR = frozenset(
    {
        "ColorSpace",
        "Gamma",
        "ExifVersion",
        "FlashpixVersion",
        "ComponentsConfiguration",
        "ExifImageWidth",
        "ExifImageHeight",
    }
)
_STRUCTURE: dict[str, frozenset[str]] = {
    "Adobe": frozenset({"APP14Flags0", "APP14Flags1", "ColorTransform", "DCTEncodeVersion"}),
    "JFIF": frozenset({"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}),
    "InteropIFD": frozenset({"InteropIndex", "InteropVersion"}),
    "ExifIFD": _EXIF_COLOUR,
    "GIF": frozenset(
        {
            "AnimationIterations",
            "BackgroundColor",
            "BitsPerPixel",
            "ColorResolutionDepth",
            "Duration",
            "FrameCount",
            "GIFVersion",
            "HasColorMap",
            "ImageHeight",
            "ImageWidth",
            "PixelAspectRatio",
            "TransparentColor",
            "Interlaced",
        }
    ),
    "PNG": frozenset(
        {
            "ImageWidth",
            "ImageHeight",
            "BitDepth",
            "ColorType",
            "Compression",
            "Filter",
            "Interlace",
            "Palette",
            "Transparency",
            "Gamma",
            "WhitePointX",
            "WhitePointY",
            "RedX",
            "RedY",
            "GreenX",
            "GreenY",
            "BlueX",
            "BlueY",
            "SRGBRendering",
            "BackgroundColor",
            "SignificantBits",
            "ProfileName",
            "ICC_Profile",
            "AnimationFrames",
            "AnimationPlays",
            "ColorPrimaries",
            "TransferCharacteristics",
            "MatrixCoefficients",
            "VideoFullRangeFlag",
            "HistogramFrequencies",
            "MasteringDisplayPrimaries",
            "MasteringDisplayWhitePoint",
            "MasteringDisplayMaxLuminance",
            "MasteringDisplayMinLuminance",
            "MaxContentLightLevel",
            "MaxFrameAverageLightLevel",
        }
    ),
    "PNG-pHYs": frozenset({"PixelUnits", "PixelsPerUnitX", "PixelsPerUnitY"}),
    "RIFF": frozenset(
        {
            "AlphaCompression",
            "AlphaFiltering",
            "AlphaPreprocessing",
            "AlphaIsUsed",
            "AnimationLoopCount",
            "BackgroundColor",
            "Duration",
            "HorizontalScale",
            "ImageHeight",
            "ImageWidth",
            "VP8Version",
            "VerticalScale",
            "WebP_Flags",
            "FrameCount",
        }
    ),
    "QuickTime": frozenset(
        {
            "AV1ConfigurationVersion",
            "AuxiliaryImageType",
            "AverageFrameRate",
            "BitDepthChroma",
            "BitDepthLuma",
            "ChromaFormat",
            "ChromaSamplePosition",
            "CleanAperture",
            "ColorPrimaries",
            "ColorProfiles",
            "CompatibleBrands",
            "ConstantFrameRate",
            "ConstraintIndicatorFlags",
            "CurrentTime",
            "Duration",
            "GenProfileCompatibilityFlags",
            "GeneralLevelIDC",
            "GeneralProfileIDC",
            "GeneralProfileSpace",
            "GeneralTierFlag",
            "HEVCConfigurationVersion",
            "HandlerDescription",
            "HandlerType",
            "ImagePixelDepth",
            "ImageSpatialExtent",
            "MajorBrand",
            "MatrixCoefficients",
            "MatrixStructure",
            "MediaDataOffset",
            "MediaDataSize",
            "MinSpatialSegmentationIDC",
            "MinorVersion",
            "MovieHeaderVersion",
            "NextTrackID",
            "NumTemporalLayers",
            "ParallelismType",
            "PixelAspectRatio",
            "PosterTime",
            "PreferredRate",
            "PreferredVolume",
            "PreviewDuration",
            "PreviewTime",
            "Rotation",
            "Mirroring",
            "SelectionDuration",
            "SelectionTime",
            "TemporalIDNested",
            "TimeScale",
            "TransferCharacteristics",
            "VideoFullRangeFlag",
            "SeqProfile",
            "SeqLevelIdx0",
            "SeqTier0",
            "HighBitDepth",
            "TwelveBit",
            "ChromaSubsampling",
            "InitialPresentationDelay",
            "ContentLightLevel",
            "MasteringDisplayColorVolume",
            "CreateDate",
            "ModifyDate",
        }
    ),
    "Track": frozenset(
        {
            "GraphicsMode",
            "HandlerDescription",
            "HandlerType",
            "ImageHeight",
            "ImageWidth",
            "MatrixStructure",
            "MediaDuration",
            "MediaHeaderVersion",
            "MediaLanguageCode",
            "MediaTimeScale",
            "OpColor",
            "OtherFormat",
            "TrackDuration",
            "TrackHeaderVersion",
            "TrackID",
            "TrackLayer",
            "TrackVolume",
            "CompressorID",
            "SourceImageWidth",
            "SourceImageHeight",
            "XResolution",
            "YResolution",
            "BitDepth",
            "VideoFrameRate",
            "CompressorName",
            "PixelAspectRatio",
            "CleanAperture",
            "ColorProfiles",
            "ColorPrimaries",
            "TransferCharacteristics",
            "MatrixCoefficients",
            "VideoFullRangeFlag",
            "AV1ConfigurationVersion",
            "ChromaFormat",
            "ChromaSamplePosition",
            "ImagePixelDepth",
            "AuxiliaryImageType",
            "TimeToSampleTable",
            "SampleSizes",
            "SampleToChunk",
            "ChunkOffset",
            "TrackCreateDate",
            "TrackModifyDate",
            "MediaCreateDate",
            "MediaModifyDate",
            # movies (MP4/MOV): what ExifTool reads of the sample descriptions and sample tables the byte model
            # accounts for field by field
            "HandlerClass",
            "AVCConfiguration",
            "HEVCConfiguration",
            "Balance",
            "AudioFormat",
            "AudioChannels",
            "AudioBitsPerSample",
            "AudioSampleRate",
            "PurchaseFileFormat",
            "LayoutFlags",
            "SampleGroupDescription",
            "SampleToGroup",
            "BufferSize",
            "MaxBitrate",
            "AverageBitrate",
            "CompositionTimeToSample",
        }
    ),
    "Meta": frozenset({"PrimaryItemReference", "MetaImageSize"}),
    "MPF0": frozenset(
        {
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
        }
    ),
    "MPImage": frozenset(
        {
            "MPImageFlags",
            "MPImageFormat",
            "MPImageType",
            "MPImageLength",
            "MPImageStart",
            "DependentImage1EntryNumber",
            "DependentImage2EntryNumber",
            "MPImage",
        }
    ),
    "XMP-GContainer": frozenset({"DirectoryItemSemantic", "DirectoryItemMime", "DirectoryItemLength"}),
    "APP2": frozenset({"UniformResourceName"}),  # the ISO 21496-1 gain-map namespace of a kept APP2 segment
}
_DATE_TAGS = frozenset(
    {"CreateDate", "ModifyDate", "TrackCreateDate", "TrackModifyDate", "MediaCreateDate", "MediaModifyDate"}
)
"""Box timestamps that cannot be removed; they are accepted only when zeroed."""

GAIN_MAP_XMP_GROUPS = frozenset({"XMP-hdrgm", "XMP-HDRGainMap", "XMP-apdi"})
"""HDR gain-map rendering parameters (Adobe/Google ``hdrgm``, Apple HDRGainMap)."""

COPYRIGHT_TAGS = frozenset(
    {
        "IFD0:Copyright",
        "IFD0:Artist",
        "IPTC:CopyrightNotice",
        "IPTC:By-line",
        "IPTC:Credit",
        "IPTC:ApplicationRecordVersion",
        "IPTC:CodedCharacterSet",
        "XMP-dc:Rights",
        "XMP-dc:Creator",
        "XMP-photoshop:Credit",
        "XMP-xmpRights:Marked",
        "XMP-xmpRights:WebStatement",
        "XMP-xmpRights:UsageTerms",
        "XMP-plus:Licensor",
        "XMP-iptcCore:CreatorContactInfo",
        "PNG:Copyright",
        "PNG:Author",
    }
)


@dataclass(frozen=True)
class Tag:
    """One tag as ExifTool reports it: ``[DocN:]Group:Name = value``."""

    doc: str
    group: str
    name: str
    value: Any

    @property
    def location(self) -> str:
        """The group, prefixed with the embedded document when there is one (``Doc2:IFD0``)."""
        return f"{self.doc}:{self.group}" if self.doc else self.group


def parse_exiftool_json(text: str) -> list[list[Tag]]:
    """Parse ``exiftool -j -G3:1`` output, keeping duplicate tags (``-a``) that plain JSON drops."""
    documents = json.loads(text, object_pairs_hook=lambda pairs: pairs)
    return [[tag for key, value in doc if (tag := _tag(key, value)) is not None] for doc in documents]


def _tag(key: str, value: Any) -> Tag | None:
    parts = key.split(":")
    if len(parts) == 1:
        return None  # SourceFile
    doc = ""
    if len(parts) == 3:
        doc, group, name = parts
    else:
        group, name = parts[0], ":".join(parts[1:])
    if doc == "Main":
        doc = ""
    return Tag(doc=doc, group=group, name=name, value=value)


_BOX_STRUCTURE = frozenset(
    {
        "MediaData",
        "Free",
        "Skip",
        "InitialDelaySamples",
        "InitialObjectDescriptor",
        "SyncSampleTable",
        "Unknown_av1C",
        "Unknown_hvcC",
        "Unknown_colr",
        "Unknown_ccst",
        "Unknown_btrt",
        "Unknown_auxl",
        "Unknown_auxi",
        "Unknown_auxC",
        "Unknown_ster",
        "Unknown_pixi",
        "Unknown_ispe",
        "Unknown_clap",
        "Unknown_pasp",
        "Unknown_lsel",
        "Unknown_a1op",
        "Unknown_a1lx",
        "Unknown_irot",
        "Unknown_imir",
        "Unknown_grpl",
        "Unknown_altr",
        "Unknown_clli",
        "Unknown_mdcv",
        "Unknown_sdtp",
        "Unknown_stss",
        "Unknown_edts",
        "Unknown_mp4a",
        "Unknown_esds",
    }
)
"""ISO-BMFF boxes ExifTool lists with ``-u`` that only describe how to decode and show the image."""


def _is_box_structure(name: str) -> bool:
    """ISO-BMFF boxes that only describe decoding. A vendor ``uuid`` box is never one: the HEIF and movie
    walkers drop every ``uuid``, so one in an output is a leftover whatever its size (32 bytes hold a place)."""
    return name in _BOX_STRUCTURE


def is_allowed(tag: Tag, policy: ScrubPolicy, *, tiff: bool = False) -> bool:
    """True when ``tag`` is structure the image needs, or kept on purpose by ``policy``."""
    group, name = tag.group, tag.name
    if group in IGNORED_GROUPS:
        return True
    kept = _kept_on_purpose(tag, policy)
    if kept is not None:
        return kept
    if group.startswith("IFD") and group[3:].isdigit():
        if tiff:
            return name in _TIFF_STRUCTURE
        return group == "IFD0" and name in _EXIF_IFD0_KEPT
    base = "Track" if group.startswith("Track") and group[5:].isdigit() else group
    if group.startswith("MPImage") and group[7:].isdigit():
        base = "MPImage"
        if name.startswith("MPImage") and name[7:].isdigit():
            return True  # the secondary image itself (its own bytes are accounted for by the byte model)
    if base in ("QuickTime", "Track") and _is_box_structure(name):
        return True
    allowed = _STRUCTURE.get(base)
    if allowed is None or name not in allowed:
        return False
    return _value_allowed(base, name, tag.value)


def _kept_on_purpose(tag: Tag, policy: ScrubPolicy) -> bool | None:
    """The verdict on what the policy or the engine keeps whatever the format (None: not such a tag)."""
    group, name = tag.group, tag.name
    if group.startswith("ICC") or (name == "ICC_Profile" and group in ("PNG", "IFD0", "RIFF", "QuickTime")):
        return not policy.strip_icc
    if policy.keep_copyright and f"{group}:{name}" in COPYRIGHT_TAGS:
        return True
    if policy.keep_live_photo_pairing and name == "ContentIdentifier" and group in ("Apple", "Keys"):
        return CONTENT_IDENTIFIER.fullmatch(str(tag.value)) is not None
    if group in GAIN_MAP_XMP_GROUPS or (group == "XMP-tiff" and name == "Orientation"):
        return True  # gain-map parameters; an orientation a format keeps only in XMP (e.g. some AVIF)
    if group == "XMP-x" and name == "XMPToolkit":
        return str(tag.value).startswith("Image::ExifTool")
    return None


def _value_allowed(base: str, name: str, value: Any) -> bool:
    """Structure tags whose value must also be empty: box dates (zero) and handler names (empty)."""
    if name in _DATE_TAGS and base in ("QuickTime", "Track"):
        return str(value) == ZERO_DATE
    if name == "HandlerDescription":
        return str(value) == ""  # a handler's name may name the device or the software
    return True


def find_leftovers(tags: Iterable[Tag], policy: ScrubPolicy, *, tiff: bool = False) -> dict[str, list[str]]:
    """Group the tags that should not be there: ``{"GPS": ["GPSLatitude", ...]}``."""
    found: dict[str, list[str]] = {}
    for tag in tags:
        if not is_allowed(tag, policy, tiff=tiff):
            names = found.setdefault(tag.location, [])
            if tag.name not in names:
                names.append(tag.name)
    return found


def count_by_group(tags: Iterable[Tag]) -> dict[str, int]:
    """Tag counts per group, ignoring ExifTool's own and file-system groups."""
    counts: dict[str, int] = {}
    for tag in tags:
        if tag.group not in IGNORED_GROUPS:
            counts[tag.location] = counts.get(tag.location, 0) + 1
    return counts
