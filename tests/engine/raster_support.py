"""Shared checks of the PNG/APNG, GIF, WebP and TIFF tests, judged by independent readers, not by the engine's report.

* every frame (page, animation frame) decoded by Pillow, input against output;
* ExifTool's own read (``-a -G1 -u -ee``) of the output, searched for a planted token;
* the output's raw bytes, searched for the token.
"""

from __future__ import annotations

import secrets
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

from PIL import Image

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.reading import read


def token() -> bytes:
    return b"TOKEN-" + secrets.token_hex(8).encode()


def frames(path: Path) -> list[tuple[str, tuple[int, int], bytes]]:
    """Every frame or page Pillow decodes, as (mode, size, RGBA pixels)."""
    decoded = []
    with warnings.catch_warnings(), Image.open(path) as image:
        warnings.simplefilter("ignore")
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            decoded.append((image.mode, image.size, image.convert("RGBA").tobytes()))
    return decoded


def exiftool_finds(scrubber: Scrubber, path: Path, secret: bytes) -> list[str]:
    """The tags of ExifTool's independent read (``-a -G1 -u -ee``) whose value holds the token."""
    reading = read(scrubber.pool, str(path), extra=("-ee",))
    text = secret[6:].decode()
    return [f"{t.group}:{t.name}" for t in reading.tags if text in str(t.value)]


def assert_cleaned_without(scrubber: Scrubber, source: Path, target: Path, secret: bytes) -> bytes:
    """``source`` is reported not clean, is cleaned into ``target`` without the token (raw bytes and ExifTool),
    and every frame decodes as before. Returns the output's bytes."""
    assert not scrubber.scan(source).clean, "the audit's scan must see the hiding place"
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    data = target.read_bytes()
    assert secret[:12] not in data and secret[6:] not in data
    assert scrubber.scan(target).clean
    assert not exiftool_finds(scrubber, target, secret)
    assert frames(source) == frames(target)
    return data


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG."""
    found, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def png_build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(kind, body) for kind, body in chunks)


def peak_rss_mib(code: str, *args: str) -> tuple[int, str]:
    """Run ``code`` in a fresh Python and return its peak resident memory (MiB) and its output. The peak is the
    kernel's ``VmHWM`` of the new program (``ru_maxrss`` would carry the test process's peak across the exec)."""
    peak = "import re\nprint('RSS', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
    script = textwrap.dedent(code) + "\n" + peak
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True, timeout=600
    )
    lines = result.stdout.strip().splitlines()
    rss = int(lines[-1].split()[1]) // 1024
    return rss, "\n".join(lines[:-1])
