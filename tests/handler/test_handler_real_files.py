"""Every real photo and video that carries a location, uploaded through the Lambda's per-object flow (moto S3, one
upload each): afterwards the bucket holds no location and no other personal data, as a separate ExifTool reads the
stored object; only the files the corpus and device lists say are broken keep their bytes (refused, tagged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from handler_testlib import Harness, body_of, put

from exif_scrubber.s3.result import Status
from tests.engine.conftest import CORPUS, corpus_files
from tests.engine.test_corpus import GENUINE_DEFECT
from tests.engine.test_real_devices import DEVICES, MUST_REFUSE, device_files
from tests.oracle import personal_data

pytestmark = pytest.mark.corpus


def real_files() -> list[Path]:
    devices = [DEVICES / name for name in device_files()]
    return [*devices, *corpus_files()]


def _carries_location(path: Path) -> bool:
    return any("GPS" in found.split("=")[0] or "Location" in found.split("=")[0] for found in personal_data(path))


@pytest.mark.skipif(not DEVICES.is_dir() and not CORPUS.is_dir(), reason="no real files beside the repo")
@pytest.mark.parametrize("path", real_files(), ids=lambda p: p.name)
def test_a_real_file_with_a_location_leaves_none_in_the_bucket(
    harness: Harness, bucket: str, path: Path, tmp_path: Path
) -> None:
    if not _carries_location(path):
        pytest.skip(f"{path.name} carries no location")
    key = f"uploads/{path.name}"
    put(harness.s3, bucket, key, path.read_bytes())

    result: Any = harness.process(bucket, key)

    stored = tmp_path / path.name
    stored.write_bytes(body_of(harness.s3, bucket, key))
    if result.status is Status.FAILED:
        assert path.name in MUST_REFUSE or GENUINE_DEFECT.search(str(result.reason)), (path.name, result.reason)
        return
    assert result.status in (Status.SCRUBBED, Status.ALREADY_CLEAN), (path.name, result.status, result.reason)
    assert personal_data(stored) == [], path.name
