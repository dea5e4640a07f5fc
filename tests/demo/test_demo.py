"""`make demo` runs the real pipeline: it must end with a clean audit and the table a user reads; every command
it prints must run as printed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from exif_scrubber.exiftool_process import ExifToolPool
from scrub_demo import run_demo
from scrub_demo.pipeline import AUDIT_AFTER, AUDIT_INTRO, summarize
from scrub_demo.samples import make_sample

ROOT = Path(__file__).resolve().parents[2]


def test_demo_pipeline_ends_clean(capsys: pytest.CaptureFixture[str]) -> None:
    from handler import app

    before = dict(os.environ)

    previous = app.install_runtime(None)
    try:
        assert run_demo() == 0
    finally:
        app.install_runtime(previous)
    assert dict(os.environ) == before  # the demo puts the environment back
    out = capsys.readouterr().out
    assert "Audit verdict: CLEAN" in out
    assert out.count("identical") == 4 and "CHANGED" not in out
    assert "4 clean, 0 leaking" in out
    events = [line for line in out.splitlines() if line.startswith("  event ")]
    scrubbed = [line for line in events if " scrubbed (" in line]
    assert len(scrubbed) == 4 and all("; original version " in line and " deleted)" in line for line in scrubbed)
    assert len([line for line in events if line.endswith(" skipped (already scrubbed)")]) == 4  # our own writes
    assert len(events) == 8 and " done" not in out
    # the printed audit command only works while the demo's S3 is up: the demo says so, and how to keep it up
    lines = out.splitlines()
    command = lines[lines.index(AUDIT_INTRO) + 1]
    assert lines[lines.index(AUDIT_INTRO) + 2] == AUDIT_AFTER and "--keep-running" in AUDIT_AFTER
    endpoint = command.split("--endpoint-url ")[1].split()[0]
    with pytest.raises(OSError):
        urllib.request.urlopen(endpoint, timeout=5)  # the demo has ended: its S3 is gone


def test_summary_of_groups() -> None:
    assert summarize({"GPS": ["a", "b"], "IFD0": ["Make"], "ExifIFD": ["x"], "XMP-dc": ["d"]}) == "GPS 2, EXIF 2, XMP 1"


def _read_until(process: subprocess.Popen[str], marker: str, seen: list[str], timeout: float = 120) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line.rstrip("\n"))
        if marker in line:
            return
    raise AssertionError(f"{marker!r} never printed; got:\n" + "\n".join(seen))


def _as_shell_runs_it(line: str) -> tuple[dict[str, str], list[str]]:
    """The variables and argv of a `NAME=value ... command args` line, as a POSIX shell splits it."""
    words = shlex.split(line)
    assignments = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        assignments[name] = value
    return assignments, words


def _photo(folder: Path) -> Path:
    with ExifToolPool(None, size=1) as pool:
        return make_sample(pool, folder, "photo", "JPEG")


@pytest.mark.timeout(300)
def test_keep_running_prints_commands_that_run_as_printed(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["COLUMNS"] = "80"  # a narrow terminal: nothing may wrap a command
    seen: list[str] = []
    command = [sys.executable, "-m", "scrub_demo", "--keep-running"]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as demo:
        try:
            _read_until(demo, "Ctrl-C stops the server.", seen)
            upload, audit = [line for line in seen if line.startswith("AWS_ACCESS_KEY_ID=")][-2:]
            variables, argv = _as_shell_runs_it(upload)
            assert argv[0] == "aws" and argv[-4:] == ["s3", "cp", "photo.jpg", "s3://demo-photos/mine/photo.jpg"]
            endpoint = argv[argv.index("--endpoint-url") + 1]
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name=variables["AWS_DEFAULT_REGION"],
                aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
            )
            s3.put_object(Bucket="demo-photos", Key="mine/photo.jpg", Body=_photo(tmp_path).read_bytes())
            _read_until(demo, "mine/photo.jpg  scrubbed (", seen)

            variables, argv = _as_shell_runs_it(audit)
            done = subprocess.run(argv, cwd=ROOT, env={**env, **variables}, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "5 clean, 0 leaking" in done.stdout
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                out, err = demo.communicate(timeout=60)
            except subprocess.TimeoutExpired as exc:
                demo.kill()
                demo.communicate()
                printed = exc.output
                raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C; it printed: {printed!r}") from None
    assert demo.returncode == 0, err
    assert "stopping" in out
