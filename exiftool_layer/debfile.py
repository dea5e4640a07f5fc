"""Unpack a Debian package (.deb) in Python: no dpkg-deb, no root.

A .deb is an ``ar`` archive of ``debian-binary``, ``control.tar.*`` and ``data.tar.*``; the files it installs
are in ``data.tar.xz`` (Debian), ``.gz``, ``.bz2``, uncompressed, or ``.zst`` (Ubuntu; needs Python 3.14's
``compression.zstd``). Members are checked before anything is written: no absolute names, no ``..``, no device
files, no link leaving the root. Absolute symlinks (``/lib64/ld-linux-x86-64.so.2 -> /lib/...``) are rewritten
as relative ones, which mean the same inside the root. Standard library only, Python 3.9+.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from pathlib import Path

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60
TAR_MODES = {"": "r:", ".xz": "r:xz", ".gz": "r:gz", ".bz2": "r:bz2", ".zst": "r:zst"}


class DebError(Exception):
    """The file is not a .deb this module can unpack safely."""


def ar_members(data: bytes) -> dict[str, bytes]:
    """The members of an ``ar`` archive (GNU/System V names, as dpkg writes them), by name."""
    if not data.startswith(AR_MAGIC):
        raise DebError("not an ar archive (a .deb starts with '!<arch>')")
    members: dict[str, bytes] = {}
    pos = len(AR_MAGIC)
    while pos < len(data):
        header = data[pos : pos + AR_HEADER]
        if len(header) < AR_HEADER or header[58:60] != b"`\n":
            raise DebError(f"broken ar member header at byte {pos}")
        name = header[:16].decode("ascii").rstrip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = pos + AR_HEADER
        if start + size > len(data):
            raise DebError(f"ar member {name!r} runs past the end of the file")
        members[name] = data[start : start + size]
        pos = start + size + (size % 2)  # members are 2-byte aligned
    return members


def open_tar(members: dict[str, bytes], stem: str) -> tarfile.TarFile:
    """Open ``<stem>.tar[.xz|.gz|.bz2|.zst]`` from the members."""
    for name, blob in members.items():
        if name == f"{stem}.tar" or name.startswith(f"{stem}.tar."):
            suffix = name[len(stem) + 4 :]
            if suffix not in TAR_MODES:
                raise DebError(f"{name}: unknown compression")
            try:
                return tarfile.open(fileobj=io.BytesIO(blob), mode=TAR_MODES[suffix])  # type: ignore[call-overload, no-any-return]
            except tarfile.CompressionError as exc:  # .zst before Python 3.14
                raise DebError(f"{name}: {exc} (zstd needs Python 3.14+)") from exc
    raise DebError(f"no {stem}.tar.* member")


def control_fields(deb: Path) -> dict[str, str]:
    """The package's ``control`` fields (Package, Version, Architecture, ...)."""
    with open_tar(ar_members(deb.read_bytes()), "control") as tar:
        member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "control"), None)
        handle = tar.extractfile(member) if member is not None else None
        if handle is None:
            raise DebError(f"{deb.name}: no control file")
        text = handle.read().decode("utf-8")
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line[:1] not in ("", " ", "\t") and ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def _inside(path: str) -> bool:
    """True when a relative POSIX path stays inside its root (lexically)."""
    norm = posixpath.normpath(path)
    return not (posixpath.isabs(norm) or norm == ".." or norm.startswith("../"))


def checked_member(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """The member made safe to extract (absolute symlinks made relative), None for the root entry;
    raises ``DebError`` for anything that would write outside the root or is not a plain file, dir or link."""
    name = posixpath.normpath(member.name)
    if name == ".":
        return None
    if member.name.startswith("/") or not _inside(name):
        raise DebError(f"unsafe member name {member.name!r}")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise DebError(f"{member.name}: not a file, directory or link")
    member.name = name
    if member.issym():
        target = member.linkname
        if target.startswith("/"):
            target = posixpath.relpath(target.lstrip("/") or ".", posixpath.dirname(name) or ".")
        if not _inside(posixpath.join(posixpath.dirname(name), target)):
            raise DebError(f"{member.name}: symlink to {member.linkname!r} leaves the root")
        member.linkname = target
    elif member.islnk():
        target = posixpath.normpath(member.linkname.lstrip("/"))
        if not _inside(target):
            raise DebError(f"{member.name}: hard link to {member.linkname!r} leaves the root")
        member.linkname = target
    return member


def extract(deb: Path, root: Path) -> None:
    """Unpack the files of ``deb`` into ``root`` (created if missing), every member checked first."""
    try:
        with open_tar(ar_members(deb.read_bytes()), "data") as tar:
            members = [m for m in (checked_member(m) for m in tar.getmembers()) if m is not None]
            root.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):  # 3.12+, and 3.9.17+/3.10.12+/3.11.4+
                tar.extractall(root, members, filter="data")
            else:
                tar.extractall(root, members)  # noqa: S202 - every member was checked above
    except (DebError, tarfile.TarError, OSError) as exc:
        raise DebError(f"{deb.name}: {exc}") from exc
