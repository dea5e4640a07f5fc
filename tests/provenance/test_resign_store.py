"""The manifest-store reader and the personal-data rules on crafted and hostile input: bounded, one-line errors,
never a traceback, and a re-sign that falls back to strip when the carrier cannot be trusted."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.provenance import privacy
from exif_scrubber.provenance.der import DerError, certificate_names, ecdsa_raw
from exif_scrubber.provenance.jumbf import C2PA_SUFFIX, MAX_DEPTH, JumbfError, parse
from exif_scrubber.provenance.store import StoreError, read_store
from tests.oracle import view_image

from .c2pa_support import Chain, Tokens, camera_manifest, make_chain, read_manifests, sign_with
from .support import picture


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def description(kind: bytes, label: str, *, toggles: int = 0x03, extra: bytes = b"") -> bytes:
    return box(b"jumd", kind + C2PA_SUFFIX + bytes([toggles]) + label.encode() + b"\0" + extra)


def superbox(kind: bytes, label: str, *children: bytes) -> bytes:
    return box(b"jumb", description(kind, label) + b"".join(children))


def test_jumbf_nesting_beyond_the_budget_is_refused() -> None:
    inner = superbox(b"cbor", "x", box(b"cbor", b"\x01"))
    for _ in range(MAX_DEPTH + 2):
        inner = superbox(b"c2pa", "c2pa", inner)
    with pytest.raises(JumbfError, match="nested deeper"):
        parse(inner)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (superbox(b"c2pa", "c2pa") + b"\0", "bytes after the manifest store"),
        (box(b"jumb", box(b"jumd", b"\0" * 10)), "truncated description"),
        (box(b"jumb", description(b"c2pa", "c2pa", extra=b"hidden")), "bytes after the last field"),
        (box(b"jumb", description(b"c2pa", "c2pa", toggles=0x43)), "unknown description toggles"),
        (struct.pack(">I4s", 9999, b"jumb") + b"\0" * 20, "runs past its container"),
        (box(b"jumb", b"\0" * 4 + b"jumd"), "a box of unspecified size"),
    ],
)
def test_malformed_jumbf_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(JumbfError, match=message):
        parse(data)


def test_a_store_that_is_not_c2pa_or_lacks_its_claim_is_refused() -> None:
    with pytest.raises(StoreError, match="not a C2PA manifest store"):
        read_store(superbox(b"cacb", "cai"))
    manifest = superbox(b"c2ma", "urn:c2pa:00000000-0000-0000-0000-000000000000", superbox(b"c2as", "c2pa.assertions"))
    with pytest.raises(StoreError, match="without its claim or signature"):
        read_store(superbox(b"c2pa", "c2pa", manifest))
    claim = superbox(b"c2cl", "c2pa.claim.v2", box(b"cbor", b"\xa0\x00"))  # a map, then a byte after it
    with pytest.raises(StoreError, match="bytes after the CBOR item"):
        read_store(superbox(b"c2pa", "c2pa", superbox(b"c2ma", "urn:c2pa:x", claim)))


def test_ecdsa_der_and_certificate_names() -> None:
    assert ecdsa_raw(bytes.fromhex("3006020101020102")) == b"\0" * 31 + b"\1" + b"\0" * 31 + b"\2"
    with pytest.raises(DerError):
        ecdsa_raw(bytes.fromhex("3006020101020102ff"))
    with pytest.raises(DerError):
        ecdsa_raw(bytes.fromhex("30050201010201"))
    chain = make_chain("Body 42", subject_serial="CAM-1")
    from exif_scrubber.provenance.signing import chain_certificates

    from .c2pa_support import c2pa  # noqa: F401 - the extra is installed

    leaf, root = chain_certificates(chain.chain_pem)
    names = certificate_names(leaf)
    assert ("serialNumber", "CAM-1") in names.subject and names.common_name() == "Body 42"
    assert certificate_names(root).common_name() == "Body 42 Root"


def _store_of(chain: Chain, **manifest: str) -> privacy.Store:
    from exif_scrubber.bytemodel import ByteModel
    from exif_scrubber.formats.jpeg import JpegHandler
    from exif_scrubber.policy import ScrubPolicy
    from exif_scrubber.provenance.carriers import find

    data = sign_with(chain, camera_manifest(Tokens.new(), **manifest), "image/jpeg", picture("JPEG", Tokens.new()))
    model: ByteModel = JpegHandler().walk(data, ScrubPolicy())
    carrier = find("JPEG", data, model)
    assert carrier is not None
    return read_store(carrier.store)


def test_the_plan_redacts_everything_but_actions_bindings_and_ingredients() -> None:
    store = _store_of(make_chain("Cam"))
    plan = privacy.plan(store)
    assert sorted(plan.redacted_labels) == [
        "c2pa.metadata",
        "c2pa.thumbnail.claim",
        "stds.exif",
        "stds.schema-org.CreativeWork",
    ]
    assert all(uri.startswith(f"self#jumbf=/c2pa/{store.active.label}/c2pa.assertions/") for uri in plan.redactions)
    assert not plan.blockers
    assert len(privacy.findings(store)) == 4  # the audit's view: four assertions that can carry personal data
    assert privacy.source_types(store) == ["http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"]


def test_findings_name_the_place_never_the_value() -> None:
    store = _store_of(make_chain("Cam"), generator="M11-P (Serial: 5889294)", vendor="5889294")
    blockers = privacy.plan(store).blockers
    assert blockers == [
        "manifest 1: a serial-like number in its label",
        "manifest 1: a serial number in its claim",
    ]
    assert not [b for b in blockers if "5889294" in b]


def _jpeg_with_app11(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(b"\xff\xeb" + struct.pack(">H", len(s) + 2) + s for s in segments) + data[2:]


def _packet(instance: int, sequence: int, store: bytes) -> bytes:
    return b"JP" + struct.pack(">HI", instance, sequence) + store


@pytest.mark.parametrize("case", ["two stores", "packet missing", "truncated store"])
def test_an_untrustworthy_carrier_falls_back_to_strip(case: str, resigner: Scrubber, tmp_path: Path) -> None:
    plain = picture("JPEG", Tokens.new())
    signed = sign_with(make_chain("Cam"), camera_manifest(Tokens.new()), "image/jpeg", plain, thumbnail=False)
    store_at = signed.index(b"\xff\xeb")
    length = struct.unpack(">H", signed[store_at + 2 : store_at + 4])[0]
    segment = signed[store_at + 4 : store_at + 2 + length]
    store = segment[8:]
    if case == "two stores":
        data = _jpeg_with_app11(signed, _packet(7, 1, store))
    elif case == "packet missing":
        first, rest = store[:1000], store[:8] + store[1000:]  # every packet repeats the box header
        packets = _jpeg_with_app11(b"\xff\xd8", _packet(1, 1, first), _packet(1, 3, rest))[2:]
        data = signed[:store_at] + packets + signed[store_at + 2 + length :]
    else:
        cut = store[:-40]
        cut = struct.pack(">I", len(cut)) + cut[4:]
        data = (
            signed[:store_at] + _jpeg_with_app11(b"\xff\xd8", _packet(1, 1, cut))[2:] + signed[store_at + 2 + length :]
        )
    source = tmp_path / "in.jpg"
    source.write_bytes(data)
    report = resigner.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED, report.reason
    assert report.provenance is not None and report.provenance["action"] == "stripped"
    assert "malformed" in report.provenance["reason"] or "does not validate" in report.provenance["reason"]
    assert read_manifests(tmp_path / "out.jpg", "image/jpeg") is None
    assert view_image(tmp_path / "out.jpg").frames == view_image(source).frames
