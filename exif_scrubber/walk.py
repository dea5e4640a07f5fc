"""Which files a run handles: the arguments, folders walked without following links, --include/--exclude.

Nothing found is dropped silently: a symbolic link or a FIFO inside a folder is listed as skipped, and one
named on the command line is listed as unreadable (it was asked for and cannot be read), as is a folder or file
the walk cannot read (an access error when the file system refused it). The output folder
of the run is never walked, so ``--out-dir`` may sit inside an input folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .localcopy import not_regular
from .outcomes import SYMBOLIC_LINK, is_access_error


class NotFound(ValueError):
    """An argument names nothing (a usage error)."""


@dataclass(frozen=True)
class Entry:
    """One thing found: a file to scrub, or something listed with the reason it is not scrubbed."""

    path: Path
    relative: Path
    """Its place under ``--out-dir``: the argument's own name, then the path inside it."""
    skip: str | None = None
    failed: bool = False
    """True for an entry that cannot be read and counts as ``unreadable`` (named on the command line, or a
    folder or file the walk cannot read)."""
    access_error: bool = False
    """The file system refused to read it (permissions): the run exits 2."""


@dataclass
class Filters:
    """``--include``/``--exclude`` globs, case-insensitive.

    A pattern without ``/`` is matched against the file name, one with ``/`` against the path inside the
    folder given (``*`` also crosses ``/`` there). A file is taken when it matches an include (or none is
    given) and no exclude.
    """

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    excluded: int = 0

    def wants(self, inside: str) -> bool:
        """True when the file at ``inside`` (POSIX path inside its argument) is taken; counts the others."""
        taken = (not self.include or self._any(self.include, inside)) and not self._any(self.exclude, inside)
        self.excluded += not taken
        return taken

    @staticmethod
    def _any(patterns: Sequence[str], inside: str) -> bool:
        name = inside.rsplit("/", 1)[-1]
        return any(fnmatchcase((inside if "/" in p else name).casefold(), p.casefold()) for p in patterns)


@dataclass
class Walker:
    """Turns the command line's PATHs into entries, in a stable order (sorted by name per folder)."""

    filters: Filters = field(default_factory=Filters)
    prune: Path | None = None
    """A folder never entered (the run's ``--out-dir``)."""

    def __post_init__(self) -> None:
        self._prune = self.prune.resolve() if self.prune is not None else None

    def entries(self, paths: Sequence[Path]) -> Iterator[Entry]:
        """Every entry of every argument; raises :class:`NotFound` for an argument that names nothing."""
        for path in paths:
            yield from self._argument(path)

    def _argument(self, path: Path) -> Iterator[Entry]:
        try:
            info = path.stat()  # an argument that is a link is followed: it was named on purpose
        except FileNotFoundError:
            if path.is_symlink():
                yield self._listed(path, Path(path.name), "broken symbolic link", failed=True)
                return
            raise NotFound(f"no such file or folder: {path}") from None
        except OSError as exc:
            yield self._unreadable(path, Path(path.name), "cannot read it", exc)
            return
        if stat.S_ISDIR(info.st_mode):
            yield from self._folder(path, Path(path.name), "")
        elif stat.S_ISREG(info.st_mode):
            if self.filters.wants(path.name):
                yield self._file(path, Path(path.name))
        else:
            yield self._listed(path, Path(path.name), not_regular(info.st_mode), failed=True)

    def _folder(self, folder: Path, relative: Path, inside: str) -> Iterator[Entry]:
        if self._prune is not None and folder.resolve() == self._prune:
            return
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda child: child.name)
        except OSError as exc:
            yield self._unreadable(folder, relative, "cannot read the folder", exc)
            return
        for child in children:
            yield from self._child(child, relative / child.name, f"{inside}{child.name}")

    def _child(self, child: os.DirEntry[str], relative: Path, inside: str) -> Iterator[Entry]:
        path = Path(child.path)
        try:
            if child.is_dir(follow_symlinks=False):
                yield from self._folder(path, relative, inside + "/")
                return
            mode = child.stat(follow_symlinks=False).st_mode
        except OSError as exc:
            yield self._unreadable(path, relative, "cannot read it", exc)
            return
        if not self.filters.wants(inside):
            return
        if stat.S_ISLNK(mode):
            yield Entry(path, relative, skip=SYMBOLIC_LINK)
        elif stat.S_ISREG(mode):
            yield self._file(path, relative)
        else:
            yield Entry(path, relative, skip=not_regular(mode))

    def _listed(self, path: Path, relative: Path, reason: str, *, failed: bool) -> Entry:
        return Entry(path, relative, skip=reason, failed=failed)

    def _file(self, path: Path, relative: Path) -> Entry:
        """A regular file to handle, or an unreadable entry when it cannot be opened for reading (a refusal
        by the file system is an access error, named here rather than as a failure of the scrub)."""
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        except OSError as exc:
            return self._unreadable(path, relative, "cannot read it", exc)
        return Entry(path, relative)

    def _unreadable(self, path: Path, relative: Path, what: str, exc: OSError) -> Entry:
        reason = f"{what}: {exc.strerror or type(exc).__name__}"
        return Entry(path, relative, skip=reason, failed=True, access_error=is_access_error(exc))
