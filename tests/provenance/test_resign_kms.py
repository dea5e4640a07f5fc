"""Re-signing with an AWS KMS key: the private key never reaches the engine, only ``kms:Sign`` is called.

moto 5.2.5 implements ``Sign`` for ``ECC_NIST_P256`` with ``MessageType=RAW`` (it returns DER, as KMS does) but not
``DIGEST`` (it hashes the digest again), so the digest path is checked with a stand-in that signs the way KMS
documents it: RAW messages up to 4096 bytes, hashed by KMS; DIGEST messages of exactly 32 bytes, signed as given.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key
from moto import mock_aws
from PIL import Image

from exif_scrubber import Outcome, Scrubber, ScrubPolicy
from exif_scrubber.provenance import Provenance, signing
from exif_scrubber.provenance.signing import KmsKey, SigningError, cose_signature
from tests.oracle import view_image

from .c2pa_support import MIME, Chain, Tokens, make_chain
from .support import assert_no_personal_data, assert_resigned, signed_input


class KmsStandIn:
    """``kms.sign`` as AWS documents it, with a local P-256 key: every call recorded."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.calls: list[tuple[str, int]] = []

    def sign(self, *, KeyId: str, Message: bytes, MessageType: str, SigningAlgorithm: str) -> dict[str, Any]:
        assert SigningAlgorithm == "ECDSA_SHA_256" and KeyId == "alias/c2pa"
        self.calls.append((MessageType, len(Message)))
        if MessageType == "RAW":
            if len(Message) > 4096:
                raise ValueError("ValidationException: Message must be at most 4096 bytes with MessageType RAW")
            return {"Signature": self.key.sign(Message, ec.ECDSA(hashes.SHA256()))}
        if MessageType != "DIGEST" or len(Message) != 32:
            raise ValueError("ValidationException: a SHA-256 digest is 32 bytes")
        return {"Signature": self.key.sign(Message, ec.ECDSA(utils.Prehashed(hashes.SHA256())))}


@pytest.fixture
def moto_kms() -> Iterator[tuple[Any, str, Chain]]:
    """A moto KMS key (ECC_NIST_P256, SIGN_VERIFY) and a test chain certifying its public key."""
    with mock_aws():
        client = boto3.client("kms", region_name="eu-west-1")
        key_id = client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        public = load_der_public_key(client.get_public_key(KeyId=key_id)["PublicKey"])
        assert isinstance(public, ec.EllipticCurvePublicKey)
        yield client, key_id, make_chain("Test Deployer", public_key=public)


def test_resign_through_kms_in_moto(moto_kms: tuple[Any, str, Chain], tmp_path: Path) -> None:
    client, key_id, chain = moto_kms
    camera = make_chain("Test Camera Maker")
    tokens = Tokens.new()
    source = signed_input(tmp_path, "JPEG", camera, tokens)
    provenance = Provenance(KmsKey(client, key_id, chain.chain_pem))
    with Scrubber(ScrubPolicy(provenance="resign"), provenance=provenance) as scrubber:
        report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "resigned", report.notes
    assert view_image(tmp_path / "out.jpg").frames == view_image(source).frames
    assert_no_personal_data(tmp_path / "out.jpg", source, tokens, MIME["JPEG"])
    assert_resigned(tmp_path / "out.jpg", MIME["JPEG"], camera, chain)


def test_kms_signs_raw_up_to_4096_bytes_and_a_digest_beyond() -> None:
    stand_in = KmsStandIn()
    key = KmsKey(stand_in, "alias/c2pa", "unused")
    public = stand_in.key.public_key()
    for message in (b"a" * 100, b"b" * 4096, b"c" * 4097, b"d" * 100_000):
        der = key.sign(message)
        public.verify(der, message, ec.ECDSA(hashes.SHA256()))  # the same signature whatever way it went
        raw = cose_signature(der)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        assert len(raw) == 64 and utils.encode_dss_signature(r, s) == der
    assert stand_in.calls == [("RAW", 100), ("RAW", 4096), ("DIGEST", 32), ("DIGEST", 32)]


def test_resign_through_kms_digests_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DIGEST path end to end: with the RAW limit lowered, the claim (about 2 KB) goes to KMS as its SHA-256."""
    monkeypatch.setattr(signing, "KMS_RAW_LIMIT", 256)
    stand_in = KmsStandIn()
    chain = make_chain("Test Deployer", public_key=stand_in.key.public_key())
    camera = make_chain("Test Camera Maker")
    tokens = Tokens.new()
    source = signed_input(tmp_path, "PNG", camera, tokens)
    provenance = Provenance(KmsKey(stand_in, "alias/c2pa", chain.chain_pem))
    with Scrubber(ScrubPolicy(provenance="resign"), provenance=provenance) as scrubber:
        report = scrubber.scrub_file(source, tmp_path / "out.png")
    assert report.provenance is not None and report.provenance["action"] == "resigned", report.notes
    assert stand_in.calls and {kind for kind, _ in stand_in.calls} == {"DIGEST"}
    assert_no_personal_data(tmp_path / "out.png", source, tokens, MIME["PNG"])
    assert_resigned(tmp_path / "out.png", MIME["PNG"], camera, chain)


def test_a_kms_key_that_is_not_the_chains_fails_its_self_test() -> None:
    """The cold start signs one sample: a key that does not match the chain's signer is refused there."""
    stand_in = KmsStandIn()
    other = make_chain("Someone Else")
    provenance = Provenance(KmsKey(stand_in, "alias/c2pa", other.chain_pem))
    sample = io.BytesIO()
    Image.new("RGB", (8, 8)).save(sample, "JPEG")
    with pytest.raises(SigningError, match="cannot sign"):
        provenance.self_test("image/jpeg", sample.getvalue())
    assert stand_in.calls  # KMS signed: c2pa's verification of the signature against the chain refused it
