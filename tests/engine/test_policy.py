"""The policy options change exactly what they say."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.kept.icc import is_canonical_icc, reduce_icc
from exif_scrubber.reading import read
from scrub_demo.samples import MetadataRecipe, inject, make_pixels

from .conftest import SampleFactory


def _jpeg_with_icc(scrubber: Scrubber, path: Path) -> Path:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    make_pixels((64, 48)).save(path, "JPEG", quality=90, icc_profile=profile)
    inject(scrubber.pool, path, MetadataRecipe(), "JPEG")
    return path


def _icc_of(path: Path) -> bytes | None:
    with Image.open(path) as image:
        return image.info.get("icc_profile")


def _renders_the_same(original: bytes, kept: bytes) -> bool:
    """The same picture converted to sRGB through both profiles gives the same bytes."""
    picture = make_pixels((64, 48))
    srgb = ImageCms.createProfile("sRGB")
    outputs = []
    for profile in (original, kept):
        transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)), srgb, "RGB", "RGB")
        outputs.append(ImageCms.applyTransform(picture, transform).tobytes())  # type: ignore[union-attr]
    return outputs[0] == outputs[1]


def test_icc_profile_is_kept_by_default_reduced_to_what_colour_management_needs(
    scrubber: Scrubber, tmp_path: Path
) -> None:
    source = _jpeg_with_icc(scrubber, tmp_path / "icc.jpg")
    report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED
    original, kept = _icc_of(source), _icc_of(tmp_path / "out.jpg")
    assert original is not None and kept is not None
    assert is_canonical_icc(kept) and kept == reduce_icc(original)
    assert _renders_the_same(original, kept)


def test_strip_icc_removes_the_profile(scrubber: Scrubber, tmp_path: Path) -> None:
    source = _jpeg_with_icc(scrubber, tmp_path / "icc.jpg")
    with Scrubber(ScrubPolicy(strip_icc=True)) as stripping:
        report = stripping.scrub_file(source, tmp_path / "out.jpg")
        assert report.outcome is Outcome.CLEANED, report.reason
        assert _icc_of(tmp_path / "out.jpg") is None
        assert stripping.scan(tmp_path / "out.jpg").clean


def test_keep_copyright_keeps_only_rights_fields(sample: SampleFactory, tmp_path: Path) -> None:
    source = sample("JPEG")
    with Scrubber(ScrubPolicy(keep_copyright=True)) as keeping:
        report = keeping.scrub_file(source, tmp_path / "out.jpg")
        assert report.outcome is Outcome.CLEANED, report.reason
        tags = {f"{t.group}:{t.name}": t.value for t in read(keeping.pool, str(tmp_path / "out.jpg")).tags}
        assert keeping.scan(tmp_path / "out.jpg").clean
    assert tags["IFD0:Copyright"] == "(c) 2024 Alice Example"
    assert tags["IFD0:Artist"] == "Alice Example"
    assert tags["XMP-dc:Rights"] == "All rights reserved"
    assert tags["IPTC:By-line"] == "Alice Example"
    assert not [k for k in tags if k.startswith(("GPS:", "IPTC:City", "IFD0:Make", "IFD1:", "XMP-dc:Desc"))]
    data = (tmp_path / "out.jpg").read_bytes()
    assert b"Rue Example" not in data and b"083024001234" not in data


def test_default_policy_removes_copyright(sample: SampleFactory, scrubber: Scrubber, tmp_path: Path) -> None:
    source = sample("JPEG")
    scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert b"Alice Example" not in (tmp_path / "out.jpg").read_bytes()


def test_fingerprint_records_the_options() -> None:
    assert ScrubPolicy().fingerprint() == "p1;icc"
    assert ScrubPolicy(strip_icc=True, keep_copyright=True).fingerprint() == "p1;copyright"
    assert ScrubPolicy(keep_live_photo_pairing=True).fingerprint() == "p1;icc;livephoto"


def test_keeping_c2pa_is_refused_loudly() -> None:
    """C2PA manifests are always removed; a deployment that still asks to keep them fails at start, naming why."""
    with pytest.raises(ValueError, match="KEEP_C2PA is not supported: C2PA manifests are always removed"):
        ScrubPolicy.from_env({"KEEP_C2PA": "true"})
    assert ScrubPolicy.from_env({"KEEP_C2PA": "false"}) == ScrubPolicy()


def test_c2pa_manifests_are_removed(sample: SampleFactory, scrubber: Scrubber, tmp_path: Path) -> None:
    """A JUMBF/C2PA manifest (JPEG APP11, PNG caBX) can hold a location and a thumbnail: it never survives."""
    token = b"C2PA-TOKEN-7f3a9c"
    jumbf = b"JP\0\x01\0\0\0\x01" + struct.pack(">I", 8 + 17 + len(token)) + b"jumb" + b"\0\0\0\x11jumdc2pa" + token
    jpeg = sample("JPEG").read_bytes()
    planted_jpeg = jpeg[:2] + b"\xff\xeb" + struct.pack(">H", len(jumbf) + 2) + jumbf + jpeg[2:]
    png = sample("PNG").read_bytes()
    cabx = struct.pack(">I", len(token)) + b"caBX" + token
    planted_png = png[:33] + cabx + struct.pack(">I", zlib.crc32(b"caBX" + token)) + png[33:]
    for name, data in (("in.jpg", planted_jpeg), ("in.png", planted_png)):
        source, out = tmp_path / name, tmp_path / f"out-{name}"
        source.write_bytes(data)
        report = scrubber.scrub_file(source, out)
        assert report.outcome is Outcome.CLEANED, report.reason
        assert token not in out.read_bytes()


def test_policy_from_env_parses_and_validates() -> None:
    policy = ScrubPolicy.from_env({"KEEP_COPYRIGHT": "yes", "STRIP_ICC": "0", "MAX_PIXELS": "1000"})
    assert policy == ScrubPolicy(keep_copyright=True, strip_icc=False, max_pixels=1000)
    with pytest.raises(ValueError, match="STRIP_ICC must be true or false"):
        ScrubPolicy.from_env({"STRIP_ICC": "maybe"})
    with pytest.raises(ValueError, match="MAX_PIXELS"):
        ScrubPolicy.from_env({"MAX_PIXELS": "lots"})


def test_png_icc_survives(scrubber: Scrubber, tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    make_pixels((40, 30)).save(buffer, "PNG", icc_profile=profile)
    source = tmp_path / "icc.png"
    source.write_bytes(buffer.getvalue())
    inject(scrubber.pool, source, MetadataRecipe(), "PNG")
    assert scrubber.scrub_file(source, tmp_path / "out.png").outcome is Outcome.CLEANED
    kept = _icc_of(tmp_path / "out.png")
    assert kept == reduce_icc(profile) and _renders_the_same(profile, kept)
