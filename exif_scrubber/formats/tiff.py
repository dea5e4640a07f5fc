"""TIFF: IFD0 descriptive tags, GeoTIFF keys, Photoshop layers; BigTIFF is refused."""

from __future__ import annotations

from .base import FormatHandler, ScrubContext

_GEOTIFF_CARRIERS = [
    "-IFD0:GeoTiffDirectory=",
    "-IFD0:GeoTiffDoubleParams=",
    "-IFD0:GeoTiffAsciiParams=",
    "-IFD0:ModelTiePoint=",
    "-IFD0:ModelPixelScale=",
    "-IFD0:ModelTransform=",
]


class TiffHandler(FormatHandler):
    """Classic TIFF (single and multi-page)."""

    name = "TIFF"
    mime_type = "image/tiff"
    extension = "tif"
    mime_types = frozenset({"image/tiff"})
    pillow_formats = frozenset({"TIFF"})
    is_tiff = True

    @classmethod
    def matches(cls, head: bytes) -> bool:
        return head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")

    def refusal(self, head: bytes) -> str | None:
        if head[:4] in (b"II+\0", b"MM\0+"):
            return "BigTIFF cannot be rewritten by ExifTool, so its metadata cannot be removed losslessly"
        return None

    def write_args(self, ctx: ScrubContext) -> list[str]:
        # -all= cannot drop IFD0 of a TIFF (it holds the image): its descriptive tags go one by one.
        args = [*super().write_args(ctx), "-CommonIFD0="]
        if ctx.has("GeoTiff") or any(t.group == "IFD0" and t.name.startswith("Model") for t in ctx.tags):
            args += _GEOTIFF_CARRIERS
        return args

    def targeted_args(self, leftovers: dict[str, list[str]]) -> list[str]:
        args = []
        for location, names in leftovers.items():
            if location == "GeoTiff":
                args += _GEOTIFF_CARRIERS
            elif location == "Photoshop":
                args += ["-IFD0:ImageSourceData=", "-IFD0:PhotoshopSettings="]
            elif ":" not in location:
                args += [f"-{location}:{name}=" for name in names]
        return args
