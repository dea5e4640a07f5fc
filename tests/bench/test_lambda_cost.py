"""bench/results/lambda_cost.json (what docs/cost.md quotes) is exactly what bench/lambda_cost.py derives from the
latest measured results: recomputed here from scrubbers.json and audit_bench.json, and the S3 requests per object
recounted by running the handler on moto, so a new benchmark run or a handler change that is not carried into the cost
page fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import lambda_cost

RESULTS = Path(lambda_cost.__file__).resolve().parent / "results"


@pytest.fixture(scope="module")
def recorded() -> dict:  # type: ignore[type-arg]
    return json.loads((RESULTS / "lambda_cost.json").read_text(encoding="utf-8"))


def test_the_cost_file_is_derived_from_the_latest_results(recorded: dict) -> None:  # type: ignore[type-arg]
    again = lambda_cost.compute(
        lambda_cost.latest("scrubbers.json"), lambda_cost.latest("audit_bench.json"), recorded["requests_per_object"]
    )
    assert again == recorded
    assert (RESULTS / "lambda_cost.md").read_text(encoding="utf-8") == lambda_cost.markdown(recorded)


def test_the_request_counts_are_what_the_handler_does_today(recorded: dict) -> None:  # type: ignore[type-arg]
    assert lambda_cost.count_requests() == recorded["requests_per_object"]


def test_the_model_uses_the_stacks_default_memory() -> None:
    template = (RESULTS.parents[1] / "template.yaml").read_text(encoding="utf-8")
    (default,) = re.findall(r"^  MemorySize:\n    Type: Number\n    Default: (\d+)$", template, re.MULTILINE)
    assert int(default) == lambda_cost.MEMORY_MB


def test_request_pricing_classes() -> None:
    """PUT-class requests at $0.005 per 1,000, deletes free, the rest at $0.0004 per 1,000."""
    assert lambda_cost.s3_usd_per_million({"PutObject": 2, "HeadObject": 2, "GetObject": 1, "DeleteObject": 1}) == (
        pytest.approx(2 * 5.0 + 3 * 0.4)
    )
