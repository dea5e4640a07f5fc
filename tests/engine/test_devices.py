"""The photos today's phones and cameras make: every secondary image kept and cleaned, every valid file accepted.

Gain maps (Ultra HDR JPEG from a pure-Python encoder, ISO 21496-1, Apple auxiliary images) are checked by an
independent gain-map checker (``gainmap-audit``) before and after; stereo views and frames by decoding them.
"""

from __future__ import annotations

import io
import resource
import struct
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from gainmap_audit.detect import classify
from PIL import Image, ImageCms
from sdr_to_hdr import BT709_TO_BT2020, build_ultra_hdr, compute_gain_map, inverse_tone_map, srgb_to_linear

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.reading import read

from . import hostile
from .hostile import NewItem, heic, heif_edit, next_item_id
from .test_hostile import token

GPS_AND_CAMERA = ("-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-Make=Google", "-Model=Pixel 9", "-Orientation#=6")
ISO_METADATA = (
    b"\0\0\0\0"  # minimum and writer version
    + b"\0"  # single channel, gain map in the alternate colour space
    + struct.pack(">IIII", 0, 1, 2, 1)  # base and alternate HDR headroom
    + struct.pack(">iIiIIIiIiI", 0, 1, 2, 1, 1, 1, 1, 64, 1, 64)  # min, max, gamma, base and alternate offset
)


def exiftool_write(scrubber: Scrubber, path: Path, *args: str) -> None:
    result = scrubber.pool.execute(["-overwrite_original", "-m", *args, str(path)])
    assert "1 image files updated" in result.stdout, result.stderr


def scrubbed(scrubber: Scrubber, source: Path, policy: ScrubPolicy | None = None) -> Path:
    target = source.with_name("clean-" + source.name)
    if policy is None:
        report = scrubber.scrub_file(source, target)
    else:
        with Scrubber(policy) as other:
            report = other.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.verification is not None and report.verification.hash_equal
    assert scrubber.scan(target).clean
    return target


def frames(path: Path) -> list[bytes]:
    with Image.open(path) as image:
        decoded = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            decoded.append(image.convert("RGB").tobytes())
        return decoded


# ---------------------------------------------------------------------- Ultra HDR, ISO 21496-1, MPO


def ultra_hdr(path: Path, *, iso: bool = False) -> Path:
    sdr = np.array(Image.linear_gradient("L").resize((160, 120)).convert("RGB"), dtype=np.uint8)
    sdr[:, :, 1] = 255 - sdr[:, :, 1]
    linear = srgb_to_linear(sdr.astype(np.float32) / 255)
    hdr = np.clip(inverse_tone_map(linear, 203, 1000) @ BT709_TO_BT2020.T, 0, 1000)
    gain, low, high = compute_gain_map(linear, hdr, 203)
    data = build_ultra_hdr(sdr, gain, low, high, 1000, 203)
    if iso:
        data = with_iso_blocks(data)
    path.write_bytes(data)
    return path


def _mpf(data: bytes) -> tuple[int, str]:
    """Offset of the MPF TIFF header and its byte order."""
    at = data.index(b"MPF\0") + 4
    return at, "<" if data[at : at + 2] == b"II" else ">"


def _mp_entries(data: bytes) -> tuple[int, str, int]:
    """(offset of the MP entries, byte order, count) in the primary's MPF segment."""
    header, order = _mpf(data)
    ifd = header + struct.unpack_from(order + "I", data, header + 4)[0]
    (count,) = struct.unpack_from(order + "H", data, ifd)
    for index in range(count):
        tag, _, n, value = struct.unpack_from(order + "HHII", data, ifd + 2 + 12 * index)
        if tag == 0xB002:
            return header + value, order, n // 16
    raise AssertionError("no MP entries")


def secondary(data: bytes, index: int = 1) -> bytes:
    entries, order, _ = _mp_entries(data)
    _, size, offset, _, _ = struct.unpack_from(order + "IIIHH", data, entries + 16 * index)
    return data[_mpf(data)[0] + offset : _mpf(data)[0] + offset + size]


def with_iso_blocks(data: bytes) -> bytes:
    """Add ISO 21496-1 APP2 segments (version in the primary, full metadata in the gain map), fixing the MPF index."""
    gain_map = secondary(data)
    primary = data[: len(data) - len(gain_map)]
    primary = primary[:2] + hostile.segment(0xE2, b"urn:iso:std:iso:ts:21496:-1\0" + b"\0\0\0\0") + primary[2:]
    gain_map = gain_map[:2] + hostile.segment(0xE2, b"urn:iso:std:iso:ts:21496:-1\0" + ISO_METADATA) + gain_map[2:]
    return _reassemble(primary, [gain_map])


def _reassemble(primary: bytes, secondaries: list[bytes]) -> bytes:
    """Primary + secondaries with the MP entries' sizes and offsets set to where they now are."""
    out = bytearray(primary + b"".join(secondaries))
    entries, order, _ = _mp_entries(bytes(out))
    header, _ = _mpf(bytes(out))
    struct.pack_into(order + "I", out, entries + 4, len(primary))
    position = len(primary)
    for index, image in enumerate(secondaries, start=1):
        struct.pack_into(order + "II", out, entries + 16 * index + 4, len(image), position - header)
        position += len(image)
    return bytes(out)


def test_ultra_hdr_jpeg_keeps_its_gain_map_cleaned(scrubber: Scrubber, tmp_path: Path) -> None:
    source = ultra_hdr(tmp_path / "uhdr.jpg")
    exiftool_write(scrubber, source, *GPS_AND_CAMERA)
    secret = token()
    data = source.read_bytes()
    gain_map = secondary(data)
    gain_map = gain_map[:2] + hostile.segment(0xFE, secret) + gain_map[2:]  # a comment hidden in the gain map
    source.write_bytes(_reassemble(data[: len(data) - len(secondary(data))], [gain_map]))
    assert classify(source).state == "ultrahdr"
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert secret not in out and b"Pixel 9" not in out
    assert classify(target).state == "ultrahdr", "the gain map is still there and linked"
    before, after = Image.open(io.BytesIO(gain_map)), Image.open(io.BytesIO(secondary(out)))
    assert before.tobytes() == after.tobytes()
    assert frames(source) == frames(target)
    assert [t.value for t in read(scrubber.pool, str(target)).tags if t.name == "Orientation"] == [6]


def test_iso_21496_gain_map_metadata_is_kept(scrubber: Scrubber, tmp_path: Path) -> None:
    source = ultra_hdr(tmp_path / "iso.jpg", iso=True)
    exiftool_write(scrubber, source, *GPS_AND_CAMERA)
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert b"urn:iso:std:iso:ts:21496:-1\0" + ISO_METADATA in secondary(out)
    assert out.count(b"urn:iso:std:iso:ts:21496:-1\0\0\0\0\0") >= 1
    assert classify(target).state == classify(source).state == "ultrahdr"


def test_mpo_stereo_pair_keeps_both_views(scrubber: Scrubber, tmp_path: Path) -> None:
    left, right = hostile.pixels((96, 64), seed=1), hostile.pixels((96, 64), seed=2)
    source = tmp_path / "pair.mpo"
    left.save(source, "MPO", save_all=True, append_images=[right], quality=90)
    exiftool_write(scrubber, source, *GPS_AND_CAMERA)
    data, secret = source.read_bytes(), token()
    view = secondary(data)
    exif = hostile.segment(0xE1, b"Exif\0\0" + hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]) + secret)
    source.write_bytes(_reassemble(data[: len(data) - len(view)], [view[:2] + exif + view[2:]]))
    assert len(frames(source)) == 2
    target = scrubbed(scrubber, source)
    assert secret not in target.read_bytes()
    assert frames(source) == frames(target) and len(frames(target)) == 2


# ---------------------------------------------------------------------- HEIF: gain maps, grids, big files


def _auxc(urn: bytes) -> bytes:
    return hostile._full(b"auxC", urn + b"\0")


def _ispe(width: int, height: int) -> bytes:
    return hostile._full(b"ispe", struct.pack(">II", width, height))


def test_heic_with_an_apple_hdr_gain_map_keeps_it(scrubber: Scrubber, tmp_path: Path) -> None:
    secret = token()
    base = heic(two=True)
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:HDRGainMap="http://ns.apple.com/HDRGainMap/1.0/" HDRGainMap:HDRGainMapVersion="65536"'
        b' xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="' + secret + b'"/></rdf:RDF></x:xmpmeta>'
    )
    source = tmp_path / "apple.heic"
    source.write_bytes(
        heif_edit(
            base,
            references=[(b"auxl", 2, (1,))],
            associate=[(2, _auxc(b"urn:com:apple:photo:2020:aux:hdrgainmap"), False)],
            hidden={2},
            items=[NewItem(b"mime", xmp, b"application/rdf+xml", describes=2)],
        )
    )
    assert classify(source).state == "apple-aux"
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert secret not in out and b"HDRGainMapVersion" in out
    assert classify(target).state == "apple-aux"


def test_heic_with_an_iso_21496_tone_map_item_is_accepted(scrubber: Scrubber, tmp_path: Path) -> None:
    base = heic(two=True, exif=hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]))
    tmap = next_item_id(base)
    source = tmp_path / "tmap.heic"
    group = hostile._full(b"altr", struct.pack(">III", 100, 2, tmap) + struct.pack(">I", 1))
    source.write_bytes(
        heif_edit(
            base,
            items=[
                NewItem(
                    b"tmap", b"\0" + ISO_METADATA, references=[(b"dimg", (1, 2))], properties=[(_ispe(64, 48), True)]
                )
            ],
            hidden={2},
            groups=group,
            brands=(b"tmap",),
        )
    )
    target = scrubbed(scrubber, source)
    assert b"\0" + ISO_METADATA in target.read_bytes()
    assert classify(target).state == classify(source).state


def _tile_heic() -> bytes:
    tile = heic()  # a 64x48 HEVC image: the tile
    return heif_edit(tile, items=[NewItem(b"Exif", b"\0\0\0\0" + hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]))])


def test_a_200_megapixel_heic_is_scrubbed_without_decoding(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grid of 32 x 24 tiles of 512 x 512 (one tile, referenced 768 times): a 201-megapixel photo in a small
    file. Nothing is decoded, so no pixel limit applies and memory stays flat."""
    tile = heic(size=(512, 512))
    grid = next_item_id(tile)
    rows, columns = 24, 32
    width, height = 512 * columns, 512 * rows
    source = tmp_path / "200mp.heic"
    source.write_bytes(
        heif_edit(
            tile,
            items=[
                NewItem(
                    b"grid",
                    struct.pack(">BBBBHH", 0, 0, rows - 1, columns - 1, width, height),
                    references=[(b"dimg", (1,) * (rows * columns))],
                    properties=[(_ispe(width, height), True)],
                ),
                NewItem(b"Exif", b"\0\0\0\0" + hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")]), describes=grid),
            ],
            hidden={1},
            primary=grid,
        )
    )
    assert width * height > 200_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    target = scrubbed(scrubber, source)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 1024 * 1024  # KiB: well under 1 GB
    assert b"Cam" not in target.read_bytes()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # this test only reads the header, as the engine does
    with Image.open(target) as image:
        assert image.size == (width, height)


def test_a_grid_described_in_idat_is_structure(scrubber: Scrubber, tmp_path: Path) -> None:
    """As Canon and Sony HIF and AVIF grids store it: the grid descriptor in idat."""
    tile = _tile_heic()
    grid = next_item_id(tile)
    source = tmp_path / "hif.heic"
    source.write_bytes(
        heif_edit(
            tile,
            items=[
                NewItem(
                    b"grid",
                    struct.pack(">BBBBHH", 0, 0, 1, 1, 128, 96),
                    references=[(b"dimg", (1, 1, 1, 1))],
                    properties=[(_ispe(128, 96), True)],
                    in_idat=True,
                )
            ],
            hidden={1},
            primary=grid,
        )
    )
    target = scrubbed(scrubber, source)
    assert b"Cam" not in target.read_bytes()
    with Image.open(target) as image:
        assert image.size == (128, 96)


def test_iloc_with_base_offsets_and_a_second_unlinked_exif_item(scrubber: Scrubber, tmp_path: Path) -> None:
    exif = b"\0\0\0\0" + hostile.tiff_header_ifd([(0x0112, 3, 1, b"\0\x06"), (0x010F, 2, 4, b"Cam\0")])
    source = tmp_path / "base.heic"
    source.write_bytes(heif_edit(heic(exif=exif[4:]), items=[NewItem(b"Exif", exif)], base_offsets=True))
    target = scrubbed(scrubber, source)
    assert b"Cam" not in target.read_bytes()
    assert frames(source) == frames(target)


@pytest.mark.parametrize("image_format", ["HEIC", "AVIF"])
def test_strip_icc_on_heif(scrubber: Scrubber, tmp_path: Path, image_format: str) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / f"icc.{image_format.lower()}"
    picture = hostile.pixels()
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    if image_format == "HEIC":
        heif = pillow_heif.from_pillow(picture)
        heif.info["icc_profile"], heif.info["exif"] = profile, exif.tobytes()
        heif.save(str(source), quality=60)
    else:
        picture.save(source, "AVIF", icc_profile=profile, exif=exif.tobytes(), quality=60)
    target = scrubbed(scrubber, source, ScrubPolicy(strip_icc=True))
    with Image.open(target) as image:
        assert not image.info.get("icc_profile")


# ---------------------------------------------------------------------- PNG, JPEG, raw


def big_icc() -> bytes:
    """An sRGB profile whose tone curves are 600,000-entry tables (over 1 MB, beyond Pillow's text-chunk limit)."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    curve = b"curv" + bytes(4) + struct.pack(">I", 600_000) + np.linspace(0, 65535, 600_000).astype(">u2").tobytes()
    (count,) = struct.unpack_from(">I", profile, 128)
    at = len(profile)
    for index in range(count):
        entry = 132 + 12 * index
        if profile[entry : entry + 4] in (b"rTRC", b"gTRC", b"bTRC"):
            struct.pack_into(">II", profile, entry + 4, at, len(curve))
    profile += curve
    struct.pack_into(">I", profile, 0, len(profile))
    return bytes(profile)


def test_png_with_a_profile_over_a_megabyte(scrubber: Scrubber, tmp_path: Path) -> None:
    profile = big_icc()
    assert len(profile) > 1_150_000
    source = tmp_path / "big-icc.png"
    source.write_bytes(hostile.png_insert(hostile.png(), hostile.chunk(b"tEXt", b"Author\0Alice")))
    with Image.open(source) as image:
        image.save(source, "PNG", icc_profile=profile, pnginfo=None)
    source.write_bytes(hostile.png_insert(source.read_bytes(), hostile.chunk(b"tEXt", b"Author\0Alice")))
    target = scrubbed(scrubber, source)
    assert b"Alice" not in target.read_bytes()


def test_png_palette_histogram_is_dropped(scrubber: Scrubber, tmp_path: Path) -> None:
    data = hostile.png(mode="P")
    source = tmp_path / "hist.png"
    source.write_bytes(hostile.png_insert(data, hostile.chunk(b"hIST", bytes(32)), hostile.chunk(b"tEXt", b"k\0v")))
    target = scrubbed(scrubber, source)
    assert b"hIST" not in target.read_bytes()


def test_jfif_thumbnail_is_dropped_and_jfif_kept(scrubber: Scrubber, tmp_path: Path) -> None:
    thumbnail = b"JFIF\0\x01\x01\0\0\x48\0\x48\x02\x02" + bytes(12)
    data = hostile.jpeg()
    at = data.index(b"\xff\xe0")
    length = struct.unpack_from(">H", data, at + 2)[0]
    source = tmp_path / "jfif.jpg"
    source.write_bytes(data[:at] + hostile.segment(0xE0, thumbnail) + data[at + 2 + length :])
    target = scrubbed(scrubber, source)
    assert b"JFIF\0\x01\x01\0\0\x48\0\x48\0\0" in target.read_bytes()


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_jpeg_with_an_invalid_orientation_is_accepted(scrubber: Scrubber, tmp_path: Path, orientation: int) -> None:
    source = tmp_path / "odd.jpg"
    tiff = hostile.tiff_header_ifd([(0x0112, 3, 1, struct.pack(">H", orientation)), (0x010F, 2, 4, b"Cam\0")])
    source.write_bytes(
        hostile.insert_after_soi(hostile.jpeg(orientation=None), hostile.segment(0xE1, b"Exif\0\0" + tiff))
    )
    target = scrubbed(scrubber, source)
    assert b"Cam" not in target.read_bytes()


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"II*\0\x10\0\0\0CR\x02\0" + bytes(64), "Canon CR2"),
        (b"II*\0\x08\0\0\0IIII\x01\0\0\0" + bytes(64), "Phase One IIQ"),
        (b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom" + bytes(64), "Canon CR3"),
        (b"FUJIFILMCCD-RAW 0201" + bytes(64), "Fujifilm RAF"),
        (b"IIU\0\x08\0\0\0" + bytes(64), "Panasonic RW2"),
    ],
)
def test_raw_camera_files_are_refused_up_front_with_that_reason(
    scrubber: Scrubber, tmp_path: Path, head: bytes, name: str
) -> None:
    source = tmp_path / "photo.raw"
    source.write_bytes(head)
    report = scrubber.scrub_file(source, tmp_path / "out.raw")
    assert report.outcome is Outcome.UNSUPPORTED
    assert report.reason == f"raw camera format ({name}), not supported"


def test_a_dng_is_refused_as_raw(scrubber: Scrubber, tmp_path: Path) -> None:
    source = tmp_path / "photo.dng"
    source.write_bytes(hostile.tiff(t50706=b"\x01\x04\x00\x00"))
    report = scrubber.scrub_file(source, tmp_path / "out.dng")
    assert report.outcome is Outcome.UNSUPPORTED and "raw camera format (DNG)" in str(report.reason)


def test_heif_thumbnail_items_are_removed(scrubber: Scrubber, tmp_path: Path) -> None:
    """A thumbnail may show what the photo was cropped from: it goes; the photo itself is untouched."""
    heif = pillow_heif.from_pillow(hostile.pixels((256, 192)))
    heif[0].info["thumbnails"] = [64]
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    heif[0].info["exif"] = exif.tobytes()
    source = tmp_path / "thumb.heic"
    heif.save(str(source), quality=50)
    assert b"thmb" in source.read_bytes()
    target = scrubbed(scrubber, source)
    assert b"thmb" not in target.read_bytes()
    assert frames(source) == frames(target)
