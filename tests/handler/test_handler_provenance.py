"""``PROVENANCE=resign`` in the Lambda: the environment it needs, the KMS key and the chain from Secrets Manager or
SSM read at cold start, and an upload re-signed end to end on moto (S3, KMS, Secrets Manager, SSM)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from handler_testlib import REGION, body_of, jpeg, make_config, put

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.s3.processor import ObjectScrubber
from exif_scrubber.s3.result import Status
from handler.config import ConfigError, HandlerConfig
from handler.provenance import runtime_provenance, signing_provenance
from tests.provenance.c2pa_support import Chain, Tokens, camera_manifest, make_chain, read_manifests, sign_with

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:c2pa-chain-AbCdEf"


def test_resign_needs_its_key_and_chain_and_names_what_is_wrong() -> None:
    with pytest.raises(ConfigError) as raised:
        HandlerConfig.from_env({"PROVENANCE": "resign"})
    assert "C2PA_KMS_KEY_ID and C2PA_CERT_CHAIN" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        HandlerConfig.from_env(
            {
                "PROVENANCE": "Resign",
                "C2PA_KMS_KEY_ID": "my key",
                "C2PA_CERT_CHAIN": "s3://x",
                "C2PA_TSA_URL": "ftp://t",
            }
        )
    text = str(raised.value)
    assert "C2PA_KMS_KEY_ID must be" in text and "C2PA_CERT_CHAIN must be" in text and "C2PA_TSA_URL must be" in text
    with pytest.raises(ConfigError, match="PROVENANCE must be strip or resign"):
        HandlerConfig.from_env({"PROVENANCE": "keep"})


def test_keep_c2pa_is_still_refused_and_the_new_variables_are_read() -> None:
    with pytest.raises(ConfigError, match="KEEP_C2PA is not supported"):
        HandlerConfig.from_env({"KEEP_C2PA": "true"})
    config = HandlerConfig.from_env(
        {
            "PROVENANCE": "resign",
            "C2PA_KMS_KEY_ID": KEY_ARN,
            "C2PA_CERT_CHAIN": SECRET_ARN,
            "C2PA_TSA_URL": "https://timestamp.example",
            "DROP_AI_DISCLOSURE": "true",
        }
    )
    assert config.policy.provenance == "resign" and config.policy.drop_ai_disclosure
    assert (config.c2pa_kms_key_id, config.c2pa_cert_chain) == (KEY_ARN, SECRET_ARN)
    assert config.policy.fingerprint().endswith(";c2pa;noai")
    assert HandlerConfig.from_env({}).policy.provenance == "strip"


def _kms_chain(kms: Any) -> tuple[str, Chain]:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    public = load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return key_id, make_chain("Test Deployer", public_key=public)


@pytest.mark.parametrize("store", ["secretsmanager", "ssm-name", "ssm-arn"])
def test_the_chain_is_read_from_secrets_manager_or_ssm(store: str, aws: None, tmp_path: Path) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_id, chain = _kms_chain(kms)
    name = f"c2pa-chain-{uuid.uuid4().hex[:8]}"
    if store == "secretsmanager":
        source = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=name, SecretString=chain.chain_pem
        )["ARN"]
    else:
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=f"/{name}", Value=chain.chain_pem, Type="SecureString")
        source = f"/{name}" if store == "ssm-name" else f"arn:aws:ssm:{REGION}:123456789012:parameter/{name}"
    config = make_config(
        tmp_path, policy=ScrubPolicy(provenance="resign"), c2pa_kms_key_id=key_id, c2pa_cert_chain=source
    )
    provenance = signing_provenance(config, kms)
    assert provenance is not None and provenance.key is not None
    assert provenance.key.chain_pem == chain.chain_pem


def test_a_missing_chain_or_a_key_of_another_chain_fails_the_cold_start(aws: None, tmp_path: Path) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_id, _ = _kms_chain(kms)
    missing = make_config(
        tmp_path, policy=ScrubPolicy(provenance="resign"), c2pa_kms_key_id=key_id, c2pa_cert_chain="/nowhere"
    )
    with pytest.raises(ConfigError, match="cannot read C2PA_CERT_CHAIN"):
        signing_provenance(missing, kms)
    other = make_chain("Someone Else")
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"other-{uuid.uuid4().hex[:8]}", SecretString=other.chain_pem
    )["ARN"]
    wrong = make_config(
        tmp_path, policy=ScrubPolicy(provenance="resign"), c2pa_kms_key_id=key_id, c2pa_cert_chain=secret
    )
    with pytest.raises(ConfigError, match="cannot sign"):
        signing_provenance(wrong, kms)
    assert signing_provenance(make_config(tmp_path), kms) is None  # strip: nothing is read, nothing is loaded


def test_an_upload_is_resigned_through_kms(aws: None, s3: Any, bucket: str, tmp_path: Path) -> None:
    """The Lambda's path: download, scrub, re-sign through KMS, verified write-back; the evidence note says so."""
    kms = boto3.client("kms", region_name=REGION)
    key_id, chain = _kms_chain(kms)
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"chain-{uuid.uuid4().hex[:8]}", SecretString=chain.chain_pem
    )["ARN"]
    config = make_config(
        tmp_path, policy=ScrubPolicy(provenance="resign"), c2pa_kms_key_id=key_id, c2pa_cert_chain=secret
    )
    camera, tokens = make_chain("Test Camera Maker"), Tokens.new()
    upload = sign_with(camera, camera_manifest(tokens), "image/jpeg", jpeg(gps=True, seed=7))
    put(s3, bucket, "photo.jpg", upload)
    with Scrubber(config.policy, work_dir=tmp_path, provenance=signing_provenance(config, kms)) as scrubber:
        result = ObjectScrubber(boto3.client("s3", region_name=REGION), scrubber, config).process(bucket, "photo.jpg")
    assert result.status is Status.SCRUBBED, result.reason
    assert any(note.startswith("C2PA manifest re-signed") for note in result.notes)
    stored = tmp_path / "stored.jpg"
    stored.write_bytes(body_of(s3, bucket, "photo.jpg"))
    assert not [token for token in tokens.all() if token.encode() in stored.read_bytes()]
    view = read_manifests(stored, "image/jpeg", anchors=chain.root_pem)
    assert view is not None and "signingCredential.trusted" in view.active_codes("success")
    assert not view.active_codes("failure")


def test_the_report_only_function_accepts_this_deployments_manifests_only(aws: None, tmp_path: Path) -> None:
    """The scheduled re-audit (REPORT_ONLY) of a resign deployment signs nothing: it trusts the chain's root, so
    what the scrubber re-signed is clean, and the camera's original is not."""
    kms = boto3.client("kms", region_name=REGION)
    key_id, chain = _kms_chain(kms)
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"chain-{uuid.uuid4().hex[:8]}", SecretString=chain.chain_pem
    )["ARN"]
    signing = make_config(
        tmp_path, policy=ScrubPolicy(provenance="resign"), c2pa_kms_key_id=key_id, c2pa_cert_chain=secret
    )
    camera = make_chain("Test Camera Maker")
    original = tmp_path / "original.jpg"
    original.write_bytes(sign_with(camera, camera_manifest(Tokens.new()), "image/jpeg", jpeg(gps=True, seed=3)))
    resigned = tmp_path / "resigned.jpg"
    with Scrubber(signing.policy, work_dir=tmp_path, provenance=signing_provenance(signing, kms)) as scrubber:
        assert scrubber.scrub_file(original, resigned).provenance["action"] == "resigned"  # type: ignore[index]
    report_only = HandlerConfig.from_env({"PROVENANCE": "resign", "REPORT_ONLY": "true", "C2PA_CERT_CHAIN": secret})
    policy, provenance = runtime_provenance(report_only)
    assert policy.provenance == "strip" and provenance is not None and provenance.key is None
    with Scrubber(policy, work_dir=tmp_path, provenance=provenance) as auditor:
        clean, dirty = auditor.scan(resigned), auditor.scan(original)
    assert clean.clean and clean.provenance is not None and clean.provenance["trusted_signer"], clean.leftovers
    assert not dirty.clean and "the signer is not in the trust list" in dirty.leftovers["C2PA manifest"]
