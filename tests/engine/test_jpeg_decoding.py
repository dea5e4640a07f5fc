"""JPEG, MPO, Ultra HDR and JPS: what decides the decoded pixels is kept and proven, and every image of an MPF
file is kept, cleaned and decodes identically.

The oracle is independent of the engine: Pillow (libjpeg-turbo) decodes input and output, every MP image is found
through Pillow's own MP index reader and decoded on its own, ExifTool reads the output with ``-a -G1 -u -ee`` and
``gainmap-audit`` classifies gain maps.
"""

from __future__ import annotations

import io
import struct
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from gainmap_audit.detect import classify
from PIL import Image, JpegImagePlugin

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats import jpeg_tables
from exif_scrubber.formats.jpeg import JpegHandler
from exif_scrubber.reading import read

from . import hostile
from .test_devices import _reassemble, exiftool_write, scrubbed, secondary, ultra_hdr
from .test_hostile import token

DEVICES = Path(__file__).resolve().parents[2].parent / "shared" / "devices"
DEVICES_SKIP = f"real device files not found at {DEVICES} (../shared/devices ships beside the repo)"
PERSONAL = frozenset(
    {
        "Make", "Model", "SerialNumber", "InternalSerialNumber", "LensMake", "LensModel", "Software", "OwnerName",
        "DateTimeOriginal", "CreateDate", "ModifyDate", "ThumbnailImage", "PreviewImage", "ImageUniqueID",
        "HDRPlusMakerNote", "DeviceMake", "DeviceModel", "Creator", "Artist", "Copyright",
    }
)  # fmt: skip
"""Tags no scrubbed file may show (with any GPS tag and any maker note)."""


# ---------------------------------------------------------------------- the oracle


def decode(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """Mode, size and pixels of the JPEG image at the start of ``data``, decoded by Pillow (libjpeg-turbo)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
        image.load()
        return image.mode, image.size, image.tobytes()


def mp_images(data: bytes) -> list[bytes]:
    """Each image of the file as Pillow's MP index reader finds it, in index order (the primary alone when there is
    no MP index)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
        mp = image._getmp()
    if not mp:
        return [data]
    base = image.info["mpoffset"]
    found = [data]
    for entry in mp[0xB002][1:]:
        start = base + entry["DataOffset"]
        found.append(data[start : start + entry["Size"]])
    return found


def decoded_images(path: Path) -> list[tuple[str, tuple[int, int], bytes]]:
    """Every image of the file a decoder can read (an MP entry that names no JPEG image is not one)."""
    found = []
    for image in mp_images(path.read_bytes()):
        try:
            found.append(decode(image))
        except (SyntaxError, OSError):
            continue
    return found


def resolution(scrubber: Scrubber, path: Path) -> dict[str, object]:
    """The print size as ExifTool reads it: JFIF density, and EXIF resolution where it is a resolution at all."""
    found: dict[str, object] = {}
    for tag in read(scrubber.pool, str(path)).tags:
        if (
            tag.doc
            or tag.name not in ("XResolution", "YResolution", "ResolutionUnit")
            or tag.group
            not in (
                "JFIF",
                "IFD0",
            )
        ):
            continue
        value = tag.value
        plausible = value in (1, 2, 3) if tag.name == "ResolutionUnit" else 0 < float(value) <= 1_000_000
        if tag.group == "JFIF" or plausible:
            found.setdefault(f"{tag.group}:{tag.name}", value)
    return found


def personal_tags(scrubber: Scrubber, path: Path) -> list[str]:
    """What an independent ExifTool read (``-a -G1 -u -ee``) shows that no scrubbed file may carry (the ICC
    header is left to the ICC tests: its DeviceModel names the profile's maker, not the camera)."""
    found = []
    for tag in read(scrubber.pool, str(path), extra=("-ee",)).tags:
        if tag.group in ("File", "System", "ExifTool", "Composite") or tag.group.startswith("ICC"):
            continue
        maker = tag.group.startswith("MakerNotes") or (tag.group == "Google" and tag.name != "GainMapImage")
        if "GPS" in tag.name or "GPS" in tag.group or maker or tag.name in PERSONAL:
            found.append(f"{tag.location}:{tag.name}")
    return found


def adobe(transform: int) -> bytes:
    return hostile.segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, transform))


def patched_rewrite(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    original = JpegHandler.rewrite

    def rewrite(self: Any, model: Any, data: Any, policy: Any) -> bytes:
        return bytes(change(original(self, model, data, policy)))

    monkeypatch.setattr(JpegHandler, "rewrite", rewrite)


def with_camera_exif(data: bytes) -> bytes:
    exif = hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0")])
    return hostile.insert_after_soi(data, hostile.segment(0xE1, b"Exif\0\0" + exif))


# ---------------------------------------------------------------------- colour conversion, tables, restarts


def test_two_adobe_segments_that_disagree_keep_the_one_decoders_use(scrubber: Scrubber, tmp_path: Path) -> None:
    """No JFIF marker: libjpeg decides from the Adobe transform, and it reads the last APP14 (here 0: RGB)."""
    base = hostile.without_segment(hostile.jpeg(orientation=None), 0xE0, b"JFIF")
    first_only, last_only = hostile.insert_after_soi(base, adobe(1)), hostile.insert_after_soi(base, adobe(0))
    both = with_camera_exif(hostile.insert_after_soi(base, adobe(1), adobe(0)))
    assert decode(both) == decode(last_only) != decode(first_only), "Pillow must decode with the last APP14"
    source = tmp_path / "adobe.jpg"
    source.write_bytes(both)
    assert not scrubber.scan(source).clean
    target = scrubbed(scrubber, source)
    assert decode(target.read_bytes()) == decode(both)
    assert target.read_bytes().count(b"\xff\xeeAdobe"[:2] + b"\x00\x0eAdobe") == 1


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("the Adobe transform", lambda out: out.replace(b"Adobe\0\x64" + bytes(5), b"Adobe\0\x64" + bytes(4) + b"\1")),
        ("the JFIF marker", lambda out: out.replace(b"\xff\xe0\x00\x10JFIF\0", b"\xff\xe0\x00\x10JFIX\0")),
    ],
)  # fmt: skip
def test_the_proof_covers_what_decides_the_colour_conversion(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, change: Any
) -> None:
    """A rewrite that changes the colour conversion is refused, though scans and tables are untouched."""
    source = tmp_path / "colour.jpg"
    source.write_bytes(with_camera_exif(hostile.insert_after_soi(hostile.jpeg(orientation=None), adobe(0))))
    patched_rewrite(monkeypatch, change)
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED and "image data hash changed" in str(report.reason), name


def restart_jpeg() -> bytes:
    buffer = io.BytesIO()
    hostile.pixels((64, 48)).save(buffer, "JPEG", quality=90, restart_marker_blocks=2)
    data = buffer.getvalue()
    assert b"\xff\xdd\x00\x04" in data and b"\xff\xd0" in data
    return data


def test_a_restart_interval_overridden_before_the_scan_is_dropped(scrubber: Scrubber, tmp_path: Path) -> None:
    data = restart_jpeg()
    source = tmp_path / "dri.jpg"
    source.write_bytes(hostile.insert_after_soi(data, hostile.segment(0xDD, b"\x12\x34")))
    assert "unused DRI table" in scrubber.scan(source).leftovers["JPEG"]
    target = scrubbed(scrubber, source)
    assert b"\xff\xdd\x00\x04\x12\x34" not in target.read_bytes()
    assert decode(target.read_bytes()) == decode(data)


def test_the_proof_covers_the_restart_interval(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "dri.jpg"
    source.write_bytes(with_camera_exif(restart_jpeg()))
    patched_rewrite(monkeypatch, lambda out: out.replace(b"\xff\xdd\x00\x04\x00\x02", b"\xff\xdd\x00\x04\x00\x04"))
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED and "image data hash changed" in str(report.reason)


def test_dropping_a_table_a_scan_uses_is_caught_by_the_proof(
    scrubber: Scrubber, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proof hashes the tables each scan is decoded with, not the table segments: a rewrite that loses a used
    table changes it even though the usage analysis itself is what decides the rewrite."""
    original = jpeg_tables.rebuild

    def lossy(marker: int, payload: Any, usage: Any, index: int) -> bytes:
        kept = original(marker, payload, usage, index)
        return kept[65:] if marker == 0xDB else kept  # the first quantisation table goes

    monkeypatch.setattr(jpeg_tables, "rebuild", lossy)
    source = tmp_path / "tables.jpg"
    source.write_bytes(with_camera_exif(hostile.jpeg()))
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED and "image data hash changed" in str(report.reason)


@pytest.mark.parametrize("progressive", [False, True])
def test_tables_no_scan_reads_are_dropped_and_pixels_stay(
    scrubber: Scrubber, tmp_path: Path, progressive: bool
) -> None:
    data = hostile.jpeg(progressive=progressive)
    source = tmp_path / "tables.jpg"
    extra = [hostile.dqt(0, bytes(range(1, 65))), hostile.dqt(2, bytes(64)), hostile.dht(1, 2, b"\x01\x02")]
    source.write_bytes(hostile.before_eoi(hostile.insert_after_soi(data, *extra), hostile.dqt(1, bytes(64))))
    findings = scrubber.scan(source).leftovers["JPEG"]
    assert {"unused DQT table", "unused DHT table"} <= set(findings)
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert bytes(range(1, 65)) not in out and b"\xff\xc4\x00\x15\x12" not in out
    assert decode(out) == decode(source.read_bytes()) == decode(data)
    assert scrubber.scan(target).clean


def test_fill_bytes_before_markers_are_dropped(scrubber: Scrubber, tmp_path: Path) -> None:
    data = hostile.jpeg()
    at = data.index(b"\xff\xdb")
    source = tmp_path / "fill.jpg"
    source.write_bytes(hostile.before_eoi(data[:at] + b"\xff" * 40 + data[at:], b"\xff" * 30))
    assert "0xFF fill bytes" in scrubber.scan(source).leftovers["JPEG"]
    target = scrubbed(scrubber, source)
    assert b"\xff" * 8 not in target.read_bytes()
    assert decode(target.read_bytes()) == decode(data)


def test_jfif_fields_are_written_from_their_values(scrubber: Scrubber, tmp_path: Path) -> None:
    """Version 1.99 and unit 9 are not JFIF values: written as 1.02 and 0; the densities (print size) stay."""
    data = hostile.without_segment(hostile.jpeg(), 0xE0, b"JFIF")
    source = tmp_path / "jfif.jpg"
    source.write_bytes(hostile.insert_after_soi(data, hostile.segment(0xE0, b"JFIF\0\x01\x63\x09\x01\x2c\x00\x96\0\0")))
    assert "APP0 JFIF" in scrubber.scan(source).leftovers["JPEG"]
    target = scrubbed(scrubber, source)
    assert b"JFIF\0\x01\x02\x00\x01\x2c\x00\x96\0\0" in target.read_bytes()
    with Image.open(target) as image:
        assert image.info["jfif_density"] == (300, 150)


def test_resolution_is_kept_in_jfif_and_exif(scrubber: Scrubber, tmp_path: Path) -> None:
    source = tmp_path / "dpi.jpg"
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128], exif[0x010F] = 300.0, 300.0, 2, "Cam"
    hostile.pixels().save(source, "JPEG", dpi=(300, 300), exif=exif.tobytes())
    target = scrubbed(scrubber, source)
    with Image.open(source) as before, Image.open(target) as after:
        assert after.info["dpi"] == before.info["dpi"] == (300, 300)
        assert after.getexif()[0x011A] == 300 and after.getexif()[0x0128] == 2


@pytest.mark.parametrize(("gamma", "kept"), [((22, 10), (11, 5)), ((500, 1), None), ((1, 0), None)])
def test_exif_gamma_is_a_bounded_number(
    scrubber: Scrubber, tmp_path: Path, gamma: tuple[int, int], kept: tuple[int, int] | None
) -> None:
    """ExifIFD Gamma is written from its value: reduced, and only when it is a gamma (0 < gamma <= 10)."""
    exif_at = 8 + 2 + 2 * 12 + 4  # after the header and IFD0's two entries
    exif_ifd = struct.pack(">H", 1) + struct.pack(">HHII", 0xA500, 5, 1, exif_at + 2 + 12 + 4) + bytes(4)
    exif_ifd += struct.pack(">II", *gamma)
    ifd0 = hostile.tiff_header_ifd([(0x010F, 2, 4, b"Cam\0"), (0x8769, 4, 1, struct.pack(">I", exif_at))])
    source = tmp_path / "gamma.jpg"
    source.write_bytes(
        hostile.insert_after_soi(hostile.jpeg(orientation=None), hostile.segment(0xE1, b"Exif\0\0" + ifd0 + exif_ifd))
    )
    target = scrubbed(scrubber, source)
    values = [t.value for t in read(scrubber.pool, str(target)).tags if t.name == "Gamma"]
    assert values == ([kept[0] / kept[1]] if kept else [])
    assert struct.pack(">II", *gamma) not in target.read_bytes() or kept == gamma


# ---------------------------------------------------------------------- MPO: the index maps entries to images


def mpo_images() -> list[bytes]:
    return [hostile.plain_jpeg(seed) for seed in (1, 2, 3)]


def test_an_mp_index_listing_images_out_of_file_order_keeps_each_entry_with_its_image(
    scrubber: Scrubber, tmp_path: Path
) -> None:
    images = mpo_images()
    source = tmp_path / "reversed.mpo"
    source.write_bytes(with_camera_exif(hostile.mpo(images, file_order=[1, 0])))
    expected = [decode(image) for image in images]
    assert decoded_images(source) == expected, "the fixture's index must name the images out of file order"
    target = scrubbed(scrubber, source)
    assert decoded_images(target) == expected
    with Image.open(source) as before, Image.open(target) as after:
        assert before.n_frames == after.n_frames == 3


def test_an_mp_entry_that_names_no_image_is_dropped_and_the_others_kept(scrubber: Scrubber, tmp_path: Path) -> None:
    images = mpo_images()
    data = bytearray(hostile.mpo(images))
    header = data.index(b"MPF\0") + 4
    entries = header + struct.unpack_from(">I", data, header + 8 + 2 + 2 * 12 + 8)[0]  # the MP entry list
    struct.pack_into(">I", data, entries + 16 * 1 + 8, len(data) + 1000)  # entry 2 points past the end
    source = tmp_path / "missing.mpo"
    source.write_bytes(bytes(data))
    report = scrubber.scrub_file(source, tmp_path / "out.mpo")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert any("MPF image 2" in note for note in report.notes)
    assert decoded_images(tmp_path / "out.mpo") == [decode(images[0]), decode(images[2])]


def test_an_mp_index_over_the_budget_is_refused_naming_it(scrubber: Scrubber, tmp_path: Path) -> None:
    image = hostile.plain_jpeg(1)
    source = tmp_path / "many.mpo"
    source.write_bytes(hostile.mpo([image] * 66))
    report = scrubber.scrub_file(source, tmp_path / "out.mpo")
    assert report.outcome is Outcome.FAILED
    assert "too many images (66 > 64)" in str(report.reason)


def test_too_many_segments_are_refused_naming_the_budget(scrubber: Scrubber, tmp_path: Path) -> None:
    source = tmp_path / "segments.jpg"
    source.write_bytes(hostile.insert_after_soi(hostile.jpeg(), b"\xff\xd0" * 70_000))
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.FAILED
    assert "too many segments in one image (more than 65536)" in str(report.reason)


def test_mpf_attributes_keep_their_dc007_types_only(scrubber: Scrubber, tmp_path: Path) -> None:
    convergence = struct.pack(">ii", -3, 2)
    attributes = [(0xB205, 10, 1, convergence), (0xB204, 4, 1, struct.pack(">I", 1)), (0xB206, 7, 8, b"ABCDEFGH")]
    source = tmp_path / "attributes.mpo"
    source.write_bytes(hostile.mpo(mpo_images()[:2], attributes=attributes))
    target = scrubbed(scrubber, source)
    tags = {t.name: t.value for t in read(scrubber.pool, str(target)).tags if t.group.startswith("MPF")}
    assert tags["ConvergenceAngle"] == -1.5 and tags["BaseViewpointNum"] == 1
    assert "BaselineLength" not in tags and b"ABCDEFGH" not in target.read_bytes()


# ---------------------------------------------------------------------- Ultra HDR: whatever tool wrote the XMP

CONTAINER_NS = (
    'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
    'xmlns:Item="http://ns.google.com/photos/1.0/container/item/"'
)


def _attribute_form(length: int) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" {CONTAINER_NS} '
        'hdrgm:Version="1.0"><Container:Directory><rdf:Seq>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" '
        f'Item:Length="{length}"/></rdf:li></rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>'
    )


def _element_form_split(length: int) -> str:
    """As ExifTool writes it after adding a creator: elements, one rdf:Description per namespace."""
    return (
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        "<rdf:Description rdf:about='' xmlns:GContainer='http://ns.google.com/photos/1.0/container/' "
        "xmlns:Item='http://ns.google.com/photos/1.0/container/item/'><GContainer:Directory><rdf:Seq>"
        "<rdf:li rdf:parseType='Resource'><GContainer:Item rdf:parseType='Resource'><Item:Mime>image/jpeg</Item:Mime>"
        "<Item:Semantic>Primary</Item:Semantic></GContainer:Item></rdf:li>"
        "<rdf:li rdf:parseType='Resource'><GContainer:Item rdf:parseType='Resource'>"
        f"<Item:Length>{length}</Item:Length><Item:Mime>image/png</Item:Mime><Item:Semantic>GainMap</Item:Semantic>"
        "</GContainer:Item></rdf:li></rdf:Seq></GContainer:Directory></rdf:Description>"
        "<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:creator><rdf:Seq>"
        "<rdf:li>Alice Example</rdf:li></rdf:Seq></dc:creator></rdf:Description>"
        "<rdf:Description rdf:about='' xmlns:hdrgm='http://ns.adobe.com/hdr-gain-map/1.0/'>"
        "<hdrgm:Version>1.0</hdrgm:Version></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def with_primary_xmp(data: bytes, packet: str) -> bytes:
    gain_map = secondary(data)
    primary = hostile.without_segment(data[: len(data) - len(gain_map)], 0xE1, hostile.XMP_SIG)
    primary = hostile.insert_after_soi(primary, hostile.segment(0xE1, hostile.XMP_SIG + packet.encode()))
    return _reassemble(primary, [gain_map])


def container(data: bytes) -> list[tuple[str, str, str | None]]:
    """(semantic, mime, length) of each container item of the primary's XMP, read with ElementTree."""
    at = data.index(hostile.XMP_SIG) + len(hostile.XMP_SIG)
    end = data.index(b"</x:xmpmeta>", at) + len(b"</x:xmpmeta>")
    root = ET.fromstring(data[data.index(b"<x:xmpmeta", at) : end])
    item = "{http://ns.google.com/photos/1.0/container/item/}"
    found = []
    for element in root.iter("{http://ns.google.com/photos/1.0/container/}Item"):
        values = {key.removeprefix(item): value for key, value in element.attrib.items()}
        found.append((values["Semantic"], values["Mime"], values.get("Length")))
    return found


@pytest.mark.parametrize("form", [_attribute_form, _element_form_split])
def test_ultra_hdr_is_accepted_whatever_tool_wrote_its_xmp(scrubber: Scrubber, tmp_path: Path, form: Any) -> None:
    base = ultra_hdr(tmp_path / "base.jpg").read_bytes()
    source = tmp_path / "uhdr.jpg"
    source.write_bytes(with_primary_xmp(base, form(len(secondary(base)))))
    exiftool_write(scrubber, source, "-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-Model=Pixel 9")
    assert classify(source).state == "ultrahdr"
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert classify(target).state == "ultrahdr"
    assert decoded_images(target) == decoded_images(source) and len(decoded_images(target)) == 2
    assert container(out) == [("Primary", "image/jpeg", None), ("GainMap", "image/jpeg", str(len(secondary(out))))]
    assert b"Alice" not in out and not personal_tags(scrubber, target)


def test_ultra_hdr_whose_xmp_exiftool_rewrote_is_accepted(scrubber: Scrubber, tmp_path: Path) -> None:
    """ExifTool rewrites the whole packet in element form, which Pillow counts as two frames where the engine's
    canonical packet (attribute form) is one: the image count must come from the MP index, not from Pillow."""
    base = ultra_hdr(tmp_path / "base.jpg").read_bytes()
    source = tmp_path / "uhdr.jpg"
    source.write_bytes(with_primary_xmp(base, _attribute_form(len(secondary(base)))))
    exiftool_write(scrubber, source, "-XMP-dc:Creator=Alice Example", "-Make=Google")
    assert b'hdrgm:Version="' not in source.read_bytes()[:2000], "ExifTool writes the version as an element"
    target = scrubbed(scrubber, source)
    assert decoded_images(target) == decoded_images(source)
    assert classify(target).state == "ultrahdr" and not personal_tags(scrubber, target)


def test_gain_map_numbers_are_written_from_their_values(scrubber: Scrubber, tmp_path: Path) -> None:
    """A 40-digit decimal is a number only to a pattern; written from its value it keeps 6 places."""
    data = ultra_hdr(tmp_path / "base.jpg").read_bytes()
    digits = "".join(str(b % 10) for b in token())[:20] * 2
    gain_map = secondary(data)
    hidden = gain_map.replace(b'hdrgm:OffsetSDR="0.000000"', f'hdrgm:OffsetSDR="0.{digits}"'.encode())
    assert hidden != gain_map
    hidden = hidden[:4] + struct.pack(">H", struct.unpack_from(">H", hidden, 4)[0] + len(digits) - 6) + hidden[6:]
    source = tmp_path / "digits.jpg"
    source.write_bytes(_reassemble(data[: len(data) - len(gain_map)], [hidden]))
    assert not scrubber.scan(source).clean
    target = scrubbed(scrubber, source)
    assert digits[:12].encode() not in target.read_bytes()
    written = secondary(target.read_bytes()).split(b'hdrgm:OffsetSDR="')[1].split(b'"')[0]
    assert len(written) == 8 and written.startswith(b"0." + digits[:5].encode())


def test_gain_map_items_of_a_primary_without_a_gain_map_go(scrubber: Scrubber, tmp_path: Path) -> None:
    """The ISO version block, hdrgm values and a container directory describe a gain map: without one they go."""
    xmp = _attribute_form(123456789012)
    source = tmp_path / "orphan.jpg"
    source.write_bytes(
        hostile.insert_after_soi(
            hostile.jpeg(),
            hostile.segment(0xE1, hostile.XMP_SIG + xmp.encode()),
            hostile.segment(0xE2, hostile.ISO_SIG + b"\0\0\0\0"),
        )
    )
    findings = scrubber.scan(source).leftovers["JPEG"]
    assert "APP1 XMP" in findings and "APP2 ISO 21496-1 gain map" in findings
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert b"123456789012" not in out and b"hdrgm" not in out and hostile.ISO_SIG not in out
    with Image.open(target) as image:
        assert image.getexif()[0x0112] == 6


def test_a_gain_map_never_keeps_a_container_directory_or_motion_fields(scrubber: Scrubber, tmp_path: Path) -> None:
    """Only the primary's packet names the file's images and movie: the same fields in a gain map are free numbers."""
    data = ultra_hdr(tmp_path / "base.jpg").read_bytes()
    gain_map = secondary(data)
    packet = _attribute_form(987654321012).replace(
        'hdrgm:Version="1.0"',
        'hdrgm:Version="1.0" hdrgm:GainMapMax="2.5" xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"'
        ' GCamera:MicroVideoOffset="123456789098"',
    )
    hidden = hostile.insert_after_soi(
        hostile.without_segment(gain_map, 0xE1, hostile.XMP_SIG),
        hostile.segment(0xE1, hostile.XMP_SIG + packet.encode()),
    )
    source = tmp_path / "nested.jpg"
    source.write_bytes(_reassemble(data[: len(data) - len(gain_map)], [hidden]))
    assert not scrubber.scan(source).clean
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert b"987654321012" not in out and b"123456789098" not in out
    assert b'hdrgm:GainMapMax="2.500000"' in secondary(out)
    assert decoded_images(target) == decoded_images(source)


def test_a_full_iso_block_in_the_primary_goes_and_the_gain_maps_own_stays(scrubber: Scrubber, tmp_path: Path) -> None:
    data = ultra_hdr(tmp_path / "base.jpg", iso=True).read_bytes()
    gain_map = secondary(data)
    full = data[data.index(hostile.ISO_SIG, len(data) - len(gain_map)) :][: len(hostile.ISO_SIG) + 61]
    primary = hostile.insert_after_soi(data[: len(data) - len(gain_map)], hostile.segment(0xE2, full))
    source = tmp_path / "iso.jpg"
    source.write_bytes(_reassemble(primary, [gain_map]))
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert out.count(full) == 1 and out.index(full) > len(out) - len(secondary(out))
    assert classify(target).state == "ultrahdr"


# ---------------------------------------------------------------------- JPS


def test_a_jps_stereo_jpeg_keeps_its_descriptor_and_loses_its_comment(scrubber: Scrubber, tmp_path: Path) -> None:
    secret = token()
    pair = Image.new("RGB", (128, 48))
    pair.paste(hostile.pixels(seed=1), (0, 0))
    pair.paste(hostile.pixels(seed=2), (64, 0))
    buffer = io.BytesIO()
    pair.save(buffer, "JPEG", quality=90)
    source = tmp_path / "stereo.jps"
    source.write_bytes(with_camera_exif(hostile.insert_after_soi(buffer.getvalue(), hostile.jps_segment(secret))))
    before = read(scrubber.pool, str(source))
    assert before.mime_type == "image/x-jps"
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert secret not in out
    after = read(scrubber.pool, str(target), extra=("-ee",))
    tags = {t.name: t.value for t in after.tags if t.group == "JPS"}
    assert after.mime_type == "image/x-jps"
    assert tags["JPSLayout"] == 2 and tags["JPSType"] == 1 and "JPSComment" not in tags
    assert decode(out) == decode(source.read_bytes())


# ---------------------------------------------------------------------- real device files


DEVICE_JPEGS = [
    "androidx__ultraHDR.jpg",
    "ultrahdr__apple_gainmap_new.jpg",
    "ultrahdr__apple_gainmap_old.jpg",
    "donatj__HNI_0001.MPO",
    "androidx__tokyo.jpg",
    "androidx__london.jpg",
    "androidx__non-motion-photo-shortened.jpg",
]


@pytest.mark.skipif(not DEVICES.is_dir(), reason=DEVICES_SKIP)
@pytest.mark.parametrize("name", DEVICE_JPEGS)
def test_real_device_jpegs_are_cleaned_with_every_image_kept(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    source.write_bytes((DEVICES / name).read_bytes())
    target = scrubbed(scrubber, source)
    assert decoded_images(target) == decoded_images(source)
    assert not personal_tags(scrubber, target)
    assert classify(target).state == classify(source).state
    with Image.open(source) as before, Image.open(target) as after:
        assert after.info.get("dpi") == before.info.get("dpi")
        assert after.info.get("jfif_density") == before.info.get("jfif_density")


@pytest.mark.skipif(not DEVICES.is_dir(), reason=DEVICES_SKIP)
@pytest.mark.parametrize("rewritten", [False, True])
def test_the_pixel_8_ultra_hdr_photo_keeps_its_gain_map_cleaned(
    scrubber: Scrubber, tmp_path: Path, rewritten: bool
) -> None:
    """Google Pixel 8: GPS, HDR+ maker data and an EXIF thumbnail around an Ultra HDR gain map, the container
    directory in the primary's XMP; also after ExifTool has rewritten that XMP (adding a creator)."""
    source = tmp_path / "pixel8.jpg"
    source.write_bytes((DEVICES / "androidx__ultraHDR.jpg").read_bytes())
    if rewritten:
        exiftool_write(scrubber, source, "-XMP-dc:Creator=Alice Example")
    assert classify(source).state == "ultrahdr" and personal_tags(scrubber, source)
    target = scrubbed(scrubber, source)
    out = target.read_bytes()
    assert classify(target).state == "ultrahdr"
    images = decoded_images(target)
    assert images == decoded_images(source) and len(images) == 2 and images[1][0] == "L"
    assert container(out) == [("Primary", "image/jpeg", None), ("GainMap", "image/jpeg", str(len(secondary(out))))]
    assert not personal_tags(scrubber, target) and b"Pixel 8" not in out and b"Alice" not in out
    gain_map = read(scrubber.pool, str(target), extra=("-ee",)).tags
    assert {t.name for t in gain_map if t.group == "XMP-hdrgm"} >= {"Version", "GainMapMax", "HDRCapacityMax"}


# ---------------------------------------------------------------------- the real-image corpus

CORPUS = DEVICES.parent / "corpus"


def corpus_jpegs() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(p.name for p in CORPUS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".mpo"))


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"real-image corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", corpus_jpegs())
def test_corpus_jpegs_decode_identically_with_their_resolution(scrubber: Scrubber, tmp_path: Path, name: str) -> None:
    """Unused tables dropped, Adobe and JFIF rewritten, MP images re-laid: every image still decodes the same, and
    print size (JFIF density, EXIF resolution, as ExifTool reads them; not Pillow's ``dpi``, which says 72 for any
    EXIF block without a resolution) is kept. Refusals are test_corpus's to judge."""
    source, target = CORPUS / name, tmp_path / name
    report = scrubber.scrub_file(source, target)
    if report.outcome is not Outcome.CLEANED:
        assert report.outcome is Outcome.ALREADY_CLEAN or "truncated" in str(report.reason), report.reason
        return
    assert decoded_images(target) == decoded_images(source), name
    before, after = resolution(scrubber, source), resolution(scrubber, target)
    assert before.items() <= after.items(), name  # more only where ExifTool could not read the input's IFD0
