"""Sample images with real-looking metadata, for the demo, the tests and the benchmarks.

Pixels come from Pillow (and pillow-heif for HEIC); metadata is injected with the same warm
ExifTool process class the engine uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image

from exif_scrubber.exiftool_process import ExifToolPool

FORMAT_EXTENSIONS = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "TIFF": "tif",
    "GIF": "gif",
    "HEIC": "heic",
    "AVIF": "avif",
}


@dataclass(frozen=True)
class MetadataRecipe:
    """Which kinds of privacy-relevant metadata to inject."""

    gps: bool = True
    camera: bool = True
    serial: bool = True
    timestamps: bool = True
    iptc: bool = True
    xmp: bool = True
    comment: bool = True
    thumbnail: bool = True
    copyright: bool = True
    orientation: int | None = 6

    def exiftool_args(self, image_format: str, thumbnail: Path | None) -> list[str]:
        """ExifTool assignments for this recipe, limited to what ``image_format`` can hold."""
        args: list[str] = []
        for kind, (assignments, formats) in _ASSIGNMENTS.items():
            if getattr(self, kind) and (formats is None or image_format in formats):
                args += assignments
        if self.thumbnail and thumbnail is not None and image_format == "JPEG":
            args += [f"-ThumbnailImage<={thumbnail}"]
        if self.orientation is not None and image_format != "GIF":
            args += [f"-Orientation#={self.orientation}"]
        if image_format == "GIF":  # GIF holds XMP and comments only
            args = [a for a in args if a.startswith(("-XMP", "-Comment"))]
        return args


_ASSIGNMENTS: dict[str, tuple[list[str], tuple[str, ...] | None]] = {
    "gps": (
        [
            "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2945",
            "-GPSLongitudeRef=E",
            "-GPSAltitude=35",
            "-XMP-exif:GPSLatitude=48.8584 N",
            "-XMP-exif:GPSLongitude=2.2945 E",
        ],
        None,
    ),
    "camera": (
        [
            "-Make=Canon",
            "-Model=Canon EOS 5D Mark IV",
            "-Software=Firmware 1.2.3",
            "-LensModel=EF24-70mm",
            "-HostComputer=alice-laptop",
        ],
        None,
    ),
    "serial": (
        ["-SerialNumber=083024001234", "-LensSerialNumber=0000c12345", "-XMP-aux:SerialNumber=083024001234"],
        None,
    ),
    "timestamps": (
        ["-DateTimeOriginal=2024:05:01 12:34:56", "-CreateDate=2024:05:01 12:34:56", "-OffsetTimeOriginal=+02:00"],
        None,
    ),
    "iptc": (
        [
            "-IPTC:City=Paris",
            "-IPTC:Keywords=private",
            "-IPTC:By-line=Alice Example",
            "-IPTC:Sub-location=12 Rue Example",
        ],
        ("JPEG", "TIFF", "PNG", "WEBP"),
    ),
    "xmp": (
        [
            "-XMP-dc:Description=Family picnic at home",
            "-XMP-dc:Subject=kids",
            "-XMP-photoshop:City=Paris",
            "-XMP-xmp:CreatorTool=PhoneCam 9",
        ],
        None,
    ),
    "comment": (["-Comment=taken at 12 Rue Example, Paris"], ("JPEG", "PNG", "GIF")),
    "copyright": (
        ["-Copyright=(c) 2024 Alice Example", "-Artist=Alice Example", "-XMP-dc:Rights=All rights reserved"],
        None,
    ),
}
"""What each recipe flag writes, in order, and the formats it applies to (None: every format)."""


def make_pixels(size: tuple[int, int], seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A deterministic picture with gradients and noise (compresses like a photo, not like a flat fill)."""
    rng = random.Random(seed)  # noqa: S311 - deterministic test pictures, not cryptography
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40 + rng.randint(0, 20))
    red = Image.blend(base, noise, 0.3)
    green = base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    blue = Image.blend(base.rotate(90, expand=False), noise, 0.5)
    image = Image.merge("RGB", (red, green, blue))
    return image.convert(mode) if mode != "RGB" else image


def save_image(image: Image.Image, path: Path, image_format: str, *, quality: int = 90) -> Path:
    """Encode ``image`` as ``image_format`` (JPEG, PNG, WEBP, TIFF, GIF, HEIC, AVIF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image_format == "HEIC":
        heif = pillow_heif.from_pillow(image)
        heif.save(str(path), quality=quality)
    elif image_format == "GIF":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(path, "GIF")
    elif image_format == "TIFF":
        image.save(path, "TIFF", compression="tiff_deflate")
    elif image_format in ("JPEG", "WEBP", "AVIF"):
        image.save(path, image_format, quality=quality)
    else:
        image.save(path, image_format)
    return path


def inject(pool: ExifToolPool, path: Path, recipe: MetadataRecipe, image_format: str) -> None:
    """Write the recipe's metadata into ``path`` in place."""
    thumbnail = None
    if recipe.thumbnail and image_format == "JPEG":
        thumbnail = path.with_name(path.stem + ".thumb.jpg")
        with Image.open(path) as image:
            image.copy().resize((32, 24)).convert("RGB").save(thumbnail, "JPEG", quality=80)
    args = recipe.exiftool_args(image_format, thumbnail)
    if args:
        result = pool.execute(["-overwrite_original", "-m", *args, str(path)])
        if "1 image files updated" not in result.stdout:
            raise RuntimeError(f"could not inject metadata into {path.name}: {result.stderr or result.stdout}")
    if thumbnail is not None:
        thumbnail.unlink(missing_ok=True)


def make_sample(
    pool: ExifToolPool,
    directory: Path,
    name: str,
    image_format: str,
    *,
    size: tuple[int, int] = (96, 64),
    recipe: MetadataRecipe | None = None,
    seed: int = 0,
) -> Path:
    """Create ``directory/name.<ext>`` as ``image_format`` carrying ``recipe``'s metadata."""
    path = directory / f"{name}.{FORMAT_EXTENSIONS[image_format]}"
    save_image(make_pixels(size, seed), path, image_format)
    inject(pool, path, recipe or MetadataRecipe(), image_format)
    return path


def make_demo_set(
    pool: ExifToolPool, directory: Path, formats: Sequence[str] = ("JPEG", "PNG", "WEBP", "HEIC")
) -> list[Path]:
    """The sample set of the demo: one photo per format with GPS, camera, serial, IPTC, XMP and more."""
    return [
        make_sample(pool, directory, f"holiday-{fmt.lower()}", fmt, size=(320, 240), seed=index)
        for index, fmt in enumerate(formats)
    ]
