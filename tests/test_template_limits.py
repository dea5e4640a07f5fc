"""The function's size limits fit each other: /tmp holds the largest object twice (the download and the clean copy),
the timeout fits a 1 GB video and the queue's visibility timeout, and the handler enforces the same numbers."""

from __future__ import annotations

from typing import Any

import pytest
from template_support import concretize, load_template

from exif_scrubber.s3.processor import TMP_SPACE_MARGIN
from exif_scrubber.s3.settings import DEFAULT_MAX_OBJECT_BYTES, SINGLE_PUT_LIMIT, TMP_SPACE_FACTOR

MIB = 1024**2
LAMBDA_MAX_EPHEMERAL_MB = 10240


def _parameters() -> dict[str, Any]:
    return dict(load_template()["Parameters"])


def _needed(object_bytes: int) -> int:
    return object_bytes * TMP_SPACE_FACTOR + TMP_SPACE_MARGIN


def test_the_defaults_fit_a_one_gigabyte_video() -> None:
    parameters = _parameters()
    max_bytes = int(parameters["MaxObjectBytes"]["Default"])
    assert max_bytes == DEFAULT_MAX_OBJECT_BYTES >= 1024**3
    assert int(parameters["EphemeralStorage"]["Default"]) * MIB >= _needed(max_bytes)
    assert int(parameters["Timeout"]["Default"]) >= 300


def test_storage_and_timeout_are_parameters_within_lambdas_limits() -> None:
    parameters = _parameters()
    assert int(parameters["EphemeralStorage"]["MaxValue"]) == LAMBDA_MAX_EPHEMERAL_MB
    assert int(parameters["Timeout"]["MaxValue"]) == 900
    assert int(parameters["MaxObjectBytes"]["MaxValue"]) == SINGLE_PUT_LIMIT == 5 * 1024**3
    resources = concretize(load_template(), {"EphemeralStorage": "6144", "Timeout": "777", "Trigger": "Queue"})[
        "Resources"
    ]
    for function in ("ScrubberFunction", "AuditFunction"):
        properties = resources[function]["Properties"]
        assert properties["EphemeralStorage"] == {"Size": "6144"}
        assert properties["Timeout"] == "777"
    assert int(resources["UploadQueue"]["Properties"]["VisibilityTimeout"]) >= 900


def test_the_tmp_space_rule_is_two_copies() -> None:
    """The engine links its input and moves its output: a download and a clean copy, no more."""
    assert TMP_SPACE_FACTOR == 2
    largest_that_fits = (LAMBDA_MAX_EPHEMERAL_MB * MIB - TMP_SPACE_MARGIN) // TMP_SPACE_FACTOR
    assert largest_that_fits >= 5 * 1024**3 - 8 * MIB  # within 8 MiB of S3's single-PUT limit


@pytest.mark.parametrize("object_gib", [1, 2, 4])
def test_storage_for_an_object_size(object_gib: int) -> None:
    needed_mb = -(-_needed(object_gib * 1024**3) // MIB)
    assert needed_mb <= LAMBDA_MAX_EPHEMERAL_MB
