"""``provenance=resign`` on real files: device photos and videos (``../shared/devices``) given a camera-style manifest
in the test, and the corpus' pre-C2PA Content Authenticity (CAI) store (``../shared/corpus``). Judged by the
independent oracle (Pillow / pillow-heif / PyAV, ExifTool, c2pa-python's Reader)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from tests.engine.conftest import CORPUS, CORPUS_SKIP_REASON
from tests.oracle import exiftool_read, view_image, view_movie

from .c2pa_support import MIME, Chain, Tokens, camera_manifest, make_chain, read_manifests, sign_with
from .support import assert_no_personal_data, assert_resigned

DEVICES = Path(__file__).resolve().parents[2].parent / "shared" / "devices"
DEVICES_SKIP_REASON = f"real device files not found at {DEVICES} (they ship beside the repo)"
REAL = {
    "androidx__london.jpg": "JPEG",
    "androidx__pixel-motion-photo-shortened.jpg": "JPEG",
    "androidx__sample_still_photo.heic": "HEIC",
    "aom__Ronda_rotate90.avif": "AVIF",
    "androidx__sample.mp4": "MP4",
}
"""Device files c2pa-rs signs as they are (an MP index, as in an Ultra HDR JPEG, makes the engine fall back: see
test_provenance.py; a QuickTime movie with a 4-byte terminator after its last box is not re-written validly)."""


@pytest.mark.skipif(not DEVICES.is_dir(), reason=DEVICES_SKIP_REASON)
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_device_files_keep_a_resigned_chain(
    name: str,
    resigner: Scrubber,
    deployer: Chain,
    tmp_path: Path,
) -> None:
    kind, camera, tokens = REAL[name], make_chain("Test Camera Maker"), Tokens.new()
    mime = MIME[kind]
    original = DEVICES / name
    source = tmp_path / f"in{original.suffix}"
    source.write_bytes(sign_with(camera, camera_manifest(tokens), mime, original.read_bytes(), thumbnail=False))
    output = tmp_path / f"out{original.suffix}"
    report = resigner.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "resigned", report.notes
    if kind == "MP4":
        assert view_movie(output) == view_movie(original)
    else:
        before, after = view_image(original), view_image(output)
        assert after.frames == before.frames and after.orientation == before.orientation
    assert_no_personal_data(output, source, tokens, mime)
    assert_resigned(output, mime, camera, deployer)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_SKIP_REASON)
def test_a_pre_c2pa_cai_store_is_removed_and_nothing_is_added(resigner: Scrubber, tmp_path: Path) -> None:
    """ExifTool's own test JPEG carries a 2020 CAI store (``cai``, not ``c2pa``): c2pa-python cannot read it, so
    there is no provenance to carry forward; the store goes as any metadata does."""
    source = CORPUS / "exiftool__ExifTool.jpg"
    assert any(":JUMBF:" in key for doc in exiftool_read(source) for key in doc)
    output = tmp_path / "out.jpg"
    report = resigner.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is None
    assert not any(":JUMBF:" in key or ":CBOR:" in key for doc in exiftool_read(output) for key in doc)
    assert read_manifests(output, "image/jpeg") is None
    with Image.open(source) as before, Image.open(output) as after:  # its MP index points past the file's end
        assert after.tobytes() == before.tobytes() and after.size == before.size
