"""ExifTool's tags, and the one definition of a "leftover": a tag the file's allowlist does not hold.

Each format handler says what its structure and kept items produce (:meth:`.formats.base.FormatHandler.allowlist`,
built from the byte model of the file); everything else ExifTool reports is a leftover. The engine runs this on
every output before accepting it, and the audit runs the same function on every object it scans. Tags come from
ExifTool ``-j -G3:1 -a -n`` (``-u`` and ``-ee`` where the reading asks for them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .allowlist import Allowlist

IGNORED_GROUPS = frozenset({"File", "System", "ExifTool", "Composite", "SourceFile"})
"""Groups that describe the file or ExifTool's own view, not metadata stored in the file."""

ZERO_DATE = "0000:00:00 00:00:00"


@dataclass(frozen=True)
class Tag:
    """One tag as ExifTool reports it: ``[DocN:]Group:Name = value``."""

    doc: str
    group: str
    name: str
    value: Any

    @property
    def location(self) -> str:
        """The group, prefixed with the embedded document when there is one (``Doc2:IFD0``)."""
        return f"{self.doc}:{self.group}" if self.doc else self.group


def parse_exiftool_json(text: str) -> list[list[Tag]]:
    """Parse ``exiftool -j -G3:1`` output, keeping duplicate tags (``-a``) that plain JSON drops."""
    documents = json.loads(text, object_pairs_hook=lambda pairs: pairs)
    return [[tag for key, value in doc if (tag := _tag(key, value)) is not None] for doc in documents]


def _tag(key: str, value: Any) -> Tag | None:
    parts = key.split(":")
    if len(parts) == 1:
        return None  # SourceFile
    doc = ""
    if len(parts) == 3:
        doc, group, name = parts
    else:
        group, name = parts[0], ":".join(parts[1:])
    if doc == "Main":
        doc = ""
    return Tag(doc=doc, group=group, name=name, value=value)


def find_leftovers(tags: Iterable[Tag], allowlist: Allowlist) -> dict[str, list[str]]:
    """Group the tags that should not be there: ``{"GPS": ["GPSLatitude", ...]}``."""
    found: dict[str, list[str]] = {}
    for tag in tags:
        if tag.group not in IGNORED_GROUPS and not allowlist.allows(tag.group, tag.name, tag.value):
            names = found.setdefault(tag.location, [])
            if tag.name not in names:
                names.append(tag.name)
    return found


def count_by_group(tags: Iterable[Tag]) -> dict[str, int]:
    """Tag counts per group, ignoring ExifTool's own and file-system groups."""
    counts: dict[str, int] = {}
    for tag in tags:
        if tag.group not in IGNORED_GROUPS:
            counts[tag.location] = counts.get(tag.location, 0) + 1
    return counts
