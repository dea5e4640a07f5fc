"""Finding ExifTool and keeping warm ``-stay_open`` processes of it (through PyExifTool).

This module is the only place in the project that starts ExifTool.
"""

from __future__ import annotations

import os
import queue
import secrets
import select
import shutil
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import exiftool  # PyExifTool
import exiftool.exiftool as _pyexiftool

from .errors import ExifToolArgumentError, ExifToolCrashed, ExifToolNotFound, ExifToolTimeout, ExifToolVersionError
from .exiftool_install import installed_exiftool

MIN_EXIFTOOL_VERSION = (13, 54)
"""Security fixes up to 13.54; ``ImageDataHash`` needs 12.63+."""

LAYER_EXIFTOOL = Path("/opt/bin/exiftool")
PROJECT_EXIFTOOL = Path(__file__).resolve().parent.parent / "exiftool_layer" / "build" / "exiftool" / "exiftool"
DEFAULT_TIMEOUT_S = 60.0
_ARGUMENT_BREAKS = {"\n": "a line break (LF)", "\r": "a carriage return (CR)", "\0": "a NUL character"}
"""Characters an argument of the ``-@`` stream may not hold: ExifTool reads one argument per line (and Perl's
strings end at no NUL, but the file system's do)."""


def locate_exiftool(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Find ExifTool: ``explicit``, ``$EXIFTOOL_PATH``, the Lambda layer, the project build, the one
    ``exif-scrub exiftool install`` put in the user's data directory, ``PATH``."""
    candidates: list[tuple[str, Path | None]] = [
        ("argument", Path(explicit) if explicit else None),
        ("EXIFTOOL_PATH", Path(os.environ["EXIFTOOL_PATH"]) if os.environ.get("EXIFTOOL_PATH") else None),
        ("Lambda layer", LAYER_EXIFTOOL),
        ("project build", PROJECT_EXIFTOOL),
        ("user install", installed_exiftool()),
    ]
    for origin, path in candidates:
        if path is None:
            continue
        if path.is_file() and os.access(path, os.X_OK):
            return path
        if origin in ("argument", "EXIFTOOL_PATH"):
            raise ExifToolNotFound(f"ExifTool from {origin} is not an executable file: {path}")
    on_path = shutil.which("exiftool")
    if on_path:
        return Path(on_path)
    raise ExifToolNotFound(
        "ExifTool not found: run `exif-scrub exiftool install` (needs perl 5), set EXIFTOOL_PATH, "
        "or attach the Lambda layer (/opt/bin/exiftool)"
    )


def parse_version(text: str) -> tuple[int, int]:
    """``"13.59"`` -> ``(13, 59)``; raises ``ExifToolVersionError`` on anything else."""
    try:
        major, minor = text.strip().split(".")[:2]
        return int(major), int(minor[:2])
    except ValueError:
        raise ExifToolVersionError(f"cannot read the ExifTool version from {text.strip()!r}") from None


def check_version(text: str, path: Path) -> tuple[int, int]:
    """Refuse an ExifTool older than :data:`MIN_EXIFTOOL_VERSION` with a clear message."""
    version = parse_version(text)
    if version < MIN_EXIFTOOL_VERSION:
        wanted = ".".join(map(str, MIN_EXIFTOOL_VERSION))
        raise ExifToolVersionError(
            f"ExifTool {text.strip()} at {path} is too old: {wanted} or newer is required "
            "(security fixes); run `exif-scrub exiftool install` or set EXIFTOOL_PATH"
        )
    return version


def check_arguments(params: Sequence[str]) -> None:
    """Refuse any argument that would not arrive as exactly one argument through ExifTool's ``-@`` stream."""
    for index, param in enumerate(params):
        for char, name in _ARGUMENT_BREAKS.items():
            if char in param:
                raise ExifToolArgumentError(
                    f"refused to send ExifTool argument {index + 1}: it holds {name}, which would split it into "
                    "several arguments (arguments go one per line)"
                )


@dataclass(frozen=True)
class ExifToolResult:
    """Output of one ExifTool command."""

    stdout: str
    stderr: str
    status: int


def _own_session(parent_death: Callable[[int], Callable[[], object] | None]) -> Callable[[int], Callable[[], None]]:
    """PyExifTool's child set-up (a parent-death signal, on Linux), run in a session of the child's own.

    A Ctrl-C at a terminal signals its whole foreground process group: ExifTool would die mid-file while exif-scrub
    (or exif-audit) lets the files in progress finish. In a session of its own ExifTool hears no terminal signal;
    its parent stops it when the run ends, and the parent-death signal still does if the parent dies."""

    def setup(signum: int) -> Callable[[], None]:
        inner = parent_death(signum)

        def child() -> None:
            os.setsid()
            if inner is not None:
                inner()

        return child

    setup.wrapped = parent_death  # type: ignore[attr-defined]
    return setup


if not hasattr(_pyexiftool._set_pdeathsig, "wrapped"):  # once, however often this module is imported
    _pyexiftool._set_pdeathsig = _own_session(_pyexiftool._set_pdeathsig)


class _GuardedExifTool(exiftool.ExifTool):  # type: ignore[misc]
    """PyExifTool's ``-stay_open`` process with a deadline and crash detection per command.

    PyExifTool's own reader busy-loops forever once ExifTool exits, and reads stdout before
    stderr (a full stderr pipe would deadlock). This reads both together and gives up on EOF or
    at the deadline, killing the process so the pool can start a fresh one.
    """

    _process: subprocess.Popen[bytes] | None
    launches = 0
    startup_timeout_s = 30.0

    def execute(self, *params: str | bytes, raw_bytes: bool = False) -> str:
        """PyExifTool's own entry (it asks ``-ver`` at start-up): routed through the guarded reader,
        so an ExifTool that dies while starting fails fast instead of spinning forever."""
        text = [p.decode() if isinstance(p, bytes) else p for p in params]
        return self.execute_guarded(text, self.startup_timeout_s).stdout

    def run(self) -> None:
        """Start the process (counted, so the pool can report restarts)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "previously running but died": handled here
            super().run()
        self.launches += 1

    @property
    def alive(self) -> bool:
        """True when the process runs; a process that died is noticed here without a warning."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return bool(self.running)

    def execute_guarded(self, params: Sequence[str], timeout_s: float) -> ExifToolResult:
        check_arguments(params)  # before anything is written: a refused command sends nothing
        process = self._process
        if not self.running or process is None or process.stdin is None:
            raise ExifToolCrashed("ExifTool is not running")
        number = str(secrets.randbelow(900_000) + 100_000)
        ready = f"{{ready{number}}}".encode()
        post = f"post{number}".encode()
        lines = [*params, "-echo4", f"=${{status}}={post.decode()}", f"-execute{number}"]
        payload = "\n".join(lines).encode("utf-8") + b"\n"
        try:
            process.stdin.write(payload)
            process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self._abandon()
            raise ExifToolCrashed(f"ExifTool exited before the command was sent: {exc}") from exc
        out, err = self._read_until(process, ready, post, time.monotonic() + timeout_s, timeout_s)
        stdout = out.decode("utf-8", "replace").strip()[: -len(ready)]
        stderr_full = err.decode("utf-8", "replace").strip()[: -len(post)]
        # stderr ends with "=<status>="
        body, _, status_part = stderr_full[:-1].rpartition("=")
        try:
            status = int(status_part)
        except ValueError:
            status = -1
        return ExifToolResult(stdout=stdout.strip(), stderr=body.strip(), status=status)

    def _read_until(
        self, process: subprocess.Popen[bytes], ready: bytes, post: bytes, deadline: float, timeout_s: float
    ) -> tuple[bytes, bytes]:
        assert process.stdout is not None and process.stderr is not None
        fd_out = process.stdout.fileno()
        fd_err = process.stderr.fileno()
        chunks: dict[int, bytearray] = {fd_out: bytearray(), fd_err: bytearray()}
        ends = {fd_out: ready, fd_err: post}
        pending = {fd_out, fd_err}
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abandon()
                raise ExifToolTimeout(f"ExifTool did not answer within {timeout_s:g} s")
            readable, _, _ = select.select(list(pending), [], [], remaining)
            for fd in readable:
                block = os.read(fd, 65536)
                if not block:
                    self._abandon()
                    raise ExifToolCrashed("ExifTool exited while processing the file")
                chunks[fd] += block
                if bytes(chunks[fd][-(len(ends[fd]) + 8) :]).strip().endswith(ends[fd]):
                    pending.discard(fd)
        return bytes(chunks[fd_out]), bytes(chunks[fd_err])

    def _abandon(self) -> None:
        """Kill a process that died, hung or misbehaved; the pool starts a new one."""
        process = self._process
        if process is not None:
            process.kill()
            process.wait(timeout=10)
        self._flag_running_false()
        self._process = None


class ExifToolPool:
    """A small pool of warm ExifTool processes, safe to share between threads.

    Each command takes one process for its duration. A process that dies or exceeds the
    per-command timeout is killed and transparently replaced on the next command.
    """

    def __init__(
        self,
        executable: str | os.PathLike[str] | None = None,
        *,
        size: int = 1,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if size < 1:
            raise ValueError("the ExifTool pool needs at least one process")
        self.executable = locate_exiftool(executable)
        self.timeout_s = timeout_s
        self.size = size
        self._idle: queue.LifoQueue[_GuardedExifTool] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._all: list[_GuardedExifTool] = []
        self._closed = False
        self.version = self._start_one_and_check()

    def _start_one_and_check(self) -> tuple[int, int]:
        tool = self._grow_or_wait(only_if_idle_empty=False)  # the first process: the pool is empty
        self._launch(tool)
        try:
            version = check_version(tool.version, self.executable)
        except ExifToolVersionError:
            tool._abandon()  # the pool is never made: its one process must not outlive it
            raise
        self._idle.put(tool)
        return version

    def _launch(self, tool: _GuardedExifTool) -> None:
        """Start ``tool``'s process; any failure to start is an :class:`ExifToolCrashed` naming the executable."""
        try:
            tool.run()
        except ExifToolCrashed as exc:
            raise ExifToolCrashed(f"ExifTool at {self.executable} did not start: {exc}") from None
        except Exception as exc:  # OSError (no memory, too many files), RuntimeError, PyExifTool's version error
            raise ExifToolCrashed(f"ExifTool at {self.executable} did not start: {type(exc).__name__}: {exc}") from None

    def _grow_or_wait(self, *, only_if_idle_empty: bool) -> _GuardedExifTool:
        """A new (not yet started) process while the pool is below its size, else the next idle one.

        Checking the size and adding the process happen under one lock, so threads racing here never start
        more processes than the pool's size."""
        with self._lock:
            if len(self._all) < self.size and not (only_if_idle_empty and not self._idle.empty()):
                tool = _GuardedExifTool(executable=str(self.executable), common_args=[])
                self._all.append(tool)
                return tool
        return self._idle.get()

    @contextmanager
    def _borrow(self) -> Iterator[_GuardedExifTool]:
        if self._closed:
            raise ExifToolCrashed("the ExifTool pool is closed")
        tool = self._grow_or_wait(only_if_idle_empty=True)
        try:
            if not tool.alive:
                self._launch(tool)
            yield tool
        finally:
            self._idle.put(tool)

    def execute(self, args: Sequence[str], *, timeout_s: float | None = None) -> ExifToolResult:
        """Run one ExifTool command on a warm process; retried once on a fresh process if it crashed."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        for attempt in (1, 2):
            with self._borrow() as tool:
                try:
                    return tool.execute_guarded(args, limit)
                except ExifToolTimeout:
                    raise
                except ExifToolCrashed:
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    @property
    def restarts(self) -> int:
        """How many times a process had to be started again after it died or hung."""
        with self._lock:
            return sum(max(tool.launches - 1, 0) for tool in self._all)

    def warm_up(self) -> None:
        """Start every process of the pool now (e.g. during a Lambda's init phase).

        Raises :class:`ExifToolCrashed` when one does not start; every process taken here goes back to the idle
        queue all the same, started or not (a later command starts it), so no command ever waits for a process
        that nobody will return."""
        tools: list[_GuardedExifTool] = []
        try:
            while len(tools) < self.size:
                tools.append(self._grow_or_wait(only_if_idle_empty=False))
            for tool in tools:
                if not tool.alive:
                    self._launch(tool)
        finally:
            for tool in tools:
                self._idle.put(tool)

    def close(self) -> None:
        """Stop every ExifTool process."""
        self._closed = True
        with self._lock:
            tools, self._all = self._all, []
        for tool in tools:
            if tool.alive:
                try:
                    tool.terminate(timeout=5)
                except Exception:
                    tool._abandon()

    def __enter__(self) -> ExifToolPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, or the cgroup-free count where there is none)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
