"""Helpers for the ExifTool layer tests: build the layer, scan its ELF files, build and enter a hermetic root."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

REPO = Path(__file__).resolve().parents[1]
LAYER_DIR = REPO / "exiftool_layer"
BUILD = LAYER_DIR / "build"
PIN = REPO / "exif_scrubber" / "exiftool.pin"
# All the layer build may find on PATH: no apt-get, no dpkg-deb, no npm; python3 is the bare interpreter (no venv).
BUILD_TOOLS = ("make", "python3", "uname", "touch")
SAM_TARGET = {"x86_64": "build-ExifToolLayerX86", "arm64": "build-ExifToolLayerArm64"}
CHROOT = Path(__file__).resolve().parent / "layer_chroot.py"
MAX_GLIBC = (2, 34)
MACHINE = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}
INTERPRETER = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}
QEMU = {"arm64": ("qemu-aarch64", "/usr/bin/qemu-aarch64-static")}
# ELF header of an aarch64 executable/shared object and the mask, as in Debian's qemu-user-static.
AARCH64_MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
AARCH64_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def pin() -> dict[str, str]:
    """Key/value pairs from exiftool.pin."""
    lines = PIN.read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.startswith("#"))


def builder() -> ModuleType:
    """exiftool_layer/build_layer.py as a module (for its Debian download and unpack helpers)."""
    spec = importlib.util.spec_from_file_location("build_layer", LAYER_DIR / "build_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    """Serialise builds across pytest-xdist workers."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with (BUILD / f".{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_path() -> str:
    """A PATH directory of symlinks to BUILD_TOOLS and nothing else."""
    tools = BUILD / ".build-path"
    tools.mkdir(parents=True, exist_ok=True)
    for tool in BUILD_TOOLS:
        real = Path(sys.executable).resolve() if tool == "python3" else shutil.which(tool)
        assert real is not None, f"{tool} is needed to build the layer"
        link = tools / tool
        link.unlink(missing_ok=True)
        link.symlink_to(real)
    return str(tools)


def inputs_digest() -> str:
    """sha256 over everything the layer build reads from the repository (the cache key)."""
    files = [p for p in LAYER_DIR.rglob("*") if p.is_file() and BUILD not in p.parents and "__pycache__" not in p.parts]
    digest = hashlib.sha256()
    for path in sorted([*files, PIN, REPO / "exif_scrubber" / "exiftool_install.py"]):
        digest.update(f"{path.relative_to(REPO)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_layer(arch: str) -> Path:
    """The layer as `sam build` builds it (build/sam-layer-<arch>/, plus a zip), rebuilt when an input changed."""
    out = BUILD / f"sam-layer-{arch}"
    stamp = BUILD / f"sam-layer-{arch}.inputs"
    with build_lock(f"layer-{arch}"):
        digest = inputs_digest()
        if not (stamp.is_file() and stamp.read_text() == digest and (out / "bin" / "exiftool").is_file()):
            stamp.unlink(missing_ok=True)
            run_sam_target(arch, out)
            builder().write_zip(out, BUILD / f"{out.name}.zip")
            stamp.write_text(digest)
    return out


def run_sam_target(arch: str, out: Path) -> None:
    """Run the layer's SAM target as `sam build` does (make --makefile ... build-<LogicalId>, ARTIFACTS_DIR
    set, the caller's environment) but with PATH = build_path(); the output goes to build/sam-layer-<arch>.log."""
    path = build_path()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV")}
    env.update(PATH=path, ARTIFACTS_DIR=str(out))
    make = [str(Path(path) / "make"), "--makefile", str(LAYER_DIR / "Makefile"), SAM_TARGET[arch]]
    res = subprocess.run(make, cwd=LAYER_DIR, env=env, capture_output=True, text=True, check=False, timeout=1200)
    (BUILD / f"sam-layer-{arch}.log").write_text(f"PATH={path}\n$ {' '.join(make)}\n{res.stdout}{res.stderr}")
    assert res.returncode == 0, f"{SAM_TARGET[arch]} failed:\n{res.stdout}{res.stderr}"


# ---------------------------------------------------------------- ELF scan
@dataclass
class ElfReport:
    """What one ELF file needs from the system."""

    path: Path
    machine: str
    needed: list[str]
    glibc_versions: list[str]
    interpreter: str | None


def read_elf(path: Path) -> ElfReport | None:
    """NEEDED sonames, GLIBC_* version needs and interpreter of an ELF file; None if not ELF."""
    with path.open("rb") as fh:
        if fh.read(4) != b"\x7fELF":
            return None
        fh.seek(0)
        elf = ELFFile(fh)
        needed, versions, interp = [], [], None
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                needed += [str(tag.needed) for tag in section.iter_tags("DT_NEEDED")]  # type: ignore[attr-defined]
            if isinstance(section, GNUVerNeedSection):
                for _, auxes in section.iter_versions():
                    versions += [a.name for a in auxes if a.name.startswith("GLIBC_")]
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_INTERP":
                interp = seg.data().rstrip(b"\0").decode()
        return ElfReport(path, elf["e_machine"], needed, sorted(set(versions)), interp)


def glibc_too_new(version: str) -> bool:
    """True for GLIBC_x.y above the Lambda runtimes' glibc 2.34 (and for GLIBC_PRIVATE)."""
    tail = version.removeprefix("GLIBC_")
    if not tail[:1].isdigit():
        return True
    return tuple(int(p) for p in tail.split(".")[:2]) > MAX_GLIBC


def elf_problems(tree: Path, arch: str) -> tuple[list[ElfReport], list[str]]:
    """Scan every file under ``tree``; return the ELF reports and every rule they break."""
    glibc = builder().GLIBC_SONAMES
    reports = [r for p in sorted(tree.rglob("*")) if p.is_file() and not p.is_symlink() if (r := read_elf(p))]
    shipped = {r.path.name for r in reports}
    problems: list[str] = []
    for r in reports:
        rel = r.path.relative_to(tree)
        if r.machine != MACHINE[arch]:
            problems.append(f"{rel}: machine {r.machine}, expected {MACHINE[arch]}")
        problems += [f"{rel}: needs {v} (> GLIBC_2.34)" for v in r.glibc_versions if glibc_too_new(v)]
        problems += [
            f"{rel}: needs {so}, neither in the layer nor glibc"
            for so in r.needed
            if so not in glibc and so not in shipped
        ]
        if r.interpreter not in (None, INTERPRETER[arch]):
            problems.append(f"{rel}: interpreter {r.interpreter}")
    return reports, problems


# ---------------------------------------------------------------- hermetic root
def privilege_problem() -> str | None:
    """Why this process cannot build and enter a hermetic root, or None if it can."""
    if os.geteuid() != 0:
        return "needs root (chroot + unshare --mount); CI runs as root"
    res = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        return f"unshare --mount not permitted here: {res.stderr.strip()}"
    return None


def emulation_problem(arch: str) -> str | None:
    """Make sure foreign-arch binaries run (binfmt_misc + qemu-user-static, fix-binary mode)."""
    if arch not in QEMU:
        return None
    name, qemu = QEMU[arch]
    if not Path(qemu).is_file():
        return f"{qemu} missing (Debian package qemu-user-static; `.ci/run` installs it)"
    if not (BINFMT / "register").exists():
        res = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            return f"cannot mount binfmt_misc: {res.stderr.strip()}"
    entry = BINFMT / name
    if entry.exists() and "enabled" not in entry.read_text():
        entry.write_text("1")
    if not entry.exists():
        rule = f":{name}:M::{AARCH64_MAGIC}:{AARCH64_MASK}:{qemu}:F"
        try:
            (BINFMT / "register").write_text(rule)
        except OSError as exc:
            return f"cannot register binfmt for {arch}: {exc}"
    return None


def hermetic_root(arch: str, layer: Path) -> Path:
    """An empty root with only glibc's libraries and /bin/sh (Debian libc6 + dash) and the layer at /opt.

    Rebuilt only when the layer changed, so parallel test workers share one root safely.
    """
    base = BUILD / f"hermetic-{arch}"
    zip_stat = (layer.parent / f"{layer.name}.zip").stat()
    stamp = f"{zip_stat.st_mtime_ns} {zip_stat.st_size}"
    root = base / "root"
    with build_lock(f"hermetic-{arch}"):
        if (base / "stamp").exists() and (base / "stamp").read_text() == stamp:
            return root
        layer_builder = builder()
        debs = layer_builder.debian_packages.fetch(arch, ["libc6", "dash"], base / "debs")
        shutil.rmtree(root, ignore_errors=True)
        for _, deb in debs:
            layer_builder.debfile.extract(deb, root)
        keep_only_libc_and_dash(root)
        shutil.copytree(layer, root / "opt", symlinks=True)
        for d in ("tmp", "proc", "dev"):
            (root / d).mkdir(exist_ok=True)
        (base / "stamp").write_text(stamp)
    return root


def keep_only_libc_and_dash(root: Path) -> None:
    """Drop docs and dash's extras, keep glibc's libraries and /bin/dash as /bin/sh."""
    shutil.rmtree(root / "usr" / "share", ignore_errors=True)
    for extra in ("usr/bin", "usr/sbin", "sbin", "etc"):
        shutil.rmtree(root / extra, ignore_errors=True)
    if not (root / "bin" / "sh").is_symlink():
        (root / "bin" / "sh").symlink_to("dash")


def in_root(
    root: Path,
    cmd: list[str],
    binds: list[Path] | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` inside ``root`` (see layer_chroot.py), with extra environment ``env``."""
    args = [sys.executable, str(CHROOT), str(root)]
    for b in binds or []:
        args += ["--bind", str(b)]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    return subprocess.run([*args, "--", *cmd], input=stdin, capture_output=True, check=False, timeout=900)


def root_wrapper(root: Path, binds: list[Path], dest: Path) -> Path:
    """An executable that runs the layer's /opt/bin/exiftool inside ``root``: a drop-in exiftool_path."""
    bind_args = "".join(f", '--bind', {str(b)!r}" for b in binds)
    dest.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"args = [{sys.executable!r}, {str(CHROOT)!r}, {str(root)!r}{bind_args}, '--', '/opt/bin/exiftool']\n"
        "os.execv(args[0], args + sys.argv[1:])\n"
    )
    dest.chmod(0o755)
    return dest
