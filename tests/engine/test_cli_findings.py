"""The categories both command lines show (exif_scrubber/findings.py): each leftover in the reader's words, a
metadata block filed under what ExifTool reads in it, nothing unknown ever filed as harmless, and ExifTool's
warnings kept as its own words, never the file's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exif_scrubber.findings import (
    BYTE_MODEL_GROUPS,
    Category,
    by_category,
    categories,
    categorize,
    findings,
    warning_text,
)
from exif_scrubber.formats import HANDLERS

L, P, D, T = Category.LOCATION, Category.PEOPLE, Category.DEVICE, Category.DATES
THUMB, TEXT, SOFT = Category.THUMBNAILS, Category.TEXT, Category.SOFTWARE
UNPARSED, UNVERIFIABLE = Category.UNPARSED, Category.UNVERIFIABLE


def test_the_byte_model_groups_are_every_handlers() -> None:
    assert {handler.leftover_group for handler in HANDLERS} == BYTE_MODEL_GROUPS


@pytest.mark.parametrize(
    ("group", "name", "expected"),
    [
        # ExifTool tags: by name, then by group
        ("GPS", "GPSLatitude", L),
        ("XMP-exif", "GPSLongitude", L),
        ("UserData", "GPSCoordinates", L),
        ("Doc3:Track4", "GPSLatitude", L),
        ("IPTC", "City", L),
        ("XMP-iptcCore", "Location", L),
        ("Doc1:Track4", "Accelerometer", L),  # the samples of a timed telemetry track
        ("XMP-dc", "Creator", P),
        ("IFD0", "Artist", P),
        ("IPTC", "By-line", P),
        ("Canon", "OwnerName", P),
        ("XMP-iptcCore", "CreatorCity", P),  # the creator's address, not where the photo was taken
        ("Canon", "SerialNumber", D),
        ("IFD0", "Make", D),
        ("ExifIFD", "LensSerialNumber", D),
        ("Apple", "ContentIdentifier", D),
        ("ExifIFD", "FNumber", D),
        ("Nikon", "ShutterCount", D),
        ("ExifIFD", "DateTimeOriginal", T),
        ("ExifIFD", "OffsetTime", T),
        ("QuickTime", "CreateDate", T),
        ("IFD1", "ThumbnailImage", THUMB),
        ("IFD1", "Compression", THUMB),  # the thumbnail's own IFD
        ("Photoshop", "PhotoshopThumbnail", THUMB),
        ("Google", "MotionPhotoVideo", THUMB),
        ("ExifIFD", "UserComment", TEXT),
        ("IFD0", "ImageDescription", TEXT),
        ("IPTC", "Keywords", TEXT),
        ("IFD0", "Software", SOFT),
        ("XMP-xmp", "CreatorTool", SOFT),
        ("XMP-xmpMM", "HistoryAction", SOFT),
        ("Track1", "HandlerDescription", SOFT),
        ("Nikon", "DataDump", UNPARSED),
        ("ExifTool-warnings", "Bad IFD0 directory", UNVERIFIABLE),
        ("ExifTool-warnings", "Wrong format (string) for IFD0 0x8825 GPSInfo", UNVERIFIABLE),
        ("SomeNewGroup", "SomeNewTag", UNVERIFIABLE),  # unknown: never harmless
        # byte-model block labels, as the walkers name them
        ("JPEG", "APP1 EXIF", D),
        ("JPEG", "APP1 XMP", SOFT),
        ("JPEG", "APP13 Photoshop IRB / IPTC", P),
        ("JPEG", "COM", TEXT),
        ("JPEG", "APP0 JFIF thumbnail", THUMB),
        ("JPEG", "bytes after EOI (trailer)", UNPARSED),
        ("JPEG", "bytes between segments", UNPARSED),
        ("JPEG", "APP7", UNPARSED),
        ("JPEG", "APP2 ICC profile", UNVERIFIABLE),
        ("JPEG", "APP2 MPF index", UNVERIFIABLE),
        ("JPEG", "APP14 Adobe (truncated: decoders ignore it)", UNVERIFIABLE),
        ("JPEG", "image 2: APP1 EXIF", D),
        ("PNG-chunks", "tEXt", TEXT),
        ("PNG-chunks", "tIME", T),
        ("PNG-chunks", "iTXt XMP", SOFT),
        ("PNG-chunks", "orNT", UNPARSED),  # a chunk the walker does not know
        ("PNG-chunks", "sBIT extra bytes", UNPARSED),
        ("RIFF-chunks", "584d5000", UNPARSED),
        ("GIF-blocks", "comment extension", TEXT),
        ("TIFF", "IFD0 GPS IFD", L),
        ("TIFF", "IFD0 GeoTIFF transform", L),
        ("TIFF", "IFD0 Artist", P),
        ("TIFF", "IFD0 DateTime", T),
        ("TIFF", "IFD0 tag 0x9999", UNPARSED),
        ("HEIF-boxes", "item 8 (hvc1)", THUMB),
        ("HEIF-boxes", "item 2 (Exif)", D),
        ("HEIF-boxes", "iref", UNVERIFIABLE),
        ("HEIF-boxes", "property colr", UNVERIFIABLE),
        ("HEIF-boxes", "mpvd box", THUMB),
        ("QuickTime-boxes", "udta box", D),
        ("QuickTime-boxes", "track 3 (gpmd)", L),
        ("QuickTime-boxes", "track 2 (tmcd)", T),
        ("QuickTime-boxes", "hdlr name", SOFT),
        ("QuickTime-boxes", "mvhd dates", T),
        ("QuickTime-boxes", "compressor name", SOFT),
        ("QuickTime-boxes", "bytes no track references", UNPARSED),
        ("QuickTime-boxes", "a block nobody named", UNPARSED),
        # a motion photo's movie: its groups carry a prefix, its findings are the movie's own
        ("motion photo video QuickTime-boxes", "track 3 (gpmd)", L),
        ("motion photo video Keys", "GPSCoordinates", L),
        ("motion photo video Doc2:Track3", "Accelerometer", L),
        ("motion photo video QuickTime", "CreateDate", T),
        ("JPEG", "motion photo video: track 3 (gpmd)", L),
        ("JPEG", "motion photo video: mvhd dates", T),
        ("JPEG", "motion photo video (removed by policy)", THUMB),
    ],
)
def test_categorize(group: str, name: str, expected: Category) -> None:
    assert categorize(group, name) is expected


@given(st.text(max_size=40), st.text(max_size=40))
def test_every_name_gets_a_category_that_is_a_finding(group: str, name: str) -> None:
    assert categorize(group, name) in Category  # there is no "harmless" to fall into


def test_a_block_is_filed_under_what_exiftool_reads_in_it() -> None:
    leftovers = {"JPEG": ["APP1 EXIF", "APP1 XMP"], "GPS": ["GPSLatitude"], "IFD0": ["Make"], "XMP-dc": ["Creator"]}
    found = {(f.group, f.name): f.category for f in findings(leftovers)}
    assert found[("JPEG", "APP1 EXIF")] is L  # the most personal thing in it
    assert found[("JPEG", "APP1 XMP")] is P
    assert categories(leftovers) == [L, P, D]  # a block adds no category its fields do not have
    nothing_inside = findings({"JPEG": ["APP1 EXIF"]})  # an EXIF block ExifTool names nothing in
    assert [f.category for f in nothing_inside] == [UNVERIFIABLE]


def test_a_removed_items_entry_goes_with_the_item() -> None:
    leftovers = {"HEIF-boxes": ["item 45 entry (item removed)", "item 45 (mime)", "iref"], "XMP-xmp": ["CreateDate"]}
    grouped = by_category(leftovers)
    assert grouped[T] == {"HEIF-boxes": ["item 45 entry (item removed)", "item 45 (mime)"], "XMP-xmp": ["CreateDate"]}
    assert grouped[UNVERIFIABLE] == {"HEIF-boxes": ["iref"]}
    assert list(grouped) == [T, UNVERIFIABLE]


def test_findings_are_in_report_order_and_keep_the_detail() -> None:
    result = findings({"IFD0": ["Software", "Make"], "GPS": ["GPSLatitude"]})
    assert [(f.category, f.detail) for f in result] == [
        (L, "GPS: GPSLatitude"),
        (D, "IFD0: Make"),
        (SOFT, "IFD0: Software"),
    ]
    assert result[0].as_dict() == {"category": "location", "group": "GPS", "name": "GPSLatitude"}


def test_warnings_keep_exiftools_words_not_the_files() -> None:
    assert warning_text("Bad IFD0 directory") == "Bad IFD0 directory"
    text = warning_text("Duplicate XMP property 'TOKEN-SECRET-1' in \"TOKEN-SECRET-2\" \u202e\x1b[31m")
    assert "TOKEN" not in text and "\x1b" not in text and "\u202e" not in text
    assert text.startswith("Duplicate XMP property '...' in '...'")
    assert len(warning_text("x" * 500)) == 120


def test_short_names_are_one_word_each() -> None:
    assert [c.short for c in Category] == [
        "location", "people", "device", "dates", "thumbnails", "text", "software", "unparsed", "unverifiable"
    ]  # fmt: skip
