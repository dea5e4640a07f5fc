"""The scrub engine: one warm ExifTool, one policy, one byte model per format, proof before anything is written.

Per file: recognise the format by its magic bytes; walk it into a byte model (malformed files are refused);
read it with ExifTool (the second opinion); if neither finds anything, it is already clean. Otherwise write a
clean copy (the format handler drops whole blocks and writes kept items in canonical form, or ExifTool
rewrites the structure), walk the copy again and accept it only if every byte is accounted for, ExifTool
finds nothing either, the image-data hashes (computed from the byte models, in Python) are equal and Pillow
sees the same format, size, mode, frames and orientation.
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from .bytemodel import Buffer, ByteModel, Kind, Span
from .errors import ExifToolArgumentError, ExifToolCrashed, ExifToolTimeout, ScrubberError, StructureError
from .exiftool_process import ExifToolPool
from .findings import WARNINGS_GROUP, warning_text
from .formats import HEAD_BYTES, FormatHandler, sniff
from .formats.base import ORIENTATION_GROUPS, Refusal
from .formats.raw import RawCameraFormat
from .leftovers import Tag, count_by_group, find_leftovers
from .localcopy import NotCopied, copy_unchanged
from .outcomes import EMPTY, is_access_error, unsupported_reason
from .pixels import PixelProbe, ProbeError, probe
from .policy import ScrubPolicy
from .provenance import KEPT_LABEL, Provenance
from .provenance.tags import echoes_manifest, manifest_allowlist, merged, without_spans
from .reading import Reading, read
from .report import Failure, Outcome, ScrubReport, Verification

EXIFTOOL_BYTES_PER_SECOND = 20 * 1024 * 1024
"""A slow pace for ExifTool copying a file it rewrites (measured here: about 1 GB/s); it scales the timeout."""
MANIFEST_GROUP = "C2PA manifest"
"""The group of the audit's findings about a manifest store (why it is not clean)."""
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")
"""Paths ExifTool may be given as they are: no spaces, pipes, quotes or other shell-ish characters."""


class Refused(ScrubberError):
    """A file is refused; ``outcome`` says whether it is unsupported or failed."""

    def __init__(self, reason: str, outcome: Outcome = Outcome.FAILED, failure: Failure | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome
        self.failure = failure


@dataclass
class ScanResult:
    """The check of one stored file, as the audit reports it."""

    format: str | None
    leftovers: dict[str, list[str]]
    error: str | None = None
    unsupported: bool = False
    reason: str | None = None
    """Why the file is unsupported (the same words as ``scrub_file``'s reason)."""
    image_hash: str | None = None
    """The proof hash of the image data (from the byte model), when the whole file was read."""
    noncanonical: list[str] = field(default_factory=list)
    """Kept items written another way than the engine's but harmless (every field kept, every byte accounted
    for): not leftovers; the engine would rewrite them."""
    provenance: dict[str, Any] | None = None
    """The C2PA manifest store's check (validation, signer, what it asserts, personal data), when the scrubber has
    a :class:`~.provenance.Provenance` and the file carries a store."""

    @property
    def clean(self) -> bool:
        return not self.leftovers and self.error is None and not self.unsupported


@dataclass
class _Side:
    """One file of a scrub (the input or the output): its bytes' model and what others read of it."""

    path: Path
    model: ByteModel
    proof: str
    reading: Reading
    probe: PixelProbe
    findings: dict[str, list[str]] = field(default_factory=dict)
    embedded: list[PixelProbe] = field(default_factory=list)
    """FFmpeg's view of each movie the file holds (a motion photo's video)."""


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
        provenance: Provenance | None = None,
    ) -> None:
        self.policy = policy or ScrubPolicy()
        if self.policy.provenance == "resign" and (provenance is None or provenance.key is None):
            raise ScrubberError("provenance=resign needs a signing key and its certificate chain")
        self.provenance = provenance
        """Re-signs C2PA provenance (``provenance=resign``) and checks manifests (the audit); None: neither."""
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
        """Start every ExifTool process and, with ``scrub_sample``, scrub tiny files once so that ExifTool's
        readers and Pillow's plugins are loaded before the first real file (on Lambda: in the init phase)."""
        self.pool.warm_up()
        if not scrub_sample:
            return
        exif = Image.Exif()
        exif[0x0112] = 6
        with self._workspace() as work:
            for image_format, extension in (("JPEG", "jpg"), ("PNG", "png")):
                sample = work / f"warm-up.{extension}"
                Image.new("RGB", (16, 16), (128, 64, 32)).save(sample, image_format, exif=exif.tobytes())
                self.scrub_file(sample, work / f"warm-up.out.{extension}")

    # ------------------------------------------------------------------ public API

    def scrub_file(
        self, src: Path, dst: Path | None = None, *, display_name: str | None = None, owned: bool = False
    ) -> ScrubReport:
        """Scrub ``src`` into ``dst`` (``dst`` may equal ``src``); ``dst=None`` only inspects.

        Nothing is written unless the output passed every verification; the write is atomic. Files that
        are already clean are copied unchanged to a different ``dst``. ``owned``: nobody else writes ``src``
        (a caller's private download), so it is linked rather than copied; any other file is copied first.
        """
        report = ScrubReport(source=display_name or src.name, outcome=Outcome.FAILED)
        started = time.perf_counter()
        try:
            self._scrub(Path(src), Path(dst) if dst is not None else None, report, owned)
        except Refused as refused:
            report.outcome, report.reason, report.failure = refused.outcome, refused.reason, refused.failure
        except ExifToolTimeout as exc:
            report.outcome, report.reason = Outcome.FAILED, f"ExifTool timed out on this file ({exc})"
        except ExifToolCrashed as exc:
            report.outcome, report.reason = Outcome.FAILED, f"ExifTool crashed on this file ({exc})"
        except ExifToolArgumentError as exc:  # a work folder whose name holds a line break
            report.outcome, report.reason = Outcome.FAILED, str(exc)
        except OSError as exc:
            report.outcome, report.reason = Outcome.FAILED, f"I/O error: {exc.strerror or type(exc).__name__}"
            report.failure = Failure.ACCESS_ERROR if is_access_error(exc) else None
        report.timings_ms["total"] = _ms_since(started)
        return report

    def inspect(self, src: Path, *, display_name: str | None = None) -> ScrubReport:
        """What :meth:`scrub_file` would remove and keep, without writing anything."""
        return self.scrub_file(src, None, display_name=display_name)

    def scan(self, path: Path, *, complete: bool = True, copy: bool = True, image_hash: bool = False) -> ScanResult:
        """The check of one stored file (the audit's definition of "not clean"): the byte model's findings
        and ExifTool's leftovers. ExifTool reads unknown tags too when the bytes look clean (the second
        opinion); when the byte model already found metadata, the verdict is made and its names suffice.

        ``complete=False`` is for sparse copies that hold every byte but the image data (the audit's ranged
        reads): checks that read image data (CRCs, decompression) are skipped. ``copy=False`` lets a caller
        that names its own temp files skip the private copy; a path with any character outside
        ``[A-Za-z0-9._/-]`` is copied regardless. ``image_hash`` adds the proof hash of a complete file.
        """
        try:
            with Path(path).open("rb") as handle:
                head = handle.read(HEAD_BYTES)
        except OSError as exc:
            return ScanResult(format=None, leftovers={}, error=f"I/O error: {exc.strerror or type(exc).__name__}")
        unsupported = unsupported_reason(head)
        handler = sniff(head)
        if unsupported or handler is None:
            return ScanResult(format=None, leftovers={}, unsupported=True, reason=unsupported)
        with self._workspace() as work:
            local = Path(path)
            if copy or not _SAFE_PATH.fullmatch(str(local)) or not local.is_absolute():
                local = work / f"scan.{handler.extension}"
                shutil.copyfile(path, local)
            return self._scan(handler, local, complete, image_hash)

    def _scan(self, handler: FormatHandler, local: Path, complete: bool, image_hash: bool) -> ScanResult:
        try:
            with _mapped(local) as data:
                model = handler.walk(data, self.policy, verify=complete)
                proof = model.proof_hash(data) if complete and image_hash else None
                harmless = handler.noncanonical(model, data, self.policy)
                embedded = self._embedded_findings(model, data, local)
                checked = self._check_manifest(handler, local, data, model) if complete else None
        except StructureError as exc:
            return ScanResult(format=handler.name, leftovers={}, error=f"malformed {handler.name}: {exc}")
        except RawCameraFormat as exc:
            return ScanResult(format=handler.name, leftovers={}, unsupported=True, reason=str(exc))
        except (Refusal, Refused) as exc:
            return ScanResult(format=handler.name, leftovers={}, error=f"cannot be checked: {exc}")
        found = _byte_findings(handler, model, harmless)
        reading = read(self.pool, str(local), unknown=not found, extra=handler.exiftool_read_args)
        if reading.error:
            return ScanResult(format=handler.name, leftovers={}, error=f"ExifTool: {reading.error}")
        if echoes_manifest(reading) and _keeps_manifest(model):
            try:
                with _mapped(local) as data:
                    reading = self._read_rest(handler, local, data, model, reading, unknown=not found)
            except Refused as exc:
                return ScanResult(format=handler.name, leftovers={}, error=exc.reason)
        leftovers = _merged(found, self._leftovers(handler, model, reading), embedded)
        if checked is not None and checked["findings"]:
            leftovers[MANIFEST_GROUP] = list(checked["findings"])
        noncanonical = list(dict.fromkeys(span.label for span in harmless))
        return ScanResult(
            format=handler.name,
            leftovers=leftovers,
            image_hash=proof,
            noncanonical=noncanonical,
            provenance=checked,
        )

    def _embedded_findings(self, model: ByteModel, data: Buffer, local: Path) -> dict[str, list[str]]:
        """ExifTool's leftovers in each movie the file holds, read on its own (a motion photo's video)."""
        found: dict[str, list[str]] = {}
        for number, (start, end) in enumerate(model.embedded):
            leftovers, _ = self._embedded(memoryview(data)[start:end], local.with_name(f"{local.stem}.movie{number}"))
            found = _merged(found, leftovers)
        return found

    def _check_manifest(
        self, handler: FormatHandler, path: Path, data: Buffer, model: ByteModel
    ) -> dict[str, Any] | None:
        """The audit's check of a manifest store (the whole file was read); a clean one (validated, a trusted
        signer, nothing personal) is a kept item of ``model``."""
        if self.provenance is None:
            return None
        check = self.provenance.check(handler.name, handler.mime_type, path, data, model)
        if check is None:
            return None
        if check.clean:
            self.provenance.keep(handler.name, data, model)
        return check.to_dict()

    # ------------------------------------------------------------------ steps

    def _scrub(self, src: Path, dst: Path | None, report: ScrubReport, owned: bool = False) -> None:
        size = src.stat().st_size
        report.bytes_before = size
        if size == 0:
            raise Refused(EMPTY, Outcome.UNSUPPORTED)
        with src.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        unsupported = unsupported_reason(head)
        handler = sniff(head)
        if unsupported or handler is None:
            raise Refused(unsupported or EMPTY, Outcome.UNSUPPORTED)
        report.format, report.mime_type = handler.name, handler.mime_type
        refusal = handler.refusal(head)
        if refusal:
            raise Refused(refusal)
        with self._workspace() as work:
            source = work / f"in.{handler.extension}"
            output = work / f"out.{handler.extension}"
            _take(src, source, owned=owned)
            self._scrub_in(handler, source, output, report)
            if dst is None or report.outcome not in (Outcome.CLEANED, Outcome.ALREADY_CLEAN):
                return
            if report.outcome is Outcome.CLEANED:
                report.bytes_after = output.stat().st_size
                _atomic_copy(output, dst, move=True)
            elif dst.resolve() != src.resolve():
                _atomic_copy(source, dst)

    def _scrub_in(self, handler: FormatHandler, source: Path, output: Path, report: ScrubReport) -> None:
        timer = time.perf_counter()
        with _mapped(source) as data:
            unreadable = Failure.UNREADABLE
            before = self._side(
                handler, source, data, unknown=False, refusal=f"malformed {handler.name}", failure=unreadable
            )
            report.orientation = before.probe.orientation
            report.timings_ms["read"] = _ms_since(timer)
            if before.reading.mime_type not in handler.mime_types:
                raise Refused(
                    f"the content looks like {handler.name} but ExifTool reads it as another format", failure=unreadable
                )
            if not before.findings:  # confirm "nothing to remove" with unknown tags included
                before.reading = self._read_model(handler, source, data, before.model, failure=unreadable)
                before.findings = _merged(
                    _byte_findings(handler, before.model), self._leftovers(handler, before.model, before.reading)
                )
            report.leftovers_before = before.findings
            if not before.findings:
                report.outcome, report.kept = Outcome.ALREADY_CLEAN, count_by_group(before.reading.tags)
                if _keeps_manifest(before.model):
                    report.provenance = {"action": "kept"}
                return
            timer = time.perf_counter()
            self._write(handler, before, data, output)
        report.timings_ms["scrub"] = _ms_since(timer)
        timer = time.perf_counter()
        with _mapped(output) as clean:
            after = self._side(handler, output, clean, unknown=True, refusal="the output is malformed")
        verification = _verify(before, after)
        report.verification = verification
        report.timings_ms["verify"] = _ms_since(timer)
        report.removed, report.rewritten = _removed(before.reading.tags, after.reading.tags)
        report.rewritten_blocks = _rewritten_blocks(before, after)
        report.kept = count_by_group(after.reading.tags)
        report.notes += before.model.notes
        if not verification.passed:
            raise Refused("verification failed: " + _describe_failure(verification))
        report.outcome = Outcome.CLEANED
        if self.policy.provenance == "resign":
            self._resign(handler, before, output, report)

    def _resign(self, handler: FormatHandler, before: _Side, output: Path, report: ScrubReport) -> None:
        """Give the verified output a manifest whose parent is the input's (``provenance=resign``)."""
        assert self.provenance is not None
        signed = output.with_name(f"signed.{handler.extension}")
        with _mapped(before.path) as data:
            result = self.provenance.resign(
                handler.name, handler.mime_type, before.path, data, before.model, output, signed
            )
        if result is None:
            return
        if result.action == "resigned":
            failure = self._accept_signed(handler, before, signed, output, report)
            if failure is not None:
                result = replace(result, action="stripped", reason=failure, redacted=[])
        report.provenance = result.to_dict()
        report.notes.append(result.summary())

    def _accept_signed(
        self, handler: FormatHandler, before: _Side, signed: Path, output: Path, report: ScrubReport
    ) -> str | None:
        """Replace the output with the signed file when it passes every check the output passed and its manifest is
        this deployment's, validated; otherwise the reason (and the output stays as it is)."""
        try:
            with _mapped(signed) as data:
                after = self._side(handler, signed, data, unknown=True, refusal="the signed file is malformed")
        except Refused as refused:
            signed.unlink(missing_ok=True)
            return f"the signed file is refused: {refused.reason}"
        verification = _verify(before, after)
        if not _keeps_manifest(after.model):
            failure: str | None = "the signed file's manifest does not validate as this deployment's"
        elif not verification.passed:
            failure = "the signed file failed verification: " + _describe_failure(verification)
        else:
            failure = None
        if failure is not None:
            signed.unlink(missing_ok=True)
            return failure
        signed.replace(output)
        report.verification, report.kept = verification, count_by_group(after.reading.tags)
        return None

    def _side(
        self,
        handler: FormatHandler,
        path: Path,
        data: Buffer,
        *,
        unknown: bool,
        refusal: str,
        failure: Failure | None = None,
    ) -> _Side:
        """Walk, hash, probe and read one file (``failure``: what a malformed or unreadable file is called)."""
        try:
            model = handler.walk(data, self.policy)
        except StructureError as exc:
            raise Refused(f"{refusal}: {exc}", failure=failure) from None
        except RawCameraFormat as exc:
            raise Refused(str(exc), Outcome.UNSUPPORTED) from None
        except Refusal as exc:
            raise Refused(str(exc)) from None
        try:
            handler.check_decodes(path, self.policy)
        except ProbeError as exc:
            raise Refused(f"{refusal}: {exc}", failure=failure) from None
        if self.provenance is not None and self.policy.provenance == "resign":
            self.provenance.keep_own(handler.name, handler.mime_type, path, data, model)
        reading = self._read_model(handler, path, data, model, unknown=unknown, failure=failure)
        findings = _merged(_byte_findings(handler, model), self._leftovers(handler, model, reading))
        side = _Side(path, model, model.proof_hash(data), reading, self._probe(handler, path), findings)
        for number, (start, end) in enumerate(model.embedded):
            movie = path.with_name(f"{path.stem}.movie{number}")
            found, probed = self._embedded(memoryview(data)[start:end], movie, unknown=unknown)
            side.findings = _merged(side.findings, found)
            side.embedded.append(probed)
        return side

    def _embedded(self, data: Buffer, path: Path, *, unknown: bool = True) -> tuple[dict[str, list[str]], PixelProbe]:
        """A movie held inside a photo, read on its own: ExifTool's leftovers (``-ee``: timed GPS too) against the
        movie handler's allowlist, and FFmpeg's view. ``path`` is a name of the engine's own for the copy."""
        movie = sniff(bytes(data[:HEAD_BYTES]))
        if movie is None:
            raise Refused("internal: an embedded movie is not a movie")
        copy = path.with_suffix(f".{movie.extension}")
        copy.write_bytes(data)
        try:
            model = movie.walk(data, self.policy)
            reading = self._read(movie, copy, unknown=unknown)
            found = self._leftovers(movie, model, reading)
            return {f"motion photo video {group}": names for group, names in found.items()}, self._probe(movie, copy)
        except (StructureError, Refusal) as exc:
            raise Refused(f"the motion photo's video is malformed: {exc}") from None
        finally:
            copy.unlink(missing_ok=True)

    def _write(self, handler: FormatHandler, before: _Side, data: Buffer, output: Path) -> None:
        try:
            handler.write(before.model, data, before.path, output, self.policy)
        except Refusal as exc:
            raise Refused(str(exc)) from None

    def _read_model(
        self,
        handler: FormatHandler,
        path: Path,
        data: Buffer,
        model: ByteModel,
        *,
        unknown: bool = True,
        failure: Failure | None = None,
    ) -> Reading:
        """ExifTool's reading of a walked file, with :meth:`_read_rest`."""
        reading = self._read(handler, path, unknown=unknown, failure=failure)
        return self._read_rest(handler, path, data, model, reading, unknown=unknown, failure=failure)

    def _read_rest(
        self,
        handler: FormatHandler,
        path: Path,
        data: Buffer,
        model: ByteModel,
        reading: Reading,
        *,
        unknown: bool = True,
        failure: Failure | None = None,
    ) -> Reading:
        """``reading`` of ``path``; where a kept manifest store made ExifTool skip a block after it (its loop guard),
        merged with a reading of the file without the store."""
        if not (echoes_manifest(reading) and _keeps_manifest(model)):
            return reading
        rest = path.with_name(f"{path.stem}.rest{path.suffix}")
        rest.write_bytes(without_spans(data, model, KEPT_LABEL))
        try:
            return merged(reading, self._read(handler, rest, unknown=unknown, failure=failure))
        finally:
            rest.unlink()

    def _read(
        self, handler: FormatHandler, path: Path, *, unknown: bool = True, failure: Failure | None = None
    ) -> Reading:
        reading = read(
            self.pool, str(path), unknown=unknown, extra=handler.exiftool_read_args, timeout_s=self._timeout(path)
        )
        if reading.error:
            raise Refused(f"ExifTool cannot read it: {reading.error}", failure=failure)
        return reading

    def _timeout(self, path: Path) -> float:
        """The pool's per-command limit, plus time to stream a large file (a 5 GiB video) through ExifTool."""
        return self.pool.timeout_s + path.stat().st_size / EXIFTOOL_BYTES_PER_SECOND

    def _leftovers(self, handler: FormatHandler, model: ByteModel, reading: Reading) -> dict[str, list[str]]:
        """The tags ExifTool reads that the file's allowlist (from its byte model) does not hold."""
        allowlist = handler.allowlist(model, self.policy)
        if _keeps_manifest(model):
            allowlist |= manifest_allowlist()
        found = find_leftovers(reading.tags, allowlist)
        if reading.block_warnings:  # ExifTool's words about a block it read: filed as "cannot be verified"
            found[WARNINGS_GROUP] = sorted({warning_text(warning) for warning in reading.block_warnings})
        return found

    def _probe(self, handler: FormatHandler, path: Path) -> PixelProbe:
        try:
            return handler.probe(path) or probe(path)
        except ProbeError as exc:
            raise Refused(str(exc)) from None

    @contextmanager
    def _workspace(self) -> Iterator[Path]:
        """A private temp folder: the only file names ExifTool ever sees are made here."""
        with tempfile.TemporaryDirectory(prefix="exif-scrub-", dir=self.work_dir) as tmp:
            yield Path(tmp)


# ---------------------------------------------------------------------- helpers


@contextmanager
def _mapped(path: Path) -> Iterator[Buffer]:
    """The bytes of ``path``, memory-mapped read-only (no copy, flat memory for large files)."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            yield b""
            return
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        try:
            yield view
        finally:
            try:
                view.release()
                mapped.close()
            except BufferError:
                pass  # a slice is still referenced (e.g. by an exception's traceback): unmapped when it goes


def _keeps_manifest(model: ByteModel) -> bool:
    """The walk kept a C2PA manifest store (validated, this deployment's or a trusted signer's)."""
    return any(span.label == KEPT_LABEL for span in model.spans)


def _byte_findings(
    handler: FormatHandler, model: ByteModel, harmless: list[Span] | None = None
) -> dict[str, list[str]]:
    """The labels of the model's metadata spans, but for the harmless ones given."""
    skip = {id(span) for span in harmless or []}
    findings = list(dict.fromkeys(span.label for span in model.metadata() if id(span) not in skip))
    return {handler.leftover_group: findings} if findings else {}


def _verify(before: _Side, after: _Side) -> Verification:
    same_family = {"JPEG", "MPO"}
    formats = {before.probe.format, after.probe.format}
    format_kept = before.probe.format == after.probe.format or formats <= same_family
    orientation_kept = (
        (before.probe.orientation or 1) == (after.probe.orientation or 1)
        and _same_exiftool_orientation(before, after)
        and _turned(before.model.orientation) == _turned(after.model.orientation)
        and _turned(before.model.xmp_orientation) == _turned(after.model.xmp_orientation)
    )
    return Verification(
        image_hash_before=before.proof,
        image_hash_after=after.proof,
        hash_equal=before.proof == after.proof,
        format_kept=format_kept and before.reading.mime_type == after.reading.mime_type,
        size_kept=before.probe.size == after.probe.size,
        mode_kept=before.probe.mode == after.probe.mode,
        frames_kept=before.model.frames == after.model.frames
        and _same_frames(before, after)
        and before.embedded == after.embedded,
        orientation_kept=orientation_kept,
        leftovers=after.findings,
    )


def _same_frames(before: _Side, after: _Side) -> bool:
    """The independent reader sees as many frames after as before. Where it counted frames the input does not
    have (an MP entry naming no whole image), it must agree with the byte model on the output instead. The count
    is the handler's probe where it has one: JPEG counts the images of the MP index one by one with Pillow
    (:mod:`.formats.jpeg_probe`), because Pillow's own frame count depends on how the XMP is written."""
    if before.probe.frames > before.model.frames:
        return after.probe.frames == after.model.frames
    return before.probe.frames == after.probe.frames


def _turned(orientation: object) -> object:
    """An orientation that changes the display (2..8), or None: 1 and invalid values are shown as 1."""
    return orientation if orientation in range(2, 9) else None


def _same_exiftool_orientation(before: _Side, after: _Side) -> bool:
    """ExifTool reads the same orientations in input and output. Where it read none in the input but the input's
    walker found that very orientation (ExifTool 13.59 skips a PNG's eXIf that follows a C2PA ``caBX`` chunk), the
    input's walker speaks for it: ExifTool still reads the output, which must say the same."""
    read_before, read_after = _orientation_tags(before.reading.tags), _orientation_tags(after.reading.tags)
    walked = {"IFD0": _turned(before.model.orientation), "XMP-tiff": _turned(before.model.xmp_orientation)}
    for group in ORIENTATION_GROUPS:
        if group not in read_before and walked[group] is not None and read_after.get(group) == walked[group]:
            read_before[group] = walked[group]
    return read_before == read_after


def _orientation_tags(tags: list[Tag]) -> dict[str, object]:
    """The orientations ExifTool reads that change the display, per group."""
    return {
        t.group: t.value
        for t in tags
        if t.name == "Orientation" and not t.doc and t.group in ORIENTATION_GROUPS and _turned(t.value)
    }


def _describe_failure(verification: Verification) -> str:
    problems = []
    if not verification.hash_equal:
        problems.append("image data hash changed")
    for name in ("format_kept", "size_kept", "mode_kept", "frames_kept", "orientation_kept"):
        if not getattr(verification, name):
            problems.append(name.replace("_kept", "") + " changed")
    if verification.leftovers:
        problems.append(
            "metadata that cannot be removed: "
            + "; ".join(f"{group}: {', '.join(names[:6])}" for group, names in verification.leftovers.items())
        )
    return ", ".join(problems)


def _removed(before: list[Tag], after: list[Tag]) -> tuple[dict[str, int], dict[str, int]]:
    """Tags dropped per group, and the part of that from groups the output still holds (rebuilt: rewritten)."""
    counts_before, counts_after = count_by_group(before), count_by_group(after)
    dropped = {g: n - counts_after.get(g, 0) for g, n in sorted(counts_before.items()) if n > counts_after.get(g, 0)}
    return dropped, {g: n for g, n in dropped.items() if counts_after.get(g)}


def _rewritten_blocks(before: _Side, after: _Side) -> list[str]:
    """The blocks the input's byte model found not clean that the output keeps, rebuilt (same label, now kept)."""
    kept = {span.label for span in after.model.spans if span.kind is not Kind.METADATA}
    return [label for label in before.model.findings() if label in kept]


def _merged(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Union of leftover maps, names in first-seen order."""
    merged: dict[str, list[str]] = {}
    for part in parts:
        for group, names in part.items():
            kept = merged.setdefault(group, [])
            kept.extend(n for n in names if n not in kept)
    return merged


def _take(src: Path, dst: Path, *, owned: bool) -> None:
    """Give ``src`` the engine's own name ``dst``, the only file of the input the engine maps. A file the caller
    owns is hard-linked where the file system allows (no second copy of a 5 GiB video on a Lambda's /tmp). Any
    other file is copied, refused if it changes while read: a mapped file that someone truncates kills the process
    with SIGBUS. Nothing writes to ``dst``: the handler writes only the output, and ExifTool only reads."""
    if owned:
        try:
            os.link(os.path.realpath(src), dst)  # the target: a relative link would not resolve from the work folder
            return
        except OSError:
            pass
    try:
        copy_unchanged(src, dst)
    except NotCopied as exc:
        raise Refused(str(exc)) from None


def _atomic_copy(source: Path, dst: Path, *, move: bool = False) -> None:
    """Write ``dst`` through a temp file in its folder and a rename: never a partial file. ``move``: ``source``
    is a temp file of ours, renamed rather than copied where it is on the same file system."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=".exif-scrub-", dir=dst.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        if move and source.stat().st_dev == tmp.stat().st_dev:
            source.replace(tmp)
        else:
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
