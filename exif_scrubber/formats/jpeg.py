"""JPEG (and MPO): APPn segments, comments, trailers and MPF secondary images."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import StructureError
from ..policy import ScrubPolicy
from .base import FormatHandler, ScrubContext, cut_trailing_bytes

_KEPT_APP = {
    (0, b"JFIF\0"),
    (1, b"Exif\0"),
    (1, b"http://ns.adobe.com/xap/1.0/\0"),  # XMP: its tags are checked one by one against the policy
    (2, b"ICC_PROFILE\0"),
    (14, b"Adobe"),
}
_MPF_TYPES = {
    0x010001: "baseline primary image",
    0x010002: "large thumbnail (VGA)",
    0x010003: "large thumbnail (full HD)",
    0x020001: "panorama frame",
    0x020002: "stereo disparity view",
    0x020003: "multi-angle view",
    0x030000: "baseline primary image",
    0x000000: "undefined (e.g. gain map)",
}


class JpegStructureError(StructureError):
    """The marker structure of the JPEG cannot be followed."""


def walk_segments(data: bytes, junk: list[tuple[int, int]] | None = None) -> tuple[list[tuple[int, bytes]], int]:
    """Return the (marker, first bytes) of every APPn/COM segment and the offset just past EOI.

    Extraneous bytes between segments are skipped as decoders do; their ranges go to ``junk``.
    """
    if data[:2] != b"\xff\xd8":
        raise JpegStructureError("no SOI marker")
    segments: list[tuple[int, bytes]] = []
    pos = 2
    size = len(data)
    while pos < size:
        if data[pos] != 0xFF:
            # Extraneous bytes between segments: decoders skip to the next marker, and so do we.
            resync = data.find(b"\xff", pos)
            if resync < 0:
                raise JpegStructureError("JPEG EOI marker not found")
            if junk is not None:
                junk.append((pos, resync))
            pos = resync
            continue
        marker = data[pos + 1] if pos + 1 < size else -1
        if marker == 0xFF:
            pos += 1  # fill byte
            continue
        if marker == 0xD9:
            return segments, pos + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > size:
            raise JpegStructureError("truncated segment header")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        body = data[pos + 4 : pos + 2 + length]
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            segments.append((marker, body[:32]))
        pos += 2 + length
        if marker == 0xDA:
            pos = _skip_entropy_data(data, pos)
    raise JpegStructureError("JPEG EOI marker not found")


_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""In entropy-coded data, 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF (fill): anything else is a marker."""


def _skip_entropy_data(data: bytes, pos: int) -> int:
    found = _NEXT_MARKER.search(data, pos)
    if found is None:
        raise JpegStructureError("JPEG EOI marker not found")
    return found.start()


class JpegHandler(FormatHandler):
    """Baseline, progressive and arithmetic JPEG; MPO multi-picture files."""

    name = "JPEG"
    mime_type = "image/jpeg"
    extension = "jpg"
    mime_types = frozenset({"image/jpeg", "image/mpo"})
    pillow_formats = frozenset({"JPEG", "MPO"})
    kept_groups = ("JFIF",)  # density and aspect ratio only; ExifTool already keeps Adobe APP14
    compare_frames = False  # MPF secondary images are dropped; the primary is covered by ImageDataHash

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:3] == b"\xff\xd8\xff"

    def write_args(self, ctx: ScrubContext) -> list[str]:
        args = super().write_args(ctx)
        if ctx.has("JFXX"):  # a JFIF extension thumbnail goes only with the whole JFIF group
            args.remove("--JFIF:all")
        ctx.dropped_images = secondary_images(ctx)
        if ctx.dropped_images:
            ctx.notes.append(
                "dropped MPF secondary image(s): "
                + ", ".join(ctx.dropped_images)
                + " (their own EXIF cannot be cleaned in place)"
            )
        return args

    def prepare(self, source: Path, ctx: ScrubContext) -> Path:
        """Drop junk bytes between segments (outside the image data), which ExifTool would keep
        in a place that makes its own output unreadable."""
        data = source.read_bytes()
        junk: list[tuple[int, int]] = []
        walk_segments(data, junk)
        if not junk:
            return source
        kept, pos = [], 0
        for start, end in junk:
            kept.append(data[pos:start])
            pos = end
        kept.append(data[pos:])
        prepared = source.with_name("prepared." + self.extension)
        prepared.write_bytes(b"".join(kept))
        ctx.notes.append(f"removed {sum(e - s for s, e in junk)} junk bytes between JPEG segments")
        return prepared

    def post_process(self, path: Path, ctx: ScrubContext) -> None:
        """Cut anything ExifTool left after the EOI marker (unknown trailers, padding)."""
        _, end = walk_segments(path.read_bytes())
        cut_trailing_bytes(path, end, ctx, "the JPEG EOI marker")

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        kept = {(n, sig) for n, sig in _KEPT_APP if not (policy.strip_icc and n == 2)}
        if policy.keep_c2pa:
            kept.add((11, b"JP"))
        if policy.keep_copyright:  # IPTC copyright lives in the Photoshop IRB; its tags are checked one by one
            kept.add((13, b"Photoshop 3.0\0"))
        data = path.read_bytes()
        segments, end = walk_segments(data)
        found: list[str] = []
        for marker, head in segments:
            if marker == 0xFE:
                found.append("COM")
                continue
            number = marker - 0xE0
            if not any(number == n and head.startswith(sig) for n, sig in kept):
                label = head.split(b"\0", 1)[0][:12].decode("latin-1", "replace")
                found.append(f"APP{number}({label})")
        if data[end:].strip(b"\0"):
            found.append(f"Trailer({len(data) - end} bytes)")
        return {"JPEG": found} if found else {}


def secondary_images(ctx: ScrubContext) -> list[str]:
    """Describe the MPF images after the first one (they are removed with the MPF trailer)."""
    described = []
    for tag in ctx.tags:
        if tag.group.startswith("MPImage") and tag.name == "MPImageType" and tag.group != "MPImage1":
            kind = _MPF_TYPES.get(int(tag.value) & 0xFFFFFF, f"type 0x{int(tag.value):06x}")
            described.append(f"{tag.group} ({kind})")
    return described
