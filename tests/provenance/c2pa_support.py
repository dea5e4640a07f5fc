"""C2PA fixtures made in the tests: certificate chains (cryptography), manifests signed with c2pa-python, and an
independent reading of what a file's manifests say (c2pa-python's Reader and ExifTool, never the engine)."""

from __future__ import annotations

import datetime
import io
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

c2pa = pytest.importorskip("c2pa", reason="c2pa-python is not installed (pip install -e '.[dev]' installs it)")

from cryptography import x509  # noqa: E402 - after the skip: only with the C2PA extra
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIC": "image/heic",
    "AVIF": "image/avif",
    "MP4": "video/mp4",
    "MOV": "video/quicktime",
}
STRUCTURAL_LABELS = re.compile(
    r"^(c2pa|c2pa\.assertions|c2pa\.claim(\.v2)?|c2pa\.signature|urn:(c2pa|uuid):[0-9a-f-]{36}|"
    r"c2pa\.actions(\.v2)?|c2pa\.hash\.(data|boxes|bmff(\.v[23])?)|c2pa\.ingredient(\.v[23])?)$"
)
"""The JUMBF labels a re-signed store may hold: its structure and the assertions the engine keeps."""


@dataclass(frozen=True)
class Chain:
    """A test certificate chain: a root CA and a P-256 signer it issued."""

    key: ec.EllipticCurvePrivateKey
    chain_pem: str
    root_pem: str

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """(key.pem, chain.pem) files of this chain."""
        key = folder / f"{name}.key.pem"
        key.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        chain = folder / f"{name}.chain.pem"
        chain.write_text(self.chain_pem)
        return key, chain


def make_chain(
    common_name: str, *, subject_serial: str | None = None, public_key: ec.EllipticCurvePublicKey | None = None
) -> Chain:
    """A root and a signer certificate fit for C2PA (digitalSignature, emailProtection, not a CA). With
    ``public_key`` the signer's key is held elsewhere (a KMS key): the chain's own key is then unused."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer_public = public_key or key.public_key()
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"),
    ]
    if subject_serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_serial))
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(root_name)
        .public_key(signer_public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, root)]
    return Chain(key, pem[0] + pem[1], pem[1])


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class Tokens:
    """Unique strings planted in a camera's manifest: a location, an author, a device serial."""

    latitude: str
    author: str
    serial: str

    @classmethod
    def new(cls) -> Tokens:
        def digits() -> str:
            return str(secrets.randbelow(10**6)).rjust(6, "0")

        return cls(f"39,21.{digits()}N", f"Jane{secrets.token_hex(6)}", f"SN{secrets.token_hex(6)}")

    def all(self) -> tuple[str, ...]:
        return (self.latitude, self.author, self.serial)


def camera_manifest(
    tokens: Tokens,
    *,
    source_type: str = AI,
    generator: str = "TestCam",
    vendor: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """A capture manifest as a camera or an AI tool writes one: actions with a digital source type, a location
    in ``c2pa.metadata``, an author, an EXIF assertion with a serial."""
    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
            },
            {
                "label": "c2pa.metadata",
                "data": {"@context": {"exif": "http://ns.adobe.com/exif/1.0/"}, "exif:GPSLatitude": tokens.latitude},
            },
            {
                "label": "stds.schema-org.CreativeWork",
                "data": {
                    "@context": "http://schema.org/",
                    "@type": "CreativeWork",
                    "author": [{"@type": "Person", "name": tokens.author}],
                },
            },
            {
                "label": "stds.exif",
                "data": {"@context": {"exif": "http://ns.adobe.com/exif/1.0/"}, "exif:BodySerialNumber": tokens.serial},
            },
        ],
    }
    if vendor is not None:
        manifest["vendor"] = vendor
    if title is not None:
        manifest["title"] = title
    return manifest


def sign_with(chain: Chain, manifest: dict[str, Any], mime: str, data: bytes, *, thumbnail: bool = True) -> bytes:
    """``data`` with ``manifest`` signed by ``chain`` (c2pa-python, as a camera or an editor would)."""
    signer = c2pa.Signer.from_callback(chain.sign, c2pa.C2paSigningAlg.ES256, chain.chain_pem, None)
    settings = {"builder": {"thumbnail": {"enabled": thumbnail}}, "verify": {"remote_manifest_fetch": False}}
    with signer, c2pa.Context.from_dict(settings) as context, c2pa.Builder(manifest, context=context) as builder:
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()


@dataclass
class ManifestView:
    """What c2pa-python's Reader says of a file, with the given trust anchors."""

    state: str | None
    store: dict[str, Any]
    results: dict[str, Any]

    @property
    def active(self) -> dict[str, Any]:
        return self.store["manifests"][self.store["active_manifest"]]

    def active_codes(self, kind: str) -> list[str]:
        return [item["code"] for item in self.results.get("activeManifest", {}).get(kind, [])]

    def assertion_labels(self) -> list[str]:
        return [a["label"] for m in self.store["manifests"].values() for a in m.get("assertions", [])]


def read_manifests(path: Path, mime: str, anchors: str | None = None) -> ManifestView | None:
    """The Reader's view of ``path`` (None when it holds no manifest), offline."""
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if anchors is not None:
        settings["trust"] = {"trust_anchors": anchors}
    with path.open("rb") as stream, c2pa.Context.from_dict(settings) as context:
        try:
            reader = c2pa.Reader(mime, stream, context=context)
        except c2pa.C2paError.ManifestNotFound:
            return None
        with reader:
            return ManifestView(
                reader.get_validation_state(), json.loads(reader.json()), reader.get_validation_results() or {}
            )


def thumbnails(path: Path, mime: str) -> list[bytes]:
    """The bytes of every thumbnail the file's manifests hold (to search an output for them)."""
    found = []
    with path.open("rb") as stream, c2pa.Reader(mime, stream) as reader:
        store = json.loads(reader.json())
        for manifest in store["manifests"].values():
            for holder in [manifest, *manifest.get("ingredients", [])]:
                uri = (holder.get("thumbnail") or {}).get("identifier")
                if uri:
                    out = io.BytesIO()
                    reader.resource_to_stream(uri, out)
                    found.append(out.getvalue())
    return found
