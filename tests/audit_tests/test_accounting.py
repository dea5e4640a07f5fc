"""Judged by accounting, not by equality with the engine's output (issue 20).

Photos another tool scrubbed (``exiftool -all= -tagsfromfile @ -orientation``) keep an EXIF block with Orientation
and the resolution tags ExifTool adds, written ExifTool's way: nothing personal, every byte accounted for. The
audit calls them clean with the note ``non-canonical`` (``--fail-on non-canonical`` fails them); the engine still
rewrites them to its own form. A block of the same kind that holds one more field, or bytes nothing points at, is
still reported.
"""

from __future__ import annotations

import io
import json
import secrets
import struct
from pathlib import Path

from PIL import Image

from exif_scrubber import Outcome, Scrubber

from .conftest import GPS_TAGS, exiftool_write, make_jpeg
from .test_cli import run


def third_party_clean(folder: Path) -> list[Path]:
    """A JPEG, a WebP and an MPO with GPS and a camera, then scrubbed by ExifTool keeping the orientation."""
    made = []
    jpeg = make_jpeg(folder / "photo.jpg")
    webp = folder / "photo.webp"
    Image.new("RGB", (48, 32), (10, 80, 160)).save(webp, "WEBP", quality=80)
    mpo = folder / "pair.mpo"
    left, right = Image.new("RGB", (48, 32), (200, 10, 10)), Image.new("RGB", (48, 32), (10, 200, 10))
    left.save(mpo, "MPO", save_all=True, append_images=[right])
    for path in (jpeg, webp, mpo):
        exiftool_write(path, *GPS_TAGS, "-Make=Cam", "-Model=X1", "-Orientation#=6", "-XResolution=300")
        exiftool_write(path, "-all=", "-tagsfromfile", "@", "-orientation")
        made.append(path)
    return made


def audit(folder: Path, *extra: str) -> tuple[int, dict[str, dict[str, object]]]:
    code, out, _ = run(str(folder), "--format", "json", *extra)
    return code, {Path(str(row["key"])).name: row for row in json.loads(out)["objects"]}


def test_a_bucket_another_tool_scrubbed_is_clean_and_noted(tmp_path: Path) -> None:
    """ExifTool writes the JPEG's and the MPO's block as the engine would (big-endian, tag order: canonical); the
    WebP's with its own ``ExifMeta`` filler before IFD0: harmless, noted."""
    third_party_clean(tmp_path)
    code, rows = audit(tmp_path)
    assert code == 0, rows
    for name, row in rows.items():
        assert row["status"] == "clean" and row["leftovers"] == {}, (name, row)
    assert rows["photo.webp"]["noncanonical"] == ["EXIF"]
    code, _ = audit(tmp_path, "--fail-on", "non-canonical")
    assert code == 1


def test_the_engine_still_rewrites_them_to_its_own_form(tmp_path: Path) -> None:
    source = third_party_clean(tmp_path)[1]
    with Scrubber() as scrubber:
        report = scrubber.scrub_file(source, tmp_path / "out.webp")
        assert report.outcome is Outcome.CLEANED, report.reason
        assert scrubber.scan(tmp_path / "out.webp").noncanonical == []
        assert Image.open(tmp_path / "out.webp").getexif()[0x0112] == 6


def exif_block(entries: list[tuple[int, int, int, bytes]], tail: bytes = b"") -> bytes:
    """A little-endian EXIF APP1 payload with IFD0 ``entries`` (inline values only) and ``tail`` after it."""
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
    return b"Exif\0\0II*\0" + struct.pack("<I", 8) + body + b"\0\0\0\0" + tail


def jpeg_with(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, "JPEG")
    data = buffer.getvalue()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def test_a_block_with_one_more_field_or_hidden_bytes_is_still_reported(tmp_path: Path) -> None:
    orientation = (0x0112, 3, 1, struct.pack("<H", 6))
    token = secrets.token_hex(8).encode()
    (tmp_path / "harmless.jpg").write_bytes(jpeg_with(exif_block([orientation])))
    (tmp_path / "hidden.jpg").write_bytes(jpeg_with(exif_block([orientation], tail=token)))
    (tmp_path / "field.jpg").write_bytes(jpeg_with(exif_block([orientation, (0xA420, 2, 4, b"ab1\0")])))
    code, rows = audit(tmp_path)
    assert code == 1
    assert rows["harmless.jpg"]["status"] == "clean" and rows["harmless.jpg"]["noncanonical"] == ["APP1 EXIF"]
    for name in ("hidden.jpg", "field.jpg"):
        assert rows[name]["status"] == "leaking", rows[name]
        assert rows[name]["noncanonical"] == [], name
