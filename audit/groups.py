"""What ``--fail-on`` accepts and how a name matches an object's leftovers.

A name is one of:

* a pseudo-group: ``leaking`` (anything left), ``unreadable``, ``unsupported``, ``skipped``, ``non-canonical`` (a
  clean object whose kept items are not in the engine's own form);
* a category of findings, as the reports name them (``location``, ``people``, ``device``, ``dates``, ...);
* a documented family (``FAMILIES``): ``EXIF``, ``GPS``, ``MakerNotes``, ``Comment``, ``Trailer``, ...;
* an ExifTool family-1 group (``exiftool -listg1``) or the engine's structure groups, matched as a prefix:
  ``XMP`` matches ``XMP-dc``, ``IFD`` matches ``IFD0``.

A name that can match nothing is refused (exit 2) rather than silently failing no object: a typo must not
turn a CI gate off.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from exif_scrubber.findings import MAKERNOTE_GROUPS, WARNINGS_GROUP, Category
from exif_scrubber.formats import HANDLERS

from .exiftool_groups import FAMILY1

PSEUDO_GROUPS = ("leaking", "unreadable", "unsupported", "skipped", "non-canonical")
CATEGORIES = {category.short: category for category in Category}
"""The categories the reports show, by their one-word names: ``--fail-on location,people``."""

STRUCTURE_GROUPS = frozenset({handler.leftover_group for handler in HANDLERS} | {WARNINGS_GROUP})
"""Leftover groups of the engine's byte model (segments, chunks, boxes, tags, trailers), one per format, and
ExifTool's warnings about blocks the engine keeps."""


_EXIF_IFD = re.compile(r"(?:IFD\d+|SubIFD\d*|ExifIFD|GPS|InteropIFD|GlobParamIFD|MakerNotes)", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:Sub)?IFD\d+", re.IGNORECASE)
_NUMBERED_GROUPS = tuple(
    re.compile(re.escape(name).replace(r"\#", r"\d+"), re.IGNORECASE) for name in FAMILY1 if "#" in name
)
"""ExifTool's ``Track#``, ``IPTC#``, ... : the ``#`` is a number."""

Matcher = Callable[[str, Sequence[str]], bool]
"""``matcher(group, tag_names)``: True when the family covers this leftover group."""


def _exif(group: str, names: Sequence[str]) -> bool:
    return bool(_EXIF_IFD.fullmatch(group)) or group in MAKERNOTE_GROUPS


def _gps(group: str, names: Sequence[str]) -> bool:
    return group.upper() == "GPS" or any(name.startswith("GPS") for name in names)


def _makernotes(group: str, names: Sequence[str]) -> bool:
    return group in MAKERNOTE_GROUPS or group.lower().startswith("makernotes")


def _comment(group: str, names: Sequence[str]) -> bool:
    return any("comment" in name.lower() or name.startswith("COM") for name in names)


def _trailer(group: str, names: Sequence[str]) -> bool:
    return group.lower() == "trailer" or any(name.startswith(("Trailer", "bytes after")) for name in names)


@dataclass(frozen=True)
class Family:
    """A documented ``--fail-on`` name that is not (only) an ExifTool group."""

    name: str
    description: str
    matches: Matcher


FAMILIES: Mapping[str, Family] = {
    family.name.lower(): family
    for family in (
        Family("EXIF", "EXIF/TIFF IFDs (IFD0, ExifIFD, SubIFD, InteropIFD), GPS and maker notes", _exif),
        Family("GPS", "the GPS IFD and any GPS* tag in another group (XMP-exif, QuickTime, ...)", _gps),
        Family("MakerNotes", "every vendor's maker-note group (Canon, Nikon, Apple, ...)", _makernotes),
        Family("Comment", "any comment: JPEG COM, UserComment, XPComment, PNG/GIF comments", _comment),
        Family("Trailer", "bytes after the image's end (JPEG/GIF trailers, appended files)", _trailer),
    )
}


def _prefix_match(pattern: str, group: str) -> bool:
    """Exact (case-insensitive) or a family prefix: ``XMP`` matches ``XMP-dc``, ``IFD`` matches ``IFD0``."""
    p, g = pattern.lower(), group.lower()
    return g == p or (g.startswith(p) and not g[len(p)].isalpha())


def matches(pattern: str, group: str, names: Sequence[str] = ()) -> bool:
    """Whether ``--fail-on`` name ``pattern`` covers the leftover ``group`` holding ``names``."""
    family = FAMILIES.get(pattern.lower())
    if family is not None and family.matches(group, names):
        return True
    return _prefix_match(pattern, group)


def _vocabulary() -> frozenset[str]:
    return frozenset(g.partition("#")[0] for g in FAMILY1) | STRUCTURE_GROUPS | MAKERNOTE_GROUPS


def is_known(name: str) -> bool:
    """True when ``name`` can match something: a pseudo-group, a family, or a prefix of a known group."""
    lowered = name.lower()
    if lowered in PSEUDO_GROUPS or lowered in CATEGORIES or lowered in FAMILIES or _NUMBERED.fullmatch(name):
        return True
    if any(pattern.fullmatch(name) for pattern in _NUMBERED_GROUPS):
        return True
    vocabulary = _vocabulary()
    if any(_prefix_match(name, group) for group in vocabulary):
        return True
    # ExifTool names unknown XMP namespaces (and ICC tags) dynamically: XMP-<prefix>, ICC-<tag>.
    head, dash, tail = name.partition("-")
    return bool(dash and tail and any(g.lower().startswith(head.lower() + "-") for g in vocabulary))


def unknown_names(names: Iterable[str]) -> list[str]:
    """The names that can never match anything."""
    return [name for name in names if not is_known(name)]


def usage_message(unknown: Sequence[str]) -> str:
    """One message for the usage error: what was wrong, a close match, and what is valid."""
    suggestions = []
    candidates = [*PSEUDO_GROUPS, *CATEGORIES, *(f.name for f in FAMILIES.values()), *sorted(_vocabulary())]
    for name in unknown:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
        close = close or difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=1, cutoff=0.75)
        if close:
            suggestions.append(f"{name} (did you mean {close[0]}?)")
        else:
            suggestions.append(name)
    return (
        f"unknown group name(s): {', '.join(suggestions)}. Valid: the pseudo-groups {', '.join(PSEUDO_GROUPS)}; "
        f"the categories {', '.join(CATEGORIES)}; the families {', '.join(f.name for f in FAMILIES.values())}; "
        "or any ExifTool family-1 group, matched as a prefix (XMP matches XMP-dc; IPTC, ICC, Photoshop, JFIF, PNG, "
        "QuickTime, IFD0, ExifIFD, ...). "
        "`exif-audit --list-groups` prints them all."
    )


def listing() -> str:
    """Every valid name, for ``--list-groups``."""
    lines = ["pseudo-groups:"]
    lines += [f"  {name}" for name in PSEUDO_GROUPS]
    lines.append("categories (what a finding reveals, as the reports name them):")
    lines += [f"  {name:13} {category.value}" for name, category in CATEGORIES.items()]
    lines.append("families:")
    lines += [f"  {family.name:11} {family.description}" for family in FAMILIES.values()]
    lines.append("groups (ExifTool 13.59 family 1 and the engine's structure groups; matched as prefixes):")
    lines += [f"  {name}" for name in sorted(_vocabulary(), key=str.lower)]
    return "\n".join(lines)
