"""Ranged reads: the format's own walker decides what is read (everything but image data), exact equality
with full reads on the real corpus (uploaded to moto), and the formats and cases that are read whole."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from exif_scrubber.audit.fetch import FIRST_READ, SMALL_OBJECT, LocalFile, SparseCopy, fetch
from exif_scrubber.audit.listing import list_local, list_s3
from exif_scrubber.audit.scan import Auditor

from exif_scrubber import Scrubber, ScrubPolicy

from .conftest import BUCKET, CORPUS, GPS_TAGS, exiftool_write, make_jpeg

IMAGE_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
    ".avifs",
    ".mpo",
    ".HEIC",
}


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
    assert sum(r.ranged for r in ranged) >= 5
    assert {r.format for r in ranged if r.ranged} <= {"HEIC", "AVIF", "TIFF", "WEBP", "PNG"}
    assert sum(r.bytes_read for r in ranged) < sum(r.bytes_read for r in full)
    leaking = [r for r in full if r.status.value == "leaking"]
    assert len(leaking) > 100


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS} (../shared/corpus)")
def test_audit_reads_like_the_engine_scan(tmp_path: Path) -> None:
    """The audit's verdict is the engine's (the Lambda's): same byte check, same ExifTool reading."""
    path = CORPUS / "exif-samples__gps_DSCN0010.jpg"
    folder = tmp_path / "bucket"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(path.read_bytes())
    with Scrubber(ScrubPolicy(), pool_size=1) as scrubber:
        expected = scrubber.scan(path)
    with Scrubber(ScrubPolicy(), pool_size=1) as scrubber, Auditor(scrubber) as auditor:
        [result] = list(auditor.audit_all(list_local(folder), max_workers=1))
    assert (result.leftovers, result.error) == (expected.leftovers, expected.error)
    assert "GPS" in result.leftovers and "JPEG" in result.leftovers


def _fetch(tmp_path: Path, data: bytes) -> tuple[Any, Path]:
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with LocalFile(src) as source:
        return fetch(source, tmp_path / "copy.bin"), src


def test_jpeg_is_read_whole_because_markers_hide_in_the_scan_data(tmp_path: Path) -> None:
    """A COM segment between two scans sits inside what a head-and-tail read would skip."""
    data = make_jpeg(tmp_path / "a.jpg", (800, 600), noise=True).read_bytes()
    assert len(data) > 500_000
    result, _ = _fetch(tmp_path, data)
    assert not result.ranged and result.handler.name == "JPEG" and result.bytes_read == len(data)
    assert result.requests == 2 and "inside its image data" in result.note
    assert (tmp_path / "copy.bin").read_bytes() == data


def test_unsupported_content_reads_only_the_first_range(tmp_path: Path) -> None:
    result, _ = _fetch(tmp_path, b"%PDF-1.7\n" + bytes(200_000))
    assert result.handler is None and result.bytes_read == FIRST_READ and result.requests == 1
    result, _ = _fetch(tmp_path, b"II\x1a\0\0\0HEAPCCDR" + bytes(400_000))  # a raw camera file: unsupported too
    assert result.handler is None and result.bytes_read == FIRST_READ


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


LONG_XMP = ("-XMP-dc:Description=" + "long text " * 8000, "-XMP-dc:Creator=Someone")
"""An XMP packet longer than any read of a structure walk: only the ranged reads bring its end."""


def _png(idat_chunks: int, *, text_after: bool = True) -> bytes:
    """A 512x512 noise PNG whose image data is split in ``idat_chunks`` IDAT chunks, then a tEXt
    and a long XMP packet."""
    rng = random.Random(7)
    raw = b"".join(b"\0" + rng.randbytes(512 * 3) for _ in range(512))
    packed = zlib.compress(raw, 1)
    step = -(-len(packed) // idat_chunks)
    ihdr = struct.pack(">IIBBBBB", 512, 512, 8, 2, 0, 0, 0)
    idats = b"".join(_png_chunk(b"IDAT", packed[i : i + step]) for i in range(0, len(packed), step))
    text = b""
    if text_after:
        packet = (
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        )
        packet += b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="' + b"x" * 80_000
        packet += b'" dc:source="secret"/></rdf:RDF></x:xmpmeta>'
        text = _png_chunk(b"tEXt", b"Author\0Someone") + _png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + packet)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + idats + text + _png_chunk(b"IEND", b"")


def _scan_both(tmp_path: Path, scrubber: Scrubber, data: bytes, suffix: str) -> tuple[Any, Any, Any]:
    """Fetch ``data`` ranged, then scan the sparse copy and the whole file the audit's way."""
    result, src = _fetch(tmp_path, data)
    sparse = (tmp_path / "copy.bin").rename(tmp_path / f"copy.{suffix}")
    whole = src.rename(tmp_path / f"whole.{suffix}")
    return (result, scrubber.scan(sparse, copy=False, complete=not result.ranged), scrubber.scan(whole, copy=False))


def test_png_skips_large_idat_and_keeps_text_after_it(tmp_path: Path, scrubber: Scrubber) -> None:
    data = _png(1)
    assert len(data) > SMALL_OBJECT
    result, sparse, whole = _scan_both(tmp_path, scrubber, data, "png")
    assert result.ranged and result.bytes_read < len(data) // 4
    assert sparse.leftovers == whole.leftovers and sparse.error == whole.error is None
    assert whole.leftovers == {
        "PNG-chunks": ["tEXt", "iTXt XMP"],
        "PNG": ["Author"],
        "XMP-dc": ["Format", "Source"],
        "ExifTool-warnings": ["Text/EXIF chunk(s) found after PNG IDAT (may be ignored by some readers) [x2]"],
    }


def test_png_with_many_idat_chunks_is_read_whole(tmp_path: Path) -> None:
    data = _png(64)
    result, _ = _fetch(tmp_path, data)
    assert not result.ranged and result.bytes_read == len(data) and "too many requests" in result.note


def test_small_png_is_read_whole(tmp_path: Path) -> None:
    from PIL import Image

    Image.effect_noise((200, 200), 64).convert("RGB").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    assert FIRST_READ < len(data) < SMALL_OBJECT
    result, _ = _fetch(tmp_path, data)
    assert not result.ranged and result.bytes_read == len(data) and "small object" in result.note


def _webp(tmp_path: Path) -> bytes:
    from PIL import Image

    rng = random.Random(3)
    Image.frombytes("RGB", (600, 600), rng.randbytes(600 * 600 * 3)).save(tmp_path / "n.webp", quality=100)
    path = tmp_path / "n.webp"
    exiftool_write(path, *GPS_TAGS, *LONG_XMP)
    return path.read_bytes()


def test_webp_skips_the_bitstream_and_reads_exif_and_xmp_after_it(tmp_path: Path, scrubber: Scrubber) -> None:
    data = _webp(tmp_path)
    assert len(data) > SMALL_OBJECT and data.index(b"EXIF") > data.index(b"VP8 ")
    result, sparse, whole = _scan_both(tmp_path, scrubber, data, "webp")
    assert result.ranged and result.bytes_read < len(data) // 4
    assert sparse.leftovers == whole.leftovers and sparse.error == whole.error is None
    assert "GPS" in whole.leftovers and "XMP-dc" in whole.leftovers


def _tiff(tmp_path: Path, *tags: str) -> bytes:
    from PIL import Image

    rng = random.Random(5)
    path = tmp_path / "t.tif"
    Image.frombytes("RGB", (400, 400), rng.randbytes(400 * 400 * 3)).save(path)
    if tags:
        exiftool_write(path, *tags)
    return path.read_bytes()


def test_tiff_skips_strips_and_reads_metadata_wherever_it_is(tmp_path: Path, scrubber: Scrubber) -> None:
    data = _tiff(tmp_path, *GPS_TAGS, "-IFD0:Artist=Someone", *LONG_XMP)
    result, sparse, whole = _scan_both(tmp_path, scrubber, data, "tif")
    assert result.ranged and result.bytes_read < len(data) // 4
    assert sparse.leftovers == whole.leftovers and sparse.error == whole.error is None
    assert {"GPS", "IFD0", "XMP-dc"} <= set(whole.leftovers)


def _patch_ifd0(data: bytes, extra: bytes) -> bytes:
    """Append one 12-byte entry (sorted last) to IFD0 of a little-endian TIFF, moving IFD0 to the end."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    (count,) = struct.unpack_from("<H", data, ifd)
    entries = data[ifd + 2 : ifd + 2 + 12 * count]
    new_ifd = len(data) + (len(data) & 1)
    body = struct.pack("<H", count + 1) + entries + extra + b"\0\0\0\0"
    return data[:4] + struct.pack("<I", new_ifd) + data[8:] + b"\0" * (new_ifd - len(data)) + body


@pytest.mark.parametrize(
    ("entry", "finding"),
    [
        (struct.pack("<HHII", 0xC000, 4, 1, 12345), "IFD0 tag 0xC000"),  # a private tag (maybe an offset)
        (struct.pack("<HHI4s", 0x927C, 7, 4, b"abcd"), "IFD0 maker notes"),
        (struct.pack("<HHI4s", 0x014D, 2, 4, b"Ink\0"), "IFD0 InkNames"),
    ],
)
def test_tiff_tags_the_walker_does_not_keep_are_found_by_a_ranged_read(
    tmp_path: Path, scrubber: Scrubber, entry: bytes, finding: str
) -> None:
    data = _patch_ifd0(_tiff(tmp_path), entry)
    result, sparse, whole = _scan_both(tmp_path, scrubber, data, "tif")
    assert result.ranged and result.bytes_read < len(data) // 4
    assert sparse.leftovers == whole.leftovers and finding in whole.leftovers["TIFF"]


def test_a_tiff_value_inside_image_data_is_image_data_for_the_walker(tmp_path: Path, scrubber: Scrubber) -> None:
    """An ImageDescription pointing into the strips: its entry is metadata, its bytes are pixels."""
    data = _tiff(tmp_path)
    data = _patch_ifd0(data, struct.pack("<HHII", 0x010E, 2, 40, len(data) // 2))
    result, sparse, whole = _scan_both(tmp_path, scrubber, data, "tif")
    assert result.ranged and "IFD0 ImageDescription" in whole.leftovers["TIFF"]
    assert set(sparse.leftovers) == set(whole.leftovers)


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
