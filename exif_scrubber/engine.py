"""The scrub engine: one warm ExifTool, one policy, proof before anything is written."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import ExifToolCrashed, ExifToolTimeout, ScrubberError, StructureError
from .exiftool_process import ExifToolPool
from .formats import HEAD_BYTES, FormatHandler, ScrubContext, sniff
from .formats.base import ORIENTATION_GROUPS
from .leftovers import Tag, count_by_group, find_leftovers, parse_exiftool_json
from .pixels import PixelProbe, ProbeError, probe
from .policy import ScrubPolicy
from .report import Outcome, ScrubReport, Verification

READ_ARGS = (
    "-j",
    "-G3:1",
    "-a",
    "-ee",
    "-n",
    "-api",
    "ImageHashType=SHA256",
    "-api",
    "LargeFileSupport=1",
    "-all:all",
    "--System:all",
    "-ImageDataHash",
)
"""How every file is read: all tags, duplicates and embedded documents, plus the image-data hash.
``-u`` (unknown tags too) is added wherever a verdict depends on the reading."""


_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")
"""Paths ExifTool may be given as they are: no spaces, pipes, quotes or other shell-ish characters."""


class Refused(ScrubberError):
    """A file is refused; ``outcome`` says whether it is unsupported or failed."""

    def __init__(self, reason: str, outcome: Outcome = Outcome.FAILED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


@dataclass
class Reading:
    """ExifTool's reading of one file."""

    tags: list[Tag]
    image_hash: str | None
    mime_type: str | None
    error: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    """The leftover scan of one file, as the audit reports it."""

    format: str | None
    leftovers: dict[str, list[str]]
    error: str | None = None
    unsupported: bool = False
    image_hash: str | None = None
    """SHA-256 of the image data (ExifTool ImageDataHash, or the format's own for GIF)."""

    @property
    def clean(self) -> bool:
        return not self.leftovers and self.error is None and not self.unsupported


class Scrubber:
    """Removes metadata losslessly and proves it, file by file.

    One instance holds a small pool of warm ExifTool processes and may be shared by threads::

        with Scrubber(ScrubPolicy()) as scrubber:
            report = scrubber.scrub_file(Path("in.jpg"), Path("out/in.jpg"))
    """

    def __init__(
        self,
        policy: ScrubPolicy | None = None,
        *,
        exiftool_path: str | os.PathLike[str] | None = None,
        pool: ExifToolPool | None = None,
        pool_size: int = 1,
        timeout_s: float = 60.0,
        work_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.policy = policy or ScrubPolicy()
        self.pool = pool or ExifToolPool(exiftool_path, size=pool_size, timeout_s=timeout_s)
        self.work_dir = Path(work_dir) if work_dir else None

    @property
    def exiftool_version(self) -> str:
        """The version of the ExifTool in use, e.g. ``"13.59"``."""
        return "{}.{:02d}".format(*self.pool.version)

    def __enter__(self) -> Scrubber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ExifTool processes."""
        self.pool.close()

    def warm_up(self, *, scrub_sample: bool = True) -> None:
        """Start every ExifTool process and, with ``scrub_sample``, scrub a tiny JPEG once so that
        ExifTool's writer modules and Pillow's plugins are loaded before the first real file
        (on Lambda this runs in the init phase)."""
        self.pool.warm_up()
        if not scrub_sample:
            return
        exif = Image.Exif()
        exif[0x0112] = 1  # an Orientation, so the write path runs in full
        with self._workspace() as work:
            for image_format, extension in (("JPEG", "jpg"), ("PNG", "png")):  # ExifTool loads writers per format
                sample = work / f"warm-up.{extension}"
                Image.new("RGB", (16, 16), (128, 64, 32)).save(sample, image_format, exif=exif.tobytes())
                self.scrub_file(sample, work / f"warm-up.out.{extension}")

    # ------------------------------------------------------------------ public API

    def scrub_file(self, src: Path, dst: Path | None = None, *, display_name: str | None = None) -> ScrubReport:
        """Scrub ``src`` into ``dst`` (``dst`` may equal ``src``); ``dst=None`` only inspects.

        Nothing is written unless the output passed every verification; the write is atomic.
        Files that are already clean are copied unchanged to a different ``dst``.
        """
        report = ScrubReport(source=display_name or src.name, outcome=Outcome.FAILED)
        started = time.perf_counter()
        try:
            self._scrub(Path(src), Path(dst) if dst is not None else None, report)
        except Refused as refused:
            report.outcome, report.reason = refused.outcome, refused.reason
        except ExifToolTimeout as exc:
            report.outcome, report.reason = Outcome.FAILED, f"ExifTool timed out on this file ({exc})"
        except ExifToolCrashed as exc:
            report.outcome, report.reason = Outcome.FAILED, f"ExifTool crashed on this file ({exc})"
        except OSError as exc:
            report.outcome, report.reason = Outcome.FAILED, f"I/O error: {exc.strerror or exc}"
        report.timings_ms["total"] = _ms_since(started)
        return report

    def inspect(self, src: Path, *, display_name: str | None = None) -> ScrubReport:
        """What :meth:`scrub_file` would remove and keep, without writing anything."""
        return self.scrub_file(src, None, display_name=display_name)

    def scan(self, path: Path, *, complete: bool = True, copy: bool = True) -> ScanResult:
        """The leftover scan of one file (the audit's definition of "not clean").

        ``complete=False`` is for partial downloads (head and tail of an object): the container
        walkers that need the whole file are skipped, and truncation errors are tolerated.
        The image-data hash is always requested: without it ExifTool reads some files differently
        (e.g. it decodes a Google HDRPlus maker note it otherwise skips). ``copy=False`` lets a caller
        that names its own temp files skip the private copy; a path with any character outside
        ``[A-Za-z0-9._/-]`` is copied regardless.
        """
        try:
            with Path(path).open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as exc:
            return ScanResult(format=None, leftovers={}, error=f"I/O error: {exc.strerror or exc}")
        handler = sniff(head)
        if handler is None:
            return ScanResult(format=None, leftovers={}, unsupported=True)
        with self._workspace() as work:
            local = Path(path)
            if copy or not _SAFE_PATH.fullmatch(str(local)) or not local.is_absolute():
                local = work / f"scan.{handler.extension}"
                shutil.copyfile(path, local)
            reading = self._read(local, handler)
            if reading.error and complete:
                return ScanResult(format=handler.name, leftovers={}, error=f"ExifTool: {reading.error}")
            leftovers = find_leftovers(reading.tags, self.policy, tiff=handler.is_tiff)
            if complete:
                try:
                    leftovers = _merged(leftovers, handler.structure_leftovers(local, self.policy))
                except StructureError as exc:
                    return ScanResult(format=handler.name, leftovers=leftovers, error=f"malformed: {exc}")
            return ScanResult(format=handler.name, leftovers=leftovers, image_hash=reading.image_hash)

    # ------------------------------------------------------------------ steps

    def _scrub(self, src: Path, dst: Path | None, report: ScrubReport) -> None:
        size = src.stat().st_size
        report.bytes_before = size
        if size == 0:
            raise Refused("empty file (0 bytes)")
        with src.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        handler = sniff(head)
        if handler is None:
            raise Refused(f"not a supported image format (first bytes {head[:8].hex()})", Outcome.UNSUPPORTED)
        report.format, report.mime_type = handler.name, handler.mime_type
        refusal = handler.refusal(head)
        if refusal:
            raise Refused(refusal)
        with self._workspace() as work:
            source = work / f"in.{handler.extension}"
            output = work / f"out.{handler.extension}"
            shutil.copyfile(src, source)
            self._scrub_in(handler, source, output, work, report)
            if dst is not None and report.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN):
                if report.outcome is Outcome.CLEANED:
                    _atomic_copy(output, dst)
                    report.bytes_after = output.stat().st_size
                elif dst.resolve() != src.resolve():
                    _atomic_copy(source, dst)

    def _scrub_in(self, handler: FormatHandler, source: Path, output: Path, work: Path, report: ScrubReport) -> None:
        timer = time.perf_counter()
        before_pixels = self._probe(source, handler)
        report.orientation = before_pixels.orientation
        before = self._read(source, handler, unknown=False)  # -u is slow on big MakerNotes
        report.timings_ms["read"] = _ms_since(timer)
        if before.error:
            raise Refused(f"ExifTool cannot read it: {before.error}")
        if before.mime_type not in handler.mime_types:
            raise Refused(f"content looks like {handler.name} but ExifTool reads it as {before.mime_type}")
        structural = self._structure_leftovers(handler, source, f"malformed {handler.name}")
        leftovers = _merged(find_leftovers(before.tags, self.policy, tiff=handler.is_tiff), structural)
        if not leftovers:  # confirm "nothing to remove" with unknown tags included
            before = self._read(source, handler)
            if before.error:
                raise Refused(f"ExifTool cannot read it: {before.error}")
            leftovers = _merged(find_leftovers(before.tags, self.policy, tiff=handler.is_tiff), structural)
        report.leftovers_before = leftovers
        if not leftovers:
            report.outcome = Outcome.ALREADY_CLEAN
            report.kept = count_by_group(before.tags)
            return

        timer = time.perf_counter()
        ctx = ScrubContext(
            policy=self.policy,
            tags=before.tags,
            work_dir=work,
            run_exiftool=self._run_checked,
        )
        self._write(handler, ctx, source, output)
        after = self._read(output, handler)
        remaining = self._leftovers_of(handler, output, after)
        if remaining:
            targeted = handler.targeted_args(remaining)
            if targeted:
                self._run(["-overwrite_original", *targeted, str(output)])
                after = self._read(output, handler)
                remaining = self._leftovers_of(handler, output, after)
        report.timings_ms["scrub"] = _ms_since(timer)
        report.notes += ctx.notes

        timer = time.perf_counter()
        report.dropped_secondary_images = ctx.dropped_images
        after_pixels = self._probe(output, handler)
        verification = _verify(
            before, after, before_pixels, after_pixels, remaining, len(report.dropped_secondary_images)
        )
        report.verification = verification
        report.timings_ms["verify"] = _ms_since(timer)
        report.removed = _removed(before.tags, after.tags)
        report.kept = count_by_group(after.tags)
        if not verification.passed:
            raise Refused("verification failed: " + _describe_failure(verification))
        report.outcome = Outcome.CLEANED

    def _write(self, handler: FormatHandler, ctx: ScrubContext, source: Path, output: Path) -> None:
        args = handler.write_args(ctx)
        try:
            source = handler.prepare(source, ctx)
        except StructureError as exc:
            raise Refused(f"malformed {handler.name}: {exc}") from None
        result = self.pool.execute([*args, "-o", str(output), str(source)])
        if not output.exists():
            raise Refused(f"ExifTool could not rewrite it: {_first_error(result.stderr)}")
        try:
            handler.post_process(output, ctx)
        except StructureError as exc:
            raise Refused(f"malformed {handler.name}: {exc}") from None

    def _leftovers_of(self, handler: FormatHandler, path: Path, reading: Reading) -> dict[str, list[str]]:
        if reading.error:
            raise Refused(f"ExifTool cannot read the output: {reading.error}")
        structural = self._structure_leftovers(handler, path, "output is malformed")
        return _merged(find_leftovers(reading.tags, self.policy, tiff=handler.is_tiff), structural)

    def _structure_leftovers(self, handler: FormatHandler, path: Path, refusal: str) -> dict[str, list[str]]:
        """The container walker's findings; a structure it cannot follow refuses the file."""
        try:
            return handler.structure_leftovers(path, self.policy)
        except StructureError as exc:
            raise Refused(f"{refusal}: {exc}") from None

    def _probe(self, path: Path, handler: FormatHandler) -> PixelProbe:
        try:
            return probe(path, max_pixels=self.policy.max_pixels, digest_frames=handler.compare_frames)
        except ProbeError as exc:
            raise Refused(str(exc)) from None

    def _read(self, path: Path, handler: FormatHandler | None = None, *, unknown: bool = True) -> Reading:
        result = self.pool.execute([*READ_ARGS, *(["-u"] if unknown else []), str(path)])
        if not result.stdout:
            return Reading(tags=[], image_hash=None, mime_type=None, error=_first_error(result.stderr))
        documents = parse_exiftool_json(result.stdout)
        tags = documents[0] if documents else []
        values: dict[str, Any] = {}
        warnings: list[str] = []
        for tag in tags:
            if tag.doc:
                continue
            if tag.group == "ExifTool" and tag.name == "Warning":
                warnings.append(str(tag.value))
            else:
                values.setdefault(f"{tag.group}:{tag.name}", tag.value)
        error = values.get("ExifTool:Error")
        data_hash = values.get("File:ImageDataHash")
        if data_hash is None and handler is not None and not error:
            try:
                data_hash = handler.image_data_hash(path)
            except StructureError:
                data_hash = None
        return Reading(
            tags=tags,
            image_hash=data_hash,
            mime_type=values.get("File:MIMEType"),
            error=str(error) if error else None,
            warnings=warnings,
        )

    def _run(self, args: list[str]) -> str:
        return self.pool.execute(args).stdout

    def _run_checked(self, args: Any) -> str:
        result = self.pool.execute(list(args))
        if result.status not in (0, 1) or "Error" in result.stderr:
            raise Refused(f"ExifTool failed on an embedded item: {_first_error(result.stderr)}")
        return result.stdout

    @contextmanager
    def _workspace(self) -> Iterator[Path]:
        """A private temp folder: the only file names ExifTool ever sees are made here."""
        with tempfile.TemporaryDirectory(prefix="exif-scrub-", dir=self.work_dir) as tmp:
            yield Path(tmp)


# ---------------------------------------------------------------------- helpers


def _verify(
    before: Reading,
    after: Reading,
    before_pixels: PixelProbe,
    after_pixels: PixelProbe,
    leftovers: dict[str, list[str]],
    dropped: int,
) -> Verification:
    frames_expected = before_pixels.frames - dropped
    frame_pixels_equal = None
    if before_pixels.frame_digests is not None and after_pixels.frame_digests is not None:
        kept = before_pixels.frame_digests[: len(after_pixels.frame_digests)]
        frame_pixels_equal = kept == after_pixels.frame_digests
    same_family = {"JPEG", "MPO"}
    format_kept = (
        before_pixels.format == after_pixels.format or {before_pixels.format, after_pixels.format} <= same_family
    )
    return Verification(
        image_hash_before=before.image_hash,
        image_hash_after=after.image_hash,
        hash_equal=before.image_hash is not None and before.image_hash == after.image_hash,
        format_kept=format_kept and before.mime_type is not None and before.mime_type == after.mime_type,
        size_kept=before_pixels.size == after_pixels.size,
        mode_kept=before_pixels.mode == after_pixels.mode,
        frames_kept=after_pixels.frames == frames_expected,
        orientation_kept=(before_pixels.orientation or 1) == (after_pixels.orientation or 1)
        and _orientation_tags(before.tags) == _orientation_tags(after.tags),
        frame_pixels_equal=frame_pixels_equal,
        leftovers=leftovers,
    )


def _orientation_tags(tags: list[Tag]) -> dict[str, object]:
    return {t.group: t.value for t in tags if t.name == "Orientation" and not t.doc and t.group in ORIENTATION_GROUPS}


def _describe_failure(verification: Verification) -> str:
    problems = []
    if not verification.hash_equal:
        problems.append(
            f"image data hash changed ({verification.image_hash_before} -> {verification.image_hash_after})"
        )
    for name in ("format_kept", "size_kept", "mode_kept", "frames_kept", "orientation_kept"):
        if not getattr(verification, name):
            problems.append(name.replace("_kept", "") + " changed")
    if verification.frame_pixels_equal is False:
        problems.append("decoded frame pixels changed")
    if verification.leftovers:
        problems.append(
            "metadata that cannot be removed: "
            + "; ".join(f"{group}: {', '.join(names[:6])}" for group, names in verification.leftovers.items())
        )
    return ", ".join(problems)


def _removed(before: list[Tag], after: list[Tag]) -> dict[str, int]:
    counts_before, counts_after = count_by_group(before), count_by_group(after)
    removed = {g: n - counts_after.get(g, 0) for g, n in counts_before.items() if n > counts_after.get(g, 0)}
    return dict(sorted(removed.items()))


def _merged(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Union of leftover maps, names in first-seen order."""
    merged: dict[str, list[str]] = {}
    for part in parts:
        for group, names in part.items():
            kept = merged.setdefault(group, [])
            kept.extend(n for n in names if n not in kept)
    return merged


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("Error"):
            return line.removeprefix("Error:").strip()
    return stderr.strip().splitlines()[0] if stderr.strip() else "no output and no error message"


def _atomic_copy(source: Path, dst: Path) -> None:
    """Write ``dst`` through a temp file in its folder and a rename: never a partial file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=".exif-scrub-", dir=dst.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        if dst.exists():
            shutil.copymode(dst, tmp)
        else:
            tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600; a new output gets the usual mode
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and not thread-safe


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
