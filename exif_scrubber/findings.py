"""Findings in an auditor's words: each leftover gets one category a reader knows, the technical name stays beside it.

Both tools report leftovers as ``{group: [names]}``, from two sources: ExifTool's family-1 groups with tag names
(``GPS: GPSLatitude``, ``Canon: SerialNumber``) and the byte model's format groups with block labels
(``JPEG: APP1 EXIF``, ``HEIF-boxes: item 45 (mime)``, ``QuickTime-boxes: track 3 (gpmd)``). :func:`categorize`
maps each ``(group, name)`` to a :class:`Category`; the reports show the category and keep ``group: name`` as the
detail. This is the one mapping: ``exif-audit``'s table, JSON and CSV and ``exif-scrub``'s JSON use it.

A metadata block that the byte model finds (an EXIF block, an XMP packet, an IPTC record) is filed under what that
kind of block is for (EXIF: the device; XMP: software and edit history; IPTC: people and owners); ExifTool's reading
of the same object lists the fields inside it, each under its own category (a GPS position in that EXIF block is
``location``). Nothing maps to "harmless": what the rules do not know is ``structure that cannot be verified`` (an
ExifTool tag of an unknown kind) or ``unparsed bytes`` (a block the byte model does not know).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What a finding reveals, in the order reports list them (most personal first)."""

    LOCATION = "location"
    PEOPLE = "people and owners"
    DEVICE = "device identity and serial numbers"
    DATES = "dates and times"
    THUMBNAILS = "embedded thumbnails and previews"
    TEXT = "free text and comments"
    SOFTWARE = "software and edit history"
    UNPARSED = "unparsed bytes"
    UNVERIFIABLE = "structure that cannot be verified"

    @property
    def short(self) -> str:
        """One word for narrow tables (``device`` for ``device identity and serial numbers``)."""
        return _SHORT[self]


_SHORT = {
    Category.LOCATION: "location",
    Category.PEOPLE: "people",
    Category.DEVICE: "device",
    Category.DATES: "dates",
    Category.THUMBNAILS: "thumbnails",
    Category.TEXT: "text",
    Category.SOFTWARE: "software",
    Category.UNPARSED: "unparsed",
    Category.UNVERIFIABLE: "unverifiable",
}

ORDER = tuple(Category)
"""Categories in report order."""

BYTE_MODEL_GROUPS = frozenset(
    {"JPEG", "PNG-chunks", "GIF-blocks", "RIFF-chunks", "TIFF", "HEIF-boxes", "QuickTime-boxes"}
)
"""The byte model's leftover groups (each format handler's ``leftover_group``): their names are block labels.
``tests/engine/test_findings.py`` checks that this is every handler's group."""

WARNINGS_GROUP = "ExifTool-warnings"
"""The group of ExifTool's warnings about blocks the engine keeps: such a block cannot be verified."""

_MAKERNOTE_NAMES = """
    MakerNotes Apple Canon CanonCustom CanonRaw CanonVRD Casio DJI FLIR FujiFilm GE GoPro HP JVC Kodak KodakIFD
    Kyocera Leica Minolta MinoltaRaw Motorola Nikon NikonCapture NikonCustom NikonScan NikonSettings Nintendo
    Olympus OlympusCameraSettings OlympusEquipment OlympusFocusInfo OlympusImageProcessing OlympusRawDevelopment
    Panasonic Pentax PhaseOne Reconyx Ricoh Samsung Sanyo Sigma Sony Unknown
"""
MAKERNOTE_GROUPS = frozenset(_MAKERNOTE_NAMES.split())
"""ExifTool family-1 groups of maker notes."""

Rule = tuple["re.Pattern[str]", Category]


def _rules(*pairs: tuple[str, Category]) -> tuple[Rule, ...]:
    return tuple((re.compile(pattern), category) for pattern, category in pairs)


# ExifTool tags, by name first (a name says more than its group: Canon:OwnerName is about a person, Canon:ISO is
# not). The first rule that matches wins.
_TAG_RULES = _rules(
    (r"^Unknown|DataDump|^Padding$|^Tag0x|^0x[0-9A-Fa-f]+$", Category.UNPARSED),
    (
        r"Thumbnail|PreviewImage|^Preview$|ObjectPreview|ScreenNail|JpgFromRaw|OtherImage|^ImageData$|DepthImage|DepthMap"
        r"|GainMapImage|ConfidenceMap|MotionPhoto|MicroVideo|Embedded(?:Video|Image|Audio)|RatioImage|PayloadFrame"
        r"|MergedImage|FinishedImage",
        Category.THUMBNAILS,
    ),
    (r"^Creator(?:Address|City|Country|PostalCode|Region|Work)|^XPAuthor$", Category.PEOPLE),
    (
        r"GPS|Latitude|Longitude|(?<!Global)Altitude|^Location|Sub-?location|LocationCreated|LocationShown"
        r"|^(?:City|State|Province-State|Region)$|Country$|CountryCode$|Country-Primary|StateProvince|Geo[gT]|Coordinate|Locality"
        r"|Municipality|County$|Continent|Island|WaterBody|^Places$|Azimuth|Elevation|Footprint|HigherGeography"
        r"|ISO6709|HometownCity|TimeZoneCity|ModelTransform|ModelTiePoint|ModelPixelScale",
        Category.LOCATION,
    ),
    (
        r"Artist|Author|^Creator(?!Tool)|By-line|Copyright|Rights|Owner|Credit|Writer|Licensor|Person|People"
        r"|^Face|FacesDetected|FaceDetect|Contact|Email|Telephone|Address|^Baby|^Marked$|WebStatement|UsageTerms"
        r"|^Source$|PostalCode|^Region|Release(?:ID|Status)|^Name$",
        Category.PEOPLE,
    ),
    (
        r"Software|CreatorTool|Processing|History|DocumentID|InstanceID|DerivedFrom|DocumentAncestors|XMPToolkit"
        r"|Encoder|^Application|AppVersion|^Tool_|Producer|OriginatingProgram|ProgramVersion|HandlerDescription"
        r"|HandlerVendor|CompressorName|Digest$|^Rating|^Label$|EditStatus|PreservedFileName|RawFileName"
        r"|Android(?:Version|Release)|^JUMD",
        Category.SOFTWARE,
    ),
    (
        r"Date|TimeStamp|Timestamp|^Time$|TimeCreated|CreationTime|SubSecTime|OffsetTime|TimeZone|DaylightSavings|Epoch"
        r"|^RunTime|YearCreated|MonthDayCreated|^SampleTime$|Timecode|TimeLog|SystemTime",
        Category.DATES,
    ),
    (
        r"Comment|Description|Caption|Title|Headline|Keywords|^Subject$|XPSubject|Instructions|Notes|Disclaimer"
        r"|TextLayer|ObjectName|Categor|Album|Lyrics|^Text$|^Warning$",
        Category.TEXT,
    ),
    (
        r"^Make$|Make$|Model|Serial|UniqueID|Lens|Firmware|CameraID|Device|HostComputer|MediaUID|ContentIdentifier"
        r"|PhotoIdentifier|ImageNumber|ShutterCount|Battery|Temperature",
        Category.DEVICE,
    ),
)

# ExifTool tags whose name says nothing the rules above know: by group.
_GROUP_RULES = _rules(
    (r"^(?:GPS|GeoTiff)$", Category.LOCATION),
    (r"^(?:IFD1|PreviewIFD|JFXX|MPImage\d*|XMP-GImage|XMP-GDepth|XMP-GFocus|XMP-depthData)$", Category.THUMBNAILS),
    (r"^(?:XMP-xmpRights|XMP-plus|XMP-mwg-rs|XMP-iptcExt|XMP-prism)$", Category.PEOPLE),
    (
        r"^(?:XMP-(?:x|xmp|xmpMM|xmpBJ|xmpNote|xmpDM|crs|lr|photoshop|pdf|pdfx|GIMP|digiKam|acdsee.*|microsoft"
        r"|photomech|mediapro|creatorAtom|claro|depthBlurEffect|portraitLightingEffect|tmp\d*)|Photoshop|PrintIM"
        r"|Ducky|JUMBF|AdobeCM|Adobe|GraphConv|CanonVRD|NikonCapture|FotoStation|PhotoMechanic|MediaJukebox"
        r"|ItemList)$",
        Category.SOFTWARE,
    ),
    (r"^(?:IPTC\d*|XMP-dc|XMP-iptcCore|XMP-dwc|PNG|JSON|GIF|Comment)$", Category.TEXT),
    (
        r"^(?:IFD\d+|SubIFD\d*|ExifIFD|InteropIFD|GlobParamIFD|MakerNotes|XMP-(?:exif|exifEX|tiff|aux|Camera|FLIR"
        r"|GCamera|drone-dji|Device|SpatialMedia)|Google|Qualcomm|Vivo|CIFF|PictureInfo|Kodak\w*|MetaIFD|AVI1"
        r"|UserData|Keys|FlashPix|RMETA)$",
        Category.DEVICE,
    ),
)

# Byte-model block labels (the format handlers' span labels). The first rule that matches wins.
_LABEL_RULES = _rules(
    (r"extra bytes|extra sub-blocks", Category.UNPARSED),
    (
        r"truncated|malformed|unreadable|not a usable profile|not a profile|decoders ignore|wrong size|ICC profile"
        r"|^iCCP$|^ICCP$|MPF index|APP14 Adobe|JFIF \(another segment\)|^APP0 JFIF$|gain map"
        r"|^(?:iloc|iref|ipma|iinf|pitm|idat|hdlr|dref|meta|grpl|iprp|ipco|elst|edts)$|^property (?!uuid)"
        r"|^(?:tref|tapt) |^sample description(?! vendor)|entry count|next-IFD|^IFD\S* entry$|InkNames|^item \d+ entry",
        Category.UNVERIFIABLE,
    ),
    (
        r"^bytes |bytes after|bytes between|trailer|^0xFF|^APP\d+$|extension 0x|application extension"
        r"|^[0-9a-f]{8}$|padding|property uuid|box in meta|^(?:free|skip|wide|junk|pnot|PICT|uuid|iods) box"
        r"|IEND payload|tag 0x",
        Category.UNPARSED,
    ),
    (
        r"thumbnail|JFXX|[Pp]review|FlashPix|mpvd box|^motion photo video"
        r"|^item \d+ \((?:hvc1|hvc2|av01|avc1|jpeg|grid|iden|iovl|j2k1|unci|tmap|vvc1|evc1)\)",
        Category.THUMBNAILS,
    ),
    (r"GPS|GeoTIFF|\((?:gpmd|camm|meta|mebx|mett|gps )\)|loci", Category.LOCATION),
    (r"dates$|^tIME$|DateTime|\(tmcd\)", Category.DATES),
    (
        r"^COM$|[Cc]omment|^(?:tEXt|zTXt|iTXt)$|plain text|ImageDescription|DocumentName|PageName"
        r"|\((?:text|sbtl|subt|tx3g|clcp)\)",
        Category.TEXT,
    ),
    (r"IPTC|Artist|Copyright|Author|Owner|\(iptc\)", Category.PEOPLE),
    (
        r"XMP|Software|hdlr name|compressor name|sample description vendor|JUMBF|C2PA|caBX|Photoshop|Ducky|SEAL"
        r"|\(mime\)",
        Category.SOFTWARE,
    ),
    (
        r"EXIF|Exif|eXIf|Make|Model|maker notes|GoPro|Kodak|Casio|Qualcomm|AROT|AVI1|HP$|DNG|HostComputer"
        r"|(?:udta|meta|sefd) box",
        Category.DEVICE,
    ),
)

_SECONDARY_IMAGE = re.compile(r"^(?:image \d+|motion photo video): ")
"""A JPEG label of a secondary image (``image 2: APP1 EXIF``) or of the movie of a motion photo (``motion photo
video: udta box``): the block is what counts."""
_ITEM = re.compile(r"^item (\d+) \(")
_ITEM_ENTRY = re.compile(r"^item (\d+) entry \(item removed\)$")


WARNING_MAX = 120
"""Characters of an ExifTool warning kept as a finding's detail."""
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def warning_text(warning: str) -> str:
    """An ExifTool warning as a finding's detail: ExifTool's own words, never the file's. Quoted text (where
    ExifTool cites a value, a namespace or a block name read from the file) becomes ``'...'``, anything outside
    printable ASCII ``?``, and the text is cut to :data:`WARNING_MAX` characters."""
    text = _QUOTED.sub("'...'", _UNPRINTABLE.sub("?", warning)).strip()
    return text if len(text) <= WARNING_MAX else text[: WARNING_MAX - 1] + "…"


def _first(rules: Iterable[Rule], text: str) -> Category | None:
    return next((category for pattern, category in rules if pattern.search(text)), None)


EMBEDDED_MOVIE = "motion photo video "
"""How the engine prefixes the groups of a movie held inside a photo (``motion photo video GPS``): the movie's
findings are filed as the movie's own."""


def _base_group(group: str) -> str:
    """``Doc2:IFD0`` -> ``IFD0`` (ExifTool's embedded documents keep their group names); the groups of a motion
    photo's movie as the movie's own."""
    return group.removeprefix(EMBEDDED_MOVIE).rpartition(":")[2]


def _tag_category(group: str, name: str) -> Category | None:
    found = _first(_TAG_RULES, name)
    if found is not None:
        return found
    if group in MAKERNOTE_GROUPS or group.startswith("MakerNotes"):
        return Category.DEVICE
    if group.startswith(("Track", "QuickTime")) or group.startswith("MIE-"):
        return None
    return _first(_GROUP_RULES, group)


@functools.lru_cache(maxsize=1 << 16)  # the same names come back object after object
def categorize(group: str, name: str) -> Category:
    """The category of one leftover: ``name`` in ``group`` (a tag name, a block label or a warning's text)."""
    document, _, group = group.removeprefix(EMBEDDED_MOVIE).rpartition(":")
    if document and group.startswith("Track"):  # the samples of a timed metadata track: telemetry, positions
        return _tag_category(group, name) or Category.LOCATION
    if group == WARNINGS_GROUP:
        return Category.UNVERIFIABLE
    if group in BYTE_MODEL_GROUPS:
        label = _SECONDARY_IMAGE.sub("", name)
        found = _first(_LABEL_RULES, label)
        if found is None and " " not in label and label.isascii() and label[:1].isupper() and len(label) > 4:
            found = _tag_category(group, label)  # a tag name ExifTool files under a format name (JPEG, PNG ...)
        return found or Category.UNPARSED
    return _tag_category(group, name) or Category.UNVERIFIABLE


@dataclass(frozen=True, order=True)
class Finding:
    """One leftover: its category and where it is (``group``, ``name``)."""

    category: Category
    group: str
    name: str

    @property
    def detail(self) -> str:
        """``GPS: GPSLatitude``."""
        return f"{self.group}: {self.name}"

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category.value, "group": self.group, "name": self.name}


@dataclass(frozen=True)
class _Container:
    """A kind of metadata block whose fields ExifTool reads into groups of its own."""

    labels: re.Pattern[str]
    groups: re.Pattern[str]
    empty: Category | None
    """The category when ExifTool names nothing personal in the object's groups of this kind (None: the
    label's own category)."""


_EXIF_GROUPS = (
    r"^(?:IFD\d+|SubIFD\d*|ExifIFD|GPS|InteropIFD|GlobParamIFD|PreviewIFD|MakerNotes\w*|"
    + "|".join(sorted(MAKERNOTE_GROUPS))
    + ")$"
)
_CONTAINERS = (
    _Container(re.compile(r"EXIF|Exif|eXIf"), re.compile(_EXIF_GROUPS), Category.UNVERIFIABLE),
    _Container(re.compile(r"XMP|\(mime\)"), re.compile(r"^XMP"), Category.UNVERIFIABLE),
    _Container(re.compile(r"IPTC|\(iptc\)|^IFD\S* Photoshop$"), re.compile(r"^(?:IPTC\d*|Photoshop)$"), None),
    _Container(re.compile(r"^(?:udta|meta) box$"), re.compile(r"^(?:UserData|ItemList|Keys)$"), Category.UNVERIFIABLE),
    _Container(re.compile(r"^(?:tEXt|zTXt|iTXt)$"), re.compile(r"^PNG$"), None),
)
"""Blocks filed under what ExifTool finds in them: an EXIF block that holds a GPS position is ``location``; one in
which ExifTool names nothing personal (a block the byte model cannot verify) is ``structure that cannot be
verified``."""


def findings(leftovers: Mapping[str, Sequence[str]]) -> list[Finding]:
    """Every leftover of one object with its category, in report order (category, then as found).

    A metadata block the byte model found (``JPEG: APP1 EXIF``) is filed under the most personal category of what
    ExifTool reads in blocks of its kind in the same object (see :data:`_CONTAINERS`), so that a block adds no
    category its fields do not have. The entry of a removed HEIF item (``item 45 entry (item removed)``) is filed
    with the item itself (``item 45 (mime)``): it is that item's catalogue entry, not a finding of its own.
    """
    rank = {category: index for index, category in enumerate(ORDER)}
    tags = {
        (group, name): categorize(group, name)
        for group, names in leftovers.items()
        for name in names
        if _base_group(group) not in BYTE_MODEL_GROUPS
    }

    def block(group: str, name: str) -> Category:
        label = _SECONDARY_IMAGE.sub("", name)
        container = next((c for c in _CONTAINERS if c.labels.search(label)), None)
        if container is None or _first(_LABEL_RULES[:2], label) is not None:  # malformed or extra bytes: as labelled
            return categorize(group, name)
        inside = [category for (g, _), category in tags.items() if container.groups.search(_base_group(g))]
        if inside:
            return min(inside, key=rank.__getitem__)
        return container.empty or categorize(group, name)

    blocks = {
        (group, name): block(group, name)
        for group, names in leftovers.items()
        for name in names
        if _base_group(group) in BYTE_MODEL_GROUPS
    }
    items = {(g, m.group(1)): category for (g, n), category in blocks.items() if (m := _ITEM.match(n))}
    found = []
    for group, names in leftovers.items():
        for name in names:
            entry = _ITEM_ENTRY.match(name)
            category = items.get((group, entry.group(1))) if entry else None
            found.append(Finding(category or blocks.get((group, name)) or tags[(group, name)], group, name))
    return sorted(found, key=lambda f: rank[f.category])  # stable: file order within a category


def categories(leftovers: Mapping[str, Sequence[str]]) -> list[Category]:
    """The distinct categories of one object's leftovers, in report order."""
    present = {finding.category for finding in findings(leftovers)}
    return [category for category in ORDER if category in present]


def by_category(leftovers: Mapping[str, Sequence[str]]) -> dict[Category, dict[str, list[str]]]:
    """``{category: {group: [names]}}`` in report order, for details sections."""
    grouped: dict[Category, dict[str, list[str]]] = {}
    for finding in findings(leftovers):
        grouped.setdefault(finding.category, {}).setdefault(finding.group, []).append(finding.name)
    return grouped
