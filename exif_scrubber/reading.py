"""ExifTool's reading of a file: the second opinion beside the byte model.

Reads are light: no ``ImageDataHash`` (the engine hashes the image data itself) and no ``-ee`` (the byte
model knows the embedded images); both are full passes over the file in Perl. Unknown tags (``-u``) are
added where a verdict depends on the reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .exiftool_process import ExifToolPool
from .leftovers import Tag, parse_exiftool_json

READ_ARGS = ("-j", "-G3:1", "-a", "-n", "-api", "LargeFileSupport=1", "-all:all", "--System:all")
"""How every file is read: all tags, duplicates included, numeric values."""

_MINOR = re.compile(r"^\[minor\]\s*")
_ABOUT_KEPT_BLOCKS = re.compile(
    r"\b(?:IFD\d*|ExifIFD|EXIF|Exif|GPS|Interop\w*|XMP|ICC\w*|iCCP|eXIf|JFIF|Adobe|APP1|APP2|APP14|Orientation)\b"
)
"""ExifTool warnings about the kinds of block the engine keeps (EXIF, XMP, ICC, JFIF, Adobe): such a warning
means the block is not clean. Other warnings (about image data, maker notes, Perl conversions) are notes."""


@dataclass
class Reading:
    """ExifTool's reading of one file."""

    tags: list[Tag]
    mime_type: str | None
    error: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def block_warnings(self) -> list[str]:
        """The warnings about kinds of block the engine keeps."""
        return [warning for warning in self.warnings if _ABOUT_KEPT_BLOCKS.search(warning)]


def read(
    pool: ExifToolPool,
    path: str,
    *,
    unknown: bool = True,
    extra: tuple[str, ...] = (),
    timeout_s: float | None = None,
) -> Reading:
    """Read ``path`` (a name of the engine's own) with the warm pool."""
    result = pool.execute([*READ_ARGS, *(["-u"] if unknown else []), *extra, path], timeout_s=timeout_s)
    if not result.stdout:
        return Reading(tags=[], mime_type=None, error=first_error(result.stderr))
    documents = parse_exiftool_json(result.stdout)
    tags = documents[0] if documents else []
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for tag in tags:
        if tag.doc:
            continue
        if tag.group == "ExifTool" and tag.name == "Warning":
            warnings.append(_MINOR.sub("", str(tag.value)))
        else:
            values.setdefault(f"{tag.group}:{tag.name}", tag.value)
    error = values.get("ExifTool:Error")
    return Reading(
        tags=tags, mime_type=values.get("File:MIMEType"), error=str(error) if error else None, warnings=warnings
    )


def first_error(stderr: str) -> str:
    """ExifTool's first error line, without the file name it may carry."""
    for line in stderr.splitlines():
        if line.startswith("Error"):
            return line.removeprefix("Error:").split(" - ", 1)[0].strip()
    lines = stderr.strip().splitlines()
    return lines[0].split(" - ", 1)[0] if lines else "no output and no error message"
