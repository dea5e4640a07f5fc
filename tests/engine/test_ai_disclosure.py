"""The AI disclosure without C2PA: an XMP ``Iptc4xmpExt:DigitalSourceType`` saying AI generated or edited the image
is kept by default, rebuilt in canonical form, while everything personal around it goes; ``drop_ai_disclosure``
removes it. Judged by ExifTool ``-a -G1 -u -ee``, raw-byte searches and Pillow, never by the engine's report."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.kept import ai_disclosure
from exif_scrubber.kept.xmp import read_xmp
from scrub_demo.samples import make_pixels
from tests.oracle import exiftool_read, personal_data, view_image

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def ai_photo(scrubber: Scrubber, path: Path, image_format: str, source_type: str) -> tuple[Path, list[str]]:
    """A photo whose XMP holds ``source_type`` beside a creator, a city and a GPS position (tokens)."""
    tokens = [f"Creator{secrets.token_hex(5)}", f"City{secrets.token_hex(5)}"]
    make_pixels((48, 32)).save(path, image_format)
    args = [
        f"-XMP-iptcExt:DigitalSourceType={source_type}",
        f"-XMP-dc:Creator={tokens[0]}",
        f"-XMP-photoshop:City={tokens[1]}",
        "-XMP-exif:GPSLatitude=48.8577",
        "-XMP-exif:GPSLatitudeRef=N",
        "-EXIF:Artist=" + tokens[0],
        "-overwrite_original",
        str(path),
    ]
    scrubber.pool.execute(args)
    assert all(token.encode() in path.read_bytes() for token in tokens)
    return path, tokens


def _source_types(path: Path) -> list[str]:
    return [str(v) for doc in exiftool_read(path) for k, v in doc.items() if k.endswith("DigitalSourceType")]


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_ai_disclosure_is_kept_and_everything_personal_goes(
    image_format: str, scrubber: Scrubber, tmp_path: Path
) -> None:
    source, tokens = ai_photo(scrubber, tmp_path / f"ai.{image_format.lower()}", image_format, AI)
    output = tmp_path / f"out.{image_format.lower()}"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    data = output.read_bytes()
    assert not [token for token in tokens if token.encode() in data]
    assert _source_types(output) == [AI]
    assert not personal_data(output)
    assert view_image(output).frames == view_image(source).frames
    again = scrubber.scrub_file(output, tmp_path / f"again.{image_format.lower()}")
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before


def test_drop_ai_disclosure_removes_it(scrubber: Scrubber, tmp_path: Path) -> None:
    source, _ = ai_photo(scrubber, tmp_path / "ai.jpg", "JPEG", AI)
    with Scrubber(ScrubPolicy(drop_ai_disclosure=True)) as dropping:
        report = dropping.scrub_file(source, tmp_path / "out.jpg")
        assert report.outcome is Outcome.CLEANED, report.reason
        assert _source_types(tmp_path / "out.jpg") == []
        assert b"trainedAlgorithmicMedia" not in (tmp_path / "out.jpg").read_bytes()
        # a file the default policy calls clean still has something to remove under this one
        kept = tmp_path / "kept.jpg"
        scrubber.scrub_file(source, kept)
        assert dropping.scrub_file(kept, tmp_path / "dropped.jpg").outcome is Outcome.CLEANED


@pytest.mark.parametrize(
    "value",
    [
        "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
        "http://cv.iptc.org/newscodes/digitalsourcetype/humanEdits",
        "trainedAlgorithmicMedia made by jane@example.org",
        "http://example.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    ],
)
def test_other_digital_source_types_are_metadata(value: str, scrubber: Scrubber, tmp_path: Path) -> None:
    """A capture, a human edit or free text is not an AI disclosure: it goes with the rest."""
    source, _ = ai_photo(scrubber, tmp_path / "x.jpg", "JPEG", value)
    assert scrubber.scrub_file(source, tmp_path / "out.jpg").outcome is Outcome.CLEANED
    assert _source_types(tmp_path / "out.jpg") == []
    assert b"example.org" not in (tmp_path / "out.jpg").read_bytes()


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("https://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia/",
         "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"),
        ("digsrctype:algorithmicMedia", "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic",
         "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"),
    ],
)  # fmt: skip
def test_other_spellings_are_rewritten_canonical(
    value: str, canonical: str, scrubber: Scrubber, tmp_path: Path
) -> None:
    source, _ = ai_photo(scrubber, tmp_path / "x.jpg", "JPEG", value)
    assert scrubber.scrub_file(source, tmp_path / "out.jpg").outcome is Outcome.CLEANED
    assert _source_types(tmp_path / "out.jpg") == [canonical]


def test_the_deprecated_property_is_read_and_written_as_the_current_one() -> None:
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        b'Iptc4xmpExt:DigitalSourcefileType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    assert read_xmp(packet).digital_source_type == AI
    assert read_xmp(packet, keep_ai_disclosure=False).digital_source_type is None
    assert ai_disclosure.canonical("  digsrctype:trainedAlgorithmicMedia ") == AI
    assert ai_disclosure.canonical("digsrctype:digitalCapture") is None
