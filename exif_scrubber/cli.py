"""``exif-scrub``: clean or inspect local image files with the same engine as the Lambda."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from . import __version__
from .cli_exiftool import exiftool_group
from .engine import Scrubber
from .errors import ScrubberError
from .policy import ScrubPolicy
from .report import Outcome, ScrubReport

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Job:
    """One input file and where its output goes (None: inspect only)."""

    source: Path
    target: Path | None
    label: str


def _walk(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, path relative to its argument) for files and, recursively, folders."""
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
                yield file, Path(path.name) / file.relative_to(path)
        elif path.is_file():
            yield path, Path(path.name)
        else:
            raise click.BadParameter(f"no such file or folder: {path}", param_hint="PATH")


def _jobs(paths: tuple[Path, ...], out_dir: Path | None, in_place: bool) -> list[Job]:
    jobs, seen = [], set()
    for file, relative in _walk(paths):
        target = file if in_place else (out_dir / relative if out_dir else None)
        if target is not None:
            if target in seen:
                raise click.BadParameter(f"two inputs would be written to {target}", param_hint="PATH")
            seen.add(target)
        jobs.append(Job(source=file, target=target, label=str(file)))
    return jobs


def _policy_options(func: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option("--keep-copyright", is_flag=True, help="Keep copyright/creator/credit fields."),
        click.option("--strip-icc", is_flag=True, help="Also remove the ICC colour profile."),
        click.option("--keep-c2pa", is_flag=True, help="Keep C2PA/JUMBF content credentials."),
        click.option(
            "--workers",
            type=click.IntRange(1, 64),
            default=os.cpu_count() or 1,
            show_default=True,
            help="Files handled in parallel (one warm ExifTool each).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(jobs: list[Job], policy: ScrubPolicy, workers: int, show_progress: bool) -> list[ScrubReport]:
    with Scrubber(policy, pool_size=workers) as scrubber:

        def work(job: Job) -> ScrubReport:
            return scrubber.scrub_file(job.source, job.target, display_name=job.label)

        with ThreadPoolExecutor(max_workers=workers) as executor:
            results = executor.map(work, jobs)
            if not show_progress:
                return list(results)
            reports = []
            columns = (TextColumn("[bold]scrubbing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("scrub", total=len(jobs))
                for report in results:
                    reports.append(report)
                    progress.advance(task)
            return reports


def _summary_line(report: ScrubReport, *, inspecting: bool) -> str:
    removed = ", ".join(f"{group}: {count}" for group, count in report.removed.items())
    if report.outcome is Outcome.CLEANED:
        verb = "would remove" if inspecting else "cleaned"
        size = "" if inspecting else f"; {report.bytes_before:,} -> {report.bytes_after or 0:,} bytes"
        dropped = f"; dropped {', '.join(report.dropped_secondary_images)}" if report.dropped_secondary_images else ""
        return f"{verb:<13} {report.source}  ({removed}{size}{dropped})"
    return f"{'clean':<13} {report.source}  (nothing to remove)"


def _print(reports: list[ScrubReport], as_json: bool, inspecting: bool) -> int:
    refused = [r for r in reports if not r.ok]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2, default=str))
    else:
        for report in reports:
            if report.ok:
                click.echo(_summary_line(report, inspecting=inspecting))
                if inspecting and report.kept:
                    click.echo(f"{'':<13} keeps {', '.join(f'{g}: {n}' for g, n in report.kept.items())}")
    for report in refused:
        click.echo(f"exif-scrub: {report.outcome.value}: {report.source}: {report.reason}", err=True)
    return EXIT_REFUSED if refused else EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exif-scrub")
def cli() -> None:
    """Remove image metadata losslessly, with proof (ExifTool ImageDataHash + leftover scan)."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Write cleaned files here.")
@click.option("--in-place", is_flag=True, help="Replace the input files (atomically, only when verified).")
@_policy_options
def clean(
    paths: tuple[Path, ...],
    out_dir: Path | None,
    in_place: bool,
    keep_copyright: bool,
    strip_icc: bool,
    keep_c2pa: bool,
    workers: int,
    as_json: bool,
) -> None:
    """Clean PATH... (files or folders) into --out-dir, or --in-place.

    Exit code 0 when every file is clean now, 1 when any file was refused or failed, 2 on usage errors.
    """
    if bool(out_dir) == in_place:
        raise click.UsageError("give exactly one of --out-dir DIR or --in-place")
    jobs = _jobs(paths, out_dir, in_place)
    policy = ScrubPolicy(keep_copyright=keep_copyright, strip_icc=strip_icc, keep_c2pa=keep_c2pa)
    reports = _run(jobs, policy, workers, show_progress=sys.stderr.isatty() and not as_json)
    sys.exit(_print(reports, as_json, inspecting=False))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_policy_options
def inspect(
    paths: tuple[Path, ...], keep_copyright: bool, strip_icc: bool, keep_c2pa: bool, workers: int, as_json: bool
) -> None:
    """Show what would be removed and kept in PATH..., without writing anything."""
    jobs = _jobs(paths, None, False)
    policy = ScrubPolicy(keep_copyright=keep_copyright, strip_icc=strip_icc, keep_c2pa=keep_c2pa)
    reports = _run(jobs, policy, workers, show_progress=sys.stderr.isatty() and not as_json)
    sys.exit(_print(reports, as_json, inspecting=True))


cli.add_command(exiftool_group)


def main() -> None:
    """Console-script entry point: clear messages instead of tracebacks."""
    try:
        cli.main(standalone_mode=True)
    except ScrubberError as exc:
        click.echo(f"exif-scrub: {exc}", err=True)
        sys.exit(EXIT_USAGE)
