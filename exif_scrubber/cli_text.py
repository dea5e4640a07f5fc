"""What ``exif-scrub`` prints: one escaped line per file, a totals line, never file content or temp paths."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .findings import BYTE_MODEL_GROUPS, WARNINGS_GROUP, findings
from .report import Failure, Outcome, ScrubReport

REASON_MAX = 240
"""A printed reason is cut here: a reason is a sentence, never a dump."""

_UNSAFE = re.compile(
    r"[\\\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
"""Characters that would split a line, move the cursor, reorder text (bidi controls) or not encode at all
(lone surrogates: the bytes of a file name that is not UTF-8). The backslash is escaped so escapes stay unambiguous."""

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}

Echo = Callable[..., None]
"""Prints one line: ``echo(line)`` to stdout, ``echo(line, err=True)`` to stderr."""

SKIPPED = "skipped"
WOULD_CLEAN = "would_clean"
UNREADABLE = "unreadable"
FAILED = Outcome.FAILED.value


def printable(text: str) -> str:
    """``text`` on one terminal line: control, format and separator characters as backslash escapes."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def first_line(reason: str | None, *, temp_dirs: Iterable[Path] = ()) -> str:
    """The first line of ``reason`` cut to :data:`REASON_MAX`, with any path under ``temp_dirs`` replaced by
    ``<temp file>`` (a reason names the problem, not where the scrubber keeps its copies)."""
    text = (reason or "").strip()
    text = text.splitlines()[0] if text else "no reason given"
    for folder in temp_dirs:
        text = re.sub(re.escape(str(folder)) + r"\S*", "<temp file>", text)
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def one_line(reason: str | None, *, temp_dirs: Iterable[Path] = ()) -> str:
    """:func:`first_line`, escaped for a terminal."""
    return printable(first_line(reason, temp_dirs=temp_dirs))


@dataclass
class FileResult:
    """One listed entry: a scrub report, or the reason it was not handed to the engine."""

    label: str
    report: ScrubReport | None = None
    skipped: str | None = None
    failed: bool = False
    """For entries without a report: True when it cannot be read (``unreadable``: a FIFO named on the command
    line, a folder or file the walk cannot read); False when it is only listed (``skipped``: a link in a folder)."""
    access: bool = False
    """For entries without a report: the file system refused the read."""
    order: int = 0
    """Position among the entries of the run (JSON lists results in this order)."""

    def outcome(self, *, inspecting: bool) -> str:
        """``cleaned``/``would_clean``/``already_clean``/``unsupported``/``unreadable``/``failed``/``skipped``, the
        names ``exif-audit`` uses too where the two meet (docs/audit.md#outcomes)."""
        if self.report is None:
            return UNREADABLE if self.failed else SKIPPED
        if inspecting and self.report.outcome is Outcome.CLEANED:
            return WOULD_CLEAN
        if self.report.outcome is Outcome.FAILED and self.report.failure is Failure.UNREADABLE:
            return UNREADABLE
        return self.report.outcome.value

    @property
    def access_error(self) -> bool:
        """The file system refused a read or a write of this entry (the run exits 2)."""
        return self.access or (self.report is not None and self.report.failure is Failure.ACCESS_ERROR)


def _shown(names: list[str]) -> str:
    return ", ".join(names[:4]) + (", …" if len(names) > 4 else "")


def removed_text(report: ScrubReport, *, inspecting: bool = False) -> str:
    """What goes and what is rewritten: groups gone with their tag counts, the personal tags removed from groups
    that stay (``IFD0: Make, Model``), the blocks removed (``JPEG: APP1 XMP``); then the blocks and groups kept in
    a rebuilt form (``JPEG: APP1 EXIF``, ``ICC_Profile (1 tag dropped)``)."""
    gone = {group: count for group, count in report.removed.items() if group not in report.rewritten}
    removed = [f"{group}: {count}" for group, count in gone.items()]
    rewritten = []
    warned: list[str] = []
    for group, names in report.leftovers_before.items():
        if group in gone or not names:
            continue
        if group == WARNINGS_GROUP:  # ExifTool's words about the input, not a group of it
            warned += names
        elif group in BYTE_MODEL_GROUPS:
            dropped = [name for name in names if name not in report.rewritten_blocks]
            rebuilt = [name for name in names if name in report.rewritten_blocks]
            removed += [f"{group}: {_shown(dropped)}"] if dropped else []
            rewritten += [f"{group}: {_shown(rebuilt)}"] if rebuilt else []
        else:
            removed.append(f"{group}: {_shown(names)}")
    for group, count in report.rewritten.items():
        if group not in report.leftovers_before:
            rewritten.append(f"{group} ({count} tag{'' if count == 1 else 's'} dropped)")
    verbs = ("remove", "rewrite") if inspecting else ("removed", "rewritten")
    parts = [f"{verb} {', '.join(items)}" for verb, items in zip(verbs, (removed, rewritten), strict=True) if items]
    parts += [f"ExifTool warned: {'; '.join(warned)}"] if warned else []
    return printable("; ".join(parts)) if parts else "structure only"


def _details(report: ScrubReport, *, inspecting: bool) -> list[str]:
    details = [removed_text(report, inspecting=inspecting)]
    if not inspecting and report.bytes_after is not None:
        details.append(f"{report.bytes_before:,} -> {report.bytes_after:,} bytes")
    return details


def _notes(report: ScrubReport) -> list[str]:
    return [one_line(note) for note in report.notes]


_VERBS = {
    "cleaned": "cleaned",
    WOULD_CLEAN: "would clean",
    "already_clean": "clean",
    "unsupported": "unsupported",
    SKIPPED: "skipped",
}


def result_line(result: FileResult, *, inspecting: bool, temp_dirs: Iterable[Path] = ()) -> str:
    """The stdout line of a listed entry (not of a failure: see :func:`failure_line`)."""
    outcome = result.outcome(inspecting=inspecting)
    name = printable(result.label)
    report = result.report
    if report is None:
        details = [one_line(result.skipped)]
    elif report.outcome is Outcome.CLEANED:
        details = _details(report, inspecting=inspecting) + _notes(report)
    elif report.outcome is Outcome.ALREADY_CLEAN:
        details = ["nothing to remove", *_notes(report)]
    else:
        details = [one_line(report.reason, temp_dirs=temp_dirs), *_notes(report)]
    return f"{_VERBS.get(outcome, outcome):<13} {name}  ({'; '.join(details)})"


def kept_line(report: ScrubReport) -> str:
    """The indented ``keeps ...`` line ``inspect`` prints under a file."""
    return f"{'':<13} keeps {printable(', '.join(f'{g}: {n}' for g, n in report.kept.items()))}"


def failure_line(result: FileResult, *, inspecting: bool = False, temp_dirs: Iterable[Path] = ()) -> str:
    """The stderr line of a failed or unreadable entry: ``exif-scrub: failed: NAME: one-line reason``."""
    reason = result.skipped if result.report is None else result.report.reason
    notes = _notes(result.report) if result.report is not None else []
    tail = "".join(f" ({note})" for note in notes)
    outcome = result.outcome(inspecting=inspecting)
    return f"exif-scrub: {outcome}: {printable(result.label)}: {one_line(reason, temp_dirs=temp_dirs)}{tail}"


@dataclass
class Totals:
    """Counts for the closing line and the JSON document, and whether the run did all it was asked to."""

    inspecting: bool
    outcomes: Counter[str] = field(default_factory=Counter)
    bytes_before: int = 0
    bytes_after: int = 0
    excluded: int = 0
    listed: int = 0
    """Entries found to handle (files and the skipped entries listed with them)."""
    stopped_by: str | None = None
    """``"SIGTERM"``/``"SIGINT"`` when a stop signal ended the run early."""
    listing_cut: bool = False
    """The stop came while the PATHs were still being walked: more files may exist than were listed."""
    error: str | None = None
    """An internal error outside any one file ended the run."""
    access_errors: int = 0
    """Entries the file system refused to read (or write): the run exits 2."""

    def add(self, result: FileResult) -> None:
        """Count one finished entry."""
        self.outcomes[result.outcome(inspecting=self.inspecting)] += 1
        self.access_errors += result.access_error
        report = result.report
        if report is not None and report.outcome is Outcome.CLEANED and report.bytes_after is not None:
            self.bytes_before += report.bytes_before
            self.bytes_after += report.bytes_after

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    @property
    def not_done(self) -> int:
        """Entries listed whose result was never reported (not started after a stop; lost to an internal error)."""
        return max(self.listed - self.done, 0)

    @property
    def complete(self) -> bool:
        """True when every file was listed and every one was handled: the totals cover the whole request."""
        return self.error is None and not self.listing_cut and self.not_done == 0

    def line(self) -> str:
        """E.g. ``5 files: 3 cleaned, 1 already clean, 1 unsupported; 120,000 -> 90,000 bytes``; a run that did not
        finish ends with ``incomplete: ...`` saying why and how many were left."""
        total = self.done
        order = ("cleaned", WOULD_CLEAN, "already_clean", "unsupported", UNREADABLE, FAILED, SKIPPED)
        labels = {WOULD_CLEAN: "would be cleaned", "already_clean": "already clean"}
        counts = [f"{self.outcomes[key]} {labels.get(key, key)}" for key in order if self.outcomes[key]]
        parts = [f"{total} file{'' if total == 1 else 's'}: " + (", ".join(counts) or "nothing to do")]
        if self.bytes_after:
            parts.append(f"{self.bytes_before:,} -> {self.bytes_after:,} bytes")
        if self.access_errors:
            parts.append(f"{self.access_errors} access error{'' if self.access_errors == 1 else 's'}")
        if self.excluded:
            parts.append(f"{self.excluded} excluded by --include/--exclude")
        if not self.complete:
            parts.append(f"incomplete: {self._why_incomplete()}")
        return "; ".join(parts)

    def _why_incomplete(self) -> str:
        if self.error is not None:
            return f"{self.error}, {self.not_done} not done"
        listing = " while the files were being listed" if self.listing_cut else ""
        return f"stopped by {self.stopped_by}{listing}, {self.not_done} not started"

    def to_dict(self) -> dict[str, Any]:
        """The counts of the JSON document."""
        first = WOULD_CLEAN if self.inspecting else "cleaned"
        return {
            "listed": self.listed,
            "done": self.done,
            "not_done": self.not_done,
            **{key: self.outcomes[key] for key in (first, "already_clean", "unsupported", UNREADABLE, FAILED, SKIPPED)},
            "access_errors": self.access_errors,
            "excluded": self.excluded,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
        }


@dataclass
class Printer:
    """Prints each result as it arrives (text), or all of them at the end (JSON), then the totals line."""

    inspecting: bool
    as_json: bool
    temp_dirs: tuple[Path, ...] = ()
    totals: Totals = field(init=False)
    _results: list[FileResult] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.totals = Totals(inspecting=self.inspecting)

    def add(self, result: FileResult, echo: Echo = click.echo) -> None:
        """Count ``result`` and, in text mode, print its line now through ``echo`` (``click.echo``'s signature)."""
        self.totals.add(result)
        if self.as_json:
            self._results.append(result)
        elif result.outcome(inspecting=self.inspecting) in (FAILED, UNREADABLE):
            echo(failure_line(result, inspecting=self.inspecting, temp_dirs=self.temp_dirs), err=True)
        else:
            echo(result_line(result, inspecting=self.inspecting, temp_dirs=self.temp_dirs))
            if self.inspecting and result.report is not None and result.report.kept:
                echo(kept_line(result.report))

    def finish(self, *, stray_warnings: Iterable[str] = ()) -> None:
        """The JSON document (files in entry order) or nothing, then the totals line (stderr with ``--json``)."""
        for warning in stray_warnings:
            click.echo(f"exif-scrub: {one_line(warning, temp_dirs=self.temp_dirs)}", err=True)
        if self.as_json:
            click.echo(json.dumps(self.document(), indent=2, default=str))
        click.echo(self.totals.line(), err=self.as_json)

    def document(self) -> dict[str, Any]:
        """``{"complete", "stopped_by", "error", "totals", "files"}``: a run that did not finish says so."""
        ordered = sorted(self._results, key=lambda r: r.order)
        return {
            "complete": self.totals.complete,
            "stopped_by": self.totals.stopped_by,
            "error": self.totals.error,
            "totals": self.totals.to_dict(),
            "files": [self._json(r) for r in ordered],
        }

    def _json(self, result: FileResult) -> dict[str, Any]:
        outcome = result.outcome(inspecting=self.inspecting)
        if result.report is None:
            reason = first_line(result.skipped)
            return {"source": result.label, "outcome": outcome, "reason": reason, "access_error": result.access_error}
        data = result.report.to_dict()
        data["outcome"] = outcome
        data["access_error"] = result.access_error
        data["findings"] = [finding.as_dict() for finding in findings(result.report.leftovers_before)]
        if data.get("reason") is not None:
            data["reason"] = first_line(data["reason"], temp_dirs=self.temp_dirs)
        data["notes"] = [first_line(note, temp_dirs=self.temp_dirs) for note in result.report.notes]
        return data
