"""``exif-scrub``: clean or inspect local image files with the same engine as the Lambda."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from . import __version__
from .batch import Batch, Job, StopSignal, WarningCapture, stopping_on_signals
from .cli_exiftool import exiftool_group
from .cli_options import RunOptions, run_options
from .cli_text import FileResult, Printer
from .engine import Scrubber
from .errors import ScrubberError
from .inplace import InPlace
from .walk import Entry, Filters, NotFound, Walker

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass(frozen=True)
class Mode:
    """Where outputs go: ``out_dir``, in place, or nowhere (inspect)."""

    out_dir: Path | None = None
    in_place: bool = False
    break_hard_links: bool = False

    @property
    def inspecting(self) -> bool:
        return self.out_dir is None and not self.in_place

    def job(self, scrubber: Scrubber, work: Path) -> Job:
        """The function that handles one entry in this mode."""
        if self.in_place:
            in_place = InPlace(scrubber, work, break_hard_links=self.break_hard_links)
            return lambda entry, slot: in_place.scrub(entry.path, str(entry.path), slot)
        out_dir = self.out_dir
        if out_dir is None:
            return lambda entry, slot: scrubber.inspect(entry.path, display_name=str(entry.path))
        return lambda entry, slot: scrubber.scrub_file(
            entry.path, out_dir / entry.relative, display_name=str(entry.path)
        )


def _entries(paths: tuple[Path, ...], filters: Filters, mode: Mode, stop: StopSignal) -> tuple[list[Entry], bool]:
    """The entries to handle, and False when a stop signal cut the listing short."""
    entries: list[Entry] = []
    try:
        for entry in Walker(filters, prune=mode.out_dir).entries(paths):
            if stop.signum is not None:
                return entries, False
            entries.append(entry)
    except NotFound as exc:
        raise click.BadParameter(str(exc), param_hint="PATH") from None
    if not mode.inspecting:
        seen: dict[Path, Path] = {}
        for entry in entries:
            target = (mode.out_dir / entry.relative) if mode.out_dir else entry.path.absolute()
            if entry.skip is None and seen.setdefault(target, entry.path) != entry.path:
                raise click.BadParameter(f"two inputs would be written to {target}", param_hint="PATH")
    return entries, True


@dataclass
class _Live:
    """Where per-file lines go while a run is going on, and how the progress bar moves."""

    progress: Progress | None = None
    task: TaskID | None = None

    def echo(self, line: str, *, err: bool = False) -> None:
        """Print ``line``: above the live bar when there is one and stdout shares its terminal."""
        if self.progress is not None and (err or sys.stdout.isatty()):
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True, emoji=False)
        else:
            click.echo(line, err=err)

    def advance(self) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task)


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[_Live]:
    """A live bar on stderr when ``enabled``; lines printed through the yielded object go above it."""
    if not enabled:
        yield _Live()
        return
    columns = (TextColumn("[bold]scrubbing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _Live(progress, progress.add_task("scrub", total=total))


def _execute(paths: tuple[Path, ...], options: RunOptions, mode: Mode) -> int:
    """Run a whole command; returns its exit code. A stop signal from the start on ends it with totals that say
    what was left; an internal error outside any one file ends it with totals that say so (exit 3)."""
    filters = Filters(options.include, options.exclude)
    capture = WarningCapture()
    with stopping_on_signals() as stop:
        entries, listed_all = _entries(paths, filters, mode, stop)
        with capture.installed(), tempfile.TemporaryDirectory(prefix="exif-scrub-") as tmp:
            work = Path(tmp)
            printer = Printer(inspecting=mode.inspecting, as_json=options.as_json, temp_dirs=(work,))
            printer.totals.listed, printer.totals.listing_cut = len(entries), not listed_all
            try:
                _run(entries, options, mode, work, printer, stop, capture)
            except ScrubberError:
                raise  # ExifTool missing or too old: a usage error, before any file
            except Exception as exc:  # a bug outside any one file: never a traceback, never a claim of the rest
                printer.totals.error = f"internal error ({type(exc).__name__})"
    printer.totals.excluded = filters.excluded
    printer.totals.stopped_by = stop.name
    printer.finish(stray_warnings=capture.stray)
    return _exit_code(printer, stop, options.fail_on_unsupported)


def _run(
    entries: list[Entry],
    options: RunOptions,
    mode: Mode,
    work: Path,
    printer: Printer,
    stop: StopSignal,
    capture: WarningCapture,
) -> None:
    with Scrubber(options.policy, pool_size=options.workers, work_dir=work, provenance=options.provenance) as scrubber:
        batch = Batch(mode.job(scrubber, work), options.workers, stop, capture)
        show = sys.stderr.isatty() and not options.as_json
        with _progress(len(entries), show) as live:
            batch.run(entries, _printing(printer, live))


def _printing(printer: Printer, live: _Live) -> Callable[[FileResult], None]:
    def on_result(result: FileResult) -> None:
        printer.add(result, live.echo)
        live.advance()

    return on_result


def _exit_code(printer: Printer, stop: StopSignal, fail_on_unsupported: bool) -> int:
    if printer.totals.error is not None:
        return EXIT_INTERNAL
    if stop.signum is not None:
        return 128 + stop.signum
    if printer.totals.access_errors:
        return EXIT_USAGE  # access errors exit 2, as in exif-audit
    outcomes = printer.totals.outcomes
    if outcomes["failed"] or outcomes["unreadable"] or (fail_on_unsupported and outcomes["unsupported"]):
        return EXIT_REFUSED
    return EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exif-scrub")
def cli() -> None:
    """Remove image metadata without re-encoding, and prove it: every byte accounted for, image data identical."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Write cleaned files here.")
@click.option("--in-place", is_flag=True, help="Replace the input files (atomically, only when verified).")
@click.option(
    "--break-hard-links",
    is_flag=True,
    help="With --in-place: also replace files that have other hard links (only the name given is cleaned; "
    "the other names keep the original).",
)
@run_options
def clean(paths: tuple[Path, ...], out_dir: Path | None, in_place: bool, break_hard_links: bool, **kwargs: Any) -> None:
    """Clean PATH... (files or folders) into --out-dir, or --in-place.

    Folders are walked without following symbolic links; links, FIFOs and other special files found there
    are listed as skipped. --in-place refuses symbolic links (give the target), files with other hard links
    (see --break-hard-links) and files changed while being scrubbed; it keeps owner, group, mode and times.
    SIGTERM or Ctrl-C lets the files in progress finish, starts no more and prints what was done.

    Exit code 0 when every file is clean now or was left alone as unsupported, 1 when any file failed
    (or was unsupported, with --fail-on-unsupported), 2 on usage errors, 3 on an internal error, 128+N when
    stopped by signal N; the totals line (and --json's "complete") says when a run is incomplete.
    """
    if bool(out_dir) == in_place:
        raise click.UsageError("give exactly one of --out-dir DIR or --in-place")
    if break_hard_links and not in_place:
        raise click.UsageError("--break-hard-links goes with --in-place")
    mode = Mode(out_dir=out_dir, in_place=in_place, break_hard_links=break_hard_links)
    sys.exit(_execute(paths, RunOptions.pop(kwargs), mode))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@run_options
def inspect(paths: tuple[Path, ...], **kwargs: Any) -> None:
    """Show what would be removed and kept in PATH..., without writing anything (JSON outcome: would_clean)."""
    sys.exit(_execute(paths, RunOptions.pop(kwargs), Mode()))


cli.add_command(exiftool_group)


def main() -> None:
    """Console-script entry point: clear messages instead of tracebacks."""
    try:
        cli.main(standalone_mode=True)
    except ScrubberError as exc:
        click.echo(f"exif-scrub: {exc}", err=True)
        sys.exit(EXIT_USAGE)
