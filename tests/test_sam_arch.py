"""`make sam-build ARCH=...` (deploy/sam_build.py), offline: the one-architecture template it derives from SAM's
built template deploys exactly what the full template deploys with that Architecture, and accepts no other."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from template_support import ROOT, concretize, lint_findings, load_template, translate


def _sam_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sam_build", ROOT / "deploy" / "sam_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SB = _sam_build()
OTHER = {"x86_64": "arm64", "arm64": "x86_64"}


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_derived_template_deploys_what_the_full_one_deploys(arch: str) -> None:
    full = load_template()
    derived = SB.for_one_architecture(copy.deepcopy(full), arch)
    assert not set(SB.LAYERS[OTHER[arch]]) & set(derived["Resources"])
    assert derived["Parameters"]["Architecture"]["AllowedValues"] == [arch]
    assert derived["Parameters"]["Architecture"]["Default"] == arch
    layers = derived["Resources"]["ScrubberFunction"]["Properties"]["Layers"]
    optional, condition = SB.OPTIONAL[arch]  # the C2PA layer: still conditional, on Provenance=resign
    assert layers[-1] == {"Fn::If": [condition, {"Ref": optional}, {"Ref": "AWS::NoValue"}]}
    assert "Fn::If" not in str(layers[:-1])
    params = {"Architecture": arch}
    assert _without_lint_notes(concretize(derived, params)) == concretize(full, params)
    layers = concretize(derived, params)["Resources"]["ScrubberFunction"]["Properties"]["Layers"]
    assert layers == [{"Ref": name} for name in SB.LAYERS[arch]]
    translated = translate(full, params)["Resources"]  # the translator keeps every Condition for CloudFormation
    gone = {SB.CONDITION[OTHER[arch]], SB.OPTIONAL[OTHER[arch]][1]}
    created = {name for name, res in translated.items() if res.get("Condition") not in gone}
    assert set(translate(derived, params)["Resources"]) == created
    # cfn-lint would warn that the functions Ref layers that carry a Condition, which is always true now (the kept
    # layers keep it: SAM hashes it into their logical ids, so either build deploys the same layer versions): the
    # functions that use the layers say so and ignore W1001, and nothing else is found.
    assert lint_findings(derived) == []
    unexplained = _without_lint_notes(copy.deepcopy(derived))
    findings = lint_findings(unexplained)
    assert findings and all(f.startswith("W1001 ") and f"condition '{SB.CONDITION[arch]}'" in f for f in findings)
    assert lint_findings(full) == []


def _without_lint_notes(template: dict[str, Any]) -> dict[str, Any]:
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata", {})
        if metadata.pop("cfn-lint", None) is not None:
            assert metadata.pop("LintNote").startswith("W1001 ignored: ")
            if not metadata:
                del resource["Metadata"]
    return template


def test_a_remaining_reference_to_a_removed_layer_is_refused() -> None:
    template = load_template()
    template["Outputs"]["ArmLayer"] = {"Value": {"Fn::Sub": "${ExifToolLayerArm64}"}}
    with pytest.raises(SystemExit, match="still referenced"):
        SB.for_one_architecture(template, "x86_64")


def test_a_template_whose_layers_changed_is_refused() -> None:
    template: dict[str, Any] = load_template()
    del template["Resources"]["PythonDepsLayerArm64"]
    with pytest.raises(SystemExit, match="expected the arm64 layers"):
        SB.for_one_architecture(template, "x86_64")


def test_architecture_comes_from_samconfig_deploy_overrides(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    assert SB.configured_arch(config) is None
    config.write_text('version = 0.1\n[default.deploy.parameters]\nstack_name = "s"\n')
    assert SB.configured_arch(config) is None
    config.write_text(
        '[default.deploy.parameters]\nparameter_overrides = "KeepCopyright=\\"true\\" Architecture=\\"x86_64\\""\n'
    )
    assert SB.configured_arch(config) == "x86_64"
    config.write_text('[prod.deploy.parameters]\nparameter_overrides = ["Architecture=arm64", "Trigger=Queue"]\n')
    assert SB.configured_arch(config) is None
    assert SB.configured_arch(config, "prod") == "arm64"
    assert SB.configured_arch(ROOT / "samconfig.toml") is None  # the repository's: unknown, so both are built
