"""The image-data hash comes from the byte model, in Python, and is checked against ExifTool's own.

Two implementations check each other: the walker's ExifTool-compatible ranges hash to exactly ExifTool's
``ImageDataHash`` (SHA-256) on every corpus file and on generated files with the layouts where ExifTool's rules
are subtle (progressive scans, APNG, animated WebP, tiles, pages, HEIF thumbnails, image sequences). The engine's
proof hash is a superset: it also changes where ExifTool's does not (quantisation tables, APNG frames, ...).
See docs/exiftool-image-data-hash.md for ExifTool's rules.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, TiffImagePlugin

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.errors import StructureError
from exif_scrubber.formats import sniff
from exif_scrubber.formats.base import Refusal

from . import hostile
from .conftest import CORPUS, CORPUS_SKIP_REASON, corpus_files


def exiftool_hash(scrubber: Scrubber, path: Path) -> str | None:
    result = scrubber.pool.execute(["-j", "-ImageDataHash", "-api", "ImageHashType=SHA256", str(path)])
    value = json.loads(result.stdout)[0].get("ImageDataHash")
    return str(value) if value else None


def walker_hashes(path: Path) -> tuple[str | None, str]:
    data = path.read_bytes()
    handler = sniff(data[:64])
    assert handler is not None
    model = handler.walk(data, ScrubPolicy())
    return model.exiftool_hash(data), model.proof_hash(data)


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)
def test_walker_ranges_hash_to_exiftools_image_data_hash_on_the_corpus(scrubber: Scrubber) -> None:
    compared = with_hash = 0
    for path in corpus_files():
        handler = sniff(path.read_bytes()[:64])
        if handler is None:
            continue
        try:
            mine, _ = walker_hashes(path)
        except (StructureError, Refusal):
            continue  # refused files have no model (the corpus test checks their reasons)
        assert mine == exiftool_hash(scrubber, path), path.name
        compared += 1
        with_hash += mine is not None
    assert compared >= 139 and with_hash >= 120


def _save(image: Image.Image, path: Path, image_format: str, **options: object) -> Path:
    image.save(path, image_format, **options)
    return path


def _generated(tmp_path: Path) -> list[Path]:
    frames = [hostile.pixels((96, 64), seed=i) for i in range(3)]
    picture = frames[0]
    heif = pillow_heif.from_pillow(hostile.pixels((256, 192)))
    heif[0].info["thumbnails"] = [64]
    heif_path = tmp_path / "thumb.heic"
    heif.save(str(heif_path), quality=50)
    tiles = TiffImagePlugin.ImageFileDirectory_v2()
    return [
        _save(picture, tmp_path / "baseline.jpg", "JPEG", quality=90),
        _save(picture, tmp_path / "progressive.jpg", "JPEG", quality=90, progressive=True),
        _save(picture, tmp_path / "restart.jpg", "JPEG", quality=90, restart_marker_blocks=2),
        _save(picture, tmp_path / "plain.png", "PNG"),
        _save(picture, tmp_path / "interlaced.png", "PNG", interlace=1),
        _save(frames[0], tmp_path / "anim.png", "PNG", save_all=True, append_images=frames[1:]),
        _save(picture, tmp_path / "lossy.webp", "WEBP", quality=70),
        _save(picture.convert("RGBA"), tmp_path / "alpha.webp", "WEBP", lossless=True),
        _save(frames[0], tmp_path / "anim.webp", "WEBP", save_all=True, append_images=frames[1:], duration=50),
        _save(picture, tmp_path / "strips.tif", "TIFF", compression="tiff_deflate"),
        _save(picture, tmp_path / "tiles.tif", "TIFF", tile=(32, 32), tiffinfo=tiles),
        _save(frames[0], tmp_path / "pages.tif", "TIFF", save_all=True, append_images=frames[1:]),
        heif_path,
        _save(picture, tmp_path / "still.avif", "AVIF", quality=60),
        _save(frames[0], tmp_path / "sequence.avifs", "AVIF", save_all=True, append_images=frames[1:], quality=60),
    ]


def test_walker_ranges_hash_to_exiftools_image_data_hash_on_generated_layouts(
    scrubber: Scrubber, tmp_path: Path
) -> None:
    for path in _generated(tmp_path):
        mine, _ = walker_hashes(path)
        assert mine == exiftool_hash(scrubber, path), path.name


def _flip(path: Path, at: int) -> Path:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    flipped = path.with_name("flipped-" + path.name)
    flipped.write_bytes(bytes(data))
    return flipped


def test_the_proof_hash_changes_where_exiftools_does_not(scrubber: Scrubber, tmp_path: Path) -> None:
    """A quantisation table entry (JPEG) and an APNG frame's data (fdAT) change the pixels; ExifTool's
    ImageDataHash does not see either, the engine's proof hash does."""
    jpeg = _save(hostile.pixels(), tmp_path / "q.jpg", "JPEG", quality=90)
    frames = [hostile.pixels(seed=i) for i in range(2)]
    apng = _save(frames[0], tmp_path / "a.png", "PNG", save_all=True, append_images=frames[1:])
    for original, at in (
        (jpeg, jpeg.read_bytes().index(b"\xff\xdb") + 10),
        (apng, apng.read_bytes().index(b"fdAT") + 12),
    ):
        flipped = _flip(original, at)
        assert exiftool_hash(scrubber, original) == exiftool_hash(scrubber, flipped)
        proof_before = walker_hashes(original)[1] if original.suffix != ".png" else _proof_without_crc(original)
        proof_after = walker_hashes(flipped)[1] if original.suffix != ".png" else _proof_without_crc(flipped)
        assert proof_before != proof_after, original.name


def _proof_without_crc(path: Path) -> str:
    """The PNG proof hash of a file whose CRCs no longer match (the walker checks CRCs only when verifying)."""
    data = path.read_bytes()
    handler = sniff(data[:64])
    assert handler is not None
    return handler.walk(data, ScrubPolicy(), verify=False).proof_hash(data)


def test_the_proof_hash_is_the_same_for_the_same_image_data_in_a_different_container(tmp_path: Path) -> None:
    """Metadata around the image data does not change the proof: what the engine compares is the pixels' bytes."""
    data = io.BytesIO()
    hostile.pixels().save(data, "JPEG", quality=90)
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(data.getvalue())
    commented = tmp_path / "commented.jpg"
    commented.write_bytes(hostile.insert_after_soi(data.getvalue(), hostile.segment(0xFE, b"hello")))
    assert walker_hashes(plain)[1] == walker_hashes(commented)[1]
