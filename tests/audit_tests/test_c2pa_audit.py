"""exif-audit and C2PA: every manifest found is validated (c2pa-python), its signer checked against ``--c2pa-trust``,
what it asserts reported, and one that still carries personal data flagged. A manifest is clean only when it
validates, its signer is on the trust list and nothing personal is left in it."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from exif_scrubber.audit.cli import main
from PIL import Image

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.provenance import Provenance
from exif_scrubber.provenance.signing import PemKey
from tests.provenance.c2pa_support import AI, Chain, Tokens, camera_manifest, make_chain, sign_with
from tests.provenance.support import picture


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Chain]:
    """A camera original (GPS, author, serial in its manifest), and the same photo re-signed as JPEG, PNG and a
    large PNG the audit would otherwise read in ranges."""
    root = tmp_path_factory.mktemp("c2pa-audit")
    camera, deployer = make_chain("Test Camera Maker"), make_chain("Test Deployer")
    images = root / "bucket"
    images.mkdir()
    key, chain = deployer.write(root, "deployer")
    with Scrubber(ScrubPolicy(provenance="resign"), provenance=Provenance(PemKey.from_files(key, chain))) as scrubber:
        for name, image_format in (("camera.jpg", "JPEG"), ("photo.png", "PNG")):
            source = images / name
            source.write_bytes(sign_with(camera, camera_manifest(Tokens.new()), f"image/{image_format.lower()}",
                                         picture(image_format, Tokens.new())))  # fmt: skip
            resigned = images / f"resigned-{name}"
            assert scrubber.scrub_file(source, resigned).outcome is Outcome.CLEANED
            if name == "photo.png":
                source.unlink()
        noise = io.BytesIO()
        Image.frombytes("RGB", (600, 400), random.Random(3).randbytes(600 * 400 * 3)).save(noise, "PNG")
        big = root / "big.png"
        big.write_bytes(sign_with(camera, camera_manifest(Tokens.new()), "image/png", noise.getvalue()))
        assert scrubber.scrub_file(big, images / "resigned-big.png").outcome is Outcome.CLEANED
    assert (images / "resigned-big.png").stat().st_size > 256 * 1024  # the audit would read it in ranges
    return images, deployer


def _audit(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, [*map(str, args), "--format", "json", "-q"], catch_exceptions=False)
    report = json.loads(result.stdout)
    return result.exit_code, {Path(o["key"]).name: o for o in report["objects"]}


def test_a_resigned_manifest_is_clean_with_the_deployers_trust_list(folder: tuple[Path, Chain], tmp_path: Path) -> None:
    images, deployer = folder
    trust = tmp_path / "trust.pem"
    trust.write_text(deployer.root_pem)
    code, objects = _audit(images, "--c2pa-trust", trust)
    for name in ("resigned-camera.jpg", "resigned-photo.png", "resigned-big.png"):
        found = objects[name]
        assert found["status"] == "clean", found["leftovers"]
        assert found["c2pa"]["validation"] == "Valid" and found["c2pa"]["trusted_signer"]
        assert found["c2pa"]["signer"] == "Test Deployer" and found["c2pa"]["digital_source_types"] == [AI]
        assert found["c2pa"]["ai_generated"] and found["c2pa"]["findings"] == []
    camera = objects["camera.jpg"]
    assert camera["status"] == "leaking" and code == 1
    flagged = camera["leftovers"]["C2PA manifest"]
    assert {
        "manifest 1 holds c2pa.metadata, which can carry personal data",
        "the signer is not in the trust list",
    } <= set(flagged)
    assert "manifest 1 holds stds.exif, which can carry personal data" in flagged


def test_without_a_trust_list_every_manifest_is_a_finding(folder: tuple[Path, Chain]) -> None:
    images, _ = folder
    code, objects = _audit(images)
    assert code == 1
    for found in objects.values():
        assert found["status"] == "leaking"
        assert "no trust list to check the signer" in found["c2pa"]["findings"]
        assert found["c2pa"]["validation"] == "Valid"


def test_a_tampered_manifest_does_not_validate(folder: tuple[Path, Chain], tmp_path: Path) -> None:
    images, deployer = folder
    tampered = tmp_path / "bucket"
    tampered.mkdir()
    data = bytearray((images / "resigned-camera.jpg").read_bytes())
    data[-100] ^= 0x01  # scan data, bound by the manifest's hash
    (tampered / "tampered.jpg").write_bytes(bytes(data))
    trust = tmp_path / "trust.pem"
    trust.write_text(deployer.root_pem)
    _, objects = _audit(tampered, "--c2pa-trust", trust)
    found = objects["tampered.jpg"]
    assert found["status"] == "leaking" and found["c2pa"]["validation"] == "Invalid"
    assert any("dataHash.mismatch" in finding for finding in found["c2pa"]["findings"])


def test_a_trust_file_without_certificates_is_a_usage_error(folder: tuple[Path, Chain], tmp_path: Path) -> None:
    images, _ = folder
    (tmp_path / "empty.pem").write_text("nothing here\n")
    result = CliRunner().invoke(main, [str(images), "--c2pa-trust", str(tmp_path / "empty.pem")])
    assert result.exit_code == 2 and "holds no PEM certificate" in result.output
