"""``exif-audit``: prove that a bucket (or a folder) holds no image metadata, and say what leaks where.

Exit codes: 0 clean, 1 something leaks or cannot be read (or matches ``--fail-on``), 2 errors
(bad arguments, no access, ExifTool missing), 3 an internal error stopped the run, 128+N stopped by signal N.
A run that did not finish still writes its report, marked incomplete (verdict ``INCOMPLETE``).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from exif_scrubber import Scrubber, ScrubPolicy, __version__
from exif_scrubber.batch import StopSignal, stopping_on_signals
from exif_scrubber.cli_text import one_line
from exif_scrubber.errors import ScrubberError
from exif_scrubber.exiftool_process import usable_cpus
from exif_scrubber.provenance import Provenance

from . import groups
from .inventory import read_inventory
from .listing import KeyFilter, ListingError, ObjectRef, count, list_local, list_s3, parse_s3_uri
from .report import WRITERS, Header, ObjectResult, Summary, TableWriter, Writer, fails, utc_now
from .scan import Auditor

EXIT_CLEAN, EXIT_LEAKS, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3
COUNT_REST_SECONDS = 3.0
"""How long a stopped run may spend counting the rest of the listing (what it did not scan) before it says
"at least"."""


class AuditError(click.ClickException):
    """An error that ends the run with exit code 2 and a one-line message."""

    exit_code = EXIT_ERROR


def _list_groups(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(groups.listing())
        ctx.exit(EXIT_CLEAN)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="exif-audit", message="%(prog)s %(version)s")
@click.option(
    "--list-groups",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_groups,
    help="Print every name --fail-on accepts, then exit.",
)
@click.argument("target", required=False)
@click.option(
    "--inventory",
    metavar="MANIFEST",
    help="Read objects from an S3 Inventory manifest.json (s3:// or local) instead of listing.",
)
@click.option("--endpoint-url", help="S3-compatible endpoint (MinIO, moto, ...).")
@click.option("--profile", help="AWS profile to use.")
@click.option("--region", help="AWS region.")
@click.option("--all-versions", is_flag=True, help="Also audit noncurrent versions (where un-scrubbed originals hide).")
@click.option(
    "--include",
    "include",
    multiple=True,
    metavar="GLOB",
    help="Only keys (or paths relative to the folder) matching GLOB; repeatable.",
)
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB", help="Skip keys matching GLOB; repeatable.")
@click.option(
    "--max-workers", type=click.IntRange(1, 256), default=16, show_default=True, help="Objects read concurrently."
)
@click.option("--format", "fmt", type=click.Choice(sorted(WRITERS)), default="table", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report here (default: stdout).",
)
@click.option(
    "--fail-on",
    metavar="GROUPS",
    help="Comma-separated names that fail the run: pseudo-groups (leaking, unreadable, unsupported, skipped), "
    "categories (location, people, device, dates, thumbnails, text, software, unparsed, unverifiable), families "
    "(EXIF, GPS, MakerNotes, Comment, Trailer) or ExifTool groups as prefixes (XMP, IPTC, ICC, ...); an unknown "
    "name is an error (see --list-groups). Default: any leak or unreadable object.",
)
@click.option("--full-read", is_flag=True, help="Read every object whole (no ranged GETs).")
@click.option(
    "--keep-copyright", is_flag=True, help="Policy: copyright/creator fields are kept (as the Lambda's KEEP_COPYRIGHT)."
)
@click.option("--strip-icc", is_flag=True, help="Policy: ICC profiles count as leftovers (as STRIP_ICC).")
@click.option(
    "--keep-live-photo-pairing",
    is_flag=True,
    help="Policy: a Live Photo's pairing identifier is kept (as KEEP_LIVE_PHOTO_PAIRING).",
)
@click.option(
    "--drop-ai-disclosure",
    is_flag=True,
    help="Policy: an XMP AI disclosure (DigitalSourceType) counts as a leftover (as DROP_AI_DISCLOSURE).",
)
@click.option(
    "--c2pa-trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="C2PA trust list (PEM roots): a manifest whose signer chains to one, that validates and holds nothing "
    "personal is clean (a PROVENANCE=resign deployment's root). Without it every manifest is a finding.",
)
@click.option(
    "--fix",
    "do_fix",
    is_flag=True,
    help="Scrub the leaking current objects through the Lambda's own path (asks first).",
)
@click.option(
    "--purge-noncurrent",
    is_flag=True,
    help="With --fix --all-versions: permanently delete the leaking noncurrent versions (versions cannot be "
    "rewritten); a version that is its key's only copy is kept.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --fix writes.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Table: add each object's technical details (ExifTool groups and tags, blocks) and full version ids.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def main(
    target: str | None,
    inventory: str | None,
    endpoint_url: str | None,
    profile: str | None,
    region: str | None,
    all_versions: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    max_workers: int,
    fmt: str,
    output: Path | None,
    fail_on: str | None,
    full_read: bool,
    keep_copyright: bool,
    strip_icc: bool,
    keep_live_photo_pairing: bool,
    drop_ai_disclosure: bool,
    c2pa_trust: Path | None,
    do_fix: bool,
    purge_noncurrent: bool,
    yes: bool,
    verbose: bool,
    quiet: bool,
) -> None:
    """Audit TARGET (s3://bucket[/prefix] or a local folder) for image metadata left behind.

    Exit codes: 0 clean, 1 leaks or unreadable images (or what --fail-on names), 2 errors (usage, access),
    3 internal error, 128+N stopped by signal N (Ctrl-C: 130). An interrupted run writes its report marked
    incomplete (complete: false, verdict INCOMPLETE).
    """
    warnings.filterwarnings("ignore", message="ExifTool process was previously running but died")
    is_s3 = _check_usage(target, inventory, do_fix=do_fix, purge_noncurrent=purge_noncurrent, all_versions=all_versions)
    keys = KeyFilter(include, exclude)
    fail_groups = _fail_on(fail_on)
    policy = ScrubPolicy(
        keep_copyright=keep_copyright,
        strip_icc=strip_icc,
        keep_live_photo_pairing=keep_live_photo_pairing,
        drop_ai_disclosure=drop_ai_disclosure,
    )
    provenance = Provenance(trust_anchors=_trust_list(c2pa_trust))
    err = Console(stderr=True)
    show_progress = not quiet and err.is_terminal
    started = time.monotonic()
    summary = Summary()
    with stopping_on_signals() as stop, ExitStack() as stack:  # from the start: a Ctrl-C is never "exit 1"
        client = _s3_client(endpoint_url, profile, region, max_workers) if is_s3 else None
        refs, totals = _listing(target, inventory, client, all_versions, keys)
        try:
            scrubber = stack.enter_context(
                Scrubber(policy, pool_size=min(max_workers, usable_cpus()), provenance=provenance)
            )
        except ScrubberError as exc:
            raise AuditError(str(exc)) from None
        auditor = stack.enter_context(Auditor(scrubber, client=client, ranged=not full_read))
        out: IO[str] = (
            stack.enter_context(output.open("w", newline="", errors="surrogateescape")) if output else sys.stdout
        )
        header = Header(
            started=utc_now(),
            target=target or f"inventory {inventory}",
            policy={"fingerprint": policy.fingerprint(), **dataclasses.asdict(policy)},
            versions={"exif-scrubber": __version__, "exiftool": scrubber.exiftool_version},
            options={"all_versions": all_versions, "fail_on": fail_groups, "include": list(include),
                     "exclude": list(exclude), "full_read": full_read, "c2pa_trust": bool(c2pa_trust)},
        )  # fmt: skip
        folder = target if target and not is_s3 and Path(target).is_dir() else None
        table = TableWriter(out, header, verbose=verbose, folder=folder) if fmt == "table" else None
        writer: Writer = table or WRITERS[fmt](out, header)
        run = _Run(auditor, writer, summary, fail_groups, _Bar(stack, err, totals) if show_progress else None)
        try:
            stopped = run.scan(refs, max_workers, stop, keep=do_fix)
        except BaseException:
            summary.stop("an unexpected interruption", *run.not_scanned(refs, count=False))
            raise
        finally:
            summary.seconds = time.monotonic() - started
            summary.finished = utc_now()
            writer.close(summary)
        _signals_end_it()
        if stopped is None and run.to_fix:
            if output is None:
                sys.stdout.flush()
            summary.failing -= _fix(client, scrubber, policy, run.to_fix, yes, err, purge_noncurrent=purge_noncurrent)
        elif stopped is not None and run.to_fix:
            err.print("not fixed: the audit did not finish, nothing was written", highlight=False)
        _verdict(summary, fail_groups, to_file=output is not None, table=fmt == "table", err=err)
        if stopped is not None:
            code, message = stopped
            if message:
                err.print(f"exif-audit: {message}", highlight=False, markup=False, soft_wrap=True)
            sys.exit(code)
    if summary.access_errors:
        err.print(
            f"[red]error:[/red] {summary.access_errors} object(s) could not be read (see the report)", highlight=False
        )
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_LEAKS if summary.failing else EXIT_CLEAN)


def _trust_list(path: Path | None) -> str | None:
    """The PEM roots of ``--c2pa-trust`` (a usage error when the file holds none)."""
    if path is None:
        return None
    text = path.read_text(encoding="ascii", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise click.BadParameter(f"{path} holds no PEM certificate", param_hint="--c2pa-trust")
    return text


def _signals_end_it() -> None:
    """Once the report is written, SIGINT and SIGTERM end the process again (during --fix, or while the objects
    still being scanned after a stop are waited for): nothing is left to say."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)


class _Run:
    """The scan of a listing into a report, and how it ended."""

    def __init__(
        self, auditor: Auditor, writer: Writer, summary: Summary, fail_on: list[str] | None, bar: _Bar | None
    ) -> None:
        self.auditor, self.writer, self.summary, self.fail_on, self.bar = auditor, writer, summary, fail_on, bar
        self.to_fix: list[ObjectResult] = []

    def scan(
        self, refs: Iterator[ObjectRef], max_workers: int, stop: StopSignal, *, keep: bool
    ) -> tuple[int, str | None] | None:
        """Scan every object into the report. Returns None when the listing was scanned to its end, else the
        exit code and message of what stopped it (the summary then says incomplete)."""
        try:
            for result in self.auditor.audit_all(refs, max_workers, stop=lambda: stop.signum is not None):
                self.summary.add(result, fails(result, self.fail_on))
                self.writer.row(result)
                if keep and result.leftovers and not result.access_error:
                    self.to_fix.append(result)
                if self.bar is not None:
                    self.bar.advance(result)
        except ListingError as exc:
            self.summary.stop(f"a listing error ({exc})", *self.not_scanned(refs, count=False))
            return EXIT_ERROR, f"{exc}; the report is incomplete"
        except Exception as exc:  # a bug: the report must still say what was and was not done
            problem = f"internal error ({type(exc).__name__})"
            self.summary.stop(problem, *self.not_scanned(refs))
            return EXIT_INTERNAL, f"{problem}: {one_line(str(exc))}; the report is incomplete"
        if stop.signum is not None:
            self.summary.stop(stop.name or "a signal", *self.not_scanned(refs))
            return 128 + stop.signum, None
        return None

    def not_scanned(self, refs: Iterator[ObjectRef], *, count: bool = True) -> tuple[int, bool]:
        """Objects listed but not scanned, plus the rest of the listing counted for a few seconds; and whether
        that is the exact number (False: a lower bound)."""
        pending = self.auditor.listed - self.auditor.done
        if self.auditor.listing_exhausted:
            return pending, True
        if not count:
            return pending, False
        deadline, rest = time.monotonic() + COUNT_REST_SECONDS, 0
        try:
            for _ in refs:
                rest += 1
                if time.monotonic() > deadline:
                    return pending + rest, False
        except Exception:
            return pending + rest, False
        return pending + rest, True


def _check_usage(
    target: str | None, inventory: str | None, *, do_fix: bool, purge_noncurrent: bool, all_versions: bool
) -> bool:
    """Refuse option combinations that cannot work (exit 2); True when the target is S3."""
    if bool(target) == bool(inventory):
        raise click.UsageError("give either TARGET (s3://bucket[/prefix] or a folder) or --inventory MANIFEST")
    is_s3 = bool(inventory) or bool(target and target.startswith("s3://"))
    if do_fix and not is_s3:
        raise click.UsageError("--fix rewrites S3 objects through the Lambda's path; it does not apply to folders")
    if purge_noncurrent and not (do_fix and all_versions):  # without --all-versions no noncurrent row is read
        raise click.UsageError("--purge-noncurrent needs --fix and --all-versions (also with --inventory)")
    return is_s3


def _fail_on(raw: str | None) -> list[str] | None:
    """The ``--fail-on`` names; a name that can never match anything is a usage error (exit 2)."""
    if raw is None:
        return None
    names = [g.strip() for g in raw.split(",") if g.strip()]
    if not names:
        raise click.BadParameter("name at least one group", param_hint="--fail-on")
    unknown = groups.unknown_names(names)
    if unknown:
        raise click.BadParameter(groups.usage_message(unknown), param_hint="--fail-on")
    return names


def _verdict(summary: Summary, fail_on: list[str] | None, *, to_file: bool, table: bool, err: Console) -> None:
    """The one-line verdict: on stdout after a table or when the report went to a file (with the counts),
    else on stderr so that JSON/CSV on stdout stays parseable."""
    line = summary.verdict_line(fail_on)
    if not summary.complete and not to_file and not table:
        err.print(f"{line}\n{summary.counts_line()}", highlight=False, markup=False, soft_wrap=True)
    elif to_file:
        click.echo(f"{line}\n{summary.counts_line()}")
    elif table:
        click.echo(line)
    else:
        err.print(line, highlight=False, markup=False, soft_wrap=True)


def _fix(
    client: Any,
    scrubber: Scrubber,
    policy: ScrubPolicy,
    leaking: list[ObjectResult],
    yes: bool,
    err: Console,
    *,
    purge_noncurrent: bool = False,
) -> int:
    """Confirm, then scrub (and purge); return how many objects no longer leak (they no longer fail the run)."""
    from .fix import fix

    current = sum(r.is_latest for r in leaking)
    question = f"Scrub {current} leaking object(s) in place (conditional writes, attributes kept)?"
    if purge_noncurrent:
        question = (
            f"Scrub {current} leaking object(s) in place and PERMANENTLY DELETE {len(leaking) - current} leaking "
            "noncurrent version(s)?"
        )
    if not yes and not click.confirm(question, default=False, err=True):
        err.print("not fixed: nothing was written", highlight=False)
        return 0
    outcomes = fix(
        client,
        scrubber,
        policy,
        leaking,
        lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True),
        purge_noncurrent=purge_noncurrent,
    )
    err.print("fix: " + ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items())), highlight=False)
    return outcomes["scrubbed"] + outcomes["purged"]


def _s3_client(endpoint_url: str | None, profile: str | None, region: str | None, workers: int) -> Any:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        config = Config(max_pool_connections=workers + 4, retries={"mode": "standard", "max_attempts": 5})
        return session.client("s3", endpoint_url=endpoint_url, config=config)
    except BotoCoreError as exc:
        raise AuditError(str(exc)) from None


def _listing(
    target: str | None, inventory: str | None, client: Any, all_versions: bool, keys: KeyFilter
) -> tuple[Iterator[ObjectRef], Any]:
    """The streamed listing, and a callable that counts it again (for the progress bar's totals)."""
    if inventory:
        return (
            iter(read_inventory(inventory, client, all_versions=all_versions, keys=keys)),
            lambda: count(read_inventory(inventory, client, all_versions=all_versions, keys=keys)),
        )
    assert target is not None
    if target.startswith("s3://"):
        try:
            bucket, prefix = parse_s3_uri(target)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET") from None
        return (
            list_s3(client, bucket, prefix, all_versions=all_versions, keys=keys),
            lambda: count(list_s3(client, bucket, prefix, all_versions=all_versions, keys=keys)),
        )
    root = Path(target)
    if not root.exists():
        raise click.BadParameter(f"no such file or folder: {target}", param_hint="TARGET")
    return list_local(root, keys=keys), lambda: count(list_local(root, keys=keys))


class _Bar:
    """A progress bar on the terminal: objects (with ETA once the background count is known), bytes, rate."""

    def __init__(self, stack: ExitStack, console: Console, totals: Any) -> None:
        self.progress = Progress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        stack.enter_context(self.progress)
        self.task = self.progress.add_task("objects", total=None, detail="")
        self.started = time.monotonic()
        self.bytes_done = self.bytes_total = 0
        threading.Thread(target=self._count, args=(totals,), daemon=True, name="exif-audit-count").start()

    def _count(self, totals: Any) -> None:
        try:
            objects, size = totals()
        except Exception:
            return  # the audit itself reports listing errors
        self.bytes_total = size
        self.progress.update(self.task, total=objects)

    def advance(self, result: ObjectResult) -> None:
        self.bytes_done += result.size
        rate = self.progress.tasks[0].completed / max(time.monotonic() - self.started, 1e-6)
        total = f"/{_human(self.bytes_total)}" if self.bytes_total else ""
        self.progress.update(self.task, advance=1, detail=f"{_human(self.bytes_done)}{total}  {rate:,.1f} obj/s")


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{size} B"
