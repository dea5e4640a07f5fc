"""``provenance=resign``: a file that carried a C2PA manifest keeps a provenance chain, signed by the deployer's key,
with every assertion that can carry personal data redacted; ``strip`` is today's behaviour.

Judged without the engine: pixels and frames decoded by Pillow / pillow-heif / PyAV, every planted token searched
for in the output's raw bytes, ExifTool ``-a -G1 -u -ee`` reading the output, and c2pa-python's Reader validating
the manifests against the test trust anchors. The engine's report is only read to say which path was taken.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from tests.oracle import exiftool_read, view_image, view_movie
from tests.video_support import Plants, encode_movie

from .c2pa_support import CAPTURE, MIME, Chain, Tokens, camera_manifest, make_chain, read_manifests, sign_with
from .support import EXTENSION, assert_no_personal_data, assert_resigned, picture, signed_input

PICTURES = ("JPEG", "PNG", "WEBP", "HEIC", "AVIF")


@pytest.mark.parametrize("image_format", PICTURES)
def test_resign_keeps_a_validated_chain_without_personal_data(
    image_format: str, resigner: Scrubber, camera: Chain, deployer: Chain, tmp_path: Path
) -> None:
    tokens = Tokens.new()
    source = signed_input(tmp_path, image_format, camera, tokens)
    output = tmp_path / f"out.{EXTENSION[image_format]}"
    report = resigner.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "resigned", report.notes
    before, after = view_image(source), view_image(output)
    assert after.frames == before.frames and after.orientation == before.orientation
    assert_no_personal_data(output, source, tokens, MIME[image_format])
    assert_resigned(output, MIME[image_format], camera, deployer)


@pytest.mark.parametrize("container", ["MP4", "MOV"])
def test_resign_movies(container: str, resigner: Scrubber, camera: Chain, deployer: Chain, tmp_path: Path) -> None:
    tokens, plants = Tokens.new(), Plants()
    movie = encode_movie(tmp_path / f"movie.{EXTENSION[container]}", container.lower(), plants=plants, frames=6)
    source = tmp_path / f"in.{EXTENSION[container]}"
    mime = MIME[container]
    source.write_bytes(sign_with(camera, camera_manifest(tokens), mime, movie.read_bytes(), thumbnail=False))
    output = tmp_path / f"out.{EXTENSION[container]}"
    report = resigner.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "resigned", report.notes
    assert view_movie(output) == view_movie(movie)
    data = output.read_bytes()
    assert not [place for place, token in plants.tokens.items() if token in data]
    assert_no_personal_data(output, source, tokens, mime)
    assert_resigned(output, mime, camera, deployer)


def test_strip_removes_every_manifest_as_before_and_never_loads_the_library(
    scrubber: Scrubber, camera: Chain, tmp_path: Path
) -> None:
    """The default policy: the manifest goes (as before issue 22), and c2pa-python is not even imported."""
    tokens = Tokens.new()
    source = signed_input(tmp_path, "JPEG", camera, tokens)
    output = tmp_path / "out.jpg"
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED and report.provenance is None
    assert read_manifests(output, "image/jpeg") is None
    assert not [k for doc in exiftool_read(output) for k in doc if ":JUMBF:" in k or ":CBOR:" in k]
    assert view_image(output).frames == view_image(source).frames
    script = (
        "import sys; from pathlib import Path; from exif_scrubber import Scrubber;"
        f"s = Scrubber(); r = s.scrub_file(Path({str(source)!r}), Path({str(tmp_path / 'again.jpg')!r}));"
        "s.close(); print(r.outcome.value, 'c2pa' in sys.modules, 'cbor2' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["cleaned", "False", "False"]
    assert (tmp_path / "again.jpg").read_bytes() == output.read_bytes()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_resign_adds_nothing_to_a_file_without_a_manifest(
    image_format: str, resigner: Scrubber, scrubber: Scrubber, tmp_path: Path
) -> None:
    source = tmp_path / f"plain.{EXTENSION[image_format]}"
    source.write_bytes(picture(image_format, Tokens.new()))
    resigned, stripped = tmp_path / f"r.{EXTENSION[image_format]}", tmp_path / f"s.{EXTENSION[image_format]}"
    report = resigner.scrub_file(source, resigned)
    assert report.outcome is Outcome.CLEANED and report.provenance is None
    assert scrubber.scrub_file(source, stripped).outcome is Outcome.CLEANED
    assert resigned.read_bytes() == stripped.read_bytes()
    assert read_manifests(resigned, MIME[image_format]) is None


@pytest.mark.parametrize(
    ("manifest", "why"),
    [
        ({"generator": "M11-P/2.0.2 (Serial: 5889294)"}, "a serial number in its claim"),
        ({"vendor": "5889294"}, "a serial-like number in its label"),
        ({"title": "holiday of jane@example.org"}, "an e-mail address in its claim"),
    ],
    ids=["claim-generator-serial", "label-serial", "title-email"],
)
def test_personal_data_that_cannot_be_redacted_falls_back_to_strip(
    manifest: dict[str, str], why: str, resigner: Scrubber, camera: Chain, tmp_path: Path
) -> None:
    """A Leica-style serial in the claim generator or the manifest label, an address in the title: the spec
    forbids redacting them, so the file loses its manifest and the report says why."""
    tokens = Tokens.new()
    source = signed_input(tmp_path, "JPEG", camera, tokens, **manifest)
    output = tmp_path / "out.jpg"
    report = resigner.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "stripped"
    assert why in report.provenance["reason"] and any(why in note for note in report.notes)
    assert read_manifests(output, "image/jpeg") is None
    data = output.read_bytes()
    assert b"5889294" not in data and b"jane@example.org" not in data
    assert not [token for token in tokens.all() if token.encode() in data]
    assert view_image(output).frames == view_image(source).frames


def test_a_serial_in_the_signers_certificate_falls_back(resigner: Scrubber, tmp_path: Path) -> None:
    """A per-device certificate naming the camera's serial cannot be redacted either."""
    body = make_chain("Body 42", subject_serial="CAM-5889294")
    tokens = Tokens.new()
    source = signed_input(tmp_path, "JPEG", body, tokens)
    report = resigner.scrub_file(source, tmp_path / "out.jpg")
    assert report.provenance is not None and report.provenance["action"] == "stripped"
    assert "serialNumber attribute in its signer's certificate" in report.provenance["reason"]
    assert read_manifests(tmp_path / "out.jpg", "image/jpeg") is None
    assert b"5889294" not in (tmp_path / "out.jpg").read_bytes()


def test_a_manifest_that_does_not_validate_is_not_carried_forward(
    resigner: Scrubber, camera: Chain, tmp_path: Path
) -> None:
    tokens = Tokens.new()
    source = signed_input(tmp_path, "JPEG", camera, tokens)
    data = bytearray(source.read_bytes())
    at = bytes(data).rindex(tokens.serial.encode())  # the EXIF Make (after the store), bound by its hash
    data[at] ^= 0x20
    source.write_bytes(bytes(data))
    report = resigner.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "stripped"
    assert "does not validate" in report.provenance["reason"] and "dataHash.mismatch" in report.provenance["reason"]
    assert read_manifests(tmp_path / "out.jpg", "image/jpeg") is None


def test_a_resigned_file_is_clean_for_resign_and_stripped_by_strip(
    resigner: Scrubber, scrubber: Scrubber, camera: Chain, deployer: Chain, tmp_path: Path
) -> None:
    source = signed_input(tmp_path, "JPEG", camera, Tokens.new())
    first = tmp_path / "first.jpg"
    assert resigner.scrub_file(source, first).outcome is Outcome.CLEANED
    again = resigner.scrub_file(first, tmp_path / "second.jpg")
    assert again.outcome is Outcome.ALREADY_CLEAN, again.leftovers_before
    assert (tmp_path / "second.jpg").read_bytes() == first.read_bytes()
    stripped = scrubber.scrub_file(first, tmp_path / "stripped.jpg")
    assert stripped.outcome is Outcome.CLEANED
    assert read_manifests(tmp_path / "stripped.jpg", "image/jpeg") is None


def test_someone_elses_clean_manifest_is_carried_into_a_new_one(
    resigner: Scrubber, camera: Chain, deployer: Chain, tmp_path: Path
) -> None:
    """A manifest without personal data, signed by anyone but this deployment, is not kept as it is: the scrub
    changes the bytes it binds, so it becomes the parent of a new manifest."""
    actions = {
        "label": "c2pa.actions.v2",
        "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": CAPTURE}]},
    }
    data = sign_with(camera, {"assertions": [actions]}, "image/jpeg", picture("JPEG", Tokens.new()), thumbnail=False)
    source = tmp_path / "in.jpg"
    source.write_bytes(data)
    report = resigner.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED and report.provenance is not None
    assert report.provenance["action"] == "resigned" and report.provenance["redacted"] == []
    view = read_manifests(tmp_path / "out.jpg", "image/jpeg", anchors=deployer.root_pem)
    assert view is not None and len(view.store["manifests"]) == 2 and not view.active_codes("failure")


def test_an_mpf_jpeg_falls_back_while_c2pa_rs_leaves_its_index_stale(
    resigner: Scrubber, camera: Chain, tmp_path: Path
) -> None:
    """c2pa-rs inserts the manifest into the primary image without updating the MP index's primary length: the
    signed file fails the JPEG walker, so the verified clean output is kept without a manifest."""
    left, right = Image.new("RGB", (32, 32), (200, 10, 10)), Image.new("RGB", (32, 32), (10, 200, 10))
    mpo = io.BytesIO()
    left.save(mpo, "MPO", save_all=True, append_images=[right])
    source = tmp_path / "in.jpg"
    source.write_bytes(sign_with(camera, camera_manifest(Tokens.new()), "image/jpeg", mpo.getvalue()))
    report = resigner.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "stripped"
    assert "MPF index" in report.provenance["reason"]
    assert read_manifests(tmp_path / "out.jpg", "image/jpeg") is None
    assert view_image(tmp_path / "out.jpg").embedded == view_image(source).embedded


def test_png_exif_after_a_manifest_is_read_without_it(
    resigner: Scrubber, camera: Chain, deployer: Chain, tmp_path: Path
) -> None:
    """c2pa-rs puts caBX right after IHDR; ExifTool 13.59 then skips the eXIf that follows ("IFD0 pointer
    references previous JUMBFBox directory"). The engine reads the file again without the store, so the second
    opinion on the EXIF is not lost and a re-signed PNG is clean on a second run."""
    source = signed_input(tmp_path, "PNG", camera, Tokens.new())
    output = tmp_path / "out.png"
    assert resigner.scrub_file(source, output).provenance["action"] == "resigned"  # type: ignore[index]
    warnings = [v for doc in exiftool_read(output) for k, v in doc.items() if k.endswith("ExifTool:Warning")]
    assert any("JUMBFBox" in str(w) for w in warnings)  # still true of ExifTool: the reason for the re-read
    assert resigner.scrub_file(output, tmp_path / "again.png").outcome is Outcome.ALREADY_CLEAN
    assert_resigned(output, "image/png", camera, deployer)


BLOCKED = (
    "import sys; sys.modules['c2pa'] = None; sys.modules['cbor2'] = None; from exif_scrubber.cli import main; main()"
)
"""exif-scrub where the C2PA extra is not installed (importing c2pa or cbor2 fails)."""


def test_without_the_c2pa_extra_strip_works_and_resign_says_what_to_install(
    camera: Chain, deployer: Chain, tmp_path: Path
) -> None:
    source = signed_input(tmp_path, "JPEG", camera, Tokens.new())
    stripped = subprocess.run(
        [sys.executable, "-c", BLOCKED, "clean", "--out-dir", str(tmp_path / "out"), str(source)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert stripped.returncode == 0, stripped.stderr
    assert read_manifests(tmp_path / "out" / source.name, "image/jpeg") is None
    key, chain = deployer.write(tmp_path, "deployer")
    resign = subprocess.run(
        [sys.executable, "-c", BLOCKED, "clean", "--provenance", "resign", "--c2pa-key", str(key), "--c2pa-chain",
         str(chain), "--out-dir", str(tmp_path / "resigned"), str(source)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resign.returncode == 2
    assert "the C2PA library is not available" in resign.stderr and "[c2pa]" in resign.stderr
    assert "Traceback" not in resign.stderr and not (tmp_path / "resigned").exists()


def test_a_signed_png_with_a_turned_orientation_is_stripped_and_keeps_it(
    scrubber: Scrubber, camera: Chain, tmp_path: Path
) -> None:
    """ExifTool 13.59 does not read a PNG's eXIf that follows the manifest's caBX, so its view of the input had no
    orientation and `strip` refused the file ("orientation changed"). The input's walker and Pillow saw it; the
    output keeps it and ExifTool reads it there."""
    tokens = Tokens.new()
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, tokens.serial
    plain = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 90)).save(plain, "PNG", exif=exif.tobytes())
    source, output = tmp_path / "in.png", tmp_path / "out.png"
    source.write_bytes(sign_with(camera, camera_manifest(tokens), "image/png", plain.getvalue()))
    report = scrubber.scrub_file(source, output)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert tokens.serial.encode() not in output.read_bytes() and read_manifests(output, "image/png") is None
    with Image.open(output) as image:
        assert image.getexif()[0x0112] == 6
    assert exiftool_read(output)[0].get("IFD0:Orientation") == 6
    assert view_image(output).frames == view_image(source).frames
