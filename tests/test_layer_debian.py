"""The layer's Debian side without apt or dpkg: version ordering, the lock, the checked download, the unpacker.

Everything here runs offline: a local HTTP server on 127.0.0.1 plays deb.debian.org.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

try:
    from tests import layer_support as ls
except ImportError:  # tests/ is no package: pytest puts tests/ itself on sys.path
    import layer_support as ls

BUILDER = ls.builder()
DP: ModuleType = BUILDER.debian_packages
DEB: ModuleType = BUILDER.debfile

# (a, b, expected sign): dpkg's documented ordering (epochs, ~ before anything, letters before other signs).
VERSION_CASES = [
    ("1:4.4.18-4", "1:4.4.33-2", -1), ("1:1.0", "2.0", 1), ("5.36.0-7+deb12u4", "5.36.0-7+deb12u3", 1),
    ("2.36-9+deb12u14", "2.36-9+deb12u7", 1), ("1.0~rc1", "1.0", -1), ("1.0", "1.0-0", 0), ("1.0a", "1.0+", -1),
    ("1.2.13.dfsg-1", "1.2.13.dfsg-1", 0), ("0.5.12-2", "0.5.11+git20200708+dd9ef66-5", 1), ("1.01", "1.1", 0),
    ("1.0~~", "1.0~", -1), ("10", "9", 1), ("1.0-1~bpo1", "1.0-1", -1),
]  # fmt: skip


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@pytest.mark.parametrize(("a", "b", "expected"), VERSION_CASES)
def test_version_order(a: str, b: str, expected: int) -> None:
    assert sign(DP.compare_versions(a, b)) == expected
    assert sign(DP.compare_versions(b, a)) == -expected


def test_version_order_agrees_with_dpkg() -> None:
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        pytest.skip("dpkg not installed: the fixed cases above still run")
    versions = sorted({v for a, b, _ in VERSION_CASES for v in (a, b)})
    for a in versions:
        for b in versions:
            ops = {-1: "lt", 0: "eq", 1: "gt"}[sign(DP.compare_versions(a, b))]
            assert subprocess.run([dpkg, "--compare-versions", a, ops, b], check=False).returncode == 0, (a, ops, b)


def test_lock_pins_every_package_for_both_architectures() -> None:
    lock = DP.read_lock()
    wanted = {name for name, _, _ in DP.WANTED}
    assert set(BUILDER.PACKAGES) | {"libc6", "dash"} == wanted
    assert set(lock) == {(arch, name) for arch in ("amd64", "arm64") for name in wanted}
    assert lock[("amd64", "libcrypt1")].version == "1:4.4.18-4"  # Debian 11's: needs glibc <= 2.25
    for entry in lock.values():
        assert entry.path.startswith(("debian/pool/", "debian-security/pool/")) and entry.path.endswith(".deb")
        assert int(entry.sha256, 16) and entry.size > 0


# ---------------------------------------------------------------- a fake archive on 127.0.0.1
@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """Files served by path; MIRROR points here, and no keyring, so InRelease is read unsigned."""
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(DP, "MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(DP, "KEYRING", Path("/nonexistent/keyring.gpg"))
    yield files
    server.shutdown()
    server.server_close()


def tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes]], compression: str = "xz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tar:
        for info, data in entries:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o755
    return info


def ar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{0o100644:<8o}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def make_deb(data_entries: list[tuple[tarfile.TarInfo, bytes]], package: str = "demo", version: str = "1.0") -> bytes:
    control = f"Package: {package}\nVersion: {version}\nArchitecture: amd64\n".encode()
    return ar_bytes([("debian-binary", b"2.0\n"), ("control.tar.xz", tar_bytes([(member("./control"), control)])),
                     ("data.tar.xz", tar_bytes(data_entries))])  # fmt: skip


def publish_suite(files: dict[str, bytes], archive: str, dist: str, stanzas: list[str]) -> None:
    packages = lzma.compress("\n\n".join(stanzas).encode() + b"\n")
    digest = hashlib.sha256(packages).hexdigest()
    files[f"{archive}/dists/{dist}/main/binary-amd64/by-hash/SHA256/{digest}"] = packages
    files[f"{archive}/dists/{dist}/InRelease"] = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nSHA256:\n"
        f" {digest} {len(packages)} main/binary-amd64/Packages.xz\n"
        "-----BEGIN PGP SIGNATURE-----\nnot checked here\n-----END PGP SIGNATURE-----\n"
    ).encode()


def stanza(package: str, version: str, path: str, data: bytes) -> str:
    return (f"Package: {package}\nVersion: {version}\nFilename: {path}\nSize: {len(data)}\n"
            f"SHA256: {hashlib.sha256(data).hexdigest()}\nDescription: test\n more text")  # fmt: skip


def test_resolve_takes_the_highest_version_across_suites_and_honours_a_pinned_one(
    mirror: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    deb = b"a deb"
    publish_suite(mirror, "debian", "bookworm", [stanza("perl-base", "5.36.0-7+deb12u3", "pool/a.deb", deb),
                                                 stanza("libcrypt1", "1:4.4.33-2", "pool/c.deb", deb)])  # fmt: skip
    publish_suite(mirror, "debian-security", "bookworm-security", [stanza("perl-base", "5.36.0-7+deb12u4",
                                                                          "pool/updates/b.deb", deb)])  # fmt: skip
    publish_suite(mirror, "debian", "bookworm-updates", [])
    publish_suite(mirror, "debian", "bullseye", [stanza("libcrypt1", "1:4.4.18-4", "pool/old.deb", deb),
                                                 stanza("libcrypt1", "1:4.4.18-5", "pool/newer.deb", deb)])  # fmt: skip
    monkeypatch.setattr(DP, "WANTED", (("perl-base", DP.BOOKWORM, None), ("libcrypt1", DP.BULLSEYE, "1:4.4.18-4")))
    chosen, signed = DP.resolve("amd64")
    assert signed is False
    assert [(e.package, e.version, e.path) for e in chosen] == [
        ("perl-base", "5.36.0-7+deb12u4", "debian-security/pool/updates/b.deb"),
        ("libcrypt1", "1:4.4.18-4", "debian/pool/old.deb"),
    ]


def test_an_index_that_does_not_match_inrelease_is_refused(mirror: dict[str, bytes]) -> None:
    publish_suite(mirror, "debian", "bookworm", [stanza("perl-base", "1", "pool/a.deb", b"x")])
    key = next(k for k in mirror if "/by-hash/" in k)
    mirror[key] = lzma.compress(b"Package: perl-base\nVersion: 666\n")
    with pytest.raises(SystemExit, match="sha256 differs from InRelease"):
        DP.packages_index("debian", "bookworm", "amd64", {"perl-base"})


def write_lock(path: Path, data: bytes, size: int | None = None) -> None:
    line = DP.Locked("amd64", "demo", "1.0", hashlib.sha256(data).hexdigest(), size or len(data), "debian/pool/d.deb")
    path.write_text("# test lock\n" + line.line() + "\n")


def test_fetch_downloads_the_locked_file_and_refuses_any_other(mirror: dict[str, bytes], tmp_path: Path) -> None:
    good = make_deb([(member("./usr/bin/demo"), b"#!/bin/sh\n")])
    lock = tmp_path / "debian.lock"
    write_lock(lock, good)
    mirror["debian/pool/d.deb"] = good
    [(entry, path)] = DP.fetch("x86_64", ["demo"], tmp_path / "cache", lock)
    assert path.read_bytes() == good and entry.version == "1.0"
    mirror["debian/pool/d.deb"] = good[:-1] + b"!"  # same size, other bytes
    path.unlink()
    with pytest.raises(SystemExit, match="refused"):
        DP.fetch("x86_64", ["demo"], tmp_path / "cache", lock)
    assert not path.exists()
    del mirror["debian/pool/d.deb"]
    with pytest.raises(SystemExit, match=r"no longer serves demo 1\.0.*make -C exiftool_layer lock"):
        DP.fetch("x86_64", ["demo"], tmp_path / "cache", lock)
    with pytest.raises(SystemExit, match="not in"):
        DP.fetch("x86_64", ["other"], tmp_path / "cache", lock)


# ---------------------------------------------------------------- the unpacker
def test_unpacks_files_links_and_rewrites_absolute_symlinks(tmp_path: Path) -> None:
    deb = tmp_path / "ok.deb"
    deb.write_bytes(make_deb([
        (member("./", tarfile.DIRTYPE), b""), (member("./usr/lib/", tarfile.DIRTYPE), b""),
        (member("./usr/lib/libdemo.so.1.2"), b"\x7fELF"), (member("./usr/lib/libdemo.so.1", tarfile.SYMTYPE,
                                                                   "libdemo.so.1.2"), b""),
        (member("./lib64/ld.so", tarfile.SYMTYPE, "/usr/lib/libdemo.so.1.2"), b""),
        (member("./usr/bin/demo"), b"bin"), (member("./usr/bin/demo2", tarfile.LNKTYPE, "./usr/bin/demo"), b""),
    ], "demo", "2:1.0-1"))  # fmt: skip
    root = tmp_path / "root"
    DEB.extract(deb, root)
    assert (root / "usr/lib/libdemo.so.1").read_bytes() == b"\x7fELF"
    assert str((root / "lib64/ld.so").readlink()) == "../usr/lib/libdemo.so.1.2"
    assert (root / "lib64/ld.so").read_bytes() == b"\x7fELF"
    assert (root / "usr/bin/demo2").read_bytes() == b"bin"
    assert DEB.control_fields(deb)["Version"] == "2:1.0-1"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (member("../escape"), "unsafe member name"),
        (member("./usr/../../escape"), "unsafe member name"),
        (member("/etc/escape"), "unsafe member name"),
        (member("./usr/lib/evil", tarfile.SYMTYPE, "../../../escape"), "leaves the root"),
        (member("./usr/lib/evil", tarfile.LNKTYPE, "../escape"), "leaves the root"),
        (member("./dev/null", tarfile.CHRTYPE), "not a file, directory or link"),
    ],
)
def test_unsafe_members_are_refused_before_anything_is_written(
    tmp_path: Path, entry: tarfile.TarInfo, reason: str
) -> None:
    deb = tmp_path / "bad.deb"
    deb.write_bytes(make_deb([(member("./usr/bin/first"), b"written first?"), (entry, b"pwned")]))
    root = tmp_path / "sub" / "root"
    with pytest.raises(DEB.DebError, match=reason):
        DEB.extract(deb, root)
    assert not (tmp_path / "sub").exists()
    assert not (tmp_path / "escape").exists()


def test_not_a_deb_and_unknown_compression_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.deb"
    plain.write_bytes(b"just text")
    with pytest.raises(DEB.DebError, match="not an ar archive"):
        DEB.extract(plain, tmp_path / "root")
    odd = tmp_path / "odd.deb"
    odd.write_bytes(ar_bytes([("debian-binary", b"2.0\n"), ("data.tar.lz4", b"1234")]))
    with pytest.raises(DEB.DebError, match="unknown compression"):
        DEB.extract(odd, tmp_path / "root")


def test_real_locked_debs_carry_the_locked_name_and_version() -> None:
    """The cached downloads of the last layer build are the lock's packages (their control files say so)."""
    lock = DP.read_lock()
    debs = [(e, ls.BUILD / "debian-x86_64" / "debs" / e.filename) for e in lock.values() if e.arch == "amd64"]
    debs = [(e, p) for e, p in debs if p.is_file()]
    if not debs:
        pytest.skip("no layer built yet (tests/test_layer.py builds it)")
    for entry, path in debs:
        fields = DEB.control_fields(path)
        assert (fields["Package"], fields["Version"]) == (entry.package, entry.version)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
