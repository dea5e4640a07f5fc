"""Running ``exif-scrub`` as a user does: a separate process (warnings, signals and stdout buffering are real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ENTRY = "from exif_scrubber.cli import main; main()"


def cli_command(*args: str | Path) -> list[str]:
    """The argv of ``exif-scrub ARGS`` run by this interpreter."""
    return [sys.executable, "-c", ENTRY, *map(str, args)]


def run_cli(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``exif-scrub ARGS`` to the end; stdout and stderr captured as text."""
    return subprocess.run(cli_command(*args), capture_output=True, text=True, timeout=120, check=False, **kwargs)
