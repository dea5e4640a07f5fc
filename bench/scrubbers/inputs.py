"""The benchmark's inputs: the real corpus (when present) and generated 12/24/48 MP photos, cached."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pillow_heif
from PIL import Image

from exif_scrubber.exiftool_process import ExifToolPool
from exif_scrubber.formats import HEAD_BYTES, sniff
from scrub_demo.samples import FORMAT_EXTENSIONS, MetadataRecipe, inject, make_pixels, save_image

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "bench" / ".cache"
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
SIZES: dict[str, tuple[int, int]] = {"12MP": (4000, 3000), "24MP": (6000, 4000), "48MP": (8000, 6000)}
FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "HEIC")
GENERATOR_VERSION = "1"
"""Bump when the generated pictures or their metadata change, so the cache is rebuilt."""
HEIC_PRESET = "ultrafast"
"""x265 preset for generating HEIC inputs (libheif's default, ``slow``, takes minutes per 48 MP photo here).
Only the inputs: the Pillow contender saves HEIC with the library's defaults, as the design would.
libheif writes one HEVC picture (phones write a grid of 512x512 tiles, which pillow-heif cannot encode);
libde265 does not decode such a picture above about 16-21 MP here, so 24/48 MP HEIC inputs are left out."""
NOT_IMAGES = (".json", ".tsv", ".md", ".txt")
"""Suffixes of the corpus's own documentation files (not inputs)."""


@dataclass(frozen=True)
class BenchInput:
    """One input file and the group its figures are reported under."""

    path: Path
    group: str
    """``corpus`` or e.g. ``12MP JPEG``."""
    format: str | None
    """Format by magic bytes (the engine's sniff), None when not a supported image."""
    bytes: int
    megapixels: float | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON view."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def sniff_format(path: Path) -> str | None:
    """The format by magic bytes, as the engine sees it."""
    with path.open("rb") as handle:
        handler = sniff(handle.read(HEAD_BYTES))
    return handler.name if handler else None


def corpus_inputs(corpus: Path) -> list[BenchInput]:
    """Every file of the corpus (empty when the folder is absent)."""
    if not corpus.is_dir():
        return []
    files = sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() not in NOT_IMAGES)
    return [BenchInput(p, "corpus", sniff_format(p), p.stat().st_size) for p in files]


def generated_inputs(
    pool: ExifToolPool,
    *,
    sizes: Mapping[str, tuple[int, int]] = SIZES,
    formats: Sequence[str] = FORMATS,
    cache: Path = CACHE / "inputs",
    log: bool = True,
    problems: list[dict[str, str]] | None = None,
) -> list[BenchInput]:
    """Photos of each size and format with the full metadata recipe (GPS, camera, serial, IPTC, XMP,
    comment, thumbnail, orientation 6), generated once and reused while the generator is unchanged.

    A photo that Pillow (pillow-heif) cannot decode again is left out and listed in ``problems``: without
    decoded pixels no fidelity can be measured (single-image HEIC above about 16 MP, see :data:`HEIC_PRESET`).
    """
    cache.mkdir(parents=True, exist_ok=True)
    manifest_path = cache / "manifest.json"
    manifest: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    inputs = []
    for label, size in sizes.items():
        for index, fmt in enumerate(formats):
            name = f"{label}-{fmt.lower()}.{FORMAT_EXTENSIONS[fmt]}"
            path = cache / name
            key = f"{GENERATOR_VERSION}:{size[0]}x{size[1]}:{fmt}" + (f":{HEIC_PRESET}" if fmt == "HEIC" else "")
            if manifest.get(name, "").split(":undecodable:")[0] != key or not path.exists():
                started = time.perf_counter()
                _save(make_pixels(size, seed=index), path, fmt)
                inject(pool, path, MetadataRecipe(), fmt)
                problem = _decode_problem(path)
                key += f":undecodable:{problem}" if problem else ""
                manifest[name] = key
                manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
                if log:
                    print(
                        f"  generated {name} ({path.stat().st_size / 1e6:.1f} MB) in "
                        f"{time.perf_counter() - started:.1f} s",
                        flush=True,
                    )
            if ":undecodable:" in manifest[name]:
                if problems is not None:
                    problems.append(
                        {
                            "input": name,
                            "why": "left out: Pillow/pillow-heif cannot decode the generated "
                            f"file ({manifest[name].split(':undecodable:')[1]})",
                        }
                    )
                continue
            inputs.append(BenchInput(path, f"{label} {fmt}", fmt, path.stat().st_size, size[0] * size[1] / 1e6))
    return inputs


def _decode_problem(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # whatever the decoder says
        return f"{type(exc).__name__}: {exc}"[:160]
    return None


def _save(image: Image.Image, path: Path, image_format: str) -> None:
    if image_format == "HEIC":
        pillow_heif.from_pillow(image).save(str(path), quality=90, enc_params={"preset": HEIC_PRESET})
    else:
        save_image(image, path, image_format)


def warmup_inputs(
    pool: ExifToolPool, cache: Path = CACHE / "warmup", formats: Sequence[str] = FORMATS
) -> dict[str, Path]:
    """One tiny photo per format (JPEG always), run untimed by every contender before its timed runs."""
    wanted = list(dict.fromkeys(["JPEG", *formats]))
    tiny = generated_inputs(pool, sizes={"tiny": (64, 48)}, formats=wanted, cache=cache, log=False)
    return {str(item.format): item.path for item in tiny}
