"""Assemble the self-contained ExifTool Lambda layer tree (for /opt) for x86_64 or arm64.

Perl comes from Debian 12 packages pinned in debian.lock, downloaded, sha256-checked and unpacked in Python
(debian_packages.py, debfile.py: no apt, no dpkg, no root, any build architecture and OS), or with
``--perl-from host`` from the build host's own Perl. Only the Perl files listed in perl-modules.txt (traced
by trace_modules.py) and the non-glibc shared libraries the shipped ELF files need are copied. ExifTool
comes from the pinned, checksum-verified tarball.
Runs on Python 3.9+ with the standard library only, so it also works inside SAM build images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # debfile, debian_packages: next to this script (also when loaded by file path)
import debfile  # noqa: E402
import debian_packages  # noqa: E402
from debian_packages import DEBIAN_ARCH  # noqa: E402

MODULE_LIST = HERE / "perl-modules.txt"
TRIPLET = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
# Pinned with their sha256 in debian.lock (see debian_packages.py: libcrypt1 is Debian 11's, the rest Debian 12's).
PACKAGES = ["perl-base", "libperl5.36", "perl-modules-5.36", "libcrypt1", "zlib1g"]
# Sonames glibc itself provides (present in every Lambda runtime); everything else ships in the layer.
GLIBC_SONAMES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libmvec.so.1",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libanl.so.1",
        "libnsl.so.1",
        "libBrokenLocale.so.1",
        "libthread_db.so.1",
        "libc_malloc_debug.so.0",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "libnss_files.so.2",
        "libnss_dns.so.2",
    }
)
LAUNCHER = """#!/bin/sh
# ExifTool from the exiftool Lambda layer. Runs the layer's own Perl (never /usr/bin/perl) with @INC
# confined to the layer (ExifToolLayerINC.pm). Uses shell builtins only: the runtime may have no coreutils.
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
root=$(cd "$here/../exiftool" && pwd) || exit 127
unset PERL5LIB PERLLIB PERL5OPT PERL5DB PERL_UNICODE PERLIO PERLIO_DEBUG
PERL_BADLANG=0
LD_LIBRARY_PATH=$root/perl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PERL_BADLANG LD_LIBRARY_PATH
exec "$root/perl/bin/perl" "-I$root/perl/modules" -MExifToolLayerINC "$root/exiftool" "$@"
"""


def host_arch() -> str:
    """This machine's architecture in layer terms."""
    return {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[os.uname().machine]


def run(cmd: Sequence[str], cwd: Path | None = None) -> str:
    """Run a command (no shell), fail loudly, return stdout."""
    res = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    return res.stdout


# ---------------------------------------------------------------- ELF
def elf_info(path: Path) -> dict[str, object] | None:
    """Machine and DT_NEEDED list of an ELF64 little-endian file, or None if it is not ELF."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return None
    if data[4] != 2 or data[5] != 1:
        raise SystemExit(f"{path}: only ELF64 little-endian is supported")
    machine = struct.unpack_from("<H", data, 18)[0]
    (shoff,) = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needed: list[str] = []
    for sec in sections:
        if sec[1] != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[sec[6]]
        for off in range(sec[4], sec[4] + sec[5], 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 1:  # DT_NEEDED
                start = strtab[4] + val
                needed.append(data[start : data.index(b"\0", start)].decode())
    return {"machine": machine, "needed": needed}


def resolve_in_root(root: Path, path: Path) -> Path:
    """Follow symlinks of ``path`` while staying inside ``root`` (absolute targets are re-rooted)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = str(path.readlink())
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    raise SystemExit(f"symlink loop at {path}")


# ---------------------------------------------------------------- Perl sources
class PerlSource:
    """Where the perl binary, its library dirs and shared libraries come from."""

    def __init__(self, root: Path, perl: Path, module_dirs: list[Path], lib_dirs: list[Path]) -> None:
        self.root, self.perl, self.module_dirs, self.lib_dirs = root, perl, module_dirs, lib_dirs
        self.packages: list[str] = []
        self.copyrights: dict[str, Path] = {}

    def find_module(self, rel: str) -> Path:
        """The file for a path from perl-modules.txt, searched like @INC."""
        for d in self.module_dirs:
            cand = d / rel
            if cand.exists():
                return resolve_in_root(self.root, cand)
        raise SystemExit(f"Perl file {rel} not found in {[str(d) for d in self.module_dirs]}")

    def find_library(self, soname: str) -> Path:
        """A shared library by soname, in the source's library dirs."""
        for d in self.lib_dirs:
            cand = d / soname
            if cand.exists():
                return resolve_in_root(self.root, cand)
        raise SystemExit(f"shared library {soname} not found in {[str(d) for d in self.lib_dirs]}")


def debian_source(arch: str, state: Path, root: Path) -> PerlSource:
    """Fetch the pinned Debian packages (debian.lock) into the cache under ``state``, unpack them in Python into
    ``root`` (a folder of this build's own: builds running at once share only the verified cache) and describe
    the result."""
    debs = debian_packages.fetch(arch, PACKAGES, state / "debs")
    for _, deb in debs:
        try:
            debfile.extract(deb, root)
        except debfile.DebError as exc:
            raise SystemExit(str(exc)) from None
    trip = TRIPLET[arch]
    module_dirs = [
        root / f"usr/lib/{trip}/perl-base",
        *sorted(root.glob(f"usr/lib/{trip}/perl/5.*.*")),
        *sorted(root.glob("usr/share/perl/5.*.*")),
        root / "usr/share/perl5",
    ]
    lib_dirs = [root / f"lib/{trip}", root / f"usr/lib/{trip}", root / "lib", root / "usr/lib"]
    src = PerlSource(root, root / "usr/bin/perl", module_dirs, lib_dirs)
    src.packages = sorted(f"{e.package} {e.version} ({e.arch})" for e, _ in debs)
    src.copyrights = {p.parent.name: p for p in sorted(root.glob("usr/share/doc/*/copyright"))}
    return src


def host_source() -> PerlSource:
    """The build host's own Perl (``--perl-from host``: a Linux host of the layer's architecture)."""
    perl = shutil.which("perl")
    if perl is None:
        raise SystemExit("PERL_FROM=host needs perl on PATH (AL2023: dnf install -y perl-interpreter)")
    inc = run([perl, "-e", 'print "$_\\n" for grep { m{^/} } @INC']).split()
    libs = ["/lib64", "/usr/lib64", *(f"{p}/{TRIPLET[host_arch()]}" for p in ("/lib", "/usr/lib")), "/lib", "/usr/lib"]
    version = run([perl, "-e", "print $^V"])
    src = PerlSource(Path("/"), Path(perl).resolve(), [Path(d) for d in inc], [Path(d) for d in libs])
    src.packages = [f"host perl {version} ({perl})"]
    return src


# ---------------------------------------------------------------- layer assembly
def copy_file(src: Path, dst: Path, mode: int = 0o644) -> None:
    """Copy one file's content with a fixed mode."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    dst.chmod(mode)


def module_list() -> list[str]:
    """Relative Perl file names from perl-modules.txt."""
    lines = MODULE_LIST.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def install_perl(src: PerlSource, perl_dir: Path) -> list[Path]:
    """Copy the interpreter and the traced modules; return the ELF files copied."""
    copy_file(src.perl, perl_dir / "bin" / "perl", 0o755)
    copy_file(HERE / "perl" / "ExifToolLayerINC.pm", perl_dir / "modules" / "ExifToolLayerINC.pm")
    elves = [perl_dir / "bin" / "perl"]
    for rel in module_list():
        dst = perl_dir / "modules" / rel
        copy_file(src.find_module(rel), dst, 0o755 if rel.endswith(".so") else 0o644)
        if rel.endswith(".so"):
            elves.append(dst)
    return elves


def install_libraries(src: PerlSource, elves: list[Path], lib_dir: Path, arch: str) -> list[str]:
    """Copy every non-glibc shared library the ELF files need (transitively); return their sonames."""
    pending, shipped = list(elves), []
    while pending:
        info = elf_info(pending.pop())
        if info is None:
            continue
        if info["machine"] != ELF_MACHINE[arch]:
            raise SystemExit(f"wrong ELF machine {info['machine']} for {arch}")
        for soname in info["needed"]:  # type: ignore[attr-defined]
            if soname in GLIBC_SONAMES or soname in shipped:
                continue
            copy_file(src.find_library(soname), lib_dir / soname, 0o755)
            shipped.append(soname)
            pending.append(lib_dir / soname)
    return sorted(shipped)


def install_exiftool(tarball: Path, dest: Path) -> None:
    """Unpack the pinned ExifTool script and lib/ without documentation (.pod files)."""
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = member.name
            if not member.isfile() or name.endswith(".pod"):
                continue
            if name.startswith("/") or ".." in name.split("/"):
                raise SystemExit(f"unsafe path {name!r} in {tarball}")
            if name == "package/bin/exiftool" or name.startswith("package/bin/lib/"):
                rel = name[len("package/bin/") :]
            elif name == "package/LICENSE":
                rel = "licenses/exiftool.LICENSE"
            else:
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(fh.read())
            out.chmod(0o644)


def write_buildinfo(dest: Path, arch: str, src: PerlSource, libs: list[str], version: str) -> None:
    """Record what went into the layer, and ship the Debian copyright files."""
    lines = [
        f"architecture: {arch}",
        f"exiftool: {version}",
        "perl from:",
        *(f"  {p}" for p in src.packages),
        f"shared libraries: {', '.join(libs) or 'none'}",
        f"perl files: {len(module_list())}",
    ]
    (dest / "BUILDINFO.txt").write_text("\n".join(lines) + "\n")
    for pkg, path in src.copyrights.items():
        copy_file(path, dest / "licenses" / f"{pkg}.copyright")


def build(arch: str, out: Path, tarball: Path, version: str, src: PerlSource) -> None:
    """Assemble the layer tree into ``out`` (emptied first, if empty or an earlier layer build)."""
    if out.exists() and any(out.iterdir()):
        if not (out / "exiftool" / "BUILDINFO.txt").is_file():
            raise SystemExit(f"refusing to empty {out}: not empty and not an earlier layer build")
        shutil.rmtree(out)
    base = out / "exiftool"
    install_exiftool(tarball, base)
    elves = install_perl(src, base / "perl")
    libs = install_libraries(src, elves, base / "perl" / "lib", arch)
    (out / "bin").mkdir(parents=True)
    (out / "bin" / "exiftool").write_text(LAUNCHER)
    (out / "bin" / "exiftool").chmod(0o755)
    write_buildinfo(base, arch, src, libs, version)


def smoke_test(out: Path, version: str) -> None:
    """Where the layer's architecture is the host's, check it runs and reports the pinned version."""
    got = run([str(out / "bin" / "exiftool"), "-ver"]).strip()
    if got != version:
        raise SystemExit(f"layer ExifTool says {got!r}, expected {version!r}")


def write_zip(tree: Path, zip_path: Path) -> None:
    """Zip the tree reproducibly (fixed timestamps, sorted entries, unix modes kept)."""
    zip_path.unlink(missing_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(tree)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (the Makefile passes all of them)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=sorted(DEBIAN_ARCH), default=host_arch())
    ap.add_argument("--out", type=Path, required=True, help="layer tree (its content goes to /opt)")
    ap.add_argument("--tarball", type=Path, required=True, help="verified exiftool-vendored.pl tarball")
    ap.add_argument("--exiftool-version", required=True)
    ap.add_argument("--perl-from", choices=["debian", "host"], default="debian")
    ap.add_argument("--state", type=Path, help="Debian download cache (default: build/debian-<arch>)")
    ap.add_argument("--zip", type=Path, help="also write this zip of the tree")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the layer tree (and zip), then smoke-test it where the host can run it."""
    opts = parse_args(argv)
    mode = opts.perl_from
    if mode == "host" and opts.arch != host_arch():
        raise SystemExit(f"PERL_FROM=host can only build for the host architecture ({host_arch()})")
    state = (opts.state or HERE / "build" / f"debian-{opts.arch}").resolve()
    state.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=state, prefix="root-") as root:
        src = debian_source(opts.arch, state, Path(root)) if mode == "debian" else host_source()
        build(opts.arch, opts.out.resolve(), opts.tarball, opts.exiftool_version, src)
    if opts.arch == host_arch() and sys.platform.startswith("linux"):
        smoke_test(opts.out, opts.exiftool_version)
    if opts.zip:
        write_zip(opts.out, opts.zip)
    print(f"layer {opts.arch} ({mode} perl) -> {opts.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
