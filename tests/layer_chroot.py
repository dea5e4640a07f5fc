"""Run a command inside a hermetic root, like the Lambda runtime sees the layer at /opt.

    python3 tests/layer_chroot.py ROOT [--bind DIR]... [--env KEY=VALUE]... -- COMMAND [ARG]...

Re-executes itself under ``unshare --mount`` (root only), bind-mounts each DIR at the same path inside
ROOT (so paths given to ExifTool are valid on both sides), chroots into ROOT and execs COMMAND with a
Lambda-like environment (plus each --env) and nothing inherited from the host. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INNER = "_LAYER_CHROOT_INNER"
LAMBDA_ENV = {
    "PATH": "/opt/bin:/usr/local/bin:/usr/bin:/bin",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
}


def parse(argv: list[str]) -> tuple[Path, list[Path], dict[str, str], list[str]]:
    """Split ``ROOT [--bind DIR]... [--env K=V]... -- CMD...``."""
    root, rest = Path(argv[0]), argv[1:]
    binds: list[Path] = []
    env = dict(LAMBDA_ENV)
    while len(rest) > 1 and rest[0] in ("--bind", "--env"):
        if rest[0] == "--bind":
            binds.append(Path(rest[1]))
        else:
            key, _, value = rest[1].partition("=")
            env[key] = value
        rest = rest[2:]
    if not rest or rest[0] != "--" or len(rest) < 2:
        raise SystemExit(__doc__)
    return root, binds, env, rest[1:]


def enter(root: Path, binds: list[Path], env: dict[str, str], cmd: list[str]) -> None:
    """Inside the private mount namespace: bind, chroot, exec (never returns)."""
    for src in binds:
        target = root / str(src).lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(src), str(target)], check=True)
    os.chroot(root)
    os.chdir("/")
    os.execve(cmd[0], cmd, env)


def main(argv: list[str]) -> None:
    """Re-exec under unshare, then enter the root."""
    root, binds, env, cmd = parse(argv)
    if os.environ.get(INNER) != "1":
        env = {**os.environ, INNER: "1"}
        me = str(Path(__file__).resolve())
        os.execve("/usr/bin/unshare", ["unshare", "--mount", sys.executable, me, *argv], env)
    enter(root, binds, env, cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
