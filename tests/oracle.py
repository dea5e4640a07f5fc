"""The independent oracle: what a file shows and what it still says, judged without the engine.

Images are decoded with Pillow and pillow-heif (every frame of every top-level image), the images an MPF index
names are cut out by ExifTool and decoded one by one, movies are decoded frame by frame with PyAV (FFmpeg), and
what a file still says is read by ExifTool with ``-a -G1 -u -ee`` (a fresh process, not the engine's pool). Nothing
here imports the engine's walkers or reads its reports: a test that compares an input's fingerprint with its
output's fails whenever the engine's own checks missed a difference.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pillow_heif
from PIL import Image, ImageSequence

from exif_scrubber.exiftool_process import locate_exiftool

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = None  # the files are real photos; a test decodes what the engine accepted

PERSONAL = re.compile(
    r"^(GPS.*|.*Serial.*|Make|Model|Software|Artist|Creator|Copyright|Author|UserComment|ImageDescription|"
    r"HostComputer|Lens(Make|Model|ID|Info)|.*Owner.*|ContentIdentifier|CameraID|DeviceName|Keywords|Comment|"
    r"Title|Description|Label|Rating|Subject|City|Country|State|Sub-?location|.*Location.*|Firmware(Version)?|"
    r"UniqueCameraModel|CameraModelName|ImageUniqueID|ThumbnailImage|PreviewImage|Caption-Abstract|By-line|Credit|"
    r"Writer-Editor|Encoder|EncodedBy|Android(Make|Model|Manufacturer)|Publisher|Contact.*|.*Face.*|.*Person.*|"
    r"Region.*|.*Date(Time)?(Original|Digitized|Created)?|TimeCreated|HandlerDescription|CompressorName)$"
)
"""Tag names that say where, when, with what or by whom a photo was taken (or show it small)."""
ZERO_DATE = "0000:00:00 00:00:00"
NEUTRAL = {"", "0", "none", "Not stated", ZERO_DATE}
"""Values a structural field that has a personal-looking name may hold (an empty handler name, a zero date)."""
ICC_IDENTITY = re.compile(r"^(DeviceManufacturer|DeviceModel|ProfileCreator|DeviceMfgDesc|DeviceModelDesc)$")
"""What an ICC profile says of the device it was made for (a phone maker's code): identity, unless neutral."""
_IGNORED_GROUPS = re.compile(r"^(File|System|ExifTool|Composite)$")


def exiftool_read(path: Path, *extra: str) -> list[dict[str, Any]]:
    """ExifTool's reading of ``path``: ``-j -a -G1 -u -ee -n`` (plus ``extra``), one dict per document."""
    exiftool = str(locate_exiftool())
    result = subprocess.run(
        [exiftool, "-j", "-a", "-G3:1", "-u", "-ee", "-n", "-api", "LargeFileSupport=1", *extra, str(path)],
        capture_output=True,
        check=False,
        timeout=300,
    )
    return json.loads(result.stdout or b"[]", object_pairs_hook=_pairs)  # type: ignore[no-any-return]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Keep duplicate keys (``-a``): the second ``IFD0:Make`` becomes ``IFD0:Make#2``."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        name, count = key, 1
        while name in found:
            count += 1
            name = f"{key}#{count}"
        found[name] = value
    return found


def _reduced_resolution(document: dict[str, Any], group: str) -> bool:
    """A TIFF IFD that says it is a reduced-resolution copy (NewSubfileType bit 0): a preview, not a page."""
    subfile = document.get(f"{group}:SubfileType")
    return isinstance(subfile, int) and bool(subfile & 1)


def personal_data(path: Path) -> list[str]:
    """``Group:Name=value`` of every tag in ``path`` that carries personal data, as ExifTool reads it. A TIFF
    page ExifTool calls ``PreviewImage`` (a JPEG-compressed page) is not a preview unless its IFD says so."""
    found = []
    for document in exiftool_read(path):
        tiff = document.get("File:FileType") in ("TIFF", "BTF")
        for key, value in document.items():
            parts = key.split("#")[0].split(":")
            group, name = parts[-2] if len(parts) > 1 else "", parts[-1]
            if key == "SourceFile" or _IGNORED_GROUPS.match(group) or str(value).strip() in NEUTRAL:
                continue
            page = tiff and group.startswith("IFD") and name == "PreviewImage"
            if page and not _reduced_resolution(document, group):
                continue
            names = ICC_IDENTITY if group.startswith("ICC") else PERSONAL
            if names.match(name):
                found.append(f"{key}={str(value)[:40]}")
    return found


@dataclass(frozen=True)
class Frame:
    """One decoded picture: its size, mode and a hash of its pixels."""

    size: tuple[int, int]
    mode: str
    pixels: str


@dataclass
class ImageView:
    """What a viewer shows of an image file: every frame of every top-level image, and how to show it."""

    frames: list[Frame] = field(default_factory=list)
    orientation: int | None = None
    icc: bool = False
    embedded: list[list[Frame]] = field(default_factory=list)
    """The frames of each further JPEG image an MPF index names (MPO views, gain maps), decoded one by one."""


def _frame(image: Image.Image) -> Frame:
    return Frame(image.size, image.mode, hashlib.sha256(image.tobytes()).hexdigest())


def _frames(image: Image.Image) -> list[Frame]:
    """Every frame Pillow decodes, up to the first it cannot (an MPF index naming a frame that is not there)."""
    frames = []
    try:
        for frame in ImageSequence.Iterator(image):
            frames.append(_frame(frame.copy()))
    except (ValueError, OSError, EOFError):
        pass
    return frames


def _orientation(value: object) -> int:
    """An EXIF orientation as a viewer applies it: 2..8 turn or flip the image, anything else shows it as is."""
    return value if isinstance(value, int) and 2 <= value <= 8 else 1


def _usable_icc(profile: bytes | None) -> bool:
    """A profile a colour management module can open (a 7-byte stub or garbage is ignored by viewers)."""
    if not profile:
        return False
    from io import BytesIO

    from PIL import ImageCms

    try:
        ImageCms.ImageCmsProfile(BytesIO(profile))
    except (OSError, ImageCms.PyCMSError):
        return False
    return True


def view_image(path: Path) -> ImageView:
    """Decode every frame (Pillow; HEIF: every top-level image with pillow-heif) and the MPF images."""
    view = ImageView()
    if path.suffix.lower() in (".heic", ".heif", ".hif"):  # AVIF: Pillow's own plugin (libavif) below
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
        for image in heif:
            view.frames.append(Frame(image.size, image.mode, hashlib.sha256(bytes(image.data)).hexdigest()))
            view.icc = view.icc or _usable_icc(image.info.get("icc_profile"))
    with Image.open(path) as image:
        view.orientation = _orientation(image.getexif().get(0x0112))
        view.icc = view.icc or _usable_icc(image.info.get("icc_profile"))
        if not view.frames:
            view.frames = _frames(image)
    if path.suffix.lower() in (".jpg", ".jpeg", ".mpo", ".jps"):
        view.embedded = [_decode_jpeg(data) for data in mpf_images(path)]
    return view


def _decode_jpeg(data: bytes) -> list[Frame]:
    from io import BytesIO

    with Image.open(BytesIO(data)) as image:
        return [_frame(image.copy())]


def mpf_images(path: Path) -> list[bytes]:
    """The further images the file's MPF index names, cut out by ExifTool (``-b -MPImage2`` ...)."""
    found = []
    for number in range(2, 10):
        result = subprocess.run(
            [str(locate_exiftool()), "-b", f"-MPImage{number}", str(path)], capture_output=True, check=False, timeout=60
        )
        if not result.stdout:
            break
        found.append(result.stdout)
    return found


@dataclass
class MovieView:
    """What a player shows and plays of a movie: each stream's parameters and every decoded frame's hash."""

    streams: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    """(type, codec, width or sample rate, height or channels, colour or layout) of each audio and video stream."""
    frames: dict[int, list[str]] = field(default_factory=dict)
    """Per stream index (audio and video only), a hash of each decoded frame's planes, in order."""
    rotation: list[float] = field(default_factory=list)
    """The display rotation of each video stream."""


def _plane_hash(frame: Any) -> str:
    digest = hashlib.sha256()
    for plane in frame.planes:
        digest.update(bytes(plane))
    return digest.hexdigest()


def view_movie(path: Path) -> MovieView:
    """Decode every audio and video frame with PyAV; other streams (timed metadata) are not part of the view."""
    view = MovieView()
    with av.open(str(path)) as container:
        kept = [s for s in container.streams if s.type in ("video", "audio")]
        for stream in kept:
            context = stream.codec_context
            if stream.type == "video":
                colour = f"{context.color_primaries}/{context.color_trc}/{context.colorspace}/{context.color_range}"
                view.streams.append(("video", context.name, context.width, context.height, colour))
            else:
                layout = context.layout.name if context.layout else ""
                view.streams.append(("audio", context.name, context.sample_rate, context.channels, layout))
        position = {stream.index: number for number, stream in enumerate(kept)}
        view.frames = {number: [] for number in range(len(kept))}
        rotations: dict[int, float] = {}
        for packet in container.demux(kept):
            number = position[packet.stream.index]
            for frame in packet.decode():
                view.frames[number].append(_plane_hash(frame))
                if packet.stream.type == "video":
                    rotations.setdefault(number, float(frame.rotation))
        view.rotation = [rotations.get(number, 0.0) for number, s in enumerate(kept) if s.type == "video"]
    return view


MOVIE_TAGS = ("MotionPhotoVideo", "EmbeddedVideoFile", "MicroVideo")
"""ExifTool's names for a motion photo's movie (Google JPEG and HEIC, Samsung trailer)."""


def embedded_movie(path: Path) -> bytes | None:
    """The motion photo's movie inside ``path`` as ExifTool cuts it out (``-b``), or None."""
    for name in MOVIE_TAGS:
        result = subprocess.run(
            [str(locate_exiftool()), "-b", f"-{name}", str(path)], capture_output=True, check=False, timeout=60
        )
        if result.stdout[4:8] == b"ftyp":
            return result.stdout
    return None


def decodes(movie: bytes, folder: Path) -> MovieView | None:
    """The movie's view when FFmpeg decodes at least one video frame of it, else None."""
    path = folder / f"movie-{hashlib.sha256(movie).hexdigest()[:12]}.mp4"
    path.write_bytes(movie)
    try:
        view = view_movie(path)
    except (av.error.FFmpegError, AttributeError, ValueError):
        return None
    return view if any(view.frames.values()) else None
