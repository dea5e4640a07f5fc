"""Text inside a HEIF/AVIF image item's coded data: an SEI NAL unit in an HEVC item and metadata/padding OBUs in an
AV1 item are removed (the item is rewritten), every pixel decodes the same (pillow-heif / Pillow's AVIF, not the
engine), the display data stays, ExifTool finds nothing, and item data that does not parse is refused."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from exif_scrubber import Scrubber
from exif_scrubber.formats import sniff
from exif_scrubber.leftovers import find_leftovers, parse_exiftool_json
from exif_scrubber.policy import ScrubPolicy
from exif_scrubber.report import Outcome
from tests.bitstream_support import (
    escaped,
    hdr10_plus,
    item_extents,
    mdpm,
    metadata_obu,
    obu,
    plant_in_item,
    sample,
    sei_message,
    sei_nal,
    t35,
    unregistered,
)

pillow_heif.register_heif_opener()
INDEPENDENT_READ = ["-j", "-G3:1", "-a", "-u", "-ee", "-n", "-all:all", "--System:all"]


def _pixels(data: bytes) -> tuple[tuple[int, int], str, bytes]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size, image.mode, image.tobytes()


def _image(image_format: str) -> bytes:
    image = Image.new("RGB", (96, 64))
    image.putdata([((x * 5) % 256, (y * 7) % 256, (x * y) % 256) for y in range(64) for x in range(96)])
    out = io.BytesIO()
    image.save(out, format=image_format, quality=90)
    return out.getvalue()


def _scrub(
    scrubber: Scrubber, tmp_path: Path, data: bytes, suffix: str, tokens: list[bytes]
) -> tuple[bytes, list[str]]:
    source = tmp_path / f"in.{suffix}"
    source.write_bytes(data)
    output = tmp_path / f"out.{suffix}"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    clean = output.read_bytes()
    assert [t for t in tokens if t in clean] == []
    assert _pixels(clean) == _pixels(data), "every pixel decodes the same"
    tags = parse_exiftool_json(scrubber.pool.execute([*INDEPENDENT_READ, str(output)]).stdout)[0]
    handler = sniff(clean[:64])
    assert handler is not None
    assert find_leftovers(tags, handler.allowlist(handler.walk(clean, ScrubPolicy()), ScrubPolicy())) == {}
    again = scrubber.scrub_file(output, tmp_path / f"again.{suffix}")
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before
    return clean, [label for labels in report.leftovers_before.values() for label in labels]


def test_sei_in_an_hevc_item(scrubber: Scrubber, tmp_path: Path) -> None:
    tokens = [secrets.token_hex(8).encode() for _ in range(3)]
    heic = _image("HEIF")
    (item,) = item_extents(heic)
    mastering = sei_message(137, bytes(range(1, 25)))
    hdr = t35(hdr10_plus())
    prefix = sei_nal([mdpm(tokens[0]), mastering, t35(b"\xb5\x00\x31GA94" + tokens[1]), hdr], hevc=True)
    suffix = sei_nal([unregistered(b"\x00\x00\x03\x00\x00\x01" + tokens[2])], hevc=True, suffix=True)
    planted = plant_in_item(plant_in_item(heic, item, sample([prefix])), item, sample([suffix]), at_end=True)

    clean, labels = _scrub(scrubber, tmp_path, planted, "heic", tokens)

    assert f"SEI user data in item {item}" in labels
    assert escaped(mastering + hdr + b"\x80") in clean, "mastering display and HDR10+ stay, byte for byte"


def test_metadata_and_padding_obus_in_an_av1_item(scrubber: Scrubber, tmp_path: Path) -> None:
    tokens = [secrets.token_hex(8).encode() for _ in range(3)]
    avif = _image("AVIF")
    (item,) = item_extents(avif)
    cll = metadata_obu(1, b"\x03\xe8\x00\xc8")
    tail = cll + metadata_obu(4, b"\xb5\x00\x31GA94" + tokens[0]) + metadata_obu(30, tokens[1]) + obu(15, tokens[2])
    planted = plant_in_item(avif, item, tail, at_end=True)

    clean, labels = _scrub(scrubber, tmp_path, planted, "avif", tokens)

    assert {f"AV1 metadata OBU in item {item}", f"AV1 padding OBU in item {item}"} <= set(labels)
    assert cll in clean, "HDR content light level stays"


def test_item_data_that_does_not_parse_is_refused(scrubber: Scrubber, tmp_path: Path) -> None:
    heic = _image("HEIF")
    (item,) = item_extents(heic)
    broken = plant_in_item(heic, item, b"\x00\x00\x7f\xff" + b"Not HEVC but a note with a place name")
    source = tmp_path / "broken.heic"
    source.write_bytes(broken)

    report = scrubber.scrub_file(source, tmp_path / "out.heic")

    assert report.outcome is Outcome.FAILED and report.reason is not None
    assert f"item {item} (hvc1) does not parse as its codec" in report.reason


@pytest.mark.parametrize("image_format", ["HEIF", "AVIF"])
def test_clean_items_stay_byte_for_byte(scrubber: Scrubber, tmp_path: Path, image_format: str) -> None:
    """An item with nothing to remove is not rewritten: its data is the input's, byte for byte."""
    data = _image(image_format)
    (item,) = item_extents(data)
    (base, ((offset_at, width, length_at, length_width),)) = item_extents(data)[item]
    start = int.from_bytes(data[base[0] : base[0] + base[1]], "big") + int.from_bytes(
        data[offset_at : offset_at + width], "big"
    )
    coded = data[start : start + int.from_bytes(data[length_at : length_at + length_width], "big")]
    source = tmp_path / "in.img"
    source.write_bytes(data)
    report = scrubber.scrub_file(source, tmp_path / "out.img")
    assert report.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN), report.reason
    out = (tmp_path / "out.img").read_bytes()
    assert coded in out
