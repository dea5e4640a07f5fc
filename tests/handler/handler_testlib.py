"""Helpers of the handler tests (imported by conftest.py first: it sets a fake AWS environment)."""

from __future__ import annotations

import io
import json
import os
import random
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote

# Before boto3/moto/powertools are imported anywhere: no real credentials, no real account.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_LAMBDA_FUNCTION_NAME"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "exif-scrubber-test",
        "POWERTOOLS_METRICS_NAMESPACE": "ExifScrubberTest",
    }
)

from botocore.exceptions import ClientError  # noqa: E402
from PIL import Image  # noqa: E402

from exif_scrubber import ScrubPolicy  # noqa: E402
from exif_scrubber.s3.processor import ObjectScrubber  # noqa: E402
from handler import app  # noqa: E402
from handler.config import HandlerConfig  # noqa: E402

REGION = "us-east-1"


def jpeg(*, gps: bool = True, seed: int | None = None, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG; with ``gps`` it carries camera make/model and GPS coordinates."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for x in range(0, size[0], 8):
        image.putpixel((x, rng.randrange(size[1])), (rng.randrange(256), 0, 0))
    buffer = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Acme", "Pocket 3"
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd.update({1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 1.0)})
        image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    else:
        image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def corrupt_jpeg() -> bytes:
    """A JPEG cut off after its metadata: recognised by its magic bytes, refused by the engine."""
    return jpeg(seed=99)[:300]


NOT_AN_IMAGE = b"%PDF-1.4 not an image at all\n"


@dataclass
class Calls:
    """S3 operations made through one client, in order (botocore event hooks, no stubbing)."""

    names: list[str] = field(default_factory=list)

    def __call__(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def clear(self) -> None:
        self.names.clear()


def count_calls(client: Any) -> Calls:
    calls = Calls()
    client.meta.events.register("before-call.s3", calls)
    return calls


def precondition_failed(operation: str) -> ClientError:
    """The error S3 answers when a conditional request's condition does not hold (HTTP 412)."""
    return ClientError(
        {
            "Error": {
                "Code": "PreconditionFailed",
                "Message": "At least one of the pre-conditions you specified did not hold",
            },
            "ResponseMetadata": {"HTTPStatusCode": 412},
        },
        operation,
    )


def conditional_copy_like_s3(client: Any, oracle: Any) -> None:
    """Make ``client``'s CopyObject answer as S3 does; moto 5.2.5 ignores both conditions and copies anyway.

    * ``CopySourceIfMatch``: 412 unless the source (exactly its ``VersionId`` when given) has that ETag now;
    * ``IfNoneMatch='*'``: 412 when the destination key exists.

    ``oracle`` is another client on the same moto backend (its HEADs are neither counted nor hooked). Hooked at
    ``before-parameter-build``, which botocore emits after ``provide-client-params``: a test that injects a racing
    upload or delete at ``provide-client-params.s3.CopyObject`` is seen by these checks, as S3 would see it.
    """

    def check(params: dict[str, Any], **_: Any) -> None:
        expected = params.get("CopySourceIfMatch")
        if expected is not None:
            args = _copy_source(params["CopySource"])
            try:
                current = oracle.head_object(**args)["ETag"]
            except ClientError:
                current = None  # gone: S3 answers 404 here, which moto's own copy then does
            if current is not None and current.strip('"') != expected.strip('"'):
                raise precondition_failed("CopyObject")
        if params.get("IfNoneMatch") == "*":
            try:
                oracle.head_object(Bucket=params["Bucket"], Key=params["Key"])
            except ClientError:
                return
            raise precondition_failed("CopyObject")

    client.meta.events.register("before-parameter-build.s3.CopyObject", check)


def _copy_source(source: str | dict[str, str]) -> dict[str, str]:
    """HeadObject arguments for a CopySource, given as a dict or as botocore's ``bucket/key?versionId=v`` string."""
    if isinstance(source, dict):
        return {name: source[name] for name in ("Bucket", "Key", "VersionId") if source.get(name)}
    path, _, query = source.partition("?")
    bucket, _, key = unquote(path).partition("/")
    args = {"Bucket": bucket, "Key": key}
    version = parse_qs(query).get("versionId")
    if version:
        args["VersionId"] = version[0]
    return args


def make_config(tmp_path: Path, **overrides: Any) -> HandlerConfig:
    return replace(HandlerConfig(policy=ScrubPolicy(), work_dir=tmp_path), **overrides)


@dataclass
class Harness:
    """The handler wired to moto: a processor client whose calls are counted, and a separate test client."""

    s3: Any
    handler_s3: Any
    calls: Calls
    processor: ObjectScrubber
    runtime: app.Runtime

    def process(self, bucket: str, key: str, **kwargs: Any) -> Any:
        return self.processor.process(bucket, key, **kwargs)


@dataclass
class FakeContext:
    aws_request_id: str = "req-1"
    function_name: str = "ScrubberFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ScrubberFunction"


def s3_record(
    bucket: str, key: str, etag: str | None = None, version_id: str | None = None, event_name: str = "ObjectCreated:Put"
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key), "size": 1, "sequencer": "0055AED6DCD90281E5"}
    if etag:
        obj["eTag"] = etag
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": event_name,
        "eventTime": "2026-11-26T00:00:00.000Z",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "scrub",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_event(*bodies: Any) -> dict[str, Any]:
    records = []
    for index, body in enumerate(bodies):
        records.append(
            {
                "messageId": f"msg-{index}",
                "receiptHandle": f"rh-{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:uploads",
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def drain_queue(sqs: Any, queue_url: str) -> dict[str, Any]:
    """Receive and delete everything in the queue, as the Lambda SQS event it would make (S3 test events left out)."""
    records = []
    for _ in range(100):  # a bound, not a wait: an empty receive ends it
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages")
        if not messages:
            break
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if "s3:TestEvent" not in message["Body"]:
                records.append(
                    {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": message["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn",
                        "awsRegion": REGION,
                    }
                )
    return {"Records": records}


def eventbridge_event(bucket: str, key: str, etag: str | None = None, version_id: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key), "size": 1, "sequencer": "00617F08299329D189"}
    if etag:
        obj["etag"] = etag
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-26T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def batch_event(schema: str, bucket: str, *keys: str, version_ids: list[str | None] | None = None) -> dict[str, Any]:
    tasks = []
    for index, key in enumerate(keys):
        task: dict[str, Any] = {
            "taskId": f"task-{index}",
            "s3Key": quote_plus(key),
            "s3VersionId": (version_ids or [None] * len(keys))[index],
        }
        if schema == "1.0":
            task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
        else:
            task["s3Bucket"] = bucket
        tasks.append(task)
    event: dict[str, Any] = {
        "invocationSchemaVersion": schema,
        "invocationId": "inv-1",
        "job": {"id": "job-1"},
        "tasks": tasks,
    }
    if schema == "2.0":
        event["job"]["userArguments"] = {"mode": "backfill"}
    return event


def put(s3: Any, bucket: str, key: str, body: bytes, **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = s3.put_object(Bucket=bucket, Key=key, Body=body, **kwargs)
    return response


def etag_of(response: dict[str, Any]) -> str:
    return str(response["ETag"]).strip('"')


def body_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> bytes:
    args = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    data: bytes = s3.get_object(**args)["Body"].read()
    return data


def versions_of(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in listing.get("Versions", []) if v["Key"] == key]
