"""Audit results: one row per object, a summary, and the table/JSON/CSV writers (streamed)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from .groups import matches


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
    etag: str | None = None
    """ETag of the bytes read (S3 only): with ``version_id`` it names exactly what was audited."""
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
    finished: str = ""
    """UTC time the audit ended (ISO 8601)."""

    @property
    def verdict(self) -> str:
        """``PASS`` or ``FAIL`` (what the exit code says, access errors aside)."""
        return "FAIL" if self.failing else "PASS"

    def verdict_line(self, fail_on: Sequence[str] | None) -> str:
        """One line for people and CI logs."""
        rule = f"--fail-on {','.join(fail_on)}" if fail_on else "any leak or unreadable image"
        return f"exif-audit: {self.verdict}: {self.failing:,} of {self.scanned:,} object(s) fail ({rule})"

    def counts_line(self) -> str:
        return (
            f"scanned {self.scanned:,} objects: {self.clean:,} clean, {self.leaking:,} leaking, "
            f"{self.unsupported:,} unsupported, {self.unreadable:,} unreadable; {self.with_marker:,} carry the marker"
        )

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
        data["verdict"] = self.verdict
        return data


@dataclass(frozen=True)
class Header:
    """What a filed report must say about its own run: when, what, by which rules and tools."""

    started: str
    """UTC time the audit started (ISO 8601)."""
    target: str
    policy: dict[str, Any]
    versions: dict[str, str]
    options: dict[str, Any]
    tool: str = "exif-audit"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[tuple[str, str]]:
        """``(name, value)`` pairs, flattened for CSV comments and people."""
        pairs = [("tool", self.tool), ("started", self.started), ("target", self.target)]
        pairs += [(f"policy.{k}", json.dumps(v) if not isinstance(v, str) else v) for k, v in self.policy.items()]
        pairs += [(f"version.{k}", v) for k, v in self.versions.items()]
        pairs += [(f"option.{k}", json.dumps(v)) for k, v in self.options.items()]
        return pairs


def utc_now() -> str:
    """Now, UTC, to the second: ``2026-11-26T09:14:03Z``."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def fails(result: ObjectResult, fail_on: Iterable[str] | None) -> bool:
    """Whether ``result`` makes the run exit 1. Without ``fail_on``: leaks and unreadable objects; with it, only
    what the names cover (:mod:`.groups`: the pseudo-groups ``leaking``, ``unreadable``, ``unsupported``,
    the families and ExifTool groups)."""
    if fail_on is None:
        return result.status in (Status.LEAKING, Status.UNREADABLE) or bool(result.leftovers)
    patterns = [p.lower() for p in fail_on]
    if result.status is Status.UNREADABLE and "unreadable" in patterns:
        return True
    if result.status is Status.UNSUPPORTED and "unsupported" in patterns:
        return True
    if result.leftovers and "leaking" in patterns:
        return True
    return any(
        matches(p, location.rpartition(":")[2], names) for p in patterns for location, names in result.leftovers.items()
    )


CSV_FIELDS = (
    "bucket",
    "key",
    "version_id",
    "etag",
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

    def __init__(self, out: IO[str], header: Header) -> None:
        self.out = out
        self.header = header

    def row(self, result: ObjectResult) -> None:
        raise NotImplementedError

    def close(self, summary: Summary) -> None:
        raise NotImplementedError


class JsonWriter(Writer):
    """``{"header": {...}, "objects": [...], "summary": {...}}``, written object by object.

    The header (started, target, policy, versions, options) comes first; the summary (totals, verdict,
    finished) last, once known.
    """

    def __init__(self, out: IO[str], header: Header) -> None:
        super().__init__(out, header)
        self.first = True
        out.write('{"header": ' + json.dumps(header.as_dict(), sort_keys=True) + ',\n"objects": [')

    def row(self, result: ObjectResult) -> None:
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(result.as_dict(), sort_keys=True))
        self.first = False

    def close(self, summary: Summary) -> None:
        self.out.write('\n], "summary": ' + json.dumps(summary.as_dict(), sort_keys=True) + "}\n")


class CsvWriter(Writer):
    """One CSV row per object (leftovers as ``Group: Tag, Tag; Group: ...``), framed by ``#`` comment lines: the
    header's fields before the column names, the totals and the verdict after the last row."""

    def __init__(self, out: IO[str], header: Header) -> None:
        super().__init__(out, header)
        for name, value in header.lines():
            out.write(f"# {name}: {_one_line(value)}\n")
        self.csv = csv.writer(out)
        self.csv.writerow(CSV_FIELDS)

    def row(self, result: ObjectResult) -> None:
        data = result.as_dict()
        data["leftovers"] = result.leftover_text()
        self.csv.writerow(["" if data[name] is None else data[name] for name in CSV_FIELDS])

    def close(self, summary: Summary) -> None:
        for name, value in summary.as_dict().items():
            self.out.write(f"# summary.{name}: {_one_line(value if isinstance(value, str) else json.dumps(value))}\n")
        self.out.flush()


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


class TableWriter(Writer):
    """A table of the objects that are not clean, then the summary (for people)."""

    def __init__(self, out: IO[str], header: Header, *, width: int | None = None) -> None:
        super().__init__(out, header)
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
        self.console.print(s.counts_line())
        if s.leaking_by_group:
            by_group = ", ".join(f"{g} {n}" for g, n in sorted(s.leaking_by_group.items(), key=lambda i: (-i[1], i[0])))
            self.console.print(f"leaking by group (objects): {by_group}")
        share = f" ({s.bytes_read / s.bytes_total:.0%} of {s.bytes_total:,})" if s.bytes_total else ""
        self.console.print(f"read {s.bytes_read:,} bytes{share} in {s.seconds:.1f} s")


WRITERS: dict[str, type[Writer]] = {"table": TableWriter, "json": JsonWriter, "csv": CsvWriter}
