"""Fixtures of the exif-audit tests: images made with Pillow + the project's ExifTool, a moto S3."""

from __future__ import annotations

import io
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.exiftool_process import locate_exiftool

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
BUCKET = "audit-test"


def exiftool_write(path: Path, *tags: str) -> None:
    """Write ``tags`` (``-GPSLatitude=1``) into ``path`` with the project's ExifTool (no shell)."""
    subprocess.run(
        [str(locate_exiftool()), "-q", "-overwrite_original", *tags, str(path)], check=True, capture_output=True
    )


def make_jpeg(path: Path, size: tuple[int, int] = (64, 48), *, noise: bool = False, seed: int = 1) -> Path:
    """A JPEG without metadata; ``noise`` makes it large enough for ranged reads (hundreds of KB)."""
    if noise:
        rng = random.Random(seed)
        image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    else:
        image = Image.new("RGB", size, (200, 30, 30))
    image.save(path, "JPEG", quality=95)
    return path


GPS_TAGS = ("-GPSLatitude=48.8584", "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The objects of the test bucket, by name."""
    folder = tmp_path_factory.mktemp("images")
    clean = make_jpeg(folder / "clean.jpg")
    gps = make_jpeg(folder / "gps.jpg")
    exiftool_write(gps, *GPS_TAGS, "-Make=TestCam", "-Model=T1")
    big = make_jpeg(folder / "big.jpg", (700, 500), noise=True)
    exiftool_write(big, *GPS_TAGS, "-XMP-dc:Creator=Someone")
    xmp_only = make_jpeg(folder / "xmp.jpg")
    exiftool_write(xmp_only, "-XMP-dc:Title=Holiday")
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    data = {p.name: p.read_bytes() for p in (clean, gps, big, xmp_only)}
    data["notes.txt"] = b"just some text, not an image\n"
    data["corrupt.png"] = png.getvalue()[:40]
    return data


@pytest.fixture
def s3() -> Iterator[Any]:
    """An in-process moto S3 with an empty bucket."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(scope="session")
def scrubber() -> Iterator[Scrubber]:
    with Scrubber(ScrubPolicy(), pool_size=2) as shared:
        yield shared


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region: no test may reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
