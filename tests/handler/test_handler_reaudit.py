"""The scheduled re-audit starter: finds the newest complete inventory delivery (moto S3) and creates exactly the
Batch Operations job it should (botocore Stubber on S3 Control), idempotently."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from handler_testlib import REGION, FakeContext

from handler import reaudit
from handler.reaudit import ReauditConfig, ReauditError, job_request, latest_manifest, start

PREFIX = "exif-scrubber-batch/inventory/photos/exif-scrubber-reaudit/"
CONFIG = ReauditConfig(
    inventory_bucket="photos",
    inventory_prefix=PREFIX,
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:audit",
    role_arn="arn:aws:iam::123456789012:role/batch",
    report_bucket="evidence",
    report_prefix="exif-scrubber-evidence/audits/",
)


def deliver(s3: Any, folder: str, *, complete: bool = True) -> str:
    s3.put_object(Bucket="photos", Key=f"{PREFIX}{folder}/manifest.json", Body=b'{"files": []}' + folder.encode())
    if complete:
        s3.put_object(Bucket="photos", Key=f"{PREFIX}{folder}/manifest.checksum", Body=b"x")
    return str(s3.head_object(Bucket="photos", Key=f"{PREFIX}{folder}/manifest.json")["ETag"]).strip('"')


@pytest.fixture
def photos(s3: Any) -> Any:
    s3.create_bucket(Bucket="photos")
    s3.put_object(Bucket="photos", Key=f"{PREFIX}data/abc.csv.gz", Body=b"x")
    s3.put_object(Bucket="photos", Key=f"{PREFIX}hive/dt=2026-11-30-01-00/symlink.txt", Body=b"x")
    return s3


def test_the_newest_complete_delivery_is_chosen(photos: Any) -> None:
    deliver(photos, "2026-11-28T01-00Z")
    newest_complete = deliver(photos, "2026-11-29T01-00Z")
    deliver(photos, "2026-11-30T01-00Z", complete=False)  # still being written
    assert latest_manifest(photos, "photos", PREFIX) == (f"{PREFIX}2026-11-29T01-00Z/manifest.json", newest_complete)


def test_no_inventory_is_a_clear_error(photos: Any) -> None:
    with pytest.raises(ReauditError, match="no complete S3 Inventory report under s3://photos/"):
        latest_manifest(photos, "photos", PREFIX)


def test_the_job_runs_the_report_only_function_and_files_its_report_as_evidence(photos: Any) -> None:
    etag = deliver(photos, "2026-11-29T01-00Z")
    control = boto3.client("s3control", region_name=REGION)
    expected = job_request(CONFIG, "123456789012", f"{PREFIX}2026-11-29T01-00Z/manifest.json", etag)
    assert expected["Operation"]["LambdaInvoke"]["FunctionArn"] == CONFIG.function_arn
    assert expected["Manifest"] == {
        "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
        "Location": {"ObjectArn": f"arn:aws:s3:::photos/{PREFIX}2026-11-29T01-00Z/manifest.json", "ETag": etag},
    }
    assert expected["Report"]["Bucket"] == "arn:aws:s3:::evidence"
    assert expected["Report"]["Prefix"] == "exif-scrubber-evidence/audits/2026-11-29T01-00Z"
    assert expected["Report"]["ReportScope"] == "AllTasks" and expected["ConfirmationRequired"] is False
    with Stubber(control) as stub:
        stub.add_response("create_job", {"JobId": "job-123"}, expected)
        done = start(CONFIG, photos, control, "123456789012")
        stub.assert_no_pending_responses()
    assert done["job_id"] == "job-123"
    assert done["report"] == "s3://evidence/exif-scrubber-evidence/audits/2026-11-29T01-00Z/"


def test_the_same_manifest_gives_the_same_token_a_new_one_another() -> None:
    first = job_request(CONFIG, "1", f"{PREFIX}2026-11-29T01-00Z/manifest.json", "e1")
    assert first == job_request(CONFIG, "1", f"{PREFIX}2026-11-29T01-00Z/manifest.json", "e1")
    assert (
        first["ClientRequestToken"]
        != job_request(CONFIG, "1", f"{PREFIX}2026-11-30T01-00Z/manifest.json", "e2")["ClientRequestToken"]
    )
    assert 1 <= len(first["ClientRequestToken"]) <= 64


def test_a_refused_job_is_one_line(photos: Any) -> None:
    deliver(photos, "2026-11-29T01-00Z")
    control = boto3.client("s3control", region_name=REGION)
    with Stubber(control) as stub:
        stub.add_client_error("create_job", "AccessDenied", "not allowed to pass the role", 403)
        with pytest.raises(ReauditError, match="CreateJob refused: AccessDenied not allowed to pass the role"):
            start(CONFIG, photos, control, "123456789012")


def test_handler_reads_its_environment_and_account(photos: Any, monkeypatch: Any) -> None:
    etag = deliver(photos, "2026-11-29T01-00Z")
    env = {
        "INVENTORY_BUCKET": "photos", "INVENTORY_PREFIX": PREFIX.rstrip("/"), "AUDIT_FUNCTION_ARN": CONFIG.function_arn,
        "BATCH_ROLE_ARN": CONFIG.role_arn, "REPORT_BUCKET": "evidence",
        "REPORT_PREFIX": "exif-scrubber-evidence/audits/",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    control = boto3.client("s3control", region_name=REGION)
    clients = {"s3": photos, "s3control": control}
    monkeypatch.setattr(reaudit.boto3, "client", lambda name, **_: clients[name])
    with Stubber(control) as stub:
        request = job_request(CONFIG, "123456789012", f"{PREFIX}2026-11-29T01-00Z/manifest.json", etag)
        stub.add_response("create_job", {"JobId": "job-9"}, request)
        context = FakeContext(invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:starter")
        assert reaudit.lambda_handler({"detail-type": "Scheduled Event"}, context)["job_id"] == "job-9"
    monkeypatch.delenv("BATCH_ROLE_ARN")
    with pytest.raises(ReauditError, match="BATCH_ROLE_ARN"):
        ReauditConfig.from_env()
