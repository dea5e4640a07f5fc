"""Install the pinned ExifTool without a clone or npm: ``exif-scrub exiftool install``.

Reads the pin (exiftool.pin, shipped in the package), asks the npm registry for the pinned version of
exiftool-vendored.pl (the ExifTool distribution), downloads the tarball over HTTPS, checks its sha256 against
the pin BEFORE unpacking, unpacks ExifTool's script and ``lib/`` only after checking every member (no absolute
names, no ``..``, no links or devices; tarfile's ``data`` filter on top where Python has it), runs
``perl exiftool -ver`` and installs into ``$XDG_DATA_HOME/s3-exif-scrubber/exiftool-<version>/``
(``~/.local/share/...`` by default). ``npm_config_registry`` selects another registry, as it does for npm.

Standard library only, Python 3.9+: exiftool_layer/Makefile runs this file as a script, so the project build
and the pip users' install share one fetch + verify + unpack:

    python3 exif_scrubber/exiftool_install.py fetch --dist DIR        # download + verify the tarball only
    python3 exif_scrubber/exiftool_install.py install [--dest DIR] [--tarball FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PIN_FILE = Path(__file__).resolve().with_name("exiftool.pin")
DEFAULT_REGISTRY = "https://registry.npmjs.org"
APP_DIR = "s3-exif-scrubber"
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_TARBALL_BYTES = 64 * 1024 * 1024
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PERL_MISSING = "perl 5 is needed to run ExifTool and none is on PATH: install perl (e.g. apt-get install perl)"


class InstallError(Exception):
    """Installing ExifTool failed; the message is one line that says why."""


@dataclass(frozen=True)
class Pin:
    """What exiftool.pin pins."""

    package: str
    npm_version: str
    exiftool_version: str
    sha256: str

    @property
    def tarball_name(self) -> str:
        """The file name ``npm pack`` gives the tarball."""
        return f"{self.package}-{self.npm_version}.tgz"


def read_pin(path: Path | None = None) -> Pin:
    """Parse ``KEY=VALUE`` lines of exiftool.pin (the format make's ``include`` reads too)."""
    path = path or PIN_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    values = dict(ln.split("=", 1) for ln in lines if "=" in ln and not ln.lstrip().startswith("#"))
    try:
        return Pin(values["NPM_PACKAGE"], values["NPM_VERSION"], values["EXIFTOOL_VERSION"], values["TARBALL_SHA256"])
    except KeyError as exc:
        raise InstallError(f"{path}: no {exc.args[0]}") from None


def data_home() -> Path:
    """``$XDG_DATA_HOME`` when set to an absolute path (as the XDG spec says), else ``~/.local/share``."""
    xdg = Path(os.environ.get("XDG_DATA_HOME", ""))
    return xdg if xdg.is_absolute() else Path.home() / ".local" / "share"


def default_dir(pin: Pin | None = None) -> Path:
    """Where ``install()`` puts the pinned version by default."""
    return data_home() / APP_DIR / f"exiftool-{(pin or read_pin()).exiftool_version}"


def installed_exiftool() -> Path | None:
    """The ``exiftool`` script a default ``install()`` left, if it is there."""
    try:
        script = default_dir() / "exiftool"
    except (OSError, InstallError, RuntimeError):  # no pin file, or no home directory to look in
        return None
    return script if script.is_file() and os.access(script, os.X_OK) else None


# ---------------------------------------------------------------- download
def registry_url() -> str:
    """The npm registry: ``npm_config_registry`` (npm's own variable) or registry.npmjs.org."""
    env = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY")  # noqa: SIM112 - npm's name
    return (env or DEFAULT_REGISTRY).rstrip("/")


def check_url(url: str) -> str:
    """Only HTTPS, or plain HTTP to this machine (a local mirror or a test server)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return url
    raise InstallError(f"refusing to download from {url!r}: only https:// (or http:// on this machine) is used")


def http_get(url: str, limit: int) -> bytes:
    """GET ``url``, at most ``limit`` bytes; one-line InstallError on any failure."""
    request = urllib.request.Request(check_url(url), headers={"User-Agent": "s3-exif-scrubber"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - scheme checked above
            data = bytes(response.read(limit + 1))
    except urllib.error.HTTPError as exc:
        raise InstallError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InstallError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > limit:
        raise InstallError(f"{url}: larger than {limit} bytes, refused")
    return data


def tarball_url(pin: Pin, registry: str) -> str:
    """The tarball URL the registry gives for the pinned version (``dist.tarball``)."""
    url = f"{registry}/{urllib.parse.quote(pin.package)}/{urllib.parse.quote(pin.npm_version)}"
    try:
        meta = json.loads(http_get(url, MAX_METADATA_BYTES))
        return check_url(str(meta["dist"]["tarball"]))
    except (ValueError, KeyError, TypeError):
        raise InstallError(f"{url}: not npm package metadata with dist.tarball") from None


def verified(pin: Pin, data: bytes, origin: str) -> bytes:
    """``data`` if its sha256 is the pin's; InstallError otherwise (before anything is unpacked)."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != pin.sha256:
        raise InstallError(f"{origin}: sha256 {digest} is not the pinned {pin.sha256}: refused, nothing unpacked")
    return data


def download(pin: Pin, registry: str | None = None) -> bytes:
    """The pinned tarball from the registry, verified."""
    url = tarball_url(pin, (registry or registry_url()).rstrip("/"))
    return verified(pin, http_get(url, MAX_TARBALL_BYTES), url)


def fetch(dist: Path, registry: str | None = None) -> Path:
    """Download and verify the pinned tarball into ``dist`` (what the layer build needs); return its path.

    Safe to run many times at once (``sam build`` makes both ExifTool layers in parallel, each running this): a
    verified tarball already there is kept, and each download goes to a file of its own that is renamed into
    place atomically, so a twin that finished first is simply replaced by identical bytes."""
    pin = read_pin()
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / pin.tarball_name
    if out.is_file():
        try:
            verified(pin, out.read_bytes(), str(out))
            return out
        except InstallError:
            pass  # a damaged copy: downloaded again below
    write_atomically(out, download(pin, registry))
    return out


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a uniquely named temporary file in the same folder and ``os.replace``:
    readers see the old file or the whole new one, never a part, and concurrent writers never share a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- unpack
def _wanted(name: str) -> str | None:
    """Where a tarball member goes in the install (``exiftool``, ``lib/...``), or None to skip it."""
    if name == "package/bin/exiftool":
        return "exiftool"
    if name.startswith("package/bin/lib/"):
        return name[len("package/bin/") :]
    return None


def checked_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The members to unpack; InstallError if ANY member is unsafe (absolute, ``..``, link, device)."""
    keep: list[tarfile.TarInfo] = []
    for member in tar.getmembers():
        name = member.name
        norm = posixpath.normpath(name)
        if name.startswith("/") or norm == ".." or norm.startswith("../") or "/../" in f"/{name}/":
            raise InstallError(f"unsafe path in the ExifTool tarball: {name!r}: refused")
        if not (member.isfile() or member.isdir()):
            raise InstallError(f"link or special file in the ExifTool tarball: {name!r}: refused")
        if norm == "package/patches" or norm.startswith("package/patches/"):
            raise InstallError(
                "the ExifTool package carries downstream patches (package/patches): not the unmodified distribution"
            )
        if _wanted(norm) is not None:
            keep.append(member)
    if not any(_wanted(posixpath.normpath(m.name)) == "exiftool" for m in keep):
        raise InstallError("the ExifTool tarball has no package/bin/exiftool")
    return keep


def unpack(data: bytes, dest: Path) -> None:
    """Unpack ExifTool's script and ``lib/`` from the (verified) tarball bytes into the new directory ``dest``."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise InstallError(f"the ExifTool tarball cannot be read: {exc}") from None
    with tar:
        members = checked_members(tar)
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".unpack-") as tmp:
            if hasattr(tarfile, "data_filter"):  # 3.12+, 3.11.4+, 3.10.12+, 3.9.17+
                tar.extractall(tmp, members, filter="data")
            else:
                tar.extractall(tmp, members)  # noqa: S202 - every member was checked above
            dest.mkdir()
            for member in members:
                rel = _wanted(posixpath.normpath(member.name))
                if member.isfile() and rel is not None:
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(Path(tmp) / member.name), target)
                    target.chmod(0o755 if rel == "exiftool" else 0o644)


# ---------------------------------------------------------------- check and install
def find_perl() -> str:
    """The ``perl`` on PATH, or a one-line InstallError saying perl 5 is needed."""
    perl = shutil.which("perl")
    if perl is None:
        raise InstallError(PERL_MISSING)
    return perl


def check_runs(script: Path, pin: Pin, perl: str) -> None:
    """``perl exiftool -ver`` must print the pinned version."""
    try:
        res = subprocess.run([perl, str(script), "-ver"], capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"could not run {script} with {perl}: {exc}") from None
    got = res.stdout.strip()
    if res.returncode != 0 or got != pin.exiftool_version:
        error = (res.stderr.strip().splitlines() or [""])[0]
        raise InstallError(f"{script} -ver printed {got!r}, expected {pin.exiftool_version!r} {error}".rstrip())


def install(dest: Path | None = None, *, tarball: Path | None = None, registry: str | None = None) -> Path:
    """Install the pinned ExifTool into ``dest`` (default: :func:`default_dir`), replacing what is there;
    return the ``exiftool`` script's path. ``tarball``: a local copy to use instead of downloading."""
    pin = read_pin()
    perl = find_perl()
    data = verified(pin, tarball.read_bytes(), str(tarball)) if tarball else download(pin, registry)
    target = (dest or default_dir(pin)).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        staging.rmdir()
        unpack(data, staging)
        check_runs(staging / "exiftool", pin, perl)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "exiftool"


def main(argv: Sequence[str] | None = None) -> int:
    """Script entry (the layer Makefile): ``fetch --dist DIR`` or ``install [--dest DIR] [--tarball FILE]``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="download and verify the pinned tarball")
    fetch_cmd.add_argument("--dist", type=Path, required=True)
    install_cmd = sub.add_parser("install", help="download, verify, unpack, check and install")
    install_cmd.add_argument("--dest", type=Path)
    install_cmd.add_argument("--tarball", type=Path, help="a local copy of the pinned tarball (still verified)")
    opts = parser.parse_args(argv)
    try:
        path = fetch(opts.dist) if opts.command == "fetch" else install(opts.dest, tarball=opts.tarball)
    except InstallError as exc:
        print(f"exiftool_install: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
