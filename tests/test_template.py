"""template.yaml, checked offline: SAM transform + cfn-lint for several deployments, least-privilege IAM,
no dependency cycle (and proof that a cycle would be caught), wiring, packaging inputs.

`sam validate --lint` (run in tests/test_sam_build.py) lints the SAM template itself and does not see the
bucket -> function -> role -> bucket cycle; the checks here run on the translated CloudFormation.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import itertools
import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any

import pytest
from packaging.requirements import Requirement
from template_support import (
    ACCOUNT,
    CREATED_BUCKET,
    ROOT,
    concretize,
    dependency_cycle,
    lint_findings,
    load_template,
    references,
    role_statements,
    translate,
)

KMS_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXISTING = "holiday-photos"

# Each axis takes each of its values at least once, and each pair of axes meets in several combinations.
SCENARIOS: dict[str, dict[str, str]] = {
    "defaults": {},
    "new-queue-x86-keep-quarantine-kms": {
        "Trigger": "Queue", "Architecture": "x86_64", "DeleteOriginalVersion": "false",
        "OnFailure": "quarantine", "KmsKeyArn": KMS_KEY, "WatchPrefix": "uploads/",
    },
    "existing-direct-x86-quarantine": {
        "ExistingBucketName": EXISTING, "Architecture": "x86_64", "OnFailure": "quarantine",
    },
    "existing-queue-arm-keep-kms-prefix": {
        "ExistingBucketName": EXISTING, "Trigger": "Queue", "DeleteOriginalVersion": "false",
        "KmsKeyArn": KMS_KEY, "WatchPrefix": "users/avatars/",
    },
    "new-direct-reserved-alarmtopic-policy": {
        "ReservedConcurrency": "5", "AlarmTopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:ops",
        "KeepCopyright": "true", "StripIcc": "true", "KeepLivePhotoPairing": "true", "DropMotionPhotoVideo": "true",
        "LogRetentionDays": "365",
    },
    "existing-queue-x86-quarantine-kms": {
        "ExistingBucketName": EXISTING, "Trigger": "Queue", "Architecture": "x86_64",
        "OnFailure": "quarantine", "KmsKeyArn": KMS_KEY,
    },
}  # fmt: skip

AXES: dict[str, tuple[str, ...]] = {
    "ExistingBucketName": ("", EXISTING),
    "Trigger": ("Direct", "Queue"),
    "Architecture": ("x86_64", "arm64"),
    "DeleteOriginalVersion": ("true", "false"),
    "OnFailure": ("tag", "quarantine"),
    "KmsKeyArn": ("", KMS_KEY),
    "WatchPrefix": ("", "incoming/"),
}
ALL_COMBINATIONS = [
    dict(zip(AXES, values, strict=True)) | {"Mode": "trial" if index % 3 == 0 else "scrub"}
    for index, values in enumerate(itertools.product(*AXES.values()))
]
"""Every combination of AXES, a third of them (every third, which meets every value of every axis) as a trial."""

READERS = f"arn:aws:iam::{ACCOUNT}:role/photo-cdn,arn:aws:iam::{ACCOUNT}:role/ops-*"
INVENTORY = {"ReauditInventoryBucket": "inventory-reports", "ReauditInventoryPrefix": "inv/holiday-photos/weekly/"}


def gated(parameters: Mapping[str, str]) -> dict[str, str]:
    """The same deployment with every compliance option asked for: read gate with readers, scheduled re-audit,
    an alarm e-mail, evidence retention."""
    extras = {
        "ReadGate": "true", "ReaderRoleArns": READERS, "ReauditSchedule": "rate(7 days)",
        "AlarmEmail": "privacy@example.com", "EvidenceRetentionDays": "365",
    }  # fmt: skip
    extras["Mode"] = "scrub"  # a rule refuses read gating in a trial (nothing is ever tagged clean there)
    return {**parameters, **extras, **(INVENTORY if parameters.get("ExistingBucketName") else {})}


ALL_VARIANTS = ALL_COMBINATIONS + [gated(p) for p in ALL_COMBINATIONS]
"""Every combination as it was, and again with read gating, re-audit and the other compliance options on."""


def _variant_id(parameters: Mapping[str, str]) -> str:
    return "-".join(v or "-" for k, v in parameters.items() if k in AXES or k == "Mode") + (
        "-gated" if "ReadGate" in parameters else ""
    )


ALLOWED_S3_ACTIONS = {
    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject",
    "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
    "s3:ListBucket", "s3:DeleteObjectVersion", "s3:DeleteObject",
}  # fmt: skip
S3_WRITE_ACTIONS = {a for a in ALLOWED_S3_ACTIONS if not a.startswith(("s3:Get", "s3:List"))}


@functools.cache
def _sam_template() -> dict[str, Any]:
    return load_template()


@functools.cache
def _translated(key: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return translate(_sam_template(), dict(key))


def deployed(parameters: Mapping[str, str]) -> dict[str, Any]:
    """The resources a deploy with these parameter values creates, intrinsics resolved."""
    key = tuple(sorted(parameters.items()))
    return concretize(_translated(key), parameters)


def bucket_of(parameters: Mapping[str, str]) -> str:
    return parameters.get("ExistingBucketName") or CREATED_BUCKET


def s3_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in s["Action"]}


def resources_for(statements: list[dict[str, Any]], action: str) -> set[str]:
    """The resources granted `action`; symbolic ones ({"Fn::GetAtt": ...}) as sorted JSON."""
    return {_key(r) for s in statements if action in s["Action"] for r in s["Resource"]}


def _key(resource: Any) -> str:
    return resource if isinstance(resource, str) else json.dumps(resource, sort_keys=True)


def logical_id(resources: Mapping[str, Any], prefix: str) -> str:
    """SAM suffixes layer logical IDs with a content hash; find the one that starts with `prefix`."""
    (name,) = [n for n in resources if re.fullmatch(rf"{prefix}[0-9a-f]{{10}}", n)]
    return name


# ------------------------------------------------------------------------------------ lint and cycles


@pytest.mark.parametrize("name", [*sorted(SCENARIOS), "defaults+gated", "existing-queue-arm-keep-kms-prefix+gated"])
def test_translated_template_is_lint_clean(name: str) -> None:
    base = SCENARIOS[name.removesuffix("+gated")]
    parameters = gated(base) if name.endswith("+gated") else base
    translated = _translated(tuple(sorted(parameters.items())))
    assert lint_findings(translated) == []
    assert lint_findings(concretize(translated, parameters)) == []


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_no_dependency_cycle_in_any_combination(parameters: dict[str, str]) -> None:
    assert dependency_cycle(deployed(parameters)) is None


def _cyclic_variant() -> dict[str, Any]:
    """The classic mistake: the function's policy refers to the created bucket by !GetAtt."""
    template = copy.deepcopy(_sam_template())
    policy = template["Resources"]["ScrubberFunction"]["Properties"]["Policies"][0]
    statement = next(s for s in policy["Statement"] if s.get("Sid") == "ScrubWatchedObjects")
    statement["Resource"] = {
        "Fn::If": [
            "CreateBucket",
            {"Fn::Sub": "${ScrubBucket.Arn}/${WatchPrefix}*"},
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ExistingBucketName}/${WatchPrefix}*"},
        ]
    }
    return template


def test_cycle_check_catches_a_policy_that_refs_the_created_bucket() -> None:
    translated = translate(_cyclic_variant(), {})
    findings = lint_findings(translated)
    assert any(f.startswith("E3004") and "ScrubberFunctionRole" in f for f in findings), findings
    cycle = dependency_cycle(concretize(translated, {}))
    assert cycle is not None
    assert {"ScrubBucket", "ScrubberFunction", "ScrubberFunctionRole"} <= set(cycle)


# ------------------------------------------------------------------------------------ least privilege


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_scrubber_role_is_least_privilege(parameters: dict[str, str]) -> None:
    template = deployed(parameters)
    role = template["Resources"]["ScrubberFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    statements = role_statements(template, "ScrubberFunctionRole")
    assert all(s["Effect"] == "Allow" for s in statements)
    (evidence,) = [s for s in statements if s.get("Sid") == "WriteEvidenceRecords"]
    assert evidence["Action"] == ["s3:PutObject"] and evidence["Resource"] == [_evidence_arn(parameters)]
    (secret,) = [s for s in statements if any(a.startswith("secretsmanager:") for a in s["Action"])]
    assert secret["Action"] == ["secretsmanager:GetSecretValue"] and secret["Resource"] == [{"Ref": "MarkerSecret"}]
    statements = [s for s in statements if s not in (evidence, secret)]
    assert all(a.split(":")[0] in ("s3", "kms", "sqs") for a in actions(statements))
    s3 = s3_statements(statements)
    _assert_s3_scoped(s3, parameters)
    _assert_optional_grants(s3, parameters)
    _assert_kms(statements, parameters)
    _assert_sqs(statements, parameters)


def _assert_s3_scoped(s3: list[dict[str, Any]], parameters: Mapping[str, str]) -> None:
    bucket, prefix = bucket_of(parameters), parameters.get("WatchPrefix", "")
    assert actions(s3) <= ALLOWED_S3_ACTIONS
    for statement in s3:
        assert all(isinstance(r, str) and r.startswith(f"arn:aws:s3:::{bucket}") for r in statement["Resource"])
        assert "*" not in statement["Resource"]
    watched = f"arn:aws:s3:::{bucket}/{prefix}*"
    for action in ("s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"):
        assert resources_for(s3, action) - {_quarantine_arn(parameters)} == {watched}, action
    # Mode=trial: the function cannot write an object at all (it tags and records, nothing else)
    assert resources_for(s3, "s3:PutObject") - {_quarantine_arn(parameters)} == (
        {watched} if _scrubs(parameters) else set()
    )
    (listing,) = [s for s in s3 if "s3:ListBucket" in s["Action"]]
    assert listing["Action"] == ["s3:ListBucket"]
    assert listing["Resource"] == [f"arn:aws:s3:::{bucket}"]
    assert listing["Condition"] == {"StringLikeIfExists": {"s3:prefix": f"{prefix}*"}}


def _evidence_arn(parameters: Mapping[str, str], suffix: str = "*") -> Any:
    """The evidence prefix's ARN: in the created evidence bucket (symbolic) or the one named."""
    if parameters.get("EvidenceBucketName"):
        return f"arn:aws:s3:::{parameters['EvidenceBucketName']}/exif-scrubber-evidence/{suffix}"
    return {
        "Fn::Sub": [f"arn:aws:s3:::${{Bucket}}/exif-scrubber-evidence/{suffix}", {"Bucket": {"Ref": "EvidenceBucket"}}]
    }


def _quarantine_arn(parameters: Mapping[str, str]) -> str:
    return f"arn:aws:s3:::{bucket_of(parameters)}/quarantine/*"


def _scrubs(parameters: Mapping[str, str]) -> bool:
    return parameters.get("Mode", "trial") == "scrub"


def _assert_optional_grants(s3: list[dict[str, Any]], parameters: Mapping[str, str]) -> None:
    watched = f"arn:aws:s3:::{bucket_of(parameters)}/{parameters.get('WatchPrefix', '')}*"
    deletes_versions = parameters.get("DeleteOriginalVersion", "false") == "true" and _scrubs(parameters)
    quarantine = parameters.get("OnFailure") == "quarantine" and _scrubs(parameters)
    assert resources_for(s3, "s3:DeleteObjectVersion") == ({watched} if deletes_versions else set())
    assert resources_for(s3, "s3:DeleteObject") == ({watched} if quarantine else set())
    quarantine_grants = [s for s in s3 if _quarantine_arn(parameters) in s["Resource"]]
    if quarantine:
        assert [s["Action"] for s in quarantine_grants] == [["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"]]
    elif parameters.get("WatchPrefix"):
        assert quarantine_grants == []


def _assert_kms(statements: list[dict[str, Any]], parameters: Mapping[str, str]) -> None:
    kms = [s for s in statements if any(a.startswith("kms:") for a in s["Action"])]
    if not parameters.get("KmsKeyArn"):
        assert kms == []
        return
    (grant,) = kms
    assert grant["Resource"] == [parameters["KmsKeyArn"]]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert grant["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def _assert_sqs(statements: list[dict[str, Any]], parameters: Mapping[str, str]) -> None:
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in s["Action"])]
    on_failure = {"Action": ["sqs:SendMessage"], "Effect": "Allow", "Resource": [_arn("DeadLetterQueue")]}
    consume = [s for s in sqs if s != on_failure]
    assert on_failure in sqs
    if parameters.get("Trigger") != "Queue":
        assert consume == []
        return
    (grant,) = consume
    assert grant["Resource"] == [_arn("UploadQueue")]
    assert "sqs:SendMessage" not in grant["Action"]


def _arn(resource: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, "Arn"]}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_audit_role_can_only_read(name: str) -> None:
    parameters = SCENARIOS[name]
    template = deployed(parameters)
    statements = role_statements(template, "AuditFunctionRole")
    s3 = s3_statements(statements)
    assert actions(s3) == {
        "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:ListBucket",
    }  # fmt: skip
    assert not actions(statements) & S3_WRITE_ACTIONS
    assert all(not a.startswith(("sqs:", "lambda:")) for a in actions(statements))
    kms = actions(statements) & {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"}
    assert kms == ({"kms:Decrypt"} if parameters.get("KmsKeyArn") else set())
    env = template["Resources"]["AuditFunction"]["Properties"]["Environment"]["Variables"]
    assert env["REPORT_ONLY"] == "true"
    assert env["DELETE_ORIGINAL_VERSION"] == "false"


@pytest.mark.parametrize("name", sorted(SCENARIOS) + [f"{n}+gated" for n in sorted(SCENARIOS)])
def test_batch_operations_role(name: str) -> None:
    base = SCENARIOS[name.removesuffix("+gated")]
    parameters = gated(base) if name.endswith("+gated") else base
    template = deployed(parameters)
    role = template["Resources"]["BatchOperationsRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    statements = role_statements(template, "BatchOperationsRole")
    invoked = resources_for(statements, "lambda:InvokeFunction")
    assert invoked == {
        _key(_arn("ScrubberFunction")),
        _key(_arn("AuditFunction")),
        _key({"Fn::Sub": "${ScrubberFunction.Arn}:*"}),
        _key({"Fn::Sub": "${AuditFunction.Arn}:*"}),
    }
    bucket = {"Ref": "ScrubBucket"} if not parameters.get("ExistingBucketName") else parameters["ExistingBucketName"]
    writes = resources_for(statements, "s3:PutObject")
    expected = (
        {_key({"Fn::Sub": ["arn:aws:s3:::${Bucket}/exif-scrubber-batch/*", {"Bucket": bucket}]})}
        if isinstance(bucket, dict)
        else {f"arn:aws:s3:::{bucket}/exif-scrubber-batch/*"}
    )
    assert writes == expected | {_key(_evidence_arn(parameters, "audits/*"))}
    assert not actions(statements) & {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"}
    reads = resources_for(statements, "s3:GetObject")
    external = f"arn:aws:s3:::{INVENTORY['ReauditInventoryBucket']}/{INVENTORY['ReauditInventoryPrefix']}*"
    assert (external in reads) == bool(parameters.get("ReauditSchedule") and parameters.get("ExistingBucketName"))


# ------------------------------------------------------------------------------------ wiring


@pytest.mark.parametrize("parameters", ALL_COMBINATIONS, ids=lambda p: "-".join(v or "-" for v in p.values()))
def test_wiring(parameters: dict[str, str]) -> None:
    resources = deployed(parameters)["Resources"]
    queue = parameters["Trigger"] == "Queue"
    if parameters["ExistingBucketName"]:
        _assert_eventbridge_wiring(resources, parameters, queue)
    else:
        _assert_notification_wiring(resources, parameters, queue)
    assert ("UploadQueueMapping" in resources) == queue
    if queue:
        mapping = resources["UploadQueueMapping"]["Properties"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["EventSourceArn"] == _arn("UploadQueue")
        redrive = resources["UploadQueue"]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == _arn("DeadLetterQueue")
        assert resources["UploadQueue"]["Properties"]["VisibilityTimeout"] >= 900


def _assert_notification_wiring(resources: Mapping[str, Any], parameters: Mapping[str, str], queue: bool) -> None:
    bucket = resources["ScrubBucket"]["Properties"]
    assert bucket["BucketName"] == CREATED_BUCKET
    notifications = bucket["NotificationConfiguration"]
    kind, target = ("QueueConfigurations", "Queue") if queue else ("LambdaConfigurations", "Function")
    (config,) = notifications[kind]
    assert set(notifications) == {kind}
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config[target] == _arn("UploadQueue" if queue else "ScrubberFunction")
    prefix = parameters["WatchPrefix"]
    expected_filter = {"S3Key": {"Rules": [{"Name": "prefix", "Value": prefix}]}} if prefix else None
    assert config.get("Filter") == expected_filter
    # S3 validates the target when the configuration is written: the bucket waits for the grant.
    ready = set(references(resources["NotificationTargetsReady"]))
    assert ready == ({"UploadQueuePolicy"} if queue else {"S3InvokePermission"})
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert resources["ScrubBucket"]["DeletionPolicy"] == "Retain"
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    kms_key = parameters["KmsKeyArn"]
    assert sse == ({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key} if kms_key else {"SSEAlgorithm": "AES256"})


def _assert_eventbridge_wiring(resources: Mapping[str, Any], parameters: Mapping[str, str], queue: bool) -> None:
    assert "ScrubBucket" not in resources
    rule = resources["ObjectCreatedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"] == {"name": [parameters["ExistingBucketName"]]}
    prefix = parameters["WatchPrefix"]
    assert pattern["detail"].get("object") == ({"key": [{"prefix": prefix}]} if prefix else None)
    (target,) = rule["Targets"]
    assert target["Arn"] == _arn("UploadQueue" if queue else "ScrubberFunction")
    assert target["DeadLetterConfig"] == {"Arn": _arn("DeadLetterQueue")}
    assert ("EventBridgeInvokePermission" in resources) == (not queue)


def test_no_suffix_filters_anywhere() -> None:
    """S3 key filters are case-sensitive: a '.jpg' suffix would miss '.JPG', '.jpeg' and '.heic'."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert not re.search(r"Name:\s*suffix|\bsuffix\s*:", text, re.IGNORECASE)


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_function_uses_the_layers_of_its_architecture(architecture: str) -> None:
    resources = deployed({"Architecture": architecture})["Resources"]
    suffix = "Arm64" if architecture == "arm64" else "X86"
    exiftool, deps = logical_id(resources, f"ExifToolLayer{suffix}"), logical_id(resources, f"PythonDepsLayer{suffix}")
    for function in ("ScrubberFunction", "AuditFunction"):
        properties = resources[function]["Properties"]
        assert properties["Architectures"] == [architecture]
        assert properties["Layers"] == [{"Ref": exiftool}, {"Ref": deps}]  # Provenance=strip: no C2PA layer
    for name, body in resources.items():
        if body["Type"] == "AWS::Lambda::LayerVersion":
            assert body["Properties"]["CompatibleArchitectures"] == [architecture], name
    assert len([b for b in resources.values() if b["Type"] == "AWS::Lambda::LayerVersion"]) == 2


def test_layers_are_built_per_architecture() -> None:
    resources = _sam_template()["Resources"]
    for name, arch in [("ExifToolLayerX86", "x86_64"), ("ExifToolLayerArm64", "arm64"),
                       ("PythonDepsLayerX86", "x86_64"), ("PythonDepsLayerArm64", "arm64")]:  # fmt: skip
        layer = resources[name]
        assert layer["Type"] == "AWS::Serverless::LayerVersion"
        assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": arch}
        assert layer["Properties"]["CompatibleArchitectures"] == [arch]
    assert resources["ExifToolLayerX86"]["Properties"]["ContentUri"] == "exiftool_layer/"


def test_environment_follows_the_parameters() -> None:
    parameters = SCENARIOS["new-direct-reserved-alarmtopic-policy"] | {
        "DeleteOriginalVersion": "false", "OnFailure": "quarantine", "MaxObjectBytes": "1000", "WatchPrefix": "in/",
        "Mode": "scrub",
    }  # fmt: skip
    function = deployed(parameters)["Resources"]["ScrubberFunction"]["Properties"]
    assert function["Environment"]["Variables"] == {
        "KEEP_COPYRIGHT": "true", "STRIP_ICC": "true", "KEEP_LIVE_PHOTO_PAIRING": "true",
        "DROP_MOTION_PHOTO_VIDEO": "true", "DROP_AI_DISCLOSURE": "false", "PROVENANCE": "strip",
        "C2PA_KMS_KEY_ID": "", "C2PA_CERT_CHAIN": "", "C2PA_TSA_URL": "",
        "MARKER_SECRET_ARN": {"Ref": "MarkerSecret"},
        "EVIDENCE_BUCKET": {"Ref": "EvidenceBucket"}, "EVIDENCE_PREFIX": "exif-scrubber-evidence/",
        "DELETE_ORIGINAL_VERSION": "false", "ON_FAILURE": "quarantine", "QUARANTINE_PREFIX": "quarantine/",
        "MAX_OBJECT_BYTES": "1000", "INCLUDE_PREFIXES": "in/",
        "EXCLUDE_PREFIXES": "quarantine/,exif-scrubber-batch/,exif-scrubber-evidence/", "REPORT_ONLY": "false",
        "TRIAL": "false", "EXIFTOOL_PATH": "/opt/bin/exiftool", "POWERTOOLS_SERVICE_NAME": "exif-scrubber",
        "POWERTOOLS_METRICS_NAMESPACE": "ExifScrubber", "POWERTOOLS_LOG_LEVEL": "INFO",
    }  # fmt: skip
    assert function["ReservedConcurrentExecutions"] == "5"
    assert "ReservedConcurrentExecutions" not in deployed({})["Resources"]["ScrubberFunction"]["Properties"]


def test_the_marker_is_signed_with_a_generated_secret_unless_turned_off() -> None:
    signed = deployed({})["Resources"]
    assert signed["MarkerSecret"]["Type"] == "AWS::SecretsManager::Secret"
    assert signed["MarkerSecret"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 16
    unsigned = deployed({"SignMarker": "false"})["Resources"]
    assert "MarkerSecret" not in unsigned
    assert unsigned["ScrubberFunction"]["Properties"]["Environment"]["Variables"]["MARKER_SECRET_ARN"] == ""
    statements = role_statements(deployed({"SignMarker": "false"}), "ScrubberFunctionRole")
    assert not [s for s in statements if any(a.startswith("secretsmanager:") for a in s["Action"])]


_DLQ, _QUEUE = {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}, {"Fn::GetAtt": ["UploadQueue", "QueueName"]}
ALARMS = {
    "DeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", _DLQ),
    "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", "FunctionName", {"Ref": "ScrubberFunction"}),
    "FunctionThrottlesAlarm": ("AWS/Lambda", "Throttles", "FunctionName", {"Ref": "ScrubberFunction"}),
    "FailedObjectsAlarm": ("ExifScrubber", "Failed", "service", "exif-scrubber"),
    "UnsupportedObjectsAlarm": ("ExifScrubber", "Unsupported", "service", "exif-scrubber"),
    "QueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", _QUEUE),
    "ReauditErrorsAlarm": ("AWS/Lambda", "Errors", "FunctionName", {"Ref": "ReauditStarterFunction"}),
}


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_every_alarm_notifies_a_topic(parameters: dict[str, str]) -> None:
    resources = deployed(parameters)["Resources"]
    expected = set(ALARMS) - ({"QueueAgeAlarm"} if parameters["Trigger"] != "Queue" else set())
    expected -= {"ReauditErrorsAlarm"} if "ReauditSchedule" not in parameters else set()
    alarms = {name for name, body in resources.items() if body["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == expected
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    for name in alarms:
        namespace, metric, dimension, value = ALARMS[name]
        alarm = resources[name]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), name
        assert alarm["Dimensions"] == [{"Name": dimension, "Value": value}], name
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] == alarm["OKActions"], name
        assert alarm["Threshold"] == ("600" if name == "QueueAgeAlarm" else 1), name
    subscription = resources.get("AlarmEmailSubscription")
    if "AlarmEmail" in parameters:
        assert subscription is not None and subscription["Properties"] == {
            "Protocol": "email", "Endpoint": "privacy@example.com", "TopicArn": {"Ref": "AlarmTopic"},
        }  # fmt: skip
    else:
        assert subscription is None


def test_the_failed_metric_alarm_watches_the_dimension_the_handler_emits() -> None:
    """Powertools adds the dimension service=POWERTOOLS_SERVICE_NAME to every EMF metric."""
    resources = deployed({})["Resources"]
    env = resources["ScrubberFunction"]["Properties"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == resources["FailedObjectsAlarm"]["Properties"]["Namespace"]
    assert resources["FailedObjectsAlarm"]["Properties"]["Dimensions"][0]["Value"] == env["POWERTOOLS_SERVICE_NAME"]


def test_a_given_topic_is_used_and_none_is_created() -> None:
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:ops"
    resources = deployed({"AlarmTopicArn": topic, "AlarmEmail": "a@example.com"})["Resources"]
    assert "AlarmTopic" not in resources
    assert resources["FailedObjectsAlarm"]["Properties"]["AlarmActions"] == [topic]
    assert resources["AlarmEmailSubscription"]["Properties"]["TopicArn"] == topic


def test_failures_are_caught_and_logs_kept_a_year() -> None:
    resources = deployed({"ReauditSchedule": "rate(1 day)"})["Resources"]
    invoke = resources["ScrubberFunctionEventInvokeConfig"]["Properties"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == _arn("DeadLetterQueue")
    for group in ("ScrubberLogGroup", "AuditLogGroup", "ReauditLogGroup"):
        assert resources[group]["Properties"]["RetentionInDays"] == "365"


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_no_function_has_a_secret_in_its_environment(parameters: dict[str, str]) -> None:
    resources = _translated(tuple(sorted(parameters.items())))["Resources"]
    functions = {n: b for n, b in resources.items() if b["Type"] == "AWS::Lambda::Function"}
    assert {"ScrubberFunction", "AuditFunction"} <= set(functions)
    for name, body in functions.items():
        variables = body["Properties"].get("Environment", {}).get("Variables", {})
        assert "MARKER_SECRET" not in variables, name
        assert "resolve:secretsmanager" not in json.dumps(variables), name
        assert "SecretString" not in json.dumps(variables), name
    scrubber_env = functions["ScrubberFunction"]["Properties"]["Environment"]["Variables"]
    assert scrubber_env["MARKER_SECRET_ARN"] == {"Fn::If": ["SignsMarker", {"Ref": "MarkerSecret"}, ""]}


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_read_gate_when_asked(parameters: dict[str, str]) -> None:
    template = deployed(parameters)
    resources, outputs = template["Resources"], template["Outputs"]
    asked, existing = parameters.get("ReadGate") == "true", bool(parameters["ExistingBucketName"])
    statements = resources["ScrubBucketTlsOnly"]["Properties"]["PolicyDocument"]["Statement"] if not existing else []
    gate = {
        s["Sid"]: s for s in statements if s["Sid"] in ("ReadOnlyScrubbedObjects", "OnlyTheScrubberSetsTheScrubTag")
    }
    if not asked:
        assert gate == {} and "ReadGatePolicyStatements" not in outputs
        return
    exempt = [_arn("ScrubberFunctionRole"), _arn("AuditFunctionRole"), _arn("BatchOperationsRole")]
    if existing:
        assert gate == {}
        document = outputs["ReadGatePolicyStatements"]["Value"]
        text = document["Fn::Sub"] if isinstance(document["Fn::Sub"], str) else document["Fn::Sub"][0]
        for role in ("ScrubberFunctionRole", "AuditFunctionRole", "BatchOperationsRole"):
            assert f"${{{role}.Arn}}" in text
        filled = text.replace("${ScrubberFunctionRole.Arn}", "arn:scrubber").replace("${AuditFunctionRole.Arn}", "a")
        parsed = json.loads(filled.replace("${BatchOperationsRole.Arn}", "b"))
        read, tag = parsed
        prefix = parameters["WatchPrefix"]
        assert read["Resource"] == f"arn:aws:s3:::{EXISTING}/{prefix}*"
        assert read["Condition"]["StringNotEquals"] == {"s3:ExistingObjectTag/exif-scrub": "clean"}
        assert read["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == ["arn:scrubber", "a", "b", *READERS.split(",")]
        assert tag["Condition"]["ForAnyValue:StringEquals"] == {"s3:RequestObjectTagKeys": ["exif-scrub"]}
        return
    read, tag = gate["ReadOnlyScrubbedObjects"], gate["OnlyTheScrubberSetsTheScrubTag"]
    assert read["Effect"] == tag["Effect"] == "Deny" and read["Principal"] == tag["Principal"] == "*"
    assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["Resource"] == {"Fn::Sub": f"${{ScrubBucket.Arn}}/{parameters['WatchPrefix']}*"}
    assert read["Condition"] == {
        "StringNotEquals": {"s3:ExistingObjectTag/exif-scrub": "clean"},
        "ArnNotLike": {"aws:PrincipalArn": exempt},
        "StringNotLike": {"aws:PrincipalArn": READERS.split(",")},
    }
    assert tag["Action"] == ["s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"]
    assert tag["Resource"] == {"Fn::Sub": "${ScrubBucket.Arn}/*"}
    assert tag["Condition"] == {
        "ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["exif-scrub"]},
        "ArnNotLike": {"aws:PrincipalArn": exempt},
        "StringNotLike": {"aws:PrincipalArn": READERS.split(",")},
    }


def test_read_gate_without_readers_exempts_only_the_stack() -> None:
    statements = deployed({"ReadGate": "true"})["Resources"]["ScrubBucketTlsOnly"]["Properties"]["PolicyDocument"]
    (read,) = [s for s in statements["Statement"] if s["Sid"] == "ReadOnlyScrubbedObjects"]
    assert set(read["Condition"]) == {"StringNotEquals", "ArnNotLike"}


@pytest.mark.parametrize("parameters", ALL_VARIANTS, ids=_variant_id)
def test_evidence_goes_to_a_locked_bucket_that_triggers_nothing(parameters: dict[str, str]) -> None:
    resources = deployed(parameters)["Resources"]
    bucket = resources["EvidenceBucket"]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain" and properties["ObjectLockEnabled"] is True
    assert "NotificationConfiguration" not in properties
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(properties["PublicAccessBlockConfiguration"].values())
    retention = properties.get("ObjectLockConfiguration")
    if "EvidenceRetentionDays" in parameters:
        assert retention == {
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": "365"}}
        }  # fmt: skip
    else:
        assert retention is None
    for rule in [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]:
        assert "EvidenceBucket" not in json.dumps(rule)


def test_an_existing_evidence_bucket_is_named_not_created() -> None:
    resources = deployed({"EvidenceBucketName": "audit-vault", "EvidencePrefix": "scrub/"})["Resources"]
    assert "EvidenceBucket" not in resources
    env = resources["ScrubberFunction"]["Properties"]["Environment"]["Variables"]
    assert (env["EVIDENCE_BUCKET"], env["EVIDENCE_PREFIX"]) == ("audit-vault", "scrub/")
    assert env["EXCLUDE_PREFIXES"].split(",")[-1] == "scrub/"


@pytest.mark.parametrize("parameters", [gated(p) for p in ALL_COMBINATIONS], ids=_variant_id)
def test_scheduled_reaudit_is_wired_and_least_privilege(parameters: dict[str, str]) -> None:
    template = deployed(parameters)
    resources = template["Resources"]
    starter = resources["ReauditStarterFunction"]["Properties"]
    assert starter["Handler"] == "handler.reaudit.lambda_handler"
    env = starter["Environment"]["Variables"]
    assert env["AUDIT_FUNCTION_ARN"] == _arn("AuditFunction") and env["BATCH_ROLE_ARN"] == _arn("BatchOperationsRole")
    assert (
        env["REPORT_BUCKET"] == {"Ref": "EvidenceBucket"} and env["REPORT_PREFIX"] == "exif-scrubber-evidence/audits/"
    )
    existing = bool(parameters["ExistingBucketName"])
    inventory_bucket = INVENTORY["ReauditInventoryBucket"] if existing else CREATED_BUCKET
    inventory_prefix = (
        INVENTORY["ReauditInventoryPrefix"]
        if existing
        else f"exif-scrubber-batch/inventory/{CREATED_BUCKET}/exif-scrubber-reaudit/"
    )
    assert (env["INVENTORY_BUCKET"], env["INVENTORY_PREFIX"]) == (inventory_bucket, inventory_prefix)
    (schedule,) = [
        b for b in resources.values() if b["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in b["Properties"]
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(7 days)"
    assert schedule["Properties"]["Targets"][0]["Arn"] == _arn("ReauditStarterFunction")
    statements = role_statements(template, "ReauditStarterFunctionRole")
    assert actions(statements) == {"s3:ListBucket", "s3:GetObject", "s3:CreateJob", "iam:PassRole"}
    (create,) = [s for s in statements if s["Action"] == ["s3:CreateJob"]]
    assert create["Condition"] == {"StringEquals": {"s3:RequestJobOperation": "LambdaInvoke"}}
    (passrole,) = [s for s in statements if s["Action"] == ["iam:PassRole"]]
    assert passrole["Resource"] == [_arn("BatchOperationsRole")]
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "batchoperations.s3.amazonaws.com"}}
    readable = inventory_prefix if existing else "exif-scrubber-batch/inventory/"
    assert resources_for(statements, "s3:GetObject") == {f"arn:aws:s3:::{inventory_bucket}/{readable}*"}
    (listing,) = [s for s in statements if s["Action"] == ["s3:ListBucket"]]
    assert listing["Resource"] == [f"arn:aws:s3:::{inventory_bucket}"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"{readable}*"}}
    if not existing:
        (inventory,) = resources["ScrubBucket"]["Properties"]["InventoryConfigurations"]
        assert inventory["IncludedObjectVersions"] == "All" and inventory["Destination"]["Format"] == "CSV"
        assert inventory["Destination"]["BucketArn"] == f"arn:aws:s3:::{CREATED_BUCKET}"
        assert inventory["Destination"]["Prefix"] == "exif-scrubber-batch/inventory"
        assert inventory.get("Prefix") == (parameters["WatchPrefix"] or None)
        policy = resources["ScrubBucketTlsOnly"]["Properties"]["PolicyDocument"]["Statement"]
        (delivery,) = [s for s in policy if s["Sid"] == "InventoryDelivery"]
        assert delivery["Principal"] == {"Service": "s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
        assert delivery["Resource"] == {"Fn::Sub": "${ScrubBucket.Arn}/exif-scrubber-batch/inventory/*"}


def test_no_schedule_no_starter_no_inventory() -> None:
    resources = deployed({})["Resources"]
    assert "ReauditStarterFunction" not in resources
    assert "InventoryConfigurations" not in resources["ScrubBucket"]["Properties"]


# ------------------------------------------------------------------------------------ packaging inputs


def _lambda_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "deploy" / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_lambda_pins_satisfy_the_runtime_requirements() -> None:
    """The layer's exact pins must satisfy what pyproject.toml asks for (minus the CLI-only packages)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["lambda"]]
    pins = _lambda_pins()
    cli_only = {"click", "rich"}
    for requirement in required:
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name in cli_only:
            continue
        assert name in pins, f"{requirement.name} missing from deploy/requirements.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])
        for extra_requirement in _extra_requirements(requirement):
            extra_name = re.sub(r"[-_.]+", "-", extra_requirement.name).lower()
            assert extra_name in pins, f"{extra_requirement} ({requirement}) missing from deploy/requirements.txt"


def _extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What `requirement`'s extras pull in, transitively (read from the installed distributions)."""
    found: list[Requirement] = []
    for extra in requirement.extras:
        for text in importlib.metadata.requires(requirement.name) or []:
            candidate = Requirement(text)
            if candidate.marker is not None and candidate.marker.evaluate({"extra": extra}):
                found += [candidate, *_extra_requirements(candidate)]
    return found


def test_function_runtime_matches_the_build() -> None:
    makefile = (ROOT / "deploy" / "Makefile").read_text(encoding="utf-8")
    (python,) = re.findall(r"^LAMBDA_PYTHON := (\S+)$", makefile, re.MULTILINE)
    resources = _sam_template()["Resources"]
    for function in ("ScrubberFunction", "AuditFunction"):
        assert resources[function]["Properties"]["Runtime"] == f"python{python}"
        assert f"build-{function}:" in makefile or f"build-{function} " in makefile
    for layer in ("PythonDepsLayerX86", "PythonDepsLayerArm64"):
        assert resources[layer]["Properties"]["CompatibleRuntimes"] == [f"python{python}"]
        assert f"build-{layer}:" in makefile


def test_samconfig_defaults() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"]
    assert config["build"]["parameters"]["build_in_source"] is True
    deploy = config["deploy"]["parameters"]
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM"}
    assert deploy["confirm_changeset"] is True
    declared = set(_sam_template()["Parameters"])
    overrides = dict(re.findall(r'(\w+)="([^"]*)"', deploy.get("parameter_overrides", "")))
    assert set(overrides) <= declared
