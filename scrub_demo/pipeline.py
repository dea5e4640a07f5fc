"""The demo: the real pipeline on an embedded S3 (moto's server on 127.0.0.1), no AWS account.

upload -> S3 event -> SQS -> the Lambda handler (same code) -> audit of the bucket.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_plus

import boto3
import click
from rich.console import Console
from rich.table import Table

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.cli_text import printable
from exif_scrubber.pixels import probe
from exif_scrubber.s3.processor import ObjectScrubber
from exif_scrubber.s3.result import ObjectResult, Status
from handler.config import HandlerConfig
from scrub_demo.samples import make_demo_set

BUCKET = "demo-photos"
QUEUE = "demo-uploads"
REGION = "us-east-1"
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
    "tif": "image/tiff",
    "gif": "image/gif",
    "avif": "image/avif",
}


@dataclass
class Upload:
    """One demo image: its key, the bytes uploaded, and what the engine saw in them."""

    key: str
    data: bytes
    found: dict[str, list[str]]
    image_hash: str | None
    orientation: int | None


def summarize(groups: dict[str, list[str]]) -> str:
    """``{"GPS": [...], "IFD0": [...], "XMP-dc": [...]}`` -> ``"GPS 6, EXIF 9, XMP 3"``."""
    counts: dict[str, int] = {}
    for group, names in groups.items():
        counts[_KINDS.get(group, "XMP" if group.startswith("XMP") else group)] = counts.get(
            _KINDS.get(group, "XMP" if group.startswith("XMP") else group), 0
        ) + len(names)
    return ", ".join(f"{kind} {count}" for kind, count in counts.items())


_KINDS = {
    "IFD0": "EXIF",
    "ExifIFD": "EXIF",
    "IFD1": "thumbnail",
    "InteropIFD": "EXIF",
    "JPEG": "comment",
    "PNG": "text",
    "PNG-chunks": "text",
    "GIF-blocks": "comment",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_s3() -> Iterator[str]:
    """moto's S3/SQS server on 127.0.0.1, with fake credentials; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines in the demo output
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with _environment(
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",  # noqa: S106 - moto's fake keys
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=endpoint,
        ):  # the handler's own boto3 client talks to it too
            yield endpoint
    finally:
        server.stop()


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the demo and put the previous values back afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wire_bucket(s3: Any, sqs: Any) -> str:
    """A versioned bucket (as production should be: the handler then deletes each original version it
    replaced) -> queue notifications for every created object (no suffix filter: keys are case-sensitive)."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return str(queue_url)


def _upload_samples(s3: Any, scrubber: Scrubber, folder: Path) -> list[Upload]:
    uploads = []
    for path in make_demo_set(scrubber.pool, folder):
        key = f"uploads/2024/{path.name}"
        data = path.read_bytes()
        scan = scrubber.scan(path, image_hash=True)
        uploads.append(
            Upload(
                key=key,
                data=data,
                found=scan.leftovers,
                image_hash=scan.image_hash,
                orientation=probe(path).orientation,
            )
        )
        s3.put_object(
            Bucket=BUCKET,
            Key=key,
            Body=data,
            ContentType=CONTENT_TYPES[path.suffix[1:]],
            CacheControl="public, max-age=86400",
            Metadata={"uploaded-by": "demo"},
            Tagging="team=photos",
        )
    return uploads


class RecordingProcessor(ObjectScrubber):
    """The handler's own processor, keeping each object's result so that the demo can say what an event did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: dict[tuple[str, str | None], ObjectResult] = {}

    def process(self, bucket: str, key: str, etag: str | None = None, version_id: str | None = None) -> ObjectResult:
        result = super().process(bucket, key, etag=etag, version_id=version_id)
        self.results[(key, version_id)] = result
        return result


@contextmanager
def recording_runtime(s3: Any) -> Iterator[RecordingProcessor]:
    """Install the handler's runtime (its configuration from the environment) with a recording processor."""
    from handler import app

    config = HandlerConfig.from_env()
    scrubber = Scrubber(config.policy, work_dir=config.work_dir)
    processor = RecordingProcessor(s3, scrubber, config)
    previous = app.install_runtime(app.Runtime(config=config, scrubber=scrubber, processor=processor))
    try:
        yield processor
    finally:
        app.install_runtime(previous)
        scrubber.close()


_WORDS = {
    Status.SCRUBBED: "scrubbed",
    Status.ALREADY_CLEAN: "skipped",
    Status.SKIPPED: "skipped",
    Status.CONFLICT: "skipped",
    Status.UNSUPPORTED: "skipped",
    Status.REPORTED: "skipped",
}


def event_outcome(result: ObjectResult | None, failed: bool) -> str:
    """``scrubbed (33,966 -> 28,764 bytes; original version 3f2a... deleted)``, ``skipped (already scrubbed)``
    or ``failed (reason)``."""
    if result is None:
        return "failed (not processed)" if failed else "skipped (not an object event)"
    word = "failed" if failed or result.failed else _WORDS.get(result.status, "failed")
    if result.status is Status.SCRUBBED:
        details = [f"{result.bytes_before or 0:,} -> {result.bytes_after or 0:,} bytes"]
        if result.deleted_version_id:
            details.append(f"original version {result.deleted_version_id[:8]}… deleted")
        return f"{word} ({'; '.join(details + result.problems)})"
    reason = (result.reason or result.status.value).split(" (", 1)[0]
    return f"{word} ({reason})"


def _drain(sqs: Any, queue_url: str, processor: RecordingProcessor, echo: bool, idle_rounds: int = 2) -> int:
    """Feed queued S3 notifications to the Lambda handler until the queue stays empty; one line per event."""
    from handler.app import lambda_handler

    handled, idle = 0, 0
    while idle < idle_rounds:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        batch = messages.get("Messages", [])
        if not batch:
            idle += 1
            continue
        idle = 0
        response = lambda_handler(_sqs_event(batch), _context(handled))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in batch:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if echo:
                _echo_events(message, processor, message["MessageId"] in failed)
        handled += len(batch)
    return handled


def _echo_events(message: dict[str, Any], processor: RecordingProcessor, failed: bool) -> None:
    for record in json.loads(message["Body"]).get("Records", []):
        key = unquote_plus(record["s3"]["object"]["key"])
        result = processor.results.get((key, record["s3"]["object"].get("versionId")))
        click.echo(f"  event {record['eventName']:<24} {printable(key)}  {event_outcome(result, failed)}")


def _sqs_event(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}",
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "awsRegion": REGION,
            }
            for m in batch
        ]
    }


def _context(handled: int) -> SimpleNamespace:
    return SimpleNamespace(
        aws_request_id=f"demo-{handled}",
        function_name="exif-scrubber-demo",
        memory_limit_in_mb=1024,
        invoked_function_arn="arn:aws:lambda:demo",
    )


def _results_table(s3: Any, scrubber: Scrubber, uploads: list[Upload], folder: Path) -> Table:
    table = Table(title="Before / after, per image (read back from the bucket)")
    for column in ("object", "found before", "removed", "bytes", "image data", "orient.", "left", "marker"):
        table.add_column(column, overflow="fold")
    for upload in uploads:
        head = s3.head_object(Bucket=BUCKET, Key=upload.key)
        after_path = folder / ("after-" + Path(upload.key).name)
        after_path.write_bytes(s3.get_object(Bucket=BUCKET, Key=upload.key)["Body"].read())
        after = scrubber.scan(after_path, image_hash=True)
        orientation = probe(after_path).orientation
        found = summarize(upload.found)
        removed = sum(len(tags) for tags in upload.found.values()) - sum(len(t) for t in after.leftovers.values())
        same_hash = upload.image_hash is not None and upload.image_hash == after.image_hash
        table.add_row(
            Path(upload.key).name,
            found,
            str(removed),
            f"{len(upload.data):,} -> {head['ContentLength']:,}",
            "[green]identical[/]" if same_hash else "[red]CHANGED[/]",
            f"{orientation} " + ("[green]kept[/]" if orientation == upload.orientation else "[red]CHANGED[/]"),
            "[green]nothing[/]" if after.clean else f"[red]{', '.join(after.leftovers)}[/]",
            "[green]set[/]" if head.get("Metadata", {}).get("exif-stripped") else "[red]missing[/]",
        )
    return table


DEMO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": REGION}
"""moto's fake keys: what every command the demo prints needs in front of it."""


def _shell_line(argv: list[str]) -> str:
    """``KEY=value ... argv`` as one line a POSIX shell runs as it is."""
    return " ".join([*(f"{name}={value}" for name, value in DEMO_CREDENTIALS.items()), shlex.join(argv)])


def _audit_program() -> list[str]:
    """``exif-audit`` beside this interpreter (relative to the current folder when inside it)."""
    script = Path(sys.executable).parent / "exif-audit"
    if not script.exists():
        return [sys.executable, "-m", "exif_scrubber.audit"]
    with suppress(ValueError):
        return [str(script.absolute().relative_to(Path.cwd()))]
    return [str(script.absolute())]


def audit_argv(endpoint: str) -> list[str]:
    """The audit the demo runs and prints: every version of the bucket."""
    return [*_audit_program(), f"s3://{BUCKET}", "--endpoint-url", endpoint, "--all-versions", "--quiet"]


def upload_argv(endpoint: str) -> list[str]:
    """An AWS CLI upload into the demo bucket."""
    return ["aws", "--endpoint-url", endpoint, "s3", "cp", "photo.jpg", f"s3://{BUCKET}/mine/photo.jpg"]


AUDIT_INTRO = "The demo runs this command against its embedded S3:"
AUDIT_AFTER = (
    "That S3 stops when the demo ends: to paste the command into a shell yourself, run the demo with --keep-running "
    "(`python -m scrub_demo --keep-running`, or `make demo DEMO_ARGS=--keep-running`), which keeps it up and prints "
    "the command again."
)


def _run_audit(endpoint: str, *, keep_running: bool) -> int:
    """Run the printed audit command as a user would: a new process with only the printed variables added."""
    argv = audit_argv(endpoint)
    click.echo(AUDIT_INTRO)
    click.echo(_shell_line(argv))
    if not keep_running:
        click.echo(AUDIT_AFTER)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "POWERTOOLS_"))}
    done = subprocess.run(argv, env={**env, **DEMO_CREDENTIALS}, capture_output=True, text=True, timeout=600)
    click.echo(done.stdout, nl=False)
    click.echo(done.stderr, nl=False, err=True)
    return done.returncode


def run_demo(*, keep_running: bool = False, verbose: bool = False) -> int:
    """Run the whole demo; returns the audit's exit code (0: the bucket is clean)."""
    console = Console(width=None if Console().is_terminal else 120)
    started = time.monotonic()
    quiet = {} if verbose else {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    settings = _environment(
        POWERTOOLS_SERVICE_NAME="exif-scrubber-demo", POWERTOOLS_METRICS_NAMESPACE="ExifScrubberDemo", **quiet
    )
    with settings, embedded_s3() as endpoint, tempfile.TemporaryDirectory(prefix="exif-demo-") as tmp:
        folder = Path(tmp)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        console.rule("[bold]exif-scrubber demo")
        console.print(
            f"Embedded S3 + SQS (moto) at {endpoint}; versioned bucket [bold]{BUCKET}[/] notifies queue {QUEUE}."
        )
        queue_url = _wire_bucket(s3, sqs)
        with Scrubber(ScrubPolicy()) as scrubber, recording_runtime(s3) as processor:
            uploads = _upload_samples(s3, scrubber, folder)
            console.print(f"Uploaded {len(uploads)} photos with GPS, camera, serials, IPTC, XMP, thumbnails.")
            console.print("Lambda handler consuming the notifications (our own writes come back as events too):")
            _drain(sqs, queue_url, processor, echo=True)
            console.print(_results_table(s3, scrubber, uploads, folder))
            console.rule("[bold]exif-audit, every version of the bucket")
            code = _run_audit(endpoint, keep_running=keep_running)
            verdict = "[green]CLEAN[/]" if code == 0 else f"[red]NOT CLEAN (exit {code})[/]"
            marker = s3.head_object(Bucket=BUCKET, Key=uploads[0].key)["Metadata"].get("exif-stripped")
            console.print(f"Marker on scrubbed objects (loop guard): exif-stripped={marker}")
            console.print(f"Audit verdict: {verdict}   ({time.monotonic() - started:.1f} s in all)")
            if keep_running:
                _serve(console, endpoint, sqs, queue_url, processor)
    return code


def _serve(console: Console, endpoint: str, sqs: Any, queue_url: str, processor: RecordingProcessor) -> None:
    console.rule("[bold]embedded S3 left running")
    click.echo("Upload your own photo and watch it being scrubbed:")
    click.echo(_shell_line(upload_argv(endpoint)))
    click.echo(f"(or boto3 with endpoint_url='{endpoint}' and the same keys); then audit the bucket again:")
    click.echo(_shell_line(audit_argv(endpoint)))
    click.echo("Ctrl-C stops the server.")
    with _stop_requested() as stop:
        while not stop.is_set():
            _drain(sqs, queue_url, processor, echo=True, idle_rounds=1)
    click.echo("stopping")


@contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event Ctrl-C (SIGINT) sets, so the serving loop stops between two rounds: an interrupt that lands inside
    the handler, an ExifTool command or a request to the embedded S3 could leave them half done, and the demo
    would not shut down. A second Ctrl-C interrupts at once."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
