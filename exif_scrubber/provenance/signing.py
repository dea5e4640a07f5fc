"""The deployer's signing key: a local PEM key, or an AWS KMS key the function never sees.

Both sign with ECDSA P-256 / SHA-256 (C2PA ``ES256``) and return DER, as KMS does; :func:`cose_signature` turns
that into the fixed-size ``r || s`` COSE carries. The certificate chain (PEM, signer first) travels with the key.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .der import DerError, ecdsa_raw

KMS_RAW_LIMIT = 4096
"""The largest message AWS KMS ``Sign`` accepts with ``MessageType=RAW``; longer ones are sent as a digest."""
KMS_ALGORITHM = "ECDSA_SHA_256"
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")


class SigningError(ValueError):
    """A key or chain that cannot sign (one line: what is wrong, never the key)."""


class SigningKey(Protocol):
    """What the engine signs with."""

    @property
    def chain_pem(self) -> str:
        """The certificate chain, PEM, signer first."""

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA P-256 signature over SHA-256 of ``data``."""


def chain_certificates(chain_pem: str | bytes) -> list[bytes]:
    """The DER certificates of a PEM chain, in order; :class:`SigningError` when there are none."""
    raw = chain_pem.encode() if isinstance(chain_pem, str) else chain_pem
    found = [base64.b64decode(b"".join(m.group(1).split())) for m in _PEM_CERT.finditer(raw)]
    if not found:
        raise SigningError("the certificate chain holds no PEM certificate")
    return found


def cose_signature(der: bytes) -> bytes:
    """The ``r || s`` form (64 bytes) of a DER ECDSA P-256 signature."""
    try:
        return ecdsa_raw(der, 32)
    except DerError as exc:
        raise SigningError(f"the signer returned no ECDSA P-256 signature ({exc})") from None


@dataclass(frozen=True)
class PemKey:
    """A P-256 private key and its chain from PEM files (local use; in Lambda the key stays in KMS)."""

    key: Any
    chain_pem: str

    @classmethod
    def from_files(cls, key_path: Path, chain_path: Path) -> PemKey:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            key = load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError):
            raise SigningError(f"{key_path} is not an unencrypted PEM private key") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise SigningError(f"{key_path} is not an ECDSA P-256 key (C2PA ES256)")
        chain = chain_path.read_text(encoding="ascii", errors="replace")
        chain_certificates(chain)
        return cls(key, chain)

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature: bytes = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return signature


@dataclass(frozen=True)
class KmsKey:
    """An AWS KMS asymmetric key (``ECC_NIST_P256``, ``SIGN_VERIFY``): only ``kms:Sign`` is called.

    A message up to :data:`KMS_RAW_LIMIT` bytes is sent as it is (``MessageType=RAW``: KMS hashes it); a longer one
    as its SHA-256 (``MessageType=DIGEST``). KMS returns the DER signature.
    """

    client: Any
    key_id: str
    chain_pem: str

    def sign(self, data: bytes) -> bytes:
        if len(data) <= KMS_RAW_LIMIT:
            message, kind = data, "RAW"
        else:
            message, kind = hashlib.sha256(data).digest(), "DIGEST"
        response = self.client.sign(
            KeyId=self.key_id, Message=message, MessageType=kind, SigningAlgorithm=KMS_ALGORITHM
        )
        signature: bytes = response["Signature"]
        return signature
