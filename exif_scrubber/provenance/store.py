"""A C2PA manifest store read from its JUMBF bytes: manifests, their assertions, claims and signers.

Independent of c2pa-python (which validates signatures and hashes): this reading is the byte model's view of a
store. Every superbox must be one C2PA knows (manifest, assertion store, claim, signature, assertion), every
CBOR or JSON payload must decode completely (nothing after its last item), the signature must be a COSE_Sign1
whose padding is zeros. Anything else is a :class:`StoreError`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .jumbf import EMBEDDED_FILE, JumbfError, Superbox, parse

MAX_CBOR_DEPTH = 64
MAX_MANIFESTS = 256
MAX_ASSERTIONS = 4096
_COSE_SIGN1 = 18
_X5CHAIN = 33
_UNPROTECTED = frozenset({"pad", "pad2", "sigTst", "sigTst2", "rVals", "x5chain", _X5CHAIN})
"""Unprotected COSE header keys a C2PA signature may carry (padding, time-stamps, OCSP responses, the chain)."""


class StoreError(ValueError):
    """Not a C2PA manifest store this reader accepts (one line, never the store's own bytes)."""


@dataclass(frozen=True)
class Assertion:
    """One assertion of a manifest."""

    label: str
    kind: str
    """``cbor``, ``json``, ``file`` (an embedded file: a thumbnail), ``uuid`` or ``other``."""
    value: Any = None
    """The decoded CBOR or JSON; None for other kinds."""
    size: int = 0


@dataclass(frozen=True)
class Manifest:
    """One manifest: a claim, its signature and the assertions it gathers."""

    label: str
    update: bool
    """An update manifest (``c2um``): it describes metadata only."""
    assertions: tuple[Assertion, ...]
    claim: dict[str, Any]
    certificates: tuple[bytes, ...]
    """The signer's certificate chain (DER), signer first."""
    other_stores: tuple[str, ...] = ()
    """Labels of superboxes that are neither assertions, claim nor signature (credentials, data boxes)."""

    def assertion_uri(self, label: str) -> str:
        """The JUMBF URI that names an assertion of this manifest from any other manifest (a redaction)."""
        return f"self#jumbf=/c2pa/{self.label}/c2pa.assertions/{label}"


@dataclass(frozen=True)
class Store:
    """The manifests of a store, in store order: the last one is the active manifest."""

    manifests: tuple[Manifest, ...] = field(default_factory=tuple)

    @property
    def active(self) -> Manifest:
        return self.manifests[-1]

    def ingredients(self) -> Iterator[Manifest]:
        """Every manifest but the active one (the provenance chain behind it)."""
        yield from self.manifests[:-1]


def _payload(data: bytes, box: Superbox, kind: bytes) -> bytes:
    found = [b for b in box.boxes if b.kind == kind]
    if len(found) != 1 or len(box.boxes) != 1 or box.children:
        raise StoreError(f"{box.label or 'a box'} does not hold exactly one {kind.decode()} box")
    return data[found[0].payload_start : found[0].end]


def decode_cbor(payload: bytes) -> Any:
    """One CBOR item that fills ``payload`` exactly."""
    import cbor2  # the [c2pa] extra; imported only where manifests are read

    stream = io.BytesIO(payload)
    try:
        value = cbor2.CBORDecoder(stream, max_depth=MAX_CBOR_DEPTH).decode()
    except (cbor2.CBORDecodeError, ValueError, OverflowError, RecursionError, EOFError) as exc:
        raise StoreError(f"undecodable CBOR ({type(exc).__name__})") from None
    if stream.tell() != len(payload):
        raise StoreError("bytes after the CBOR item")
    return value


def _decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError("undecodable JSON") from None


def _assertion(data: bytes, box: Superbox) -> Assertion:
    label = box.label or ""
    if not label or box.children:
        raise StoreError("an assertion without a label, or with nested boxes")
    kind = box.c2pa_type
    size = box.end - box.start
    if kind == "cbor":
        return Assertion(label, "cbor", decode_cbor(_payload(data, box, b"cbor")), size)
    if kind == "json":
        return Assertion(label, "json", _decode_json(_payload(data, box, b"json")), size)
    if box.content_type == EMBEDDED_FILE:
        if [b.kind for b in box.boxes] != [b"bfdb", b"bidb"]:
            raise StoreError("an embedded file without its description and data")
        return Assertion(label, "file", None, size)
    if kind == "uuid":
        return Assertion(label, "uuid", None, size)
    return Assertion(label, "other", None, size)


def _signature(data: bytes, box: Superbox) -> tuple[bytes, ...]:
    """The certificate chain of a COSE_Sign1 signature; its padding must be zeros."""
    import cbor2

    value = decode_cbor(_payload(data, box, b"cbor"))
    if not isinstance(value, cbor2.CBORTag) or value.tag != _COSE_SIGN1 or not isinstance(value.value, list | tuple):
        raise StoreError("the signature is not a COSE_Sign1")
    if len(value.value) != 4:
        raise StoreError("the signature is not a COSE_Sign1")
    protected_raw, unprotected, _payload_value, signature = value.value
    protected = decode_cbor(protected_raw) if protected_raw else {}
    if not isinstance(protected, Mapping) or not isinstance(unprotected, Mapping) or not isinstance(signature, bytes):
        raise StoreError("the signature's headers are malformed")
    if set(unprotected) - _UNPROTECTED:
        raise StoreError("the signature carries unknown unprotected headers")
    for pad in ("pad", "pad2"):
        if pad in unprotected and (not isinstance(unprotected[pad], bytes) or any(unprotected[pad])):
            raise StoreError("the signature's padding is not zeros")
    chain = protected.get(_X5CHAIN, unprotected.get(_X5CHAIN, unprotected.get("x5chain")))
    certificates = [chain] if isinstance(chain, bytes) else chain
    if (
        not isinstance(certificates, list | tuple)
        or not certificates
        or not all(isinstance(c, bytes) for c in certificates)
    ):
        raise StoreError("the signature carries no certificate chain")
    return tuple(certificates)


def _manifest(data: bytes, box: Superbox) -> Manifest:
    kind = box.c2pa_type
    if kind not in ("c2ma", "c2um") or not box.label or box.boxes:
        raise StoreError("the store holds something that is not a manifest")
    assertions: list[Assertion] = []
    claim: dict[str, Any] | None = None
    certificates: tuple[bytes, ...] = ()
    others = []
    for child in box.children:
        child_kind = child.c2pa_type
        if child_kind == "c2as":
            if child.boxes or len(child.children) > MAX_ASSERTIONS:
                raise StoreError("a malformed assertion store")
            assertions += [_assertion(data, a) for a in child.children]
        elif child_kind == "c2cl":
            value = decode_cbor(_payload(data, child, b"cbor"))
            if not isinstance(value, Mapping) or claim is not None:
                raise StoreError("a malformed or second claim")
            claim = dict(value)
        elif child_kind == "c2cs":
            if certificates:
                raise StoreError("a second signature")
            certificates = _signature(data, child)
        else:
            others.append(child.label or child_kind or "unlabelled box")
    if claim is None or not certificates:
        raise StoreError("a manifest without its claim or signature")
    return Manifest(box.label, kind == "c2um", tuple(assertions), claim, certificates, tuple(others))


def read_store(data: bytes) -> Store:
    """The manifests of the store ``data`` holds (the JUMBF superbox, nothing around it)."""
    try:
        root = parse(data)
    except JumbfError as exc:
        raise StoreError(str(exc)) from None
    if root.c2pa_type != "c2pa" or root.boxes or not root.children or len(root.children) > MAX_MANIFESTS:
        raise StoreError("not a C2PA manifest store")
    return Store(tuple(_manifest(data, child) for child in root.children))
