"""Inside Lambda, importing handler.app validates the environment and starts ExifTool (the init phase)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import handler.app as a; rt = a._runtime; "
    "print('ready' if rt is not None else 'lazy', rt.processor.marker.base if rt else '')"
)


def _import_app(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ON_FAILURE", "MAX_", "REPORT_ONLY"))}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def test_cold_start_warms_the_engine_inside_lambda() -> None:
    done = _import_app(AWS_LAMBDA_FUNCTION_NAME="ScrubberFunction")
    assert done.returncode == 0, done.stderr
    log_line, probe = done.stdout.splitlines()
    assert '"message":"scrubber ready"' in log_line and '"exiftool":"13.' in log_line
    assert probe.startswith("ready p1;icc;engine=")


def test_cold_start_fails_loudly_on_bad_configuration() -> None:
    done = _import_app(AWS_LAMBDA_FUNCTION_NAME="ScrubberFunction", ON_FAILURE="explode", MAX_OBJECT_BYTES="lots")
    assert done.returncode != 0
    assert "ConfigError" in done.stderr and "ON_FAILURE" in done.stderr and "MAX_OBJECT_BYTES" in done.stderr


def test_outside_lambda_nothing_starts_at_import() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("lazy")
