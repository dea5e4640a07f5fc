"""Audit results: one row per object, a summary, and the table/JSON/CSV writers (streamed)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import IO, Any

from rich.console import Console
from rich.table import Table

MAKERNOTE_GROUPS = frozenset(
    {
        "MakerNotes",
        "Apple",
        "Canon",
        "CanonCustom",
        "CanonRaw",
        "CanonVRD",
        "Casio",
        "DJI",
        "FLIR",
        "FujiFilm",
        "GE",
        "GoPro",
        "HP",
        "JVC",
        "Kodak",
        "KodakIFD",
        "Kyocera",
        "Leica",
        "Minolta",
        "MinoltaRaw",
        "Motorola",
        "Nikon",
        "NikonCapture",
        "NikonCustom",
        "NikonScan",
        "NikonSettings",
        "Nintendo",
        "Olympus",
        "OlympusCameraSettings",
        "OlympusEquipment",
        "OlympusFocusInfo",
        "OlympusImageProcessing",
        "OlympusRawDevelopment",
        "Panasonic",
        "Pentax",
        "PhaseOne",
        "Reconyx",
        "Ricoh",
        "Samsung",
        "Sanyo",
        "Sigma",
        "Sony",
        "Unknown",
    }
)
"""ExifTool family-1 groups of maker notes, so that ``--fail-on MakerNotes`` matches them all."""


class Status(StrEnum):
    """What the audit concluded about one object."""

    CLEAN = "clean"
    LEAKING = "leaking"
    UNSUPPORTED = "unsupported"
    UNREADABLE = "unreadable"


@dataclass
class ObjectResult:
    """The audit of one object (version)."""

    key: str
    version_id: str | None
    size: int
    status: Status
    bucket: str = ""
    format: str | None = None
    leftovers: dict[str, list[str]] = field(default_factory=dict)
    marker: str | None = None
    """Value of our ``exif-stripped`` user metadata, when the object carries it."""
    is_latest: bool = True
    error: str | None = None
    bytes_read: int = 0
    ranged: bool = False
    access_error: bool = False
    """S3 refused or failed the read (the run exits 2)."""

    def groups(self) -> list[str]:
        """Leftover groups without the embedded-document prefix (``Doc2:IFD0`` -> ``IFD0``)."""
        return sorted({location.rpartition(":")[2] for location in self.leftovers})

    def leftover_text(self, limit: int | None = None) -> str:
        """``GPS: GPSLatitude, GPSLongitude; IFD0: Make`` (at most ``limit`` names per group)."""
        parts = []
        for group, names in self.leftovers.items():
            shown = names if limit is None or len(names) <= limit else [*names[:limit], f"+{len(names) - limit} more"]
            parts.append(f"{group}: {', '.join(shown)}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def group_matches(pattern: str, group: str) -> bool:
    """``--fail-on`` matching: exact (case-insensitive), a family prefix (``XMP`` -> ``XMP-dc``),
    or ``MakerNotes`` for any maker-note group."""
    p, g = pattern.lower(), group.lower()
    if p == "makernotes" and group in MAKERNOTE_GROUPS:
        return True
    return g == p or (g.startswith(p) and not g[len(p)].isalpha())


@dataclass
class Summary:
    """Counts over the whole audit."""

    scanned: int = 0
    clean: int = 0
    leaking: int = 0
    unsupported: int = 0
    unreadable: int = 0
    with_marker: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    seconds: float = 0.0
    leaking_by_group: Counter[str] = field(default_factory=Counter)
    failing: int = 0
    """Objects that make the run fail (leaks, unreadable, or what ``--fail-on`` names)."""

    def add(self, result: ObjectResult, fails: bool) -> None:
        self.scanned += 1
        self.bytes_read += result.bytes_read
        self.bytes_total += result.size
        self.with_marker += result.marker is not None
        setattr(self, result.status.value, getattr(self, result.status.value) + 1)
        for group in result.groups():
            self.leaking_by_group[group] += 1
        self.failing += fails

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["leaking_by_group"] = dict(sorted(self.leaking_by_group.items()))
        data["seconds"] = round(self.seconds, 3)
        return data


def fails(result: ObjectResult, fail_on: Iterable[str] | None) -> bool:
    """Whether ``result`` makes the run exit 1. Without ``fail_on``: leaks and unreadable objects;
    with it: only the named groups (plus the pseudo-groups ``unreadable`` and ``unsupported``)."""
    if fail_on is None:
        return result.status in (Status.LEAKING, Status.UNREADABLE) or bool(result.leftovers)
    patterns = list(fail_on)
    if result.status is Status.UNREADABLE and "unreadable" in patterns:
        return True
    if result.status is Status.UNSUPPORTED and "unsupported" in patterns:
        return True
    return any(group_matches(p, g) for p in patterns for g in result.groups())


CSV_FIELDS = (
    "key",
    "version_id",
    "is_latest",
    "size",
    "format",
    "status",
    "leftovers",
    "marker",
    "error",
    "bytes_read",
    "ranged",
)


class Writer:
    """Base of the report writers: ``row`` per object as it is scanned, ``close`` with the summary."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def row(self, result: ObjectResult) -> None:
        raise NotImplementedError

    def close(self, summary: Summary) -> None:
        raise NotImplementedError


class JsonWriter(Writer):
    """``{"objects": [...], "summary": {...}}``, written object by object."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self.first = True
        out.write('{"objects": [')

    def row(self, result: ObjectResult) -> None:
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(result.as_dict(), sort_keys=True))
        self.first = False

    def close(self, summary: Summary) -> None:
        self.out.write('\n], "summary": ' + json.dumps(summary.as_dict(), sort_keys=True) + "}\n")


class CsvWriter(Writer):
    """One CSV row per object; leftovers as ``Group: Tag, Tag; Group: ...``. The summary is not in CSV."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self.csv = csv.writer(out)
        self.csv.writerow(CSV_FIELDS)

    def row(self, result: ObjectResult) -> None:
        data = result.as_dict()
        data["leftovers"] = result.leftover_text()
        self.csv.writerow(["" if data[name] is None else data[name] for name in CSV_FIELDS])

    def close(self, summary: Summary) -> None:
        self.out.flush()


class TableWriter(Writer):
    """A table of the objects that are not clean, then the summary (for people)."""

    def __init__(self, out: IO[str], *, width: int | None = None) -> None:
        super().__init__(out)
        self.console = Console(
            file=out, width=width or 160, soft_wrap=False, emoji=False, markup=False, highlight=False
        )
        self.rows: list[ObjectResult] = []

    def row(self, result: ObjectResult) -> None:
        if result.status is not Status.CLEAN:
            self.rows.append(result)

    def close(self, summary: Summary) -> None:
        if self.rows:
            table = Table(title="Objects that are not clean", show_lines=False)
            for column in ("object", "version", "size", "format", "status", "what remains / error", "marker"):
                table.add_column(column, overflow="fold")
            for r in self.rows:
                table.add_row(
                    r.key,
                    r.version_id or "",
                    f"{r.size:,}",
                    r.format or "",
                    r.status.value,
                    r.error or r.leftover_text(limit=4),
                    r.marker or "",
                )
            self.console.print(table)
        s = summary
        self.console.print(
            f"scanned {s.scanned:,} objects: {s.clean:,} clean, {s.leaking:,} leaking, "
            f"{s.unsupported:,} unsupported, {s.unreadable:,} unreadable; {s.with_marker:,} carry the marker"
        )
        if s.leaking_by_group:
            by_group = ", ".join(f"{g} {n}" for g, n in sorted(s.leaking_by_group.items(), key=lambda i: (-i[1], i[0])))
            self.console.print(f"leaking by group (objects): {by_group}")
        share = f" ({s.bytes_read / s.bytes_total:.0%} of {s.bytes_total:,})" if s.bytes_total else ""
        self.console.print(f"read {s.bytes_read:,} bytes{share} in {s.seconds:.1f} s")


WRITERS: dict[str, type[Writer]] = {"table": TableWriter, "json": JsonWriter, "csv": CsvWriter}
