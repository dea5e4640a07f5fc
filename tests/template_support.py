"""Offline tools for checking template.yaml: load it, translate it with samtranslator, lint it with cfn-lint,
and resolve it for one set of parameter values (conditions, Fn::If, Ref, Fn::Sub, ...) so tests can read
the resources and IAM policies that a deploy with those values would create.

Nothing here talks to AWS: the translator gets a region-only boto3 session and no managed-policy lookups.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import yaml
from cfnlint.api import ManualArgs, lint
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_NAME = "exif-scrubber-test"
STACK_UUID = "1c2fa620-982a-11e3-aff7-50e2416294e0"
PSEUDO: dict[str, str] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/{STACK_UUID}",
    "AWS::URLSuffix": "amazonaws.com",
}
CREATED_BUCKET = f"exif-scrubber-{ACCOUNT}-{STACK_UUID.split('-')[0]}"

NO_VALUE = object()
"""What AWS::NoValue resolves to: removed from the enclosing mapping or list."""

_FN_TAGS = (
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "If", "ImportValue", "Join",
    "Not", "Or", "Select", "Split", "Sub", "Transform", "ToJsonString", "Length",
)  # fmt: skip


# ------------------------------------------------------------------------------------------ loading


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short forms (!Ref, !Sub, !GetAtt, ...)."""


def _construct(node: yaml.Node, loader: _CfnLoader) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _register_tags() -> None:
    def ref(loader: _CfnLoader, node: yaml.Node) -> Any:
        return {"Ref": _construct(node, loader)}

    def condition(loader: _CfnLoader, node: yaml.Node) -> Any:
        return {"Condition": _construct(node, loader)}

    def get_att(loader: _CfnLoader, node: yaml.Node) -> Any:
        value = _construct(node, loader)
        return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}

    def function(name: str) -> Any:
        return lambda loader, node: {f"Fn::{name}": _construct(node, loader)}

    _CfnLoader.add_constructor("!Ref", ref)
    _CfnLoader.add_constructor("!Condition", condition)
    _CfnLoader.add_constructor("!GetAtt", get_att)
    for name in _FN_TAGS:
        _CfnLoader.add_constructor(f"!{name}", function(name))


_register_tags()


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as plain JSON-like data, short forms expanded."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    assert isinstance(data, dict)
    return data


# ------------------------------------------------------------------------------------------ translating


def _as_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` hands to the transform: local code paths replaced by S3 locations."""
    packaged = copy.deepcopy(template)
    for name, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://artifacts-bucket/{name}.zip"
    return packaged


def translate(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """Run the SAM transform offline, as CloudFormation would on deploy."""
    session = boto3.session.Session(region_name=REGION)
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    values: dict[str, Any] = {**PSEUDO, **parameters}
    result = translator.translate(sam_template=_as_packaged(template), parameter_values=values)
    assert isinstance(result, dict)
    return result


def lint_findings(template: dict[str, Any]) -> list[str]:
    """cfn-lint's errors and warnings for a (translated) template, as 'E3004 message' strings."""
    matches = lint(json.dumps(template, indent=1), config=ManualArgs(regions=[REGION]))
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW"]


# ------------------------------------------------------------------------------------------ resolving


class Resolver:
    """Evaluates a CloudFormation template for one set of parameter values.

    Parameters, pseudo parameters, conditions, Fn::If, Fn::Select/Split/Join/Sub resolve to values;
    references to resources stay symbolic ({"Ref": ...}, {"Fn::GetAtt": ...}, "${Res.Attr}" in a Sub).
    """

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        declared = template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        assert not unknown, f"not template parameters: {sorted(unknown)}"
        self.values: dict[str, Any] = {name: str(p.get("Default", "")) for name, p in declared.items()}
        self.values.update(parameters)
        for name, declared_parameter in declared.items():  # a list parameter's Ref is a list
            if declared_parameter.get("Type") == "CommaDelimitedList" and isinstance(self.values[name], str):
                self.values[name] = self.values[name].split(",")
        self.values.update(PSEUDO)
        self._condition_defs: Mapping[str, Any] = template.get("Conditions", {})
        self.conditions: dict[str, bool] = {}
        for name in self._condition_defs:
            self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self._evaluate_condition(self._condition_defs[name]))
        return self.conditions[name]

    def _evaluate_condition(self, expr: Any) -> bool:
        ((fn, arg),) = expr.items()
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self._evaluate_condition(arg[0])
        if fn == "Fn::And":
            return all(self._evaluate_condition(a) for a in arg)
        if fn == "Fn::Or":
            return any(self._evaluate_condition(a) for a in arg)
        raise ValueError(f"unsupported condition function {fn}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = (self.resolve(v) for v in value)
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        return self.values.get(name, {"Ref": name})

    def _if(self, arg: list[Any]) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _select(self, arg: list[Any]) -> Any:
        index, items = (self.resolve(a) for a in arg)
        return items[int(index)] if isinstance(items, list) else {"Fn::Select": [index, items]}

    def _split(self, arg: list[Any]) -> Any:
        delimiter, text = (self.resolve(a) for a in arg)
        return text.split(delimiter) if isinstance(text, str) else {"Fn::Split": [delimiter, text]}

    def _join(self, arg: list[Any]) -> Any:
        delimiter, items = (self.resolve(a) for a in arg)
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return delimiter.join(items)
        return {"Fn::Join": [delimiter, items]}

    def _sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: self.resolve(v) for k, v in variables.items()}
        unresolved: dict[str, Any] = {}
        symbolic = False

        def replace(match: re.Match[str]) -> str:
            nonlocal symbolic
            name = match.group(1)
            value = local[name] if name in local else self._ref(name)
            if isinstance(value, str | int):
                return str(value)
            symbolic = True
            if name in local:
                unresolved[name] = value
            return match.group(0)

        result = re.sub(r"\$\{([^!}][^}]*)\}", replace, text)
        if not symbolic:
            return result
        return {"Fn::Sub": [result, unresolved] if unresolved else result}


_FUNCTIONS: dict[str, Any] = {
    "Ref": Resolver._ref,
    "Fn::If": Resolver._if,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::Join": Resolver._join,
    "Fn::Sub": Resolver._sub,
}


def concretize(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template a deploy with these values creates: only its resources, every condition applied."""
    resolver = Resolver(template, parameters)
    out: dict[str, Any] = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}, "Outputs": {}}
    for section in ("Resources", "Outputs"):
        for name, body in template.get(section, {}).items():
            condition = body.get("Condition")
            if condition is not None and not resolver.condition(condition):
                continue
            entry = {k: v for k, v in body.items() if k != "Condition"}
            out[section][name] = resolver.resolve(entry)
    return out


# ------------------------------------------------------------------------------------------ reading


def references(value: Any) -> Iterator[str]:
    """Names of the resources a (resolved) value refers to, by Ref, GetAtt or ${...} in a Sub."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield value["Ref"]
        elif set(value) == {"Fn::GetAtt"}:
            yield value["Fn::GetAtt"][0]
        elif set(value) == {"Fn::Sub"}:
            yield from _sub_references(value["Fn::Sub"])
        else:
            for item in value.values():
                yield from references(item)


def _sub_references(arg: Any) -> Iterator[str]:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    yield from references(list(variables.values()))
    for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
        if name not in variables:
            yield name.split(".")[0]


def dependency_cycle(template: Mapping[str, Any]) -> list[str] | None:
    """A dependency cycle among the template's resources (Ref/GetAtt/Sub/DependsOn), or None."""
    resources = template["Resources"]
    edges: dict[str, set[str]] = {}
    for name, body in resources.items():
        depends = body.get("DependsOn", [])
        targets = set(references(body.get("Properties", {}))) | set(references(body.get("Metadata", {})))
        targets |= {depends} if isinstance(depends, str) else set(depends)
        edges[name] = {t for t in targets if t in resources}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(edges[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(edges):
        found = visit(start)
        if found:
            return found
    return None


def role_statements(template: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies (plus AWS::IAM::Policy resources attached to it)."""
    resources = template["Resources"]
    statements: list[dict[str, Any]] = []
    for policy in resources[role]["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for body in resources.values():
        properties = body.get("Properties", {})
        if body["Type"] == "AWS::IAM::Policy" and {"Ref": role} in properties.get("Roles", []):
            statements += properties["PolicyDocument"]["Statement"]
    return [_normalised(s) for s in statements]


def _normalised(statement: dict[str, Any]) -> dict[str, Any]:
    """Action and Resource always as lists."""
    out = dict(statement)
    for key in ("Action", "Resource"):
        if key in out and not isinstance(out[key], list):
            out[key] = [out[key]]
    return out
