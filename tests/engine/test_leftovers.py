"""The allowlist: what counts as a leftover, decided by each format handler from the file's byte model."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from exif_scrubber import ScrubPolicy
from exif_scrubber.allowlist import Allowlist
from exif_scrubber.bytemodel import ByteModel, Kind, Span
from exif_scrubber.formats.base import FormatHandler
from exif_scrubber.formats.heif import HeicHandler, HeifModel
from exif_scrubber.formats.jpeg import JpegHandler
from exif_scrubber.formats.movie_tags import MOVIE_TAGS
from exif_scrubber.formats.png import PngHandler
from exif_scrubber.formats.tiff import TiffHandler
from exif_scrubber.leftovers import Tag, find_leftovers, parse_exiftool_json

POLICY = ScrubPolicy()


def tag(group: str, name: str, value: object = 1, doc: str = "") -> Tag:
    return Tag(doc=doc, group=group, name=name, value=value)


def image(image_format: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, image_format, **save)
    return buffer.getvalue()


def allowlist(handler: FormatHandler, data: bytes, policy: ScrubPolicy = POLICY) -> Allowlist:
    return handler.allowlist(handler.walk(data, policy), policy)


def oriented_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return image("JPEG", exif=exif.tobytes())


def test_gps_camera_and_serials_are_leftovers() -> None:
    tags = [tag("GPS", "GPSLatitude"), tag("IFD0", "Make"), tag("ExifIFD", "SerialNumber"), tag("IFD0", "Orientation")]
    found = find_leftovers(tags, allowlist(JpegHandler(), oriented_jpeg()))
    assert found == {"GPS": ["GPSLatitude"], "IFD0": ["Make"], "ExifIFD": ["SerialNumber"]}


def test_a_kept_item_counts_only_where_the_file_has_it() -> None:
    """The EXIF names are allowed because the JPEG has an EXIF block; a JPEG without one allows none of them."""
    bare = allowlist(JpegHandler(), image("JPEG"))
    assert find_leftovers([tag("IFD0", "Orientation")], bare) == {"IFD0": ["Orientation"]}
    assert find_leftovers([tag("IFD0", "Orientation")], allowlist(JpegHandler(), oriented_jpeg())) == {}


def test_tiff_structure_names_come_from_the_entries_kept() -> None:
    strips = [tag("IFD0", "StripOffsets"), tag("IFD2", "ImageWidth")]
    assert find_leftovers(strips, allowlist(TiffHandler(), image("TIFF"))) == {}
    jpeg = find_leftovers(strips, allowlist(JpegHandler(), oriented_jpeg()))
    assert jpeg == {"IFD0": ["StripOffsets"], "IFD2": ["ImageWidth"]}


def test_free_text_in_a_kept_tiff_entry_is_left_for_exiftool_to_report() -> None:
    """PageName (text) has no ExifTool name in the TIFF handler's table, whatever the walker does with it."""
    assert find_leftovers([tag("IFD0", "PageName", "x")], allowlist(TiffHandler(), image("TIFF"))) == {
        "IFD0": ["PageName"]
    }


def test_thumbnails_in_jpeg_ifd1_are_leftovers() -> None:
    found = find_leftovers([tag("IFD1", "ThumbnailOffset")], allowlist(JpegHandler(), oriented_jpeg()))
    assert found == {"IFD1": ["ThumbnailOffset"]}


def test_box_dates_count_only_when_set() -> None:
    headers = MOVIE_TAGS["mvhd"] | MOVIE_TAGS["mdhd"]
    zero = tag("Track1", "MediaCreateDate", "0000:00:00 00:00:00")
    real = tag("QuickTime", "CreateDate", "2020:04:07 16:39:23")
    assert find_leftovers([zero, real], headers) == {"QuickTime": ["CreateDate"]}


def heif_model(*labels: str) -> HeifModel:
    model = HeifModel(format="HEIC", size=8 * len(labels))
    for index, label in enumerate(labels):
        model.add(8 * index, 8 * index + 8, Kind.STRUCTURE, label)
    return model


def test_a_box_name_is_structure_only_where_the_walker_parsed_that_box() -> None:
    """``Meta:Unknown_idat`` (a grid descriptor's box) is allowed in a file whose walk found an idat, not elsewhere;
    a vendor uuid box is never structure."""
    handler, names = HeicHandler(), [tag("Meta", "Unknown_idat", "x"), tag("QuickTime", "Unknown_uuid", "x")]
    with_idat = handler.allowlist(heif_model("ftyp", "meta", "idat"), POLICY)
    without = handler.allowlist(heif_model("ftyp", "meta"), POLICY)
    assert find_leftovers(names, with_idat) == {"QuickTime": ["Unknown_uuid"]}
    assert find_leftovers(names, without) == {"Meta": ["Unknown_idat"], "QuickTime": ["Unknown_uuid"]}


def test_icc_follows_the_policy() -> None:
    png = image("PNG", icc_profile=_srgb())
    icc = [tag("ICC_Profile", "ProfileDescription", "sRGB"), tag("ICC-header1", "ProfileClass", "mntr")]
    assert find_leftovers(icc, allowlist(PngHandler(), png)) == {}
    stripped = allowlist(PngHandler(), png, ScrubPolicy(strip_icc=True))
    assert find_leftovers(icc, stripped) == {"ICC_Profile": ["ProfileDescription"], "ICC-header1": ["ProfileClass"]}


def _srgb() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_gain_map_parameters_are_kept_but_other_xmp_is_not() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    jpeg = image("JPEG", xmp=xmp + b"</x:xmpmeta>")
    tags = [
        tag("XMP-hdrgm", "GainMapMax"),
        tag("XMP-HDRGainMap", "HDRGainMapVersion"),
        tag("XMP-depthData", "Quality"),
        tag("XMP-x", "XMPToolkit", "Image::ExifTool 13.59"),
        tag("XMP-x", "XMPToolkit", "made on Alice's laptop"),
    ]
    assert find_leftovers(tags, allowlist(JpegHandler(), jpeg)) == {
        "XMP-depthData": ["Quality"],
        "XMP-x": ["XMPToolkit"],
    }


def test_embedded_documents_are_reported_with_their_document() -> None:
    found = find_leftovers([tag("IFD0", "Make", "Nintendo", doc="Doc2")], allowlist(JpegHandler(), oriented_jpeg()))
    assert found == {"Doc2:IFD0": ["Make"]}


def test_copyright_is_kept_only_on_request() -> None:
    tags = [tag("IFD0", "Copyright", "(c) A"), tag("XMP-dc", "Rights", "r")]
    model = ByteModel(
        format="JPEG", size=2, spans=[Span(0, 1, Kind.KEPT, "APP1 EXIF"), Span(1, 2, Kind.KEPT, "APP1 XMP")]
    )
    handler = JpegHandler()
    assert find_leftovers(tags, handler.allowlist(model, POLICY)) == {"IFD0": ["Copyright"], "XMP-dc": ["Rights"]}
    assert find_leftovers(tags, handler.allowlist(model, ScrubPolicy(keep_copyright=True))) == {}


def test_json_parsing_keeps_duplicate_tags() -> None:
    text = '[{"SourceFile": "x", "IFD0:Make": "A", "IFD0:Make": "B", "Doc2:GPS:GPSLatitude": 1}]'
    tags = parse_exiftool_json(text)[0]
    assert [(t.doc, t.group, t.name, t.value) for t in tags] == [
        ("", "IFD0", "Make", "A"),
        ("", "IFD0", "Make", "B"),
        ("Doc2", "GPS", "GPSLatitude", 1),
    ]
