"""The template's Provenance=resign: the C2PA layer of the function's architecture, its environment, and a role that
may only call kms:Sign with the deployer's key and read its certificate chain. Provenance=strip adds nothing."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.template_support import (
    ACCOUNT,
    concretize,
    dependency_cycle,
    lint_findings,
    load_template,
    role_statements,
    translate,
)

SIGNING_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0000aaaa-11bb-22cc-33dd-444455556666"
SECRET = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:c2pa-chain-AbCdEf"
PARAMETER = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/c2pa/chain"
RESIGN = {"Provenance": "resign", "ProvenanceKmsKeyArn": SIGNING_KEY, "ProvenanceCertChainArn": SECRET}
SCENARIOS = {
    "resign-arm64-secret": RESIGN,
    "resign-x86-parameter-tsa": RESIGN
    | {"Architecture": "x86_64", "ProvenanceCertChainArn": PARAMETER, "ProvenanceTsaUrl": "https://tsa.example"},
    "resign-existing-queue": RESIGN | {"ExistingBucketName": "holiday-photos", "Trigger": "Queue"},
}


@functools.cache
def _translated(key: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return translate(load_template(), dict(key))


def deployed(parameters: dict[str, str]) -> dict[str, Any]:
    """The resources a deploy with these parameter values creates, intrinsics resolved."""
    return concretize(_translated(tuple(sorted(parameters.items()))), parameters)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_resign_translates_lint_clean_without_cycles(name: str) -> None:
    translated = _translated(tuple(sorted(SCENARIOS[name].items())))
    assert lint_findings(translated) == []
    assert lint_findings(concretize(translated, SCENARIOS[name])) == []
    assert dependency_cycle(deployed(SCENARIOS[name])) is None


@pytest.mark.parametrize(("name", "arch"), [("resign-arm64-secret", "Arm64"), ("resign-x86-parameter-tsa", "X86")])
def test_the_function_gets_the_c2pa_layer_of_its_architecture(name: str, arch: str) -> None:
    resources = deployed(SCENARIOS[name])["Resources"]
    layers = [n for n, body in resources.items() if body["Type"] == "AWS::Lambda::LayerVersion" and "C2pa" in n]
    assert len(layers) == 1 and layers[0].startswith(f"C2paLayer{arch}")
    scrubber = resources["ScrubberFunction"]["Properties"]
    assert scrubber["Layers"][-1] == {"Ref": layers[0]} and len(scrubber["Layers"]) == 3
    audit = resources["AuditFunction"]["Properties"]  # report-only: checks manifests, signs nothing
    assert audit["Layers"] == scrubber["Layers"]
    assert audit["Environment"]["Variables"]["PROVENANCE"] == "resign"
    assert "C2PA_KMS_KEY_ID" not in audit["Environment"]["Variables"]
    variables = scrubber["Environment"]["Variables"]
    assert variables["PROVENANCE"] == "resign" and variables["C2PA_KMS_KEY_ID"] == SIGNING_KEY
    assert variables["C2PA_CERT_CHAIN"] == SCENARIOS[name]["ProvenanceCertChainArn"]
    assert variables["AWS_DATA_PATH"] == "/opt/botocore-models"


def _provenance_statements(parameters: dict[str, str]) -> list[dict[str, Any]]:
    statements = role_statements(deployed(parameters), "ScrubberFunctionRole")
    return [s for s in statements if any(a.startswith(("kms:Sign", "ssm:", "secretsmanager:")) for a in s["Action"])]


def test_the_role_may_only_sign_with_the_key_and_read_its_chain() -> None:
    secret = _provenance_statements(SCENARIOS["resign-arm64-secret"])
    sign = [s for s in secret if "kms:Sign" in s["Action"]]
    assert len(sign) == 1 and sign[0]["Action"] == ["kms:Sign"] and sign[0]["Resource"] == [SIGNING_KEY]
    assert sign[0]["Condition"] == {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}
    assert [s["Resource"] for s in secret if s["Action"] == ["secretsmanager:GetSecretValue"] and s["Sid"].startswith(
        "ReadProvenance")] == [[SECRET]]  # fmt: skip
    assert not [s for s in secret if any(a.startswith("ssm:") for a in s["Action"])]
    parameter = _provenance_statements(SCENARIOS["resign-x86-parameter-tsa"])
    assert [s["Resource"] for s in parameter if s["Action"] == ["ssm:GetParameter"]] == [[PARAMETER]]
    assert not [s for s in parameter if s.get("Sid", "").startswith("ReadProvenanceChainSecret")]
    all_kms = {
        a
        for s in role_statements(deployed(RESIGN), "ScrubberFunctionRole")
        for a in s["Action"]
        if a.startswith("kms:")
    }
    assert all_kms == {"kms:Sign"}  # no GetPublicKey, no Decrypt, no key administration
    audit = role_statements(deployed(RESIGN), "AuditFunctionRole")
    assert not [s for s in audit if any(a.startswith("kms:") for a in s["Action"])]
    assert [s["Resource"] for s in audit if s["Action"] == ["secretsmanager:GetSecretValue"]] == [[SECRET]]


def test_strip_adds_no_layer_no_permission_and_no_variable_value() -> None:
    resources = deployed({})["Resources"]
    assert not [n for n in resources if "C2pa" in n]
    assert len(resources["ScrubberFunction"]["Properties"]["Layers"]) == 2
    variables = resources["ScrubberFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["PROVENANCE"] == "strip" and "AWS_DATA_PATH" not in variables
    assert not [s for s in role_statements(deployed({}), "ScrubberFunctionRole") if "kms:Sign" in s["Action"]]


def test_resign_without_its_key_or_chain_is_refused_by_a_rule() -> None:
    rule = load_template()["Rules"]["ResignNeedsKeyAndChain"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Provenance"}, "resign"]}
    asserted = str(rule["Assertions"][0]["Assert"])
    assert "ProvenanceKmsKeyArn" in asserted and "ProvenanceCertChainArn" in asserted
