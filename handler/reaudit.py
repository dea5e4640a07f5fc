"""Scheduled re-audit: an EventBridge schedule invokes this starter, which creates one S3 Batch Operations job that
runs the report-only function over the latest complete S3 Inventory report, its completion report filed under the
evidence prefix. Entry point: ``handler.reaudit.lambda_handler``.

An inventory of all versions makes the job audit noncurrent versions too (the report-only function reads exactly
the version each task names). The job's client request token is derived from the manifest, so a schedule that
fires twice on the same report creates one job.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

_DATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d-\d\dZ/")
"""An inventory delivery folder: ``2026-11-26T01-00Z/``."""


class ReauditError(RuntimeError):
    """The job could not be started; the message says why (the function fails, its alarm fires)."""


@dataclass(frozen=True)
class ReauditConfig:
    """The starter's environment."""

    inventory_bucket: str
    inventory_prefix: str
    """The folder holding the dated deliveries: ``<destination prefix>/<source bucket>/<configuration id>/``."""
    function_arn: str
    role_arn: str
    report_bucket: str
    report_prefix: str
    priority: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReauditConfig:
        env = os.environ if env is None else env
        names = ("INVENTORY_BUCKET", "INVENTORY_PREFIX", "AUDIT_FUNCTION_ARN", "BATCH_ROLE_ARN", "REPORT_BUCKET")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise ReauditError(f"missing environment variable(s): {', '.join(missing)}")
        prefix = env["INVENTORY_PREFIX"]
        return cls(
            inventory_bucket=env["INVENTORY_BUCKET"],
            inventory_prefix=prefix if prefix.endswith("/") else prefix + "/",
            function_arn=env["AUDIT_FUNCTION_ARN"],
            role_arn=env["BATCH_ROLE_ARN"],
            report_bucket=env["REPORT_BUCKET"],
            report_prefix=env.get("REPORT_PREFIX", "exif-scrubber-evidence/audits/"),
            priority=int(env.get("JOB_PRIORITY", "10")),
        )


def latest_manifest(s3: Any, bucket: str, prefix: str) -> tuple[str, str]:
    """The key and ETag of the newest complete inventory manifest (S3 writes ``manifest.checksum`` last)."""
    folders: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            folder = common["Prefix"][len(prefix) :]
            if _DATED.fullmatch(folder):
                folders.append(common["Prefix"])
    for folder in sorted(folders, reverse=True):
        try:
            s3.head_object(Bucket=bucket, Key=f"{folder}manifest.checksum")
            head = s3.head_object(Bucket=bucket, Key=f"{folder}manifest.json")
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                continue  # a delivery still being written
            raise
        return f"{folder}manifest.json", str(head["ETag"]).strip('"')
    raise ReauditError(f"no complete S3 Inventory report under s3://{bucket}/{prefix} (is the inventory configured?)")


def job_request(
    config: ReauditConfig, account: str, manifest_key: str, etag: str, partition: str = "aws"
) -> dict[str, Any]:
    """The CreateJob request for one manifest (idempotent: the token is the manifest's key and ETag)."""
    delivery = manifest_key.rstrip("/").split("/")[-2]
    token = hashlib.sha256(f"{config.inventory_bucket}/{manifest_key}@{etag}".encode()).hexdigest()[:64]
    return {
        "AccountId": account,
        "ConfirmationRequired": False,
        "Priority": config.priority,
        "RoleArn": config.role_arn,
        "ClientRequestToken": token,
        "Description": f"exif-scrubber scheduled re-audit of inventory {delivery}"[:256],
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": config.function_arn,
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"run": "scheduled-reaudit", "inventory": delivery},
            }
        },
        "Manifest": {
            "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
            "Location": {"ObjectArn": f"arn:{partition}:s3:::{config.inventory_bucket}/{manifest_key}", "ETag": etag},
        },
        "Report": {
            "Bucket": f"arn:{partition}:s3:::{config.report_bucket}",
            "Prefix": f"{config.report_prefix.rstrip('/')}/{delivery}",
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
    }


def start(config: ReauditConfig, s3: Any, s3control: Any, account: str, partition: str = "aws") -> dict[str, str]:
    """Create the Batch Operations job over the latest inventory; returns the job id and the manifest used."""
    key, etag = latest_manifest(s3, config.inventory_bucket, config.inventory_prefix)
    request = job_request(config, account, key, etag, partition)
    try:
        job_id = str(s3control.create_job(**request)["JobId"])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ReauditError(f"CreateJob refused: {error.get('Code')} {error.get('Message', '')}".strip()) from None
    result = {
        "job_id": job_id,
        "manifest": f"s3://{config.inventory_bucket}/{key}",
        "report": f"s3://{config.report_bucket}/{request['Report']['Prefix']}/",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    log.info("re-audit job created: %s", result)
    return result


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    """EventBridge schedule target: start the re-audit job."""
    arn = str(getattr(context, "invoked_function_arn", ""))
    parts = arn.split(":")
    if len(parts) < 5 or not parts[4]:
        raise ReauditError(f"cannot tell the account from the function ARN {arn!r}")
    region = parts[3]
    return start(
        ReauditConfig.from_env(),
        boto3.client("s3"),
        boto3.client("s3control", region_name=region),
        account=parts[4],
        partition=parts[1],
    )
