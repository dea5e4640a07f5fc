"""Running many files: a thread pool fed as it drains, each result handed back the moment it is ready,
warnings captured into the file they belong to, and a clean stop on SIGTERM/SIGINT (no new file
starts; files in progress finish or roll back; the caller then prints what was done)."""

from __future__ import annotations

import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from .cli_text import FileResult
from .report import Outcome, ScrubReport
from .walk import Entry

Job = Callable[[Entry, str], ScrubReport]
"""Scrub one entry; the string is a name unique in the run (for a private sub-folder)."""

_QUIET_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
"""Warnings Python hides by default stay hidden: they are about our code, not about the file."""


class StopSignal:
    """Records the first SIGTERM/SIGINT; the batch starts no file after it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    @property
    def name(self) -> str | None:
        """``"SIGTERM"``, ``"SIGINT"`` or None."""
        return signal.Signals(self.signum).name if self.signum is not None else None


@contextmanager
def stopping_on_signals() -> Iterator[StopSignal]:
    """Catch SIGTERM and SIGINT for the duration (only the main thread can; elsewhere nothing is caught)."""
    stop = StopSignal()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class WarningCapture:
    """Turns every warning raised while a file is handled into a note of that file, never a stderr line.

    Python's warning machinery is process-wide; the file is found through the thread handling it.
    Warnings raised outside any file are kept in :attr:`stray`.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self.stray: list[str] = []

    @contextmanager
    def installed(self) -> Iterator[WarningCapture]:
        """Route warnings here for the duration (every occurrence, not only the first per code line)."""
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            for category in _QUIET_CATEGORIES:
                warnings.simplefilter("ignore", category)
            warnings.showwarning = self._show
            yield self

    @contextmanager
    def collecting(self) -> Iterator[list[str]]:
        """Collect the warnings of the current thread into the list yielded."""
        notes: list[str] = []
        self._local.notes = notes
        try:
            yield notes
        finally:
            self._local.notes = None

    def _show(self, message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        notes = getattr(self._local, "notes", None)
        text = f"warning: {message}"
        (self.stray if notes is None else notes).append(text)


@dataclass
class Batch:
    """Runs ``job`` over entries with ``workers`` threads, at most ``workers`` files in progress."""

    job: Job
    workers: int
    stop: StopSignal = field(default_factory=StopSignal)
    capture: WarningCapture = field(default_factory=WarningCapture)

    def run(self, entries: list[Entry], on_result: Callable[[FileResult], None]) -> int:
        """Hand each entry's result to ``on_result`` (on this thread) as it completes; returns how many
        entries were not started because of a stop signal."""
        queue = iter(enumerate(entries))
        running: set[Future[FileResult]] = set()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while True:
                self._fill(pool, running, queue, on_result)
                if not running:
                    break
                done, running = _wait(running)
                for future in sorted(done, key=lambda f: f.result().order):
                    on_result(future.result())
        return sum(1 for _ in queue)

    def _fill(
        self,
        pool: ThreadPoolExecutor,
        running: set[Future[FileResult]],
        queue: Iterator[tuple[int, Entry]],
        on_result: Callable[[FileResult], None],
    ) -> None:
        while len(running) < self.workers and self.stop.signum is None:
            item = next(queue, None)
            if item is None:
                return
            index, entry = item
            if entry.skip is not None:
                label, access = str(entry.path), entry.access_error
                on_result(FileResult(label, skipped=entry.skip, failed=entry.failed, access=access, order=index))
            else:
                running.add(pool.submit(self._one, index, entry))

    def _one(self, index: int, entry: Entry) -> FileResult:
        label = str(entry.path)
        with self.capture.collecting() as notes:
            try:
                report = self.job(entry, str(index))
            except Exception as exc:  # a bug must still end in a line, not a traceback
                report = ScrubReport(label, Outcome.FAILED, reason=f"unexpected error ({type(exc).__name__})")
        report.notes += notes
        return FileResult(label, report=report, order=index)


def _wait(running: set[Future[FileResult]]) -> tuple[set[Future[FileResult]], set[Future[FileResult]]]:
    done, not_done = wait(running, return_when=FIRST_COMPLETED)
    return set(done), set(not_done)
