"""template.yaml for a rollout, checked offline on the translated template (samtranslator, cfn-lint, resolved for one
set of parameter values): the trial mode a first deployment gets, the access evidence (S3 server access logs,
CloudTrail data events), the audit function's concurrency limit and the optional customer-managed key for the
topic, the log groups and the secret."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import pytest
from template_support import (
    ACCOUNT,
    CREATED_BUCKET,
    STACK_NAME,
    concretize,
    dependency_cycle,
    lint_findings,
    load_template,
    role_statements,
    translate,
)

KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f0e0d0c-1111-2222-3333-444455556666"
EVIDENCE = {"Ref": "EvidenceBucket"}
ALL_ON = {"CloudTrailDataEvents": "true", "OperationsKmsKeyArn": KEY, "Mode": "scrub", "DeleteOriginalVersion": "true"}


@functools.cache
def _translated(key: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return translate(load_template(), dict(key))


def deployed(parameters: Mapping[str, str]) -> dict[str, Any]:
    return concretize(_translated(tuple(sorted(parameters.items()))), parameters)


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return role_statements(template, role)


def _granted(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [r for s in statements if action in s["Action"] for r in s["Resource"]]


SCENARIOS = {
    "defaults": {},
    "everything-on": ALL_ON,
    "existing-bucket-trail": {"ExistingBucketName": "holiday-photos", "WatchPrefix": "up/", **ALL_ON},
    "no-access-evidence": {"AccessLogging": "false", "AuditReservedConcurrency": "0"},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lint_clean_and_acyclic(name: str) -> None:
    translated = _translated(tuple(sorted(SCENARIOS[name].items())))
    assert lint_findings(translated) == []
    assert lint_findings(concretize(translated, SCENARIOS[name])) == []
    assert dependency_cycle(deployed(SCENARIOS[name])) is None


def test_a_first_deployment_is_a_trial_that_cannot_rewrite() -> None:
    template = deployed({})
    function = template["Resources"]["ScrubberFunction"]["Properties"]
    env = function["Environment"]["Variables"]
    assert (env["TRIAL"], env["REPORT_ONLY"], env["DELETE_ORIGINAL_VERSION"]) == ("true", "false", "false")
    statements = _statements(template, "ScrubberFunctionRole")
    watched = f"arn:aws:s3:::{CREATED_BUCKET}/*"
    assert watched in _granted(statements, "s3:PutObjectTagging")  # the trial verdict is a tag
    assert watched not in _granted(statements, "s3:PutObject")  # ... and nothing else is written there
    assert not _granted(statements, "s3:DeleteObjectVersion") and not _granted(statements, "s3:DeleteObject")
    assert template["Outputs"]["Mode"]["Value"] == "trial"


def test_switching_to_scrub_grants_the_write_back_and_only_asked_deletes() -> None:
    watched = f"arn:aws:s3:::{CREATED_BUCKET}/*"
    keep = _statements(deployed({"Mode": "scrub"}), "ScrubberFunctionRole")
    assert watched in _granted(keep, "s3:PutObject") and not _granted(keep, "s3:DeleteObjectVersion")
    delete = _statements(deployed({"Mode": "scrub", "DeleteOriginalVersion": "true"}), "ScrubberFunctionRole")
    assert _granted(delete, "s3:DeleteObjectVersion") == [watched]
    # DeleteOriginalVersion=true in a trial grants nothing: a trial deletes nothing
    assert not _granted(_statements(deployed({"DeleteOriginalVersion": "true"}), "ScrubberFunctionRole"),
                        "s3:DeleteObjectVersion")  # fmt: skip


def test_read_gating_is_refused_in_a_trial() -> None:
    rule = load_template()["Rules"]["ReadGateNeedsScrubbing"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "ReadGate"}, "true"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "Mode"}, "scrub"]}


def test_created_buckets_log_every_access_to_a_private_log_bucket() -> None:
    resources = deployed({})["Resources"]
    logs = resources["AccessLogBucket"]
    assert logs["DeletionPolicy"] == "Retain"
    properties = logs["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    sse = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "AES256"}  # the only default encryption server access logging delivers to
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == "400"
    for bucket, prefix in (("ScrubBucket", "s3/scrub/"), ("EvidenceBucket", "s3/evidence/")):
        assert resources[bucket]["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": "AccessLogBucket"}, "LogFilePrefix": prefix,
        }  # fmt: skip
        assert "LogDeliveryReady" in resources[bucket]["DependsOn"]
    assert resources["LogDeliveryReady"]["Metadata"] == {"LogBucketPolicy": {"Ref": "AccessLogBucketPolicy"}}
    policy = resources["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (delivery,) = [s for s in policy if s["Sid"] == "ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert "DataEventsTrail" not in resources


def test_no_access_evidence_when_turned_off() -> None:
    resources = deployed({"AccessLogging": "false"})["Resources"]
    assert "AccessLogBucket" not in resources
    assert "LoggingConfiguration" not in resources["ScrubBucket"]["Properties"]
    assert resources["LogDeliveryReady"]["Metadata"] == {"LogBucketPolicy": ""}


def test_cloudtrail_data_events_cover_the_watched_and_the_evidence_prefixes() -> None:
    parameters = SCENARIOS["existing-bucket-trail"]
    resources = deployed(parameters)["Resources"]
    trail = resources["DataEventsTrail"]["Properties"]
    assert trail["TrailName"] == f"{STACK_NAME}-data-events" and trail["EnableLogFileValidation"] is True
    assert trail["S3BucketName"] == {"Ref": "AccessLogBucket"} and trail["KMSKeyId"] == KEY
    starts = [s["FieldSelectors"][2]["StartsWith"][0] for s in trail["AdvancedEventSelectors"]]
    assert starts[0] == "arn:aws:s3:::holiday-photos/up/"
    assert starts[1] == {"Fn::Sub": ["arn:aws:s3:::${Bucket}/exif-scrubber-evidence/", {"Bucket": EVIDENCE}]}
    for selector in trail["AdvancedEventSelectors"]:
        assert selector["FieldSelectors"][:2] == [
            {"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ]  # fmt: skip
    policy = resources["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    trail_arn = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/{STACK_NAME}-data-events"
    for sid in ("CloudTrailAclCheck", "CloudTrailDelivery"):
        (statement,) = [s for s in policy if s["Sid"] == sid]
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert "LoggingConfiguration" not in json.dumps(resources.get("ScrubBucket", {}))  # an existing bucket: no


def test_the_audit_function_has_a_concurrency_limit() -> None:
    audit = deployed({})["Resources"]["AuditFunction"]["Properties"]
    assert audit["ReservedConcurrentExecutions"] == "10"
    assert "ReservedConcurrentExecutions" not in deployed({"AuditReservedConcurrency": "0"})["Resources"][
        "AuditFunction"]["Properties"]  # fmt: skip


def test_a_customer_managed_key_encrypts_topic_logs_and_secret() -> None:
    template = deployed({"OperationsKmsKeyArn": KEY})
    resources = template["Resources"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == KEY
    assert resources["MarkerSecret"]["Properties"]["KmsKeyId"] == KEY
    for group in ("ScrubberLogGroup", "AuditLogGroup"):
        assert resources[group]["Properties"]["KmsKeyId"] == KEY
    (decrypt,) = [s for s in _statements(template, "ScrubberFunctionRole") if s.get("Sid") == "DecryptMarkerSecret"]
    assert decrypt["Action"] == ["kms:Decrypt"] and decrypt["Resource"] == [KEY]
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
    plain = deployed({})["Resources"]
    assert "KmsMasterKeyId" not in plain["AlarmTopic"]["Properties"]
    assert "KmsKeyId" not in plain["MarkerSecret"]["Properties"]
    assert "KmsKeyId" not in plain["ScrubberLogGroup"]["Properties"]
