"""Ranged reads: exact equality with full reads on the real corpus (uploaded to moto), and the
fallbacks that keep them exact (trailers, MPF, unsupported content)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.fetch import FIRST_READ, LocalFile, SparseCopy, fetch
from audit.listing import list_s3
from audit.scan import Auditor
from exif_scrubber import Scrubber, ScrubPolicy

from .conftest import BUCKET, CORPUS, make_jpeg

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".avifs",
                  ".mpo", ".HEIC"}


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS} (../shared/corpus)")
def test_ranged_audit_equals_full_audit_on_the_corpus(s3: Any) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.suffix in IMAGE_SUFFIXES)
    assert len(files) >= 140
    for path in files:
        s3.put_object(Bucket=BUCKET, Key=f"corpus/{path.name}", Body=path.read_bytes())
    results = {}
    # Two fresh single-process pools, same order: ExifTool's state carried between files in one
    # process is then identical for both passes (it changes some maker-note decodings).
    for ranged in (True, False):
        with Scrubber(ScrubPolicy(), pool_size=1) as scrubber, Auditor(scrubber, client=s3, ranged=ranged) as auditor:
            results[ranged] = list(auditor.audit_all(list_s3(s3, BUCKET, "corpus/"), max_workers=1))
    ranged, full = results[True], results[False]
    assert [r.key for r in ranged] == [r.key for r in full] == [f"corpus/{p.name}" for p in files]
    for a, b in zip(ranged, full, strict=True):
        assert (a.status, a.format, a.leftovers, a.error) == (b.status, b.format, b.leftovers, b.error), a.key
    assert all(not r.ranged and r.bytes_read == r.size for r in full)
    assert sum(r.ranged for r in ranged) >= 30
    assert {r.format for r in ranged if r.ranged} == {"JPEG", "HEIC", "AVIF"}
    assert sum(r.bytes_read for r in ranged) < 0.7 * sum(r.bytes_read for r in full)
    leaking = [r for r in full if r.status.value == "leaking"]
    assert len(leaking) > 100


def _fetch(tmp_path: Path, data: bytes) -> tuple[Any, Path]:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with LocalFile(src) as source:
        return fetch(source, tmp_path / "copy.bin"), src


def test_large_jpeg_reads_head_and_tail_only(tmp_path: Path) -> None:
    data = make_jpeg(tmp_path / "a.jpg", (800, 600), noise=True).read_bytes()
    assert len(data) > 500_000
    result, _ = _fetch(tmp_path, data)
    assert result.ranged and result.handler.name == "JPEG"
    assert result.bytes_read == FIRST_READ + 16 * 1024 and result.requests == 2
    copy = (tmp_path / "copy.bin").read_bytes()
    assert len(copy) == len(data) and copy[:FIRST_READ] == data[:FIRST_READ] and copy[-16384:] == data[-16384:]
    assert copy[FIRST_READ:-16384].count(0) == len(data) - FIRST_READ - 16384


def test_jpeg_with_trailer_is_read_whole(tmp_path: Path) -> None:
    data = make_jpeg(tmp_path / "a.jpg", (800, 600), noise=True).read_bytes() + b"SECRET TRAILER"
    result, _ = _fetch(tmp_path, data)
    assert not result.ranged and result.bytes_read == len(data) and "trailer" in result.note
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_jpeg_with_mpf_is_read_whole(tmp_path: Path) -> None:
    jpeg = make_jpeg(tmp_path / "a.jpg", (800, 600), noise=True).read_bytes()
    mpf = b"\xff\xe2" + (2 + 8).to_bytes(2, "big") + b"MPF\0MM\0*"
    result, _ = _fetch(tmp_path, jpeg[:2] + mpf + jpeg[2:])
    assert not result.ranged and "MPF" in result.note


def test_unsupported_content_reads_only_the_first_range(tmp_path: Path) -> None:
    result, _ = _fetch(tmp_path, b"%PDF-1.7\n" + bytes(200_000))
    assert result.handler is None and result.bytes_read == FIRST_READ and result.requests == 1


def test_png_is_read_whole(tmp_path: Path) -> None:
    from PIL import Image

    Image.effect_noise((400, 400), 64).convert("RGB").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    assert len(data) > FIRST_READ
    result, _ = _fetch(tmp_path, data)
    assert not result.ranged and result.bytes_read == len(data)


def test_sparse_copy_fetches_only_missing_ranges(tmp_path: Path) -> None:
    src = tmp_path / "s"
    src.write_bytes(bytes(range(256)) * 40)
    with LocalFile(src) as source, (tmp_path / "c").open("w+b") as handle:
        handle.truncate(source.size)
        copy = SparseCopy(source, handle)
        assert copy.read(10, 20) == bytes(range(10, 20))
        assert copy.read(15, 30) == bytes(range(15, 30))
        assert copy.fetched == [(10, 30)] and copy.bytes_read == 20 and copy.requests == 2
        assert copy.missing(0, 40) == [(0, 10), (30, 40)]
        copy.ensure(100, 110, min_fetch=50)
        assert copy.fetched == [(10, 30), (100, 150)]
        assert not copy.complete()
