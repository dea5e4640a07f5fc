"""The allowlist: what counts as a leftover and what is structure."""

from __future__ import annotations

from exif_scrubber import ScrubPolicy
from exif_scrubber.leftovers import Tag, find_leftovers, parse_exiftool_json

POLICY = ScrubPolicy()


def tag(group: str, name: str, value: object = 1, doc: str = "") -> Tag:
    return Tag(doc=doc, group=group, name=name, value=value)


def test_gps_camera_and_serials_are_leftovers() -> None:
    tags = [tag("GPS", "GPSLatitude"), tag("IFD0", "Make"), tag("ExifIFD", "SerialNumber"), tag("IFD0", "Orientation")]
    assert find_leftovers(tags, POLICY) == {"GPS": ["GPSLatitude"], "IFD0": ["Make"], "ExifIFD": ["SerialNumber"]}


def test_tiff_structure_is_allowed_only_in_tiff() -> None:
    strips = [tag("IFD0", "StripOffsets"), tag("IFD2", "ImageWidth")]
    assert find_leftovers(strips, POLICY, tiff=True) == {}
    assert find_leftovers(strips, POLICY, tiff=False) == {"IFD0": ["StripOffsets"], "IFD2": ["ImageWidth"]}


def test_thumbnails_in_jpeg_ifd1_are_leftovers() -> None:
    assert find_leftovers([tag("IFD1", "ThumbnailOffset")], POLICY) == {"IFD1": ["ThumbnailOffset"]}


def test_box_dates_count_only_when_set() -> None:
    zero = tag("Track1", "MediaCreateDate", "0000:00:00 00:00:00")
    real = tag("QuickTime", "CreateDate", "2020:04:07 16:39:23")
    assert find_leftovers([zero, real], POLICY) == {"QuickTime": ["CreateDate"]}


def test_decoding_boxes_are_structure_but_vendor_boxes_are_not() -> None:
    """ExifTool's -u names for ISO-BMFF boxes: decoding boxes pass, a uuid box of any size is a leftover."""
    boxes = [tag("QuickTime", "Unknown_stss", "(Binary data 20 bytes)"), tag("Track1", "Unknown_edts", "x")]
    assert find_leftovers(boxes, POLICY) == {}
    vendor = [tag("QuickTime", "Unknown_uuid", "(Binary data 32 bytes)"), tag("QuickTime", "Unknown_zzzz", "x")]
    assert find_leftovers(vendor, POLICY) == {"QuickTime": ["Unknown_uuid", "Unknown_zzzz"]}


def test_icc_follows_the_policy() -> None:
    icc = [tag("ICC_Profile", "ProfileDescription", "sRGB")]
    assert find_leftovers(icc, POLICY) == {}
    assert find_leftovers(icc, ScrubPolicy(strip_icc=True)) == {"ICC_Profile": ["ProfileDescription"]}


def test_gain_map_parameters_are_kept_but_other_xmp_is_not() -> None:
    tags = [
        tag("XMP-hdrgm", "GainMapMax"),
        tag("XMP-HDRGainMap", "HDRGainMapVersion"),
        tag("XMP-depthData", "Quality"),
        tag("XMP-x", "XMPToolkit", "Adobe XMP Core 5.1"),
        tag("XMP-x", "XMPToolkit", "Image::ExifTool 13.59"),
    ]
    assert find_leftovers(tags, POLICY) == {"XMP-depthData": ["Quality"], "XMP-x": ["XMPToolkit"]}


def test_embedded_documents_are_reported_with_their_document() -> None:
    assert find_leftovers([tag("IFD0", "Make", "Nintendo", doc="Doc2")], POLICY) == {"Doc2:IFD0": ["Make"]}


def test_copyright_is_kept_only_on_request() -> None:
    tags = [tag("IFD0", "Copyright", "(c) A"), tag("XMP-dc", "Rights", "r")]
    assert find_leftovers(tags, POLICY) == {"IFD0": ["Copyright"], "XMP-dc": ["Rights"]}
    assert find_leftovers(tags, ScrubPolicy(keep_copyright=True)) == {}


def test_json_parsing_keeps_duplicate_tags() -> None:
    text = '[{"SourceFile": "x", "IFD0:Make": "A", "IFD0:Make": "B", "Doc2:GPS:GPSLatitude": 1}]'
    tags = parse_exiftool_json(text)[0]
    assert [(t.doc, t.group, t.name, t.value) for t in tags] == [
        ("", "IFD0", "Make", "A"),
        ("", "IFD0", "Make", "B"),
        ("Doc2", "GPS", "GPSLatitude", 1),
    ]
