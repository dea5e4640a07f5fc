"""`sam build` of only the architecture the stack deploys: ``make sam-build [ARCH=arm64|x86_64]``.

SAM builds every resource of template.yaml whatever its Condition, so a stack that deploys arm64 still builds
the x86_64 layers (its ExifTool layer and about 40 MB of x86_64 wheels); ``sam build <LogicalId>`` builds one
function with its layers but leaves the other function pointing at its source folder, which ``sam deploy`` would
then zip and ship as that function. This instead runs ``sam build --exclude`` for the other architecture's two
layers, then derives the built template for that one architecture: the ``Architecture`` parameter allows only
the architecture built (so a ``sam deploy`` with the other one is refused by CloudFormation instead of attaching
layers that were never built), the two excluded layers are removed (their Condition is false for that value)
and each ``Fn::If`` on IsArm64/IsX86 is replaced by the branch that value takes. The result deploys exactly the
resources the full template deploys with that Architecture; nothing is stubbed and no unbuilt folder is uploaded.
The other architecture's C2PA layer (only with Provenance=resign) is excluded the same way; this one's stays under
its Condition.

The architecture is ``--arch``, else the ``Architecture`` in samconfig.toml's deploy ``parameter_overrides``
(what ``sam deploy --guided`` saves), else unknown: then both are built, as plain ``sam build`` does.
Needs PyYAML (the SAM CLI's own virtualenv has it: the Makefile runs this with .venv-sam/bin/python).
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "x86_64": ("ExifToolLayerX86", "PythonDepsLayerX86"),
    "arm64": ("ExifToolLayerArm64", "PythonDepsLayerArm64"),
}
CONDITION = {"x86_64": "IsX86", "arm64": "IsArm64"}
OPTIONAL = {"x86_64": ("C2paLayerX86", "ResignX86"), "arm64": ("C2paLayerArm64", "ResignArm64")}
"""Per architecture, a layer only some stacks attach (the C2PA layer, Provenance=resign) and its Condition: the
other architecture's goes too; the kept one stays under its Condition (it depends on another parameter)."""
LINT_NOTE = (
    "W1001 ignored: the layers' Condition is always true in a template built for one architecture; it stays because "
    "SAM hashes it into the layers' logical ids, so both kinds of build deploy the same layer versions"
)


def configured_arch(samconfig: Path, config_env: str = "default") -> str | None:
    """The ``Architecture`` that samconfig.toml's deploy parameter_overrides name, if any."""
    if not samconfig.is_file():
        return None
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    overrides = config.get(config_env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", [])
    items = shlex.split(overrides) if isinstance(overrides, str) else [str(item) for item in overrides]
    for item in items:
        key, _, value = item.partition("=")
        if key == "Architecture":
            return value
    return None


def _take_branches(node: Any, known: dict[str, bool]) -> Any:
    """``node`` with every ``Fn::If`` on a condition in ``known`` replaced by the branch it takes."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"} and node["Fn::If"][0] in known:
            condition, if_true, if_false = node["Fn::If"]
            return _take_branches(if_true if known[condition] else if_false, known)
        return {key: _take_branches(value, known) for key, value in node.items()}
    if isinstance(node, list):
        return [_take_branches(value, known) for value in node]
    return node


def _references(node: Any) -> set[str]:
    """Every logical id named by Ref, Fn::GetAtt, Fn::Sub or DependsOn inside ``node``."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key in ("Ref", "DependsOn") and isinstance(value, str):
                found.add(value)
            elif key == "DependsOn" and isinstance(value, list):
                found |= {str(v) for v in value}
            elif key == "Fn::GetAtt" and isinstance(value, list) and value:
                found.add(str(value[0]))
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else str(value[0])
                found |= set(re.findall(r"\$\{([A-Za-z0-9]+)[.}]", text)) | _references(value)
            else:
                found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(value) for value in node)) if node else set()
    return set()


def _mentions(node: Any, name: str) -> bool:
    """True when the string ``name`` appears as a value anywhere in ``node``."""
    if isinstance(node, dict):
        return any(_mentions(value, name) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(_mentions(value, name) for value in node)
    return bool(node == name)


def for_one_architecture(template: dict[str, Any], arch: str) -> dict[str, Any]:
    """The template as deployed with ``Architecture=arch``, accepting no other value (see the module doc)."""
    other = next(a for a in LAYERS if a != arch)
    resources = template["Resources"]
    gone = {CONDITION[other], OPTIONAL[other][1]}
    dropped = sorted(name for name, res in resources.items() if res.get("Condition") in gone)
    if dropped != sorted((*LAYERS[other], OPTIONAL[other][0])):
        wanted = f"the {other} layers {(*LAYERS[other], OPTIONAL[other][0])} under {sorted(gone)}"
        raise SystemExit(f"template: expected {wanted}, found {dropped}")
    # The kept layers keep their Condition (always true now): SAM hashes it into the LayerVersion's logical id,
    # so a stack deployed from either build keeps the same layer versions.
    kept = {**template, "Resources": {k: v for k, v in resources.items() if k not in dropped}}
    out: dict[str, Any] = _take_branches(
        kept, {CONDITION[arch]: True, CONDITION[other]: False, OPTIONAL[other][1]: False}
    )
    dangling = _references(out) & set(dropped)
    if dangling:
        raise SystemExit(f"template: {sorted(dangling)} still referenced after removing the {other} layers")
    conditions = out.get("Conditions", {})
    for condition in (OPTIONAL[other][1], CONDITION[other]):  # the optional layer's first: it names the other
        rest = (
            {k: v for k, v in out.items() if k != "Conditions"},
            {k: v for k, v in conditions.items() if k != condition},
        )
        if condition in conditions and not _mentions(rest, condition):
            del conditions[condition]  # only the removed layers used it
    for resource in out["Resources"].values():  # `sam validate --lint` of the result: no finding left unexplained
        if _references(resource.get("Properties", {}).get("Layers", [])) & set(LAYERS[arch]):
            metadata = resource.setdefault("Metadata", {})
            metadata["cfn-lint"] = {"config": {"ignore_checks": ["W1001"]}}
            metadata["LintNote"] = LINT_NOTE
    parameter = out["Parameters"]["Architecture"]
    parameter.update(AllowedValues=[arch], Default=arch)
    parameter["Description"] = f"{parameter.get('Description', '')} Built for {arch} only (make sam-build).".strip()
    return out


def narrow_template(template: Path, arch: str) -> None:
    """Rewrite SAM's built template (long-form intrinsics, plain YAML) for ``arch`` only."""
    data: dict[str, Any] = yaml.safe_load(template.read_text(encoding="utf-8"))
    template.write_text(yaml.safe_dump(for_one_architecture(data, arch), sort_keys=False, width=120), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arch", choices=sorted(LAYERS), help="default: samconfig.toml's Architecture")
    parser.add_argument("--sam", default=str(ROOT / ".venv-sam" / "bin" / "sam"), help="the SAM CLI")
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam") / "build")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment")
    opts, extra = parser.parse_known_args(argv)
    arch = opts.arch or configured_arch(Path("samconfig.toml"), opts.config_env)
    if arch is not None and arch not in LAYERS:
        raise SystemExit(f"samconfig.toml: Architecture={arch!r} is neither arm64 nor x86_64")
    excluded = [
        layer
        for other, layers in LAYERS.items()
        if arch is not None and other != arch
        for layer in (*layers, OPTIONAL[other][0])
    ]
    command = [opts.sam, "build", "--build-dir", str(opts.build_dir), "--config-env", opts.config_env, *extra]
    for layer in excluded:
        command += ["--exclude", layer]
    print(f"sam-build: {'building ' + arch + ' only' if arch else 'architecture unknown: building both'}",
          file=sys.stderr)  # fmt: skip
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        return result.returncode
    if arch is not None:
        narrow_template(opts.build_dir / "template.yaml", arch)
        print(f"sam-build: {opts.build_dir / 'template.yaml'} is for Architecture={arch} only", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
