"""The one interface every supported format implements (one module per format, as in mat2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..leftovers import Tag
from ..policy import ScrubPolicy

ORIENTATION_GROUPS = ("IFD0", "XMP-tiff")
"""Where an Orientation can live; each is kept where it was."""

RunExifTool = Callable[[Sequence[str]], str]
"""Runs one ExifTool command on the engine's warm process and returns its stdout."""


@dataclass
class ScrubContext:
    """What a format handler may look at while building its ExifTool arguments."""

    policy: ScrubPolicy
    tags: list[Tag]
    work_dir: Path
    run_exiftool: RunExifTool
    notes: list[str] = field(default_factory=list)
    dropped_images: list[str] = field(default_factory=list)
    """Secondary images the format's recipe removes whole (reported as a loss)."""

    def value(self, group: str, name: str) -> object | None:
        """The value of a tag of the main document, or None."""
        return next((t.value for t in self.tags if t.group == group and t.name == name and not t.doc), None)

    def orientation_args(self) -> list[str]:
        """Write the Orientation back exactly where it was (EXIF IFD0 and/or XMP tiff), with its value."""
        args = []
        for group in ORIENTATION_GROUPS:
            value = self.value(group, "Orientation")
            if isinstance(value, int) and 1 <= value <= 8:
                args.append(f"-{group}:Orientation#={value}")
        return args

    def has(self, group: str, name: str | None = None) -> bool:
        """True when the input has a tag of ``group`` (and ``name``) in its main document."""
        return any(t.group == group and (name is None or t.name == name) and not t.doc for t in self.tags)


def cut_trailing_bytes(path: Path, end: int, ctx: ScrubContext, where: str) -> None:
    """Drop whatever follows the format's end marker (unknown trailers, hidden data), noting how much."""
    size = path.stat().st_size
    if end < size:
        ctx.notes.append(f"removed {size - end} bytes after {where}")
        with path.open("r+b") as handle:
            handle.truncate(end)


class FormatHandler:
    """How one container format is recognised, scrubbed and checked."""

    name: ClassVar[str]
    mime_type: ClassVar[str]
    extension: ClassVar[str]
    """Extension of the engine's own temp file (ExifTool picks its writer from it)."""
    mime_types: ClassVar[frozenset[str]]
    """``File:MIMEType`` values ExifTool may report for this format."""
    pillow_formats: ClassVar[frozenset[str]]
    is_tiff: ClassVar[bool] = False
    kept_groups: ClassVar[tuple[str, ...]] = ()
    """Groups excluded from ``-all=`` because they carry no metadata and matter to decoders."""
    compare_frames: ClassVar[bool] = True
    """Decode and compare every frame of small multi-frame files (beyond ImageDataHash)."""
    keeps_orientation_in_exif: ClassVar[bool] = True

    @classmethod
    def matches(cls, head: bytes) -> bool:
        """True when the first bytes of a file are this format's signature."""
        raise NotImplementedError

    def refusal(self, head: bytes) -> str | None:
        """A reason to refuse a variant of the format that cannot be written losslessly."""
        return None

    def write_args(self, ctx: ScrubContext) -> list[str]:
        """ExifTool arguments of the main pass (file names are added by the engine)."""
        args = ["-all=", *(f"--{group}:all" for group in self.kept_groups)]
        if not ctx.policy.strip_icc:
            args.append("--ICC_Profile:all")
        if ctx.policy.keep_c2pa:
            args.append("--JUMBF:all")
        args += self._colour_args(ctx)
        copy = self._copy_back(ctx)
        if copy:
            args += ["-tagsFromFile", "@", *copy]
        if self.keeps_orientation_in_exif:
            args += ctx.orientation_args()
        return args

    def _colour_args(self, ctx: ScrubContext) -> list[str]:
        """Write back the EXIF colour-space tags with the values read (no second parse of the source)."""
        args = []
        for group, name in (("ExifIFD", "ColorSpace"), ("ExifIFD", "Gamma"), ("InteropIFD", "InteropIndex")):
            value = ctx.value(group, name)
            if isinstance(value, (int, float)) or (isinstance(value, str) and value.isalnum()):
                args.append(f"-{group}:{name}#={value}")
        return args

    def _copy_back(self, ctx: ScrubContext) -> list[str]:
        """Tags copied from the original after ``-all=``: on request, the copyright fields."""
        copy = []
        if ctx.policy.keep_copyright:
            copy += [
                "-EXIF:Copyright",
                "-EXIF:Artist",
                "-IPTC:CopyrightNotice",
                "-IPTC:By-line",
                "-IPTC:Credit",
                "-XMP-dc:Rights",
                "-XMP-dc:Creator",
                "-XMP-photoshop:Credit",
                "-XMP-xmpRights:all",
            ]
        return copy

    def targeted_args(self, leftovers: dict[str, list[str]]) -> list[str]:
        """Arguments of a second pass that deletes named leftovers one by one."""
        args = []
        for location, names in leftovers.items():
            if ":" in location:
                continue  # inside an embedded document: not addressable by tag name
            args += [f"-{location}:{name}=" for name in names]
        return args

    def prepare(self, source: Path, ctx: ScrubContext) -> Path:
        """Repair-free normalisation of the input before ExifTool writes it; returns the file to use."""
        return source

    def post_process(self, path: Path, ctx: ScrubContext) -> None:
        """Format-specific work after ExifTool wrote ``path`` (in place, same length)."""

    def image_data_hash(self, path: Path) -> str | None:
        """An own hash of the image data, for formats where ExifTool has no ImageDataHash."""
        return None

    def structure_leftovers(self, path: Path, policy: ScrubPolicy) -> dict[str, list[str]]:
        """Leftovers found by walking the container directly, as a second opinion to ExifTool."""
        return {}
