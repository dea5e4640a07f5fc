"""What in a manifest store can carry personal data, what may be redacted, and what cannot.

C2PA (2.x, section 6.8) lets a later manifest redact assertions of the manifests behind it, never the actions
(``c2pa.actions``: they hold the AI disclosure) nor the hard bindings (``c2pa.hash.*``). Everything else about a
manifest is signed and fixed: its label, its claim (claim generator, title), its signer's certificate.

So the rule is deny by default: every assertion of an earlier manifest is redacted except the ones the chain needs
(:data:`KEPT_ASSERTIONS`: actions, hard bindings, ingredients). What cannot be redacted is searched for personal
data (:func:`fixed_findings`): serial numbers, e-mail addresses, coordinates and fields named like them, in the
label, the claim, the signer's certificate names and the kept assertions. A finding there means the file cannot
keep its provenance without leaking it, and falls back to ``strip``.

Findings name the place, never the value (a report never echoes a file's bytes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .der import DerError, certificate_names
from .store import Manifest, Store

KEPT_ASSERTIONS = frozenset(
    {
        "c2pa.actions",
        "c2pa.actions.v2",
        "c2pa.hash.data",
        "c2pa.hash.boxes",
        "c2pa.hash.bmff",
        "c2pa.hash.bmff.v2",
        "c2pa.hash.bmff.v3",
        "c2pa.hash.collection.data",
        "c2pa.ingredient",
        "c2pa.ingredient.v2",
        "c2pa.ingredient.v3",
    }
)
"""Assertions an earlier manifest keeps: the actions (never redactable, they carry ``digitalSourceType``), the hard
bindings (never redactable) and the ingredients (the links of the chain), each searched for personal data."""

_INSTANCE = re.compile(r"__\d{1,4}$")
_SAFE_LABEL = re.compile(r"[A-Za-z0-9._-]{1,80}")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_MANIFEST_LABEL = re.compile(rf"urn:(?:uuid|c2pa):{_UUID}(?::(?P<generator>[A-Za-z0-9._-]{{0,64}}))?(?::\d+_\d+)?")
_DIGITS = re.compile(r"\d{5,}")
_DETECTORS = (
    ("a serial number", re.compile(r"(?i)serial|\bs/n\b|\bimei\b|\bmeid\b|\budid\b")),
    ("a hardware address", re.compile(r"(?i)\b(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b")),
    ("an e-mail address", re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    (
        "coordinates",
        re.compile(
            r"-?\b\d{1,3}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}\b"
            r"|\b\d{1,3}\s*(?:\u00b0|deg\b|,)\s*\d{1,2}(?:\.\d+)?\s*['\u2032]?\s*"
            r"(?:\d{1,2}(?:\.\d+)?\s*[\"\u2033]?\s*)?[NSEW]\b"
        ),
    ),
)
_PERSONAL_KEYS = re.compile(
    r"(?i)gps|latitude|longitude|location|address|e-?mail|phone|serial|owner|author|creator|person|artist|"
    r"actors?$|credential|identity|face"
)
"""Field names that mean a value is about a person, a place or a device, wherever they appear."""
_URL_KEYS = frozenset({"url", "redacted", "identifier", "activeManifest", "claimSignature", "c2pa_manifest"})
_STRUCTURAL_KEYS = frozenset({"hash", "alg", "pad", "pad2", "salt"})
_MAX_VALUES = 20_000


def base_label(label: str) -> str:
    """An assertion label without its instance suffix (``c2pa.actions__2`` -> ``c2pa.actions``)."""
    return _INSTANCE.sub("", label)


def shown(label: str) -> str:
    """A label fit for a report: itself when it is a plain identifier, else a placeholder."""
    return label if _SAFE_LABEL.fullmatch(label) else "an assertion with an unusual label"


@dataclass
class Plan:
    """How a store can be carried into a new manifest: what is redacted, and what stops it."""

    redactions: list[str] = field(default_factory=list)
    """JUMBF URIs of the assertions to redact."""
    redacted_labels: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    """Personal data where the specification forbids redaction (the file falls back to strip)."""


def plan(store: Store) -> Plan:
    """Redact every assertion that is not kept, in every manifest of ``store`` (they all become ingredients)."""
    result = Plan()
    for number, manifest in enumerate(store.manifests, 1):
        for assertion in manifest.assertions:
            if base_label(assertion.label) not in KEPT_ASSERTIONS:
                result.redactions.append(manifest.assertion_uri(assertion.label))
                result.redacted_labels.append(shown(assertion.label))
        result.blockers += fixed_findings(manifest, number)
    return result


def findings(store: Store) -> list[str]:
    """Everything in ``store`` that can still carry personal data: assertions that are not kept (anywhere) and
    personal data in what cannot be redacted. Empty for a store the engine may keep."""
    found = []
    for number, manifest in enumerate(store.manifests, 1):
        for assertion in manifest.assertions:
            if base_label(assertion.label) not in KEPT_ASSERTIONS:
                found.append(f"manifest {number} holds {shown(assertion.label)}, which can carry personal data")
        found += fixed_findings(manifest, number)
    return found


def fixed_findings(manifest: Manifest, number: int) -> list[str]:
    """Personal data in what no later manifest can redact: the label, the claim, the signer's certificate names
    and the kept assertions."""
    where = f"manifest {number}"
    found = [f"{where}: {what}" for what in _label_findings(manifest.label)]
    found += [f"{where}: {what} in its claim" for what in _value_findings(_claim_fields(manifest.claim))]
    found += [f"{where}: {what} in its signer's certificate" for what in _certificate_findings(manifest)]
    for assertion in manifest.assertions:
        if base_label(assertion.label) in KEPT_ASSERTIONS:
            found += [f"{where}: {what} in {shown(assertion.label)}" for what in _value_findings(assertion.value)]
    if manifest.other_stores:
        found.append(f"{where}: a credential or data box store, which cannot be redacted")
    return list(dict.fromkeys(found))


def _label_findings(label: str) -> list[str]:
    match = _MANIFEST_LABEL.fullmatch(label)
    if match is None:
        return ["a label that holds more than its identifier (a label cannot be changed)"]
    generator = match.group("generator") or ""
    hits = [name for name, pattern in _DETECTORS if pattern.search(generator)]
    if _DIGITS.search(generator):
        hits.append("a serial-like number")
    return [f"{hit} in its label" for hit in dict.fromkeys(hits)]


def _claim_fields(claim: Mapping[str, Any]) -> dict[str, Any]:
    """The claim without the lists of hashed references (they point at assertions, checked on their own)."""
    skip = {"created_assertions", "gathered_assertions", "assertions", "redacted_assertions", "signature"}
    return {key: value for key, value in claim.items() if key not in skip}


def _certificate_findings(manifest: Manifest) -> list[str]:
    try:
        names = certificate_names(manifest.certificates[0])
    except (DerError, IndexError):
        return ["an unreadable signer certificate"]
    found = []
    for attribute, value in names.subject:
        if attribute in ("serialNumber", "emailAddress", "UID"):
            found.append(f"a {attribute} attribute")
        found += [name for name, pattern in _DETECTORS if pattern.search(value)]
    return list(dict.fromkeys(found))


def _value_findings(value: Any) -> list[str]:
    found: dict[str, None] = {}
    try:
        for key, text in _strings(value):
            if key is not None and _PERSONAL_KEYS.search(key):
                found.setdefault("a field named like personal data", None)
            if text is None or key in _URL_KEYS:
                continue
            for name, pattern in _DETECTORS:
                if pattern.search(text):
                    found.setdefault(name, None)
    except _TooMany:
        found.setdefault(f"more than {_MAX_VALUES} values to search", None)  # never accepted unread
    return list(found)


class _TooMany(Exception):
    """A structure with more values than :data:`_MAX_VALUES`."""


def _strings(value: Any) -> Iterator[tuple[str | None, str | None]]:
    """(key, text) for every dictionary key and string in ``value``, walked with an explicit stack; raises
    :class:`_TooMany` past :data:`_MAX_VALUES` values."""
    pending: list[tuple[str | None, Any]] = [(None, value)]
    seen = 0
    while pending:
        key, item = pending.pop()
        seen += 1
        if seen > _MAX_VALUES:
            raise _TooMany
        if isinstance(item, Mapping):
            for child_key, child in item.items():
                name = str(child_key)
                if name in _STRUCTURAL_KEYS:
                    continue
                yield name, None
                pending.append((name, child))
        elif isinstance(item, list | tuple):
            pending.extend((key, child) for child in item)
        elif isinstance(item, str):
            yield key, item


def source_types(store: Store) -> list[str]:
    """The ``digitalSourceType`` values of every manifest's actions, in store order, once each."""
    found: dict[str, None] = {}
    for manifest in store.manifests:
        for assertion in manifest.assertions:
            if base_label(assertion.label) not in ("c2pa.actions", "c2pa.actions.v2"):
                continue
            actions = assertion.value.get("actions") if isinstance(assertion.value, Mapping) else None
            for action in actions if isinstance(actions, list | tuple) else ():
                kind = action.get("digitalSourceType") if isinstance(action, Mapping) else None
                if isinstance(kind, str):
                    found.setdefault(kind, None)
    return list(found)
