"""Fixtures of the Lambda handler tests: moto S3/SQS, a warm engine, harnesses wired to the handler."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from handler_testlib import (  # sets a fake AWS environment on import, before any client exists
    REGION,
    Harness,
    conditional_copy_like_s3,
    count_calls,
    make_config,
)
from moto import mock_aws

from exif_scrubber import ScanResult, Scrubber, ScrubPolicy
from exif_scrubber.s3.processor import ObjectScrubber
from handler import app


@pytest.fixture(scope="session")
def scrubber(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrubber]:
    engine = Scrubber(ScrubPolicy(), work_dir=tmp_path_factory.mktemp("engine"))
    engine.warm_up()
    yield engine
    engine.close()


@pytest.fixture
def scan(scrubber: Scrubber, tmp_path: Path) -> Any:
    """``scan(bytes) -> ScanResult``: the audit's definition of clean."""

    def _scan(data: bytes) -> ScanResult:
        path = tmp_path / f"scan-{uuid.uuid4().hex}"
        path.write_bytes(data)
        return scrubber.scan(path)

    return _scan


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"uploads-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def versioned_bucket(s3: Any) -> str:
    name = f"versioned-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def harness_factory(s3: Any, scrubber: Scrubber, tmp_path: Path) -> Iterator[Any]:
    previous = app.install_runtime(None)

    def build(**overrides: Any) -> Harness:
        work = tmp_path / f"work-{uuid.uuid4().hex[:6]}"
        work.mkdir()
        config = make_config(work, **overrides)
        handler_s3 = boto3.client("s3", region_name=REGION)
        calls = count_calls(handler_s3)
        conditional_copy_like_s3(handler_s3, s3)  # moto ignores CopyObject's conditions; S3 does not
        processor = ObjectScrubber(handler_s3, scrubber, config)
        runtime = app.Runtime(config=config, scrubber=scrubber, processor=processor)
        app.install_runtime(runtime)
        return Harness(s3=s3, handler_s3=handler_s3, calls=calls, processor=processor, runtime=runtime)

    yield build
    app.install_runtime(previous)


@pytest.fixture
def harness(harness_factory: Any) -> Harness:
    return harness_factory()  # type: ignore[no-any-return]
