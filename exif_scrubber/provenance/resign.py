"""Provenance that survives the scrub: the engine's C2PA step (policy ``provenance=resign``) and the audit's check.

After a file is cleaned and verified, an input that carried a valid manifest store gets a new manifest signed with
the deployer's key: intent *edit*, the input as its ``parentOf`` ingredient, actions ``c2pa.edited.metadata`` and
one ``c2pa.redacted`` per assertion redacted from the chain (:func:`.privacy.plan`), no thumbnail. Where personal
data sits where redaction is forbidden, or anything fails, the file keeps the clean output without a manifest
(``strip``) and the result says why. The engine then holds the signed file to every check an output passes, and
accepts its manifest as a kept item only through :meth:`Provenance.own_carrier`.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..bytemodel import Buffer, ByteModel
from ..kept.ai_disclosure import is_ai
from .c2pa_lib import ProvenanceUnavailable, context, load, one_line
from .carriers import Carrier, CarrierError, find, relabel
from .der import DerError, certificate_names
from .privacy import findings, plan, source_types
from .signing import SigningError, SigningKey, chain_certificates, cose_signature
from .store import Store, StoreError, read_store

REDACTION_REASON = "c2pa.PII.present"
_TRUSTED = "signingCredential.trusted"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9 .,&()'_-]{1,64}")
MAX_REASONS = 3


@dataclass
class ProvenanceResult:
    """What happened to a file's C2PA provenance (``ScrubReport.provenance``)."""

    action: str
    """``resigned`` (a new manifest), ``stripped`` (the manifest removed; ``reason`` says why) or ``kept`` (the
    file already carried this deployment's validated manifest)."""
    reason: str | None = None
    redacted: list[str] = field(default_factory=list)
    """Labels of the assertions redacted from the chain."""
    digital_source_types: list[str] = field(default_factory=list)
    """The ``digitalSourceType`` values the chain's actions keep (the AI disclosure among them)."""
    ai_generated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for reports and evidence records."""
        if self.action != "resigned":
            return f"C2PA manifest removed, not re-signed: {self.reason}"
        ai = "; its AI disclosure kept" if self.ai_generated else ""
        return f"C2PA manifest re-signed: the original is its parent, {len(self.redacted)} assertions redacted{ai}"


@dataclass(frozen=True)
class Validation:
    """What c2pa-python says of a file's manifest store."""

    state: str | None
    failures: list[str] = field(default_factory=list)
    trusted_signer: bool = False
    """The active manifest's signer chains to the configured trust anchors."""

    @property
    def valid(self) -> bool:
        return self.state in ("Valid", "Trusted")


@dataclass
class ManifestCheck:
    """The audit's view of one file's manifest store."""

    validation: str | None = None
    """c2pa's validation state (``Invalid``, ``Valid``, ``Trusted``), None when it could not be read."""
    trusted_signer: bool = False
    """The active manifest's signer chains to the configured trust list."""
    signer: str | None = None
    """The signer certificate's common name (printable characters only)."""
    digital_source_types: list[str] = field(default_factory=list)
    ai_generated: bool = False
    findings: list[str] = field(default_factory=list)
    """Why the manifest is not clean: personal data, validation failures, an untrusted signer."""

    @property
    def clean(self) -> bool:
        return self.validation in ("Valid", "Trusted") and self.trusted_signer and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


class Provenance:
    """The engine's C2PA work: re-signing (with a key) and checking manifests (with optional trust anchors).

    ``key`` signs; ``trust_anchors`` (PEM) are the roots a signer must chain to for the audit to call a manifest
    trusted; ``tsa_url`` an RFC 3161 time-stamp authority for the new manifests. The C2PA library is loaded at
    construction when there is a key (a deployment that cannot re-sign fails at start), else on first use.
    """

    def __init__(
        self, key: SigningKey | None = None, *, trust_anchors: str | None = None, tsa_url: str | None = None
    ) -> None:
        self.key = key
        self.trust_anchors = trust_anchors or None
        self.tsa_url = tsa_url or None
        self.leaf = chain_certificates(key.chain_pem)[0] if key is not None else None
        self._module = load() if key is not None else None

    @property
    def c2pa(self) -> Any:
        if self._module is None:
            self._module = load()
        return self._module

    # ------------------------------------------------------------------ the engine's own manifests

    def own_carrier(self, format_name: str, mime: str, path: Path, data: Buffer, model: ByteModel) -> Carrier | None:
        """The carrier of a manifest store this deployment signed, when it validates and holds nothing personal
        (its spans may then be kept); None otherwise."""
        if self.leaf is None:
            return None
        try:
            carrier = find(format_name, data, model)
            if carrier is None:
                return None
            store = read_store(carrier.store)
        except (CarrierError, StoreError):
            return None
        if store.active.certificates[0] != self.leaf or findings(store):
            return None
        return carrier if self._validate(mime, path, store).valid else None

    def keep_own(self, format_name: str, mime: str, path: Path, data: Buffer, model: ByteModel) -> bool:
        """Label this deployment's validated manifest store in ``model`` as a kept item; True when it did."""
        carrier = self.own_carrier(format_name, mime, path, data, model)
        if carrier is not None:
            relabel(model, carrier)
        return carrier is not None

    def keep(self, format_name: str, data: Buffer, model: ByteModel) -> None:
        """Label a manifest store the audit found clean (:meth:`check`) as a kept item of ``model``."""
        carrier = find(format_name, data, model)
        if carrier is not None:
            relabel(model, carrier)

    def _validate(self, mime: str, path: Path, store: Store) -> Validation:
        """c2pa's validation of the file: its state (``Invalid``, ``Valid``, ``Trusted``; None when it cannot read
        it), the active manifest's failure codes, and whether its signer chains to the trust anchors. Invalid when
        c2pa's active manifest is not the one this reading found."""
        try:
            c2pa = self.c2pa
        except ProvenanceUnavailable as exc:
            return Validation(None, [f"not validated: {exc}"])
        try:
            with path.open("rb") as stream, context(c2pa, trust_anchors=self.trust_anchors) as ctx:
                reader = c2pa.Reader(mime, stream, context=ctx)
                with reader:
                    state = reader.get_validation_state()
                    results = reader.get_validation_results() or {}
                    active = (reader.get_active_manifest() or {}).get("label")
        except c2pa.C2paError as exc:
            return Validation(None, [f"the C2PA library cannot read the manifest ({one_line(exc)})"])
        outcome = results.get("activeManifest") or {}
        failures = [str(item.get("code")) for item in outcome.get("failure", []) if isinstance(item, dict)]
        trusted = any(isinstance(i, dict) and i.get("code") == _TRUSTED for i in outcome.get("success", []))
        if active != store.active.label:
            return Validation("Invalid", ["the C2PA library reads another active manifest than the store's last"])
        return Validation(state, failures, trusted and self.trust_anchors is not None)

    # ------------------------------------------------------------------ re-signing

    def resign(
        self, format_name: str, mime: str, source: Path, data: Buffer, model: ByteModel, clean: Path, signed: Path
    ) -> ProvenanceResult | None:
        """Write ``signed``: ``clean`` with a new manifest whose parent is ``source``'s store. None when the input
        has no manifest store (nothing is added); a ``stripped`` result, with its reason, when it cannot be done."""
        try:
            carrier = find(format_name, data, model)
        except CarrierError as exc:
            return _stripped(f"the input's C2PA carrier is malformed ({exc})")
        if carrier is None:
            return None
        try:
            store = read_store(carrier.store)
        except StoreError as exc:
            return _stripped(f"the input's manifest store is malformed ({exc})")
        kinds = source_types(store)
        steps = plan(store)
        if steps.blockers:
            reason = "personal data where C2PA forbids redaction: " + "; ".join(steps.blockers[:MAX_REASONS])
            return _stripped(reason, kinds)
        validation = self._validate(mime, source, store)
        if not validation.valid:
            detail = ", ".join(validation.failures[:MAX_REASONS]) or "no validation state"
            return _stripped(f"the input's manifest does not validate ({detail})", kinds)
        try:
            self._sign(mime, source, clean, signed, steps.redactions)
        except (SigningError, self.c2pa.C2paError, OSError) as exc:
            signed.unlink(missing_ok=True)
            return _stripped(f"signing failed ({one_line(exc)})", kinds)
        return ProvenanceResult(
            "resigned", None, steps.redacted_labels, kinds, ai_generated=any(is_ai(kind) for kind in kinds)
        )

    def _sign(self, mime: str, source: Path, clean: Path, signed: Path, redactions: list[str]) -> None:
        assert self.key is not None
        c2pa, key = self.c2pa, self.key
        actions: list[dict[str, Any]] = [{"action": "c2pa.edited.metadata"}]
        actions += [
            {"action": "c2pa.redacted", "reason": REDACTION_REASON, "parameters": {"redacted": uri}}
            for uri in redactions
        ]
        definition = {
            "format": mime,
            "redactions": redactions,
            "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}],
        }
        signer = c2pa.Signer.from_callback(
            lambda data: cose_signature(key.sign(data)), c2pa.C2paSigningAlg.ES256, key.chain_pem, self.tsa_url
        )
        with (
            signer,
            context(c2pa, trust_anchors=self.trust_anchors, builder=True) as ctx,
            c2pa.Builder(definition, context=ctx) as builder,
        ):
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            with source.open("rb") as parent:
                builder.add_ingredient({"relationship": "parentOf"}, mime, parent)
            with clean.open("rb") as src, signed.open("w+b") as dst:
                builder.sign(signer, mime, src, dst)

    def self_test(self, mime: str, sample: bytes) -> None:
        """Sign ``sample`` once (a cold start's check that the key and its chain belong together)."""
        c2pa, key = self.c2pa, self.key
        if key is None:
            return
        signer = c2pa.Signer.from_callback(
            lambda data: cose_signature(key.sign(data)), c2pa.C2paSigningAlg.ES256, key.chain_pem, self.tsa_url
        )
        created = {
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/empty",
        }
        definition = {"assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [created]}}]}
        try:
            with signer, context(c2pa, builder=True) as ctx, c2pa.Builder(definition, context=ctx) as builder:
                builder.sign(signer, mime, io.BytesIO(sample), io.BytesIO())
        except c2pa.C2paError as exc:
            raise SigningError(f"the C2PA signing key cannot sign ({one_line(exc)})") from None

    # ------------------------------------------------------------------ the audit

    def check(self, format_name: str, mime: str, path: Path, data: Buffer, model: ByteModel) -> ManifestCheck | None:
        """The audit's check of a file's manifest store: validation, the signer against the trust anchors, what
        it asserts and what personal data it still carries. None when the file has no store."""
        try:
            carrier = find(format_name, data, model)
            if carrier is None:
                return None
            store = read_store(carrier.store)
        except (CarrierError, StoreError) as exc:
            return ManifestCheck(findings=[f"malformed manifest store ({exc})"])
        kinds = source_types(store)
        check = ManifestCheck(
            signer=_signer(store), digital_source_types=kinds, ai_generated=any(is_ai(k) for k in kinds)
        )
        check.findings = findings(store)
        validation = self._validate(mime, path, store)
        check.validation, check.trusted_signer = validation.state, validation.trusted_signer
        if not validation.valid:
            failures = validation.failures[:MAX_REASONS] or ["no validation state"]
            check.findings.append("the manifest does not validate: " + ", ".join(failures))
        elif not validation.trusted_signer:
            check.findings.append(
                "the signer is not in the trust list" if self.trust_anchors else "no trust list to check the signer"
            )
        return check


def _stripped(reason: str, kinds: list[str] | None = None) -> ProvenanceResult:
    kinds = kinds or []
    return ProvenanceResult("stripped", reason, [], kinds, ai_generated=any(is_ai(k) for k in kinds))


def _signer(store: Store) -> str | None:
    """The signer's common name for a report: plain characters only, else a placeholder (never raw bytes)."""
    try:
        name = certificate_names(store.active.certificates[0]).common_name()
    except DerError:
        return None
    if name is None:
        return None
    return name if _PLAIN_NAME.fullmatch(name) else "(a name with unusual characters)"
