"""The Debian packages of the ExifTool layer: pinned in debian.lock, fetched and checked in Python.

    python3 debian_packages.py lock      # `make -C exiftool_layer lock`: resolve from the archive, rewrite the lock

``lock`` reads the archive's indexes over HTTPS (InRelease, whose OpenPGP signature is checked with ``gpgv`` and
Debian's keyring where both are installed; then Packages.xz, checked against the sha256 InRelease gives it),
takes for each package the highest version of the suites listed in WANTED, and writes name, version, sha256,
size and pool path per architecture. The build (:func:`fetch`) downloads exactly those files and refuses any
whose size or sha256 differs, so a build never takes a package nobody reviewed. No apt, no dpkg, no root;
standard library only, Python 3.9+ (it also runs inside SAM build images).
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = HERE / "debian.lock"
MIRROR = "https://deb.debian.org"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
Suite = tuple[str, str]  # (archive under MIRROR, distribution)
BOOKWORM: tuple[Suite, ...] = (("debian", "bookworm"), ("debian", "bookworm-updates"),
                               ("debian-security", "bookworm-security"))  # fmt: skip
BULLSEYE: tuple[Suite, ...] = (("debian", "bullseye"),)
# package, suites searched (the highest version wins, as apt would choose), exact version or None
WANTED: tuple[tuple[str, tuple[Suite, ...], str | None], ...] = (
    ("perl-base", BOOKWORM, None),
    ("libperl5.36", BOOKWORM, None),
    ("perl-modules-5.36", BOOKWORM, None),
    ("zlib1g", BOOKWORM, None),
    # bookworm's libcrypt1 4.4.33 needs arc4random_buf@GLIBC_2.36; bullseye's 4.4.18 needs at most 2.25.
    ("libcrypt1", BULLSEYE, "1:4.4.18-4"),
    # Not in the layer: the tests' hermetic root (tests/layer_support.py), glibc and /bin/sh only.
    ("libc6", BOOKWORM, None),
    ("dash", BOOKWORM, None),
)
LOCK_HEADER = """\
# Debian packages of the ExifTool layer (and of its tests' hermetic root: libc6, dash), pinned. The build
# downloads exactly these files from {mirror} and refuses any whose size or sha256 differs.
# Refresh (takes Debian's current versions, e.g. a Perl security update): make -C exiftool_layer lock
# then review the diff and commit it. Written by debian_packages.py; {verified}.
# arch\tpackage\tversion\tsha256\tsize\tpath
"""


@dataclass(frozen=True)
class Locked:
    """One pinned .deb."""

    arch: str  # Debian's name: amd64, arm64
    package: str
    version: str
    sha256: str
    size: int
    path: str  # under MIRROR, e.g. debian/pool/main/p/perl/perl-base_5.36.0-7+deb12u3_amd64.deb

    @property
    def url(self) -> str:
        return f"{MIRROR}/{self.path}"

    @property
    def filename(self) -> str:
        return posixpath.basename(self.path)

    def line(self) -> str:
        return "\t".join([self.arch, self.package, self.version, self.sha256, str(self.size), self.path])


# ---------------------------------------------------------------- HTTP
def http_get(url: str, attempts: int = 3) -> bytes:
    """GET ``url`` (retrying network hiccups, not HTTP errors); SystemExit with the reason on failure."""
    for attempt in range(1, attempts + 1):
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "s3-exif-scrubber-layer-build"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - https URLs built here
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == attempts:
                raise SystemExit(f"{url}: {exc}") from None
            time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- versions (dpkg's ordering)
def _order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return -1 if char == "~" else ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: non-digit runs character by character (``~`` first), digit runs as numbers."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        da, i = _digits(a, i)
        db, j = _digits(b, j)
        if da != db:
            return 1 if da > db else -1
    return 0


def _digits(text: str, pos: int) -> tuple[int, int]:
    end = pos
    while end < len(text) and text[end].isdigit():
        end += 1
    return (int(text[pos:end]) if end > pos else 0), end


def compare_versions(a: str, b: str) -> int:
    """Negative, zero or positive as Debian version ``a`` sorts before, equal to or after ``b``."""

    def split(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.partition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch), upstream, revision

    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return ea - eb
    return _compare_part(ua, ub) or _compare_part(ra, rb)


# ---------------------------------------------------------------- archive indexes
def inrelease(archive: str, dist: str) -> tuple[str, bool]:
    """The suite's InRelease body, and whether its signature was checked (gpgv + Debian's keyring)."""
    raw = http_get(f"{MIRROR}/{archive}/dists/{dist}/InRelease")
    gpgv = shutil.which("gpgv")
    if gpgv and KEYRING.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            signed, checked = Path(tmp) / "InRelease", Path(tmp) / "body"
            signed.write_bytes(raw)
            res = subprocess.run([gpgv, "--keyring", str(KEYRING), "--output", str(checked), str(signed)],
                                 capture_output=True, text=True, check=False)  # fmt: skip
            if res.returncode != 0:
                raise SystemExit(f"{archive}/dists/{dist}/InRelease: bad signature\n{res.stderr}")
            return checked.read_text(encoding="utf-8"), True
    text = raw.decode("utf-8")
    body = text.split("\n\n", 1)[1].split("-----BEGIN PGP SIGNATURE-----", 1)[0]
    return body, False


def stanzas(text: str, names: Collection[str]) -> Iterable[dict[str, str]]:
    """The paragraphs of a Packages file about the packages ``names`` (continuation lines dropped)."""
    for block in text.split("\n\n"):
        if block.partition("\n")[0].partition(": ")[2] not in names:
            continue
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] not in ("", " ", "\t") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if fields:
            yield fields


def release_sha256(release: str, path: str) -> str:
    """The sha256 InRelease gives for ``path`` (e.g. main/binary-amd64/Packages.xz)."""
    section = release.partition("\nSHA256:\n")[2].split("\n")
    for line in section:
        if not line.startswith(" "):
            break
        digest, _, name = line.split()
        if name == path:
            return digest
    raise SystemExit(f"InRelease lists no sha256 for {path}")


def packages_index(archive: str, dist: str, arch: str, names: Collection[str]) -> tuple[list[dict[str, str]], bool]:
    """The suite's main/binary-<arch> stanzas of ``names``, checked against InRelease; and the signature flag."""
    release, signed = inrelease(archive, dist)
    wanted = f"main/binary-{arch}/Packages.xz"
    digest = release_sha256(release, wanted)
    data = http_get(f"{MIRROR}/{archive}/dists/{dist}/main/binary-{arch}/by-hash/SHA256/{digest}")
    if sha256_of(data) != digest:
        raise SystemExit(f"{archive}/dists/{dist}/{wanted}: sha256 differs from InRelease")
    return list(stanzas(lzma.decompress(data).decode("utf-8"), names)), signed


def resolve(arch: str) -> tuple[list[Locked], bool]:
    """The WANTED packages for Debian architecture ``arch``; and whether every index was signature-checked."""
    indexes: dict[Suite, list[dict[str, str]]] = {}
    names = {package for package, _, _ in WANTED}
    all_signed = True
    chosen: list[Locked] = []
    for package, suites, pinned in WANTED:
        candidates: list[tuple[Suite, dict[str, str]]] = []
        for suite in suites:
            if suite not in indexes:
                indexes[suite], signed = packages_index(*suite, arch, names)
                all_signed = all_signed and signed
            candidates += [(suite, s) for s in indexes[suite] if s.get("Package") == package
                           and (pinned is None or s.get("Version") == pinned)]  # fmt: skip
        if not candidates:
            raise SystemExit(f"{package} {pinned or ''} ({arch}) is in none of {[d for _, d in suites]}")
        best = candidates[0]
        for cand in candidates[1:]:
            if compare_versions(cand[1]["Version"], best[1]["Version"]) > 0:
                best = cand
        (archive, _), fields = best
        chosen.append(Locked(arch, package, fields["Version"], fields["SHA256"], int(fields["Size"]),
                             f"{archive}/{fields['Filename']}"))  # fmt: skip
    return chosen, all_signed


# ---------------------------------------------------------------- the lock
def read_lock(lock: Path = LOCK) -> dict[tuple[str, str], Locked]:
    """Pinned packages by (Debian arch, package)."""
    entries: dict[tuple[str, str], Locked] = {}
    for number, line in enumerate(lock.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 6 or len(parts[3]) != 64:
            raise SystemExit(f"{lock}:{number}: expected arch, package, version, sha256, size, path")
        entry = Locked(parts[0], parts[1], parts[2], parts[3], int(parts[4]), parts[5])
        entries[(entry.arch, entry.package)] = entry
    return entries


def write_lock(lock: Path = LOCK) -> list[str]:
    """Resolve every architecture and rewrite the lock; return the lines that changed."""
    old = read_lock(lock) if lock.exists() else {}
    entries: list[Locked] = []
    signed = True
    for arch in DEBIAN_ARCH.values():
        resolved, arch_signed = resolve(arch)
        entries += resolved
        signed = signed and arch_signed
    verified = ("InRelease signatures checked with gpgv and Debian's keyring" if signed
                else "InRelease signatures NOT checked (no gpgv or keyring here): HTTPS only")  # fmt: skip
    text = LOCK_HEADER.format(mirror=MIRROR, verified=verified) + "".join(e.line() + "\n" for e in entries)
    lock.write_text(text, encoding="utf-8")
    return [f"{e.arch} {e.package}: {old[(e.arch, e.package)].version if (e.arch, e.package) in old else '-'}"
            f" -> {e.version}" for e in entries if old.get((e.arch, e.package)) != e]  # fmt: skip


# ---------------------------------------------------------------- the build's download
def fetch(arch: str, packages: Sequence[str], cache: Path, lock: Path = LOCK) -> list[tuple[Locked, Path]]:
    """The pinned .deb files of ``packages`` for layer architecture ``arch``, downloaded into ``cache``
    (files already there are reused when their sha256 matches) and each checked against the lock."""
    entries = read_lock(lock)
    cache.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Locked, Path]] = []
    for package in packages:
        entry = entries.get((DEBIAN_ARCH[arch], package))
        if entry is None:
            raise SystemExit(f"{package} ({DEBIAN_ARCH[arch]}) is not in {lock}: run `make -C exiftool_layer lock`")
        dest = cache / entry.filename
        if not (dest.is_file() and sha256_of(dest.read_bytes()) == entry.sha256):
            write_atomically(dest, download(entry))
        out.append((entry, dest))
    return out


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` into ``path`` by a temporary file of this writer's own and ``os.replace``: two builds fetching the
    same package at once (both architectures' layers share nothing, but two builds of one may) never share a
    temporary file, and a reader sees the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(entry: Locked) -> bytes:
    """One pinned .deb, refused unless its size and sha256 are the lock's."""
    try:
        data = http_get(entry.url)
    except SystemExit as exc:
        if "HTTP 404" in str(exc):
            gone = f"Debian no longer serves {entry.package} {entry.version} (superseded, e.g. by a security update)"
            raise SystemExit(
                f"{exc}\n{gone}: run `make -C exiftool_layer lock`, review and commit debian.lock"
            ) from None
        raise
    if len(data) != entry.size or sha256_of(data) != entry.sha256:
        raise SystemExit(f"{entry.url}: {len(data)} bytes, sha256 {sha256_of(data)}; the lock says "
                         f"{entry.size} bytes, sha256 {entry.sha256}: refused")  # fmt: skip
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=["lock"])
    parser.add_argument("--lock", type=Path, default=LOCK)
    opts = parser.parse_args(argv)
    changes = write_lock(opts.lock)
    print("\n".join(changes) if changes else "debian.lock: no change", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
