"""``PROVENANCE=resign`` in Lambda: the deployer's KMS key and its certificate chain, set up at cold start.

The private key never reaches the function: every signature is one ``kms:Sign`` call (the role may do nothing
else with the key). The chain is read once from Secrets Manager or SSM Parameter Store (Powertools Parameters)
and one sample is signed, so that a missing C2PA layer, a wrong key or a chain of another key fails the cold start
with a clear message instead of every upload.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from PIL import Image

from exif_scrubber import ScrubPolicy
from exif_scrubber.provenance import Provenance
from exif_scrubber.provenance.c2pa_lib import ProvenanceUnavailable
from exif_scrubber.provenance.signing import KmsKey, SigningError, chain_certificates

from .config import ConfigError, HandlerConfig


def certificate_chain(source: str) -> str:
    """The PEM chain stored in a Secrets Manager secret (an ARN of ``secretsmanager``) or an SSM parameter."""
    try:
        if ":secretsmanager:" in source:
            value = parameters.get_secret(source)
        else:
            name = source.split(":parameter", 1)[1] if source.startswith("arn:") else source
            value = parameters.get_parameter(name, decrypt=True)
    except parameters.GetParameterError as exc:
        raise ConfigError(f"invalid configuration: cannot read C2PA_CERT_CHAIN {source}: {exc}") from None
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        chain_certificates(text)
    except SigningError as exc:
        raise ConfigError(f"invalid configuration: C2PA_CERT_CHAIN {source}: {exc}") from None
    return text


def runtime_provenance(config: HandlerConfig, kms_client: Any | None = None) -> tuple[ScrubPolicy, Provenance | None]:
    """The engine's policy and provenance for this function. A report-only function of a ``resign`` deployment
    signs nothing: it checks manifests, with the chain's root as its trust list, so that the files this deployment
    re-signed are reported clean (and any other manifest is not)."""
    if config.policy.provenance != "resign" or not config.report_only:
        return config.policy, signing_provenance(config, kms_client)
    if not config.c2pa_cert_chain:
        raise ConfigError("invalid configuration: PROVENANCE=resign needs C2PA_CERT_CHAIN")
    chain = chain_certificates(certificate_chain(config.c2pa_cert_chain))
    root = base64.encodebytes(chain[-1]).decode("ascii")
    return replace(config.policy, provenance="strip"), Provenance(
        trust_anchors=f"-----BEGIN CERTIFICATE-----\n{root}-----END CERTIFICATE-----\n"
    )


def signing_provenance(config: HandlerConfig, kms_client: Any | None = None) -> Provenance | None:
    """The re-signing set-up of ``PROVENANCE=resign`` (checked with one signature), or None for ``strip``."""
    if config.policy.provenance != "resign":
        return None
    if not (config.c2pa_kms_key_id and config.c2pa_cert_chain):
        raise ConfigError("invalid configuration: PROVENANCE=resign needs C2PA_KMS_KEY_ID and C2PA_CERT_CHAIN")
    chain = certificate_chain(config.c2pa_cert_chain)
    key = KmsKey(kms_client or boto3.client("kms"), config.c2pa_kms_key_id, chain)
    try:
        provenance = Provenance(key, tsa_url=config.c2pa_tsa_url)
        sample = io.BytesIO()
        Image.new("RGB", (16, 16), (128, 64, 32)).save(sample, "JPEG")
        provenance.self_test("image/jpeg", sample.getvalue())
    except (ProvenanceUnavailable, SigningError) as exc:
        raise ConfigError(f"invalid configuration: PROVENANCE=resign: {exc}") from None
    return provenance
