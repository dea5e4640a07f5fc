"""HEIF/HEIC and AVIF (ISO base media): item metadata, auxiliary images, box timestamps."""

from __future__ import annotations

from pathlib import Path

from ..leftovers import ZERO_DATE
from ..policy import ScrubPolicy
from .base import FormatHandler, ScrubContext
from .heif_items import (
    EMPTY_XMP,
    HeifItem,
    empty_exif_payload,
    padded_xmp_payload,
    read_layout,
    read_payload,
    write_payload,
)

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_EPOCH = "1904:01:01 00:00:00"
_BOX_DATES = ("CreateDate", "ModifyDate", "TrackCreateDate", "TrackModifyDate", "MediaCreateDate", "MediaModifyDate")
_GAIN_MAP_NAMESPACES = (b"ns.apple.com/HDRGainMap", b"ns.adobe.com/hdr-gain-map")


def _brands(head: bytes) -> set[bytes]:
    if head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(size, len(head))]
    return {box[:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}


class _IsoMediaHandler(FormatHandler):
    """Shared by HEIC and AVIF: ExifTool for the primary item, in-place blanking for the others."""

    compare_frames = False  # ExifTool's ImageDataHash covers every image item and track sample

    def write_args(self, ctx: ScrubContext) -> list[str]:
        args = super().write_args(ctx)
        for tag in ctx.tags:
            in_box = tag.group == "QuickTime" or tag.group.startswith("Track")
            if in_box and tag.name in _BOX_DATES and str(tag.value) != ZERO_DATE:
                arg = f"-QuickTime:{tag.name}={_EPOCH}"
                if arg not in args:
                    args.append(arg)
        return args

    def post_process(self, path: Path, ctx: ScrubContext) -> None:
        """Blank the Exif, XMP and IPTC items of secondary images (ExifTool only writes the primary)."""
        data = bytearray(path.read_bytes())
        layout = read_layout(bytes(data))
        blanked = 0
        for item in layout.items.values():
            if layout.describes_primary(item) or not item.extents:
                continue
            payload = read_payload(bytes(data), item)
            replacement = self._replacement(item, payload, ctx)
            if replacement is not None and replacement != payload:
                write_payload(data, item, replacement)
                blanked += 1
        if blanked:
            path.write_bytes(bytes(data))
            ctx.notes.append(f"blanked metadata of {blanked} secondary/auxiliary item(s) in place")

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        """Walk the item table: a truncated or inconsistent file raises ``HeifStructureError``."""
        read_layout(path.read_bytes())
        return {}

    def _replacement(self, item: HeifItem, payload: bytes, ctx: ScrubContext) -> bytes | None:
        if item.is_exif:
            return empty_exif_payload(payload)
        if item.is_xmp:
            if any(ns in payload for ns in _GAIN_MAP_NAMESPACES):
                return padded_xmp_payload(self._gain_map_xmp(item, payload, ctx), len(payload))
            return padded_xmp_payload(EMPTY_XMP, len(payload))
        if item.item_type == "iptc":
            return bytes(len(payload))
        return None

    def _gain_map_xmp(self, item: HeifItem, payload: bytes, ctx: ScrubContext) -> bytes:
        """Keep only the gain-map rendering parameters of an auxiliary image's XMP."""
        source = ctx.work_dir / f"item{item.item_id}.xmp"
        target = ctx.work_dir / f"item{item.item_id}.clean.xmp"
        source.write_bytes(payload)
        ctx.run_exiftool(
            [
                "-q",
                "-tagsFromFile",
                str(source),
                "-XMP-HDRGainMap:all",
                "-XMP-apdi:all",
                "-XMP-hdrgm:all",
                "-o",
                str(target),
                str(source),
            ]
        )
        if not target.exists():
            return EMPTY_XMP
        return target.read_bytes()


class HeicHandler(_IsoMediaHandler):
    """HEIC/HEIF still images and collections."""

    name = "HEIC"
    mime_type = "image/heic"
    extension = "heic"
    mime_types = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
    pillow_formats = frozenset({"HEIF"})

    @classmethod
    def matches(cls, head: bytes) -> bool:
        brands = _brands(head)
        return bool(brands & _HEIC_BRANDS) and not brands & _AVIF_BRANDS


class AvifHandler(_IsoMediaHandler):
    """AVIF still images and AVIF sequences."""

    name = "AVIF"
    mime_type = "image/avif"
    extension = "avif"
    mime_types = frozenset({"image/avif", "image/avif-sequence"})
    pillow_formats = frozenset({"AVIF", "HEIF"})

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return bool(_brands(head) & _AVIF_BRANDS)
