"""`make demo` runs the real pipeline: it must end with a clean audit and the table a user reads."""

from __future__ import annotations

import os

import pytest

from scrub_demo import run_demo
from scrub_demo.pipeline import summarize


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


def test_summary_of_groups() -> None:
    assert summarize({"GPS": ["a", "b"], "IFD0": ["Make"], "ExifIFD": ["x"], "XMP-dc": ["d"]}) == "GPS 2, EXIF 2, XMP 1"
