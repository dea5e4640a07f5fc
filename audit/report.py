"""Audit results: one row per object, a summary, and the table/JSON/CSV writers (streamed).

Every report says whether it is complete. A run that was interrupted or crashed still writes a well-formed
report, with ``complete: false``, the verdict ``INCOMPLETE`` and the number of objects not scanned; a CSV report
is complete only when its last line is ``# summary.complete: true`` and a JSON report only when it parses and
says ``"complete": true``, so even a report cut short by a kill cannot pass for a finished one.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table

from exif_scrubber.cli_text import printable
from exif_scrubber.findings import WARNINGS_GROUP, Category, Finding, by_category, findings

from .groups import CATEGORIES, matches


class Status(StrEnum):
    """What the audit concluded about one object (the same names as ``exif-scrub``'s outcomes where they meet)."""

    CLEAN = "clean"
    LEAKING = "leaking"
    UNSUPPORTED = "unsupported"
    UNREADABLE = "unreadable"
    SKIPPED = "skipped"
    """A symbolic link or a special file found in a folder: listed, not read."""


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
    """Why the object is unreadable, unsupported or skipped (one line, never the object's content)."""
    bytes_read: int = 0
    ranged: bool = False
    access_error: bool = False
    """S3 or the file system refused the read (the run exits 2)."""
    noncanonical: list[str] = field(default_factory=list)
    """Kept items written another way than the engine's but harmless (every field kept, every byte accounted for):
    the object is clean, with this note; ``--fail-on non-canonical`` fails it."""
    c2pa: dict[str, Any] | None = None
    """The check of the object's C2PA manifest store, when it has one: c2pa-python's validation state, the signer and
    whether the trust list holds it, the digital source types its actions assert, and what personal data it still
    carries (those findings are also its leftovers, group ``C2PA manifest``)."""

    def groups(self) -> list[str]:
        """Leftover groups without the embedded-document prefix (``Doc2:IFD0`` -> ``IFD0``)."""
        return sorted({location.rpartition(":")[2] for location in self.leftovers})

    def categories(self) -> list[Category]:
        """What the leftovers reveal, in report order."""
        present = {finding.category for finding in self.findings()}
        return [category for category in Category if category in present]

    def findings(self) -> list[Finding]:
        """Each leftover with its category (worked out once per object: the summary, the row and the table ask)."""
        key = (id(self.leftovers), sum(len(names) for names in self.leftovers.values()))
        cached = self.__dict__.get("_findings")
        if cached is None or cached[0] != key:
            cached = (key, findings(self.leftovers))
            self.__dict__["_findings"] = cached
        found: list[Finding] = cached[1]
        return found

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
        data["categories"] = [category.value for category in self.categories()]
        data["findings"] = [finding.as_dict() for finding in self.findings()]
        return data


@dataclass
class Summary:
    """Counts over the whole audit, and whether it ran to its end."""

    scanned: int = 0
    clean: int = 0
    leaking: int = 0
    unsupported: int = 0
    unreadable: int = 0
    skipped: int = 0
    access_errors: int = 0
    """Unreadable objects whose read was refused (S3 or the file system): the run exits 2."""
    with_marker: int = 0
    noncanonical: int = 0
    """Clean objects whose kept items are harmless but not in the engine's own form (the engine would rewrite)."""
    bytes_read: int = 0
    bytes_total: int = 0
    """Bytes of the objects scanned (not of the whole listing when the run stopped early)."""
    seconds: float = 0.0
    leaking_by_category: Counter[str] = field(default_factory=Counter)
    leaking_by_group: Counter[str] = field(default_factory=Counter)
    failing: int = 0
    """Objects that make the run fail (leaks, unreadable, or what ``--fail-on`` names)."""
    finished: str = ""
    """UTC time the audit ended (ISO 8601)."""
    complete: bool = True
    """False when the run stopped before every object listed was scanned (a signal, a crash, a listing error)."""
    stopped_by: str | None = None
    """What stopped an incomplete run: ``SIGINT``, ``SIGTERM``, ``internal error (...)``, ``listing error: ...``."""
    not_scanned: int = 0
    """Objects listed (or still to be listed) that were not scanned."""
    not_scanned_exact: bool = True
    """False when the rest of the listing could not be counted in time: ``not_scanned`` is then a lower bound."""

    @property
    def verdict(self) -> str:
        """``INCOMPLETE`` for a run that did not finish, else ``PASS`` or ``FAIL`` (access errors aside)."""
        if not self.complete:
            return "INCOMPLETE"
        return "FAIL" if self.failing else "PASS"

    def not_scanned_text(self) -> str:
        """``863 not scanned`` or ``at least 32 not scanned``."""
        return f"{'' if self.not_scanned_exact else 'at least '}{self.not_scanned:,} not scanned"

    def verdict_line(self, fail_on: Sequence[str] | None) -> str:
        """One line for people and CI logs."""
        rule = f"--fail-on {','.join(fail_on)}" if fail_on else "any leak or unreadable image"
        if not self.complete:
            return (
                f"exif-audit: INCOMPLETE: stopped by {self.stopped_by} after {self.scanned:,} object(s), "
                f"{self.not_scanned_text()}; {self.failing:,} of those scanned fail ({rule})"
            )
        return f"exif-audit: {self.verdict}: {self.failing:,} of {self.scanned:,} object(s) fail ({rule})"

    def counts_line(self) -> str:
        line = (
            f"scanned {self.scanned:,} objects: {self.clean:,} clean, {self.leaking:,} leaking, "
            f"{self.unsupported:,} unsupported, {self.unreadable:,} unreadable, {self.skipped:,} skipped; "
            f"{self.with_marker:,} carry the marker"
            + (f", {self.noncanonical:,} clean but not in canonical form" if self.noncanonical else "")
        )
        if self.access_errors:
            line += f"; {self.access_errors:,} access error(s)"
        return line

    def add(self, result: ObjectResult, fails: bool) -> None:
        self.scanned += 1
        self.bytes_read += result.bytes_read
        self.bytes_total += result.size
        self.with_marker += result.marker is not None
        self.noncanonical += bool(result.noncanonical) and result.status is Status.CLEAN
        self.access_errors += result.access_error
        setattr(self, result.status.value, getattr(self, result.status.value) + 1)
        for group in result.groups():
            if group != WARNINGS_GROUP:  # ExifTool's words, not a group that leaks: counted by category
                self.leaking_by_group[group] += 1
        for category in result.categories():
            self.leaking_by_category[category.value] += 1
        self.failing += fails

    def stop(self, reason: str, not_scanned: int, exact: bool) -> None:
        """Mark the run incomplete."""
        self.complete, self.stopped_by = False, reason
        self.not_scanned, self.not_scanned_exact = not_scanned, exact

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["leaking_by_group"] = dict(sorted(self.leaking_by_group.items()))
        order = [category.value for category in Category]
        data["leaking_by_category"] = {c: self.leaking_by_category[c] for c in order if self.leaking_by_category[c]}
        data["seconds"] = round(self.seconds, 3)
        del data["complete"]
        data["verdict"] = self.verdict
        data["complete"] = self.complete  # last: a CSV report ends with it
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
    ``skipped``, the categories, the families and ExifTool groups)."""
    if fail_on is None:
        return result.status in (Status.LEAKING, Status.UNREADABLE) or bool(result.leftovers)
    patterns = [p.lower() for p in fail_on]
    wanted = {CATEGORIES[p] for p in patterns if p in CATEGORIES}
    if wanted and wanted & set(result.categories()):
        return True
    for status in (Status.UNREADABLE, Status.UNSUPPORTED, Status.SKIPPED):
        if result.status is status and status.value in patterns:
            return True
    if result.noncanonical and "non-canonical" in patterns:
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
    "categories",
    "leftovers",
    "noncanonical",
    "marker",
    "error",
    "access_error",
    "bytes_read",
    "ranged",
)
COMPLETENESS_NOTE = 'a report is complete only when its last line is "# summary.complete: true"'


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
    """``{"header": {...}, "objects": [...], "summary": {...}, "complete": true}``, written object by object.

    The header (started, target, policy, versions, options) comes first; the summary (totals, verdict,
    finished) and ``complete`` last, once known. A document cut short does not parse: it cannot pass for a
    finished report.
    """

    def __init__(self, out: IO[str], header: Header) -> None:
        super().__init__(out, header)
        self.first = True
        out.write('{"header": ' + json.dumps(header.as_dict(), sort_keys=True) + ',\n"objects": [')

    def row(self, result: ObjectResult) -> None:
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(result.as_dict(), sort_keys=True))
        self.first = False

    def close(self, summary: Summary) -> None:
        summary_json = json.dumps(summary.as_dict(), sort_keys=True)
        self.out.write(f'\n], "summary": {summary_json}, "complete": {json.dumps(summary.complete)}}}\n')
        self.out.flush()


class CsvWriter(Writer):
    """One CSV row per object (categories as ``location; dates and times``, leftovers as ``Group: Tag, Tag; ...``),
    framed by ``#`` comment lines: the header's fields before the column names, the totals, the verdict and
    ``# summary.complete: true|false`` after the last row."""

    def __init__(self, out: IO[str], header: Header) -> None:
        super().__init__(out, header)
        for name, value in header.lines():
            out.write(f"# {name}: {_one_line(value)}\n")
        out.write(f"# note: {COMPLETENESS_NOTE}\n")
        self.csv = csv.writer(out)
        self.csv.writerow(CSV_FIELDS)

    def row(self, result: ObjectResult) -> None:
        data = result.as_dict()
        data["leftovers"] = result.leftover_text()
        data["noncanonical"] = "; ".join(result.noncanonical)
        data["categories"] = "; ".join(category.value for category in result.categories())
        self.csv.writerow(["" if data[name] is None else data[name] for name in CSV_FIELDS])

    def close(self, summary: Summary) -> None:
        for name, value in summary.as_dict().items():
            text = value if isinstance(value, str) else json.dumps(value)
            self.out.write(f"# summary.{name}: {_one_line(text)}\n")
        self.out.flush()


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


TABLE_WIDTH = 120
"""Width of a table written to a file or a pipe (a terminal's own width is used on a terminal)."""
VERSION_SHOWN = 8
"""Characters of a version id the table shows (``--verbose``: all of them)."""
MARKER_WIDTH = 20
"""Width of the marker column (a marker is information only; the rest folds)."""
REMAINS_MIN = 24
"""Narrowest "what remains" column that still gets whole object names beside it."""


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _version(version_id: str | None, *, verbose: bool) -> str:
    if not version_id or verbose or len(version_id) <= VERSION_SHOWN + 1:
        return version_id or ""
    return version_id[:VERSION_SHOWN] + "…"


def detail_text(result: ObjectResult) -> list[tuple[str, str]]:
    """``(category, "GPS: GPSLatitude, GPSLongitude; IFD0: Make")`` pairs for the details of one object. The groups
    of ExifTool's embedded documents (``Doc3:Track4``: the samples of a timed track) are merged into their group,
    with the count of documents; an ExifTool warning reads ``ExifTool warning: <its text>``."""
    lines = []
    for category, groups in by_category(result.leftovers).items():
        merged: dict[str, list[str]] = {}
        documents: Counter[str] = Counter()
        for group, names in groups.items():
            base = group.rpartition(":")[2]
            documents[base] += group != base
            merged.setdefault(base, []).extend(name for name in names if name not in merged.get(base, []))
        parts = []
        for group, names in merged.items():
            if group == WARNINGS_GROUP:
                parts += [f"ExifTool warning: {name}" for name in names]
                continue
            where = f" (in {documents[group]} embedded documents)" if documents[group] > 1 else ""
            parts.append(f"{group}{where}: {', '.join(names)}")
        lines.append((category.value, "; ".join(parts)))
    return lines


class TableWriter(Writer):
    """A table of the objects that are not clean, one row each, in the reader's words (categories); the summary
    after it. ``verbose`` adds each object's technical details (groups, tag names, blocks) and full version ids."""

    def __init__(
        self,
        out: IO[str],
        header: Header,
        *,
        width: int | None = None,
        verbose: bool = False,
        folder: str | None = None,
    ) -> None:
        super().__init__(out, header)
        terminal = Console(file=out).is_terminal or os.environ.get("COLUMNS", "").isdigit()
        self.console = Console(
            file=out,
            width=width or (None if terminal else TABLE_WIDTH),
            soft_wrap=False,
            emoji=False,
            markup=False,
            highlight=False,
        )
        self.verbose = verbose
        self.prefix = folder.rstrip("/") + "/" if folder else ""
        """The audited folder: the table names its files by their path inside it."""
        self.rows: list[ObjectResult] = []

    def row(self, result: ObjectResult) -> None:
        if result.status is not Status.CLEAN:
            self.rows.append(result)

    def close(self, summary: Summary) -> None:
        if self.rows:
            self.console.print(self._table())
            if self.verbose:
                self._details()
        self._summary(summary)

    def _name(self, result: ObjectResult) -> str:
        """The key (or the path inside the folder), with control and bidi characters escaped: a key is anyone's
        text and must not move the auditor's cursor."""
        return printable(result.key.removeprefix(self.prefix) if self.prefix else result.key)

    def _table(self) -> Table:
        title = "Objects that are not clean" + (f" (in {self.prefix[:-1]})" if self.prefix else "")
        table = Table(title=title, show_lines=False, pad_edge=False, padding=(0, 1, 0, 0), box=box.SIMPLE_HEAD)
        columns, name_width, remains_width = self._layout()
        for column in columns:
            if column == "object":
                table.add_column(column, overflow="fold", width=name_width)
            elif column == "what remains":
                table.add_column(column, overflow="fold", width=remains_width)  # categories wrap, never cut
            elif column == "marker":
                table.add_column(column, overflow="fold", max_width=MARKER_WIDTH)
            else:
                table.add_column(column, no_wrap=True, justify="right" if column == "size" else "left")
        for r in self.rows:
            table.add_row(*(self._cell(column, r) for column in columns))
        return table

    def _layout(self) -> tuple[list[str], int, int]:
        """The columns, and the widths of the object and "what remains" columns: the rest of the line after the
        others, shared so that each object fits on one line where the width allows (names first, up to half the
        rest). The format column gives way first when the line is short."""
        names = max(len(self._name(r)) for r in self.rows)
        remains = max(12, *(len(self._remains(r)) for r in self.rows))
        columns = ["object"]
        columns += ["version"] if any(r.version_id for r in self.rows) else []
        columns += ["size", "format", "status", "what remains"]
        columns += ["marker"] if any(r.marker for r in self.rows) else []
        free = self._free(columns)
        if names + remains > free and not self.verbose:
            columns.remove("format")
            free = self._free(columns)
        if names + remains <= free or free - names >= REMAINS_MIN:  # whole names, categories wrap if need be
            return columns, names, free - names
        name_width = max(free // 2, free - remains)
        return columns, name_width, free - name_width

    def _free(self, columns: list[str]) -> int:
        """What the line leaves to the object and "what remains" columns (two characters of padding a column)."""
        fixed = sum(
            MARKER_WIDTH if c == "marker" else max(len(c), *(len(self._cell(c, r)) for r in self.rows))
            for c in columns
            if c not in ("object", "what remains")
        )
        return max(self.console.width - fixed - 2 * len(columns), 24)

    def _cell(self, column: str, result: ObjectResult) -> str:
        cells: dict[str, Callable[[ObjectResult], str]] = {
            "object": self._name,
            "version": lambda r: _version(r.version_id, verbose=self.verbose),
            "size": lambda r: _size(r.size),
            "format": lambda r: r.format or "",
            "status": lambda r: r.status.value,
            "what remains": self._remains,
            "marker": lambda r: printable(r.marker or ""),
        }
        return cells[column](result)

    def _remains(self, result: ObjectResult) -> str:
        if result.leftovers:
            return ", ".join(category.short for category in result.categories())
        if result.noncanonical and not result.error:
            return "non-canonical"
        return printable(result.error or "")

    def _details(self) -> None:
        self.console.print("Details")
        for r in self.rows:
            name = f"{self._name(r)} ({r.version_id})" if r.version_id else self._name(r)
            self.console.print(name, overflow="fold")
            for category, text in detail_text(r):
                self.console.print(f"  {category}: {printable(text)}", overflow="fold")
            if r.error and not r.leftovers:
                self.console.print(f"  {r.status.value}: {printable(r.error)}", overflow="fold")

    def _summary(self, s: Summary) -> None:
        self.console.print(s.counts_line())
        if s.leaking_by_category:
            order = {category.value: index for index, category in enumerate(Category)}
            by_category = ", ".join(
                f"{Category(c).short} {n}" for c, n in sorted(s.leaking_by_category.items(), key=lambda i: order[i[0]])
            )
            self.console.print(f"objects leaking, by what they reveal: {by_category}")
            used = [Category(c) for c in sorted(s.leaking_by_category, key=order.__getitem__)]
            legend = "; ".join(f"{c.short} = {c.value}" for c in used if c.short != c.value)
            if legend:
                self.console.print(f"({legend})", overflow="fold")
        share = f" ({s.bytes_read / s.bytes_total:.0%} of their {s.bytes_total:,})" if s.bytes_total else ""
        share = share if s.complete else ""  # a share of a run cut short reads as if everything was read
        read = f"read {s.bytes_read:,} bytes of the {s.scanned:,} objects scanned{share} in {s.seconds:.1f} s"
        self.console.print(read)
        if not s.complete:
            self.console.print(
                f"INCOMPLETE: stopped by {s.stopped_by} after {s.scanned:,} object(s); {s.not_scanned_text()}",
                overflow="fold",
            )
        self.console.print(f"complete: {json.dumps(s.complete)}")


WRITERS: dict[str, type[Writer]] = {"table": TableWriter, "json": JsonWriter, "csv": CsvWriter}
