"""ExifTool's names for the boxes of a movie header that :mod:`.movie` parses and keeps.

Shared by the movie handler (MP4/MOV) and the HEIF handler (image sequences): the keys are the span labels the
movie walker gives each kept box (its type), the values what ExifTool's QuickTime module reports of it, in the
``QuickTime`` group (movie header) or ``TrackN`` (one per track). Box dates must read zero and names empty: the
walker labels a dated header or a named handler as metadata, and these checks hold ExifTool to the same rule.
"""

from __future__ import annotations

from typing import Any

from ..allowlist import Allowlist

ZERO_DATE = "0000:00:00 00:00:00"


def _zero(value: Any) -> bool:
    return str(value) == ZERO_DATE


def _empty(value: Any) -> bool:
    return str(value) == ""


def _track(*names: str, **checks: Any) -> Allowlist:
    return Allowlist.of("Track#", names, checks)


def _movie(*names: str, **checks: Any) -> Allowlist:
    return Allowlist.of("QuickTime", names, checks)


CONFIGS = ("dOps", "dac3", "dec3", "dac4", "alac", "dfLa", "mhaC", "dmlp", "ddts", "udts", "chnl", "srat", "pcmC",
           "damr", "devc", "dqcp", "d263", "vpcC", "vvcC", "lhvC", "glbl", "uncC", "cmpd")  # fmt: skip
"""Decoder configurations kept as they are, which ExifTool shows (with ``-u``) as unknown binary data."""


_NOT_CANONICAL = (" dates", " name", " fields", " trailing bytes", " box header")
"""How the movie walker labels a kept box whose input is not in canonical form (``mvhd dates``, ``hdlr name``): the
box is a finding already, and ExifTool's names for it are those of the box (its dates, its name still checked)."""


def _with_findings(table: dict[str, Allowlist]) -> dict[str, Allowlist]:
    return {**table, **{label + suffix: tags for label, tags in table.items() for suffix in _NOT_CANONICAL}}


MOVIE_TAGS: dict[str, Allowlist] = {
    "mvhd": _movie(
        "MovieHeaderVersion",
        "CreateDate",
        "ModifyDate",
        "TimeScale",
        "Duration",
        "PreferredRate",
        "PreferredVolume",
        "MatrixStructure",
        "PreviewTime",
        "PreviewDuration",
        "PosterTime",
        "SelectionTime",
        "SelectionDuration",
        "CurrentTime",
        "NextTrackID",
        CreateDate=_zero,
        ModifyDate=_zero,
    ),
    "tkhd": _track(
        "TrackHeaderVersion",
        "TrackCreateDate",
        "TrackModifyDate",
        "TrackID",
        "TrackDuration",
        "TrackLayer",
        "TrackVolume",
        "MatrixStructure",
        "ImageWidth",
        "ImageHeight",
        TrackCreateDate=_zero,
        TrackModifyDate=_zero,
    ),
    "mdhd": _track(
        "MediaHeaderVersion",
        "MediaCreateDate",
        "MediaModifyDate",
        "MediaTimeScale",
        "MediaDuration",
        "MediaLanguageCode",
        MediaCreateDate=_zero,
        MediaModifyDate=_zero,
    ),
    "hdlr": _track("HandlerClass", "HandlerType", "HandlerDescription", HandlerDescription=_empty)
    | _movie("HandlerType", "HandlerDescription", HandlerDescription=_empty),
    "vmhd": _track("GraphicsMode", "OpColor"),
    "smhd": _track("Balance"),
    "stts": _track("TimeToSampleTable"),
    "ctts": _track("CompositionTimeToSample"),
    "stss": _track("SyncSampleTable"),
    "stsc": _track("SampleToChunk"),
    "stsz": _track("SampleSizes"),
    "stco": _track("ChunkOffset"),
    "co64": _track("ChunkOffset64"),
    "cslg": _track("CompositionToDecodeTimelineMapping"),
    "dref": _track("Unknown_alis"),
    "tapt clef": _track("CleanApertureDimensions"),
    "tapt prof": _track("ProductionApertureDimensions"),
    "tapt enof": _track("EncodedPixelsDimensions"),
    "sgpd": _track("SampleGroupDescription"),
    "sbgp": _track("SampleToGroup"),
    "sdtp": _track("IdependentAndDisposableSamples"),
    "edts": _track("Unknown_edts"),
    "avcC": _track("AVCConfiguration"),
    "hvcC": _track("HEVCConfiguration", "Unknown_hvcC"),
    "esds": _track("Unknown_esds"),
    "wave": _track("Unknown_esds", "Unknown_frma", "Unknown_mp4a", "Unknown_enda"),
    "enda": _track("Endianness", "Unknown_enda"),
    "frma": _track("Unknown_frma"),
    "chan": _track("LayoutFlags", "AudioChannelLayout", "AudioChannelTypes", "NumberOfDescriptions"),
    "colr": _track(
        "ColorProfiles",
        "ColorPrimaries",
        "TransferCharacteristics",
        "MatrixCoefficients",
        "VideoFullRangeFlag",
        "Unknown_colr",
    ),
    "pasp": _track("PixelAspectRatio"),
    "clap": _track("CleanAperture"),
    "btrt": _track("BufferSize", "MaxBitrate", "AverageBitrate", "Unknown_btrt"),
    "fiel": _track("VideoFieldOrder"),
    "clli": _track("MaxContentLightLevel", "MaxPicAverageLightLevel", "ContentLightLevel", "Unknown_clli"),
    "mdcv": _track("MasteringDisplayColorVolume", "Unknown_mdcv"),
    "amve": _track("Unknown_amve"),
    "dvcC": _track("Unknown_dvcC"),
    "dvvC": _track("Unknown_dvvC"),
    "dvwC": _track("Unknown_dvwC"),
    "gama": _track("Gamma"),
    "hfov": _track("Unknown_hfov"),
    "st3d": _track("Stereoscopic3D"),
    "svhd": _track("MetadataSource", MetadataSource=_empty),
    "prhd": _track("PoseYawDegrees", "PosePitchDegrees", "PoseRollDegrees"),
    "equi": _track("ProjectionBoundsTop", "ProjectionBoundsBottom", "ProjectionBoundsLeft", "ProjectionBoundsRight"),
    "cbmp": _track("Layout", "Padding"),
    "mshp": _track("Unknown_mshp"),
    "vexu": _track("Unknown_vexu"),
    "SA3D": _track(
        "SpatialAudioVersion",
        "AmbisonicType",
        "AmbisonicOrder",
        "AmbisonicChannelOrdering",
        "AmbisonicNormalization",
        "AmbisonicChannels",
        "AmbisonicChannelMap",
    ),
    **{name: _track(f"Unknown_{name}") for name in CONFIGS},
    "av1C": _track(
        "Unknown_av1C",
        "AV1ConfigurationVersion",
        "SeqProfile",
        "SeqLevelIdx0",
        "SeqTier0",
        "HighBitDepth",
        "TwelveBit",
        "ChromaFormat",
        "ChromaSamplePosition",
        "InitialPresentationDelay",
    ),
    "ccst": _track("Unknown_ccst"),
    "auxi": _track("Unknown_auxi"),
    "mp4a": _track("Unknown_mp4a"),
    "tref auxl": _track("Unknown_auxl"),
    "tref chap": _track("ChapterListTrackID"),
    "tref tmcd": _track("TimecodeTrack"),
    "tref cdsc": _track("ContentDescribes"),
    "tref fall": _track("AlternateFormatTrack"),
    "tref sync": _track("SyncronizedTrack"),
    "tref ssrc": _track("Non-primarySourceTrack"),
    "tref vdep": _track("Unknown_vdep"),
    "tref hint": _track("Unknown_hint"),
    "tref cdep": _track("Unknown_cdep"),
    "mvex": _movie("Unknown_mvex"),
    "moof": _movie("Unknown_moof"),
    "mfhd": _movie("MovieFragmentSequence"),
    "traf": _movie("Unknown_traf"),
    "tfhd": _movie("Unknown_tfhd"),
    "tfdt": _movie("Unknown_tfdt"),
    "trun": _movie("Unknown_trun"),
    "sidx": _movie("Unknown_sidx"),
}
MOVIE_TAGS = _with_findings(MOVIE_TAGS)
"""Kept boxes of a movie header, by the label the movie walker gives them."""
VISUAL_ENTRY = _track(
    "CompressorID",
    "SourceImageWidth",
    "SourceImageHeight",
    "XResolution",
    "YResolution",
    "BitDepth",
    "CompressorName",
    "VideoFrameRate",
    "OtherFormat",
    CompressorName=_empty,
)
"""A visual sample description (``avc1``, ``hvc1``, ``av01`` ...), its compressor name empty."""
AUDIO_ENTRY = _track("AudioFormat", "AudioChannels", "AudioBitsPerSample", "AudioSampleRate", "PurchaseFileFormat")
"""An audio sample description (``mp4a``, ``sowt`` ...)."""
FILE_TAGS: dict[str, Allowlist] = {
    "ftyp": _movie("MajorBrand", "MinorVersion", "CompatibleBrands"),
    "ftyp brands": _movie("MajorBrand", "MinorVersion", "CompatibleBrands"),
    "ftyp minor version": _movie("MajorBrand", "MinorVersion", "CompatibleBrands"),
    "mdat header": _movie("MediaData", "MediaDataOffset", "MediaDataSize"),
}
"""The top-level boxes of an ISO base media file the walkers keep (a movie's and a HEIF file's)."""
