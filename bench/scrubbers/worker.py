"""A warm in-process contender (the engine's ``scrub_file``, Pillow) in a process of its own.

``python -m bench.scrubbers.worker NAME [--mem-limit BYTES] [--warmup FILE]...`` speaks JSON lines: on start it
opens the contender and runs the warm-up files, then reports ``{"ready": true, "open_s", "warmup_s"}``; then
one answer per request:

* ``{"op": "run", "src", "dst"}`` -> ``{"seconds", "produced", "detail", "extra"}`` (timed in the worker);
* ``{"op": "profile", "jobs": [[src, dst], ...], "runs": N, "top": bool}`` -> where the time goes (engine only);
* ``{"op": "close"}`` -> peak memory of the worker and of the processes it started (``VmHWM``), then it exits.

The parent (:class:`Worker`) starts it pinned to the benchmark's CPU set and keeps it between the interleaved
runs of a group, so it stays warm while the other contenders take their turns.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .inputs import REPO
from .pinning import spawn
from .procs import descendants, hwm_kb


class WorkerError(RuntimeError):
    """The worker died or answered nonsense."""


class Worker:
    """Parent side: one worker process."""

    def __init__(
        self,
        name: str,
        cpus: Sequence[int] | None,
        warmups: Sequence[Path],
        log: Path,
        *,
        mem_limit: int | None = None,
        repo: Path = REPO,
    ) -> None:
        """``repo``: the source tree the worker imports (another commit's, for ``bench.versus``)."""
        args = [sys.executable, "-m", "bench.scrubbers.worker", name]
        args += [item for path in warmups for item in ("--warmup", str(path))]
        if mem_limit:
            args += ["--mem-limit", str(mem_limit)]
        log.parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._log = log.open("ab")
        env = {**os.environ, "PYTHONPATH": str(repo)}
        self.process = spawn(
            args, cpus, cwd=repo, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        self.ready = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise WorkerError(f"{self.name} worker exited ({code}); see {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, wait for its answer."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"{self.name} worker is gone; see {self._log.name}") from None
        return self._answer()

    def run(self, src: Path, dst: Path) -> dict[str, Any]:
        return self.ask({"op": "run", "src": str(src), "dst": str(dst)})

    def close(self) -> dict[str, Any]:
        """Stop the worker; its peak memory."""
        try:
            answer = self.ask({"op": "close"})
        except WorkerError as exc:
            answer = {"error": str(exc)}
        self.process.wait(timeout=60)
        self._log.close()
        return answer

    def kill(self) -> None:
        """Stop a worker that cannot be closed politely."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


# ---------------------------------------------------------------------- the worker process


def _serve(name: str, warmups: list[Path], out: IO[str]) -> None:
    from .contenders import make

    started = time.perf_counter()
    contender = make(name)
    contender.open()
    opened = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as scratch:
        for index, warm in enumerate(warmups):
            contender.run(warm, Path(scratch) / f"{index}{warm.suffix}")
    _send(out, {"ready": True, "open_s": opened - started, "warmup_s": time.perf_counter() - opened})
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "close":
            helpers = max((hwm_kb(pid) for pid in descendants(os.getpid())), default=0)
            contender.close()
            _send(out, {"self_hwm_kb": hwm_kb(os.getpid()), "children_hwm_kb": helpers})
            return
        try:
            answer = _handle(contender, request)
        except Exception as exc:  # one bad request must not lose the whole group
            answer = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        _send(out, answer)


def _handle(contender: Any, request: dict[str, Any]) -> dict[str, Any]:
    if request["op"] == "run":
        src, dst = Path(request["src"]), Path(request["dst"])
        dst.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        outcome = contender.run(src, dst)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "produced": outcome.produced, "detail": outcome.detail, "extra": outcome.extra}
    if request["op"] == "profile":
        from .profiling import profile_steps, top_functions

        jobs = [(Path(src), Path(dst)) for src, dst in request["jobs"]]
        answer: dict[str, Any] = {"profile": profile_steps(contender.scrubber, jobs, int(request["runs"]))}
        if request.get("top"):
            answer["top"] = top_functions(contender.scrubber, *jobs[0])
        return answer
    raise ValueError(f"unknown request {request['op']!r}")


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, default=str) + "\n")
    out.flush()


def main() -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--warmup", type=Path, action="append", default=[])
    parser.add_argument("--mem-limit", type=int)
    args = parser.parse_args()
    if args.mem_limit:
        resource.setrlimit(resource.RLIMIT_AS, (args.mem_limit, args.mem_limit))
    out = os.fdopen(os.dup(1), "w")  # the protocol's own handle; whatever else is printed goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(args.name, args.warmup, out)


if __name__ == "__main__":
    main()
