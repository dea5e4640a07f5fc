"""``--in-place``: replace a file with its cleaned version only when that is safe, keeping who owns it.

The file is read once, through a descriptor that does not follow links, into the run's private folder;
the engine scrubs that copy. Before the cleaned file is renamed over the original, the original is
checked again: same inode, size, mtime and ctime, or it is left as it is (someone changed it meanwhile,
and their version wins). The replacement gets the original's owner, group, mode, atime and mtime.

Refused: symbolic links (replacing the link would leave its target, metadata and all, untouched: give
the target instead) and files with other hard links (the other names would keep the original) unless
``break_hard_links``, which replaces only the name given and says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .engine import Scrubber
from .localcopy import Identity, NotCopied, copy_unchanged, not_regular
from .report import Outcome, ScrubReport

CHANGED = "changed while it was being scrubbed; left as it is (its new content was not checked)"


class Refusal(Exception):
    """The file is not replaced; the message is the one-line reason."""


@dataclass
class InPlace:
    """Scrubs files in place through ``scrubber``, using ``work`` (a private folder) for the copies."""

    scrubber: Scrubber
    work: Path
    break_hard_links: bool = False

    def scrub(self, path: Path, label: str, slot: str) -> ScrubReport:
        """Scrub ``path`` in place; ``slot`` names this file's private sub-folder of ``work``."""
        folder = self.work / slot
        folder.mkdir(mode=0o700)
        try:
            return self._scrub(path, label, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _scrub(self, path: Path, label: str, folder: Path) -> ScrubReport:
        copy = folder / "original"
        try:
            info = self._check(path)
            copy_unchanged(path, copy, expected=info, follow_links=False)
        except (Refusal, NotCopied) as refusal:
            return ScrubReport(source=label, outcome=Outcome.FAILED, reason=str(refusal))
        report = self.scrubber.scrub_file(copy, folder / "cleaned", display_name=label, owned=True)
        if report.outcome is not Outcome.CLEANED:
            return report
        if info.st_nlink > 1:
            report.notes.append(f"its {info.st_nlink - 1} other hard link(s) keep the original")
        try:
            _replace(path, folder / "cleaned", info)
        except Refusal as refusal:
            report.outcome, report.reason, report.bytes_after = Outcome.FAILED, str(refusal), None
        except OSError as exc:
            report.outcome, report.bytes_after = Outcome.FAILED, None
            report.reason = f"cannot replace it: {exc.strerror or type(exc).__name__}; left as it is"
        return report

    def _check(self, path: Path) -> os.stat_result:
        try:
            info = path.lstat()
        except OSError as exc:
            raise Refusal(f"cannot read it: {exc.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            raise Refusal("is a symbolic link: --in-place replaces only regular files, give the link's target")
        if not stat.S_ISREG(info.st_mode):
            raise Refusal(not_regular(info.st_mode))
        if info.st_nlink > 1 and not self.break_hard_links:
            raise Refusal(
                f"has {info.st_nlink - 1} other hard link(s) that would keep the original "
                "(--break-hard-links replaces this name only)"
            )
        return info


def _replace(path: Path, cleaned: Path, original: os.stat_result) -> None:
    """Rename a copy of ``cleaned`` over ``path`` if ``path`` is still ``original``; keep its ownership and times."""
    handle, name = tempfile.mkstemp(prefix=".exif-scrub-", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as target, cleaned.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
            _keep_owner(target.fileno(), original)
            os.fchmod(target.fileno(), stat.S_IMODE(original.st_mode))  # after chown, which clears set-id bits
            target.flush()
            os.utime(target.fileno(), ns=(original.st_atime_ns, original.st_mtime_ns))
            os.fsync(target.fileno())
        if not _same(path, original):
            raise Refusal(CHANGED)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _same(path: Path, original: os.stat_result) -> bool:
    try:
        return Identity.of(path.lstat()) == Identity.of(original)
    except FileNotFoundError:
        return False


def _keep_owner(fd: int, original: os.stat_result) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (original.st_uid, original.st_gid):
        return
    try:
        os.fchown(fd, original.st_uid, original.st_gid)
    except PermissionError:
        raise Refusal(
            f"cannot keep its owner {original.st_uid}:{original.st_gid} (run as its owner or as root); left as it is"
        ) from None


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems refuse to sync a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
