"""What ExifTool reads of a manifest store the engine keeps (its second opinion on a re-signed file).

A kept store holds only claims, signatures and the kept assertions (:data:`.privacy.KEPT_ASSERTIONS`: actions,
hard bindings, ingredients), each searched field by field before the store is accepted. ExifTool shows the JUMBF
descriptions, each assertion's salt, and the CBOR fields under names made from their keys: these are the names
those structures produce. Any other name (a JSON assertion, a thumbnail, an identity, a key nobody expects) is a
leftover, and the re-signed file is not accepted.
"""

from __future__ import annotations

import re
from functools import cache

from ..allowlist import Allowlist
from ..bytemodel import Buffer, ByteModel
from ..reading import Reading

_SALTS = (
    "Actions", "ActionsV2", "HashData", "HashBoxes", "HashBmff", "HashBmffV2", "HashBmffV3", "HashCollectionData",
    "Ingredient", "IngredientV2", "IngredientV3",
)  # fmt: skip
_CLAIM = (
    "InstanceID", "Claim_Generator_InfoName", "Claim_Generator_InfoVersion",
    "Claim_Generator_InfoOrgContentauthC2Pa_Rs", "Claim_Generator_InfoOperating_System", "Claim_generator",
    "Signature", "Created_AssertionsUrl",
    "Created_AssertionsHash", "Created_AssertionsAlg", "Gathered_AssertionsUrl", "Gathered_AssertionsHash",
    "Gathered_AssertionsAlg", "AssertionsUrl", "AssertionsHash", "AssertionsAlg", "Redacted_assertions", "Title",
    "Dc_title", "Dc_format", "Alg",
)  # fmt: skip
"""Claim fields (v1 and v2); the claim's values were searched for personal data."""
_SIGNATURE = ("Item0", "Item1Pad", "Item1Pad2", "Item2", "Item3")
"""The COSE_Sign1 array: protected header, unprotected header (zero padding), no payload, the signature."""
_ACTIONS = (
    "ActionsAction", "ActionsDigitalSourceType", "ActionsWhen", "ActionsReason", "ActionsDescription",
    "ActionsSoftwareAgent", "ActionsSoftwareAgentName", "ActionsSoftwareAgentVersion",
    "ActionsParametersIngredientsUrl", "ActionsParametersIngredientsHash", "ActionsParametersIngredientsAlg",
    "ActionsParametersIngredientUrl", "ActionsParametersIngredientHash", "ActionsParametersIngredientAlg",
    "ActionsParametersRedacted", "ActionsParametersDescription", "ActionsInstanceId", "AllActionsIncluded",
)  # fmt: skip
_INGREDIENT = (
    "Relationship", "Title", "Format", "InstanceID", "DocumentID", "ActiveManifestUrl", "ActiveManifestAlg",
    "ActiveManifestHash", "ClaimSignatureUrl", "ClaimSignatureAlg", "ClaimSignatureHash", "C2pa_manifestUrl",
    "C2pa_manifestAlg", "C2pa_manifestHash", "ValidationStatusCode", "ValidationStatusUrl",
    "ValidationStatusExplanation", "ValidationResultsSpecVersion", "ValidationResultsTrustListUri",
)  # fmt: skip
_RESULTS = (
    *(
        f"ValidationResults{where}{kind}{field}"
        for where in ("ActiveManifest", "IngredientDeltasValidationDeltas")
        for kind in ("Success", "Informational", "Failure")
        for field in ("Code", "Url", "Explanation")
    ),
    "ValidationResultsIngredientDeltasIngredientAssertionURI",
)
_BINDINGS = (
    "ExclusionsStart", "ExclusionsLength", "ExclusionsXpath", "ExclusionsDataOffset", "ExclusionsDataValue",
    "ExclusionsFlags", "ExclusionsExact", "ExclusionsVersion", "ExclusionsSubsetOffset", "ExclusionsSubsetLength",
    "Name", "Hash", "Pad", "Alg",
)  # fmt: skip


@cache
def manifest_allowlist() -> Allowlist:
    """ExifTool's names for a kept manifest store (JUMBF descriptions, salts, CBOR fields of kept structures)."""
    return (
        Allowlist.of("JUMBF", ["JUMDType", "JUMDToggles", "JUMDLabel"])
        | Allowlist.of("Jpeg2000", [f"C2PA{name}Salt" for name in _SALTS])
        | Allowlist.of("CBOR", [*_CLAIM, *_SIGNATURE, *_ACTIONS, *_INGREDIENT, *_RESULTS, *_BINDINGS])
    )


MANIFEST_GROUPS = frozenset({"JUMBF", "CBOR", "JSON", "Jpeg2000"})
"""The groups under which ExifTool reports what it reads inside a JUMBF manifest store."""
_JUMBF_ECHO = re.compile(r"references previous JUMBFBox directory$")
"""ExifTool's loop guard mistaking an EXIF block that follows a JUMBF box at the same relative offset for a loop
(ExifTool 13.59, a PNG whose ``caBX`` precedes its ``eXIf``): it then does not read that EXIF block at all."""


def echoes_manifest(reading: Reading) -> bool:
    """ExifTool skipped a block because a manifest store came before it (:data:`_JUMBF_ECHO`)."""
    return any(_JUMBF_ECHO.search(warning) for warning in reading.warnings)


def without_spans(data: Buffer, model: ByteModel, label: str) -> bytes:
    """The file's bytes without the spans labelled ``label`` (what ExifTool reads to see the rest)."""
    view = memoryview(data)
    return b"".join(bytes(view[s.start : s.end]) for s in model.spans if s.label != label)


def merged(full: Reading, rest: Reading) -> Reading:
    """The manifest's tags as ExifTool read them in the whole file, everything else as it read the file without
    the manifest; the loop warning dropped (it is explained by the manifest)."""
    tags = [t for t in full.tags if t.group in MANIFEST_GROUPS]
    tags += [t for t in rest.tags if t.group not in MANIFEST_GROUPS]
    warnings = [w for w in rest.warnings if not _JUMBF_ECHO.search(w)]
    return Reading(tags=tags, mime_type=full.mime_type, error=full.error or rest.error, warnings=warnings)
