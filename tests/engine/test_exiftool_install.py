"""`exif-scrub exiftool install` against a local npm registry on 127.0.0.1 serving the real pinned tarball.

Success (installed, runs, found by locate_exiftool and used by the engine with EXIFTOOL_PATH unset and no
exiftool on PATH), a wrong sha256, unsafe tarball members, and no perl: each refused with one line.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from exif_scrubber import Outcome, Scrubber, ScrubPolicy, exiftool_install, exiftool_process
from exif_scrubber.cli import cli
from exif_scrubber.exiftool_install import InstallError, install
from exif_scrubber.exiftool_process import locate_exiftool
from scrub_demo.samples import make_sample
from tests.npm_registry import NpmRegistry, serving

PIN = exiftool_install.read_pin()
DIST = Path(__file__).resolve().parents[2] / "exiftool_layer" / "build" / "dist"
TARBALL = DIST / PIN.tarball_name


@pytest.fixture(scope="module")
def real_tarball() -> bytes:
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} missing: `make setup` fetches it")
    data = TARBALL.read_bytes()
    assert hashlib.sha256(data).hexdigest() == PIN.sha256
    return data


@pytest.fixture
def registry() -> Iterator[NpmRegistry]:
    with serving(NpmRegistry()) as reg:
        yield reg


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh XDG data home; PATH holds perl and nothing else; no other ExifTool can be found."""
    data = tmp_path / "xdg-data"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    perl = shutil.which("perl")
    assert perl is not None, "these tests need perl"
    (bin_dir / "perl").symlink_to(perl)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("EXIFTOOL_PATH", raising=False)
    monkeypatch.setattr(exiftool_process, "LAYER_EXIFTOOL", tmp_path / "no-layer" / "exiftool")
    monkeypatch.setattr(exiftool_process, "PROJECT_EXIFTOOL", tmp_path / "no-build" / "exiftool")
    return data


def test_install_runs_and_is_found_and_used_by_the_engine(
    registry: NpmRegistry, real_tarball: bytes, home: Path, tmp_path: Path
) -> None:
    registry.tarball = real_tarball
    with pytest.raises(exiftool_process.ExifToolNotFound, match="exif-scrub exiftool install"):
        locate_exiftool()
    script = install(registry=registry.url)
    assert script == home / "s3-exif-scrubber" / f"exiftool-{PIN.exiftool_version}" / "exiftool"
    assert registry.requests == [f"/{PIN.package}/{PIN.npm_version}", f"/-/{PIN.tarball_name}"]
    assert sorted(p.name for p in script.parent.iterdir()) == ["exiftool", "lib"]
    assert not [p for p in home.rglob("*") if p.name.startswith(".")]  # no staging or unpack leftovers
    run = subprocess.run(["perl", str(script), "-ver"], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == PIN.exiftool_version
    assert shutil.which("exiftool") is None and "EXIFTOOL_PATH" not in os.environ
    assert locate_exiftool() == script
    with Scrubber(ScrubPolicy()) as scrubber:
        assert scrubber.pool.executable == script
        source = make_sample(scrubber.pool, tmp_path / "in", "gps", "JPEG")
        report = scrubber.scrub_file(source, tmp_path / "out.jpg")
    assert report.outcome is Outcome.CLEANED and report.verified


def test_cli_install_path_and_version(registry: NpmRegistry, real_tarball: bytes, home: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    registry.tarball = real_tarball
    monkeypatch.setenv("npm_config_registry", registry.url)
    runner = CliRunner()
    result = runner.invoke(cli, ["exiftool", "install"])
    assert result.exit_code == 0, result.output
    script = home / "s3-exif-scrubber" / f"exiftool-{PIN.exiftool_version}" / "exiftool"
    assert result.stdout.strip() == str(script)
    assert runner.invoke(cli, ["exiftool", "path"]).stdout.strip() == str(script)
    version = runner.invoke(cli, ["exiftool", "version"]).stdout
    assert f"in use: {PIN.exiftool_version} ({script})" in version
    again = runner.invoke(cli, ["exiftool", "install"])  # a second install replaces the first in place
    assert again.exit_code == 0 and script.is_file()
    assert sorted(p.name for p in script.parent.parent.iterdir()) == [script.parent.name]


def test_a_wrong_sha256_is_refused_before_anything_is_unpacked(
    registry: NpmRegistry, real_tarball: bytes, home: Path
) -> None:
    tampered = bytearray(real_tarball)
    tampered[len(tampered) // 2] ^= 0x01
    registry.tarball = bytes(tampered)
    with pytest.raises(InstallError, match=f"is not the pinned {PIN.sha256}: refused, nothing unpacked"):
        install(registry=registry.url)
    assert not home.exists() or not any(home.rglob("*"))


def tarball_with(entry: tarfile.TarInfo, payload: bytes = b"pwned") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        script = tarfile.TarInfo("package/bin/exiftool")
        body = b'#!/usr/bin/env perl\nprint "13.59\\n";\n'
        script.size, script.mode = len(body), 0o755
        tar.addfile(script, io.BytesIO(body))
        entry.size = len(payload) if entry.isfile() else 0
        tar.addfile(entry, io.BytesIO(payload) if entry.isfile() else None)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (entry("package/bin/lib/../../../../escape"), "unsafe path"),
        (entry("../escape"), "unsafe path"),
        (entry("/tmp/escape-absolute"), "unsafe path"),
        (entry("package/bin/lib/Image/evil.pm", tarfile.SYMTYPE, "/etc/passwd"), "link or special file"),
        (entry("package/bin/lib/x", tarfile.SYMTYPE, "../../../../escape"), "link or special file"),
        (entry("package/bin/lib/h", tarfile.LNKTYPE, "package/bin/exiftool"), "link or special file"),
        (entry("package/patches/2026-08-07-exiftool-stdin-eof.patch"), "downstream patches"),
    ],
)
def test_unsafe_tarball_members_are_refused(
    registry: NpmRegistry, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member: tarfile.TarInfo,
    reason: str,
) -> None:  # fmt: skip
    """Even a tarball whose sha256 is pinned (a compromised pin) is not unpacked when a member is unsafe."""
    registry.tarball = tarball_with(member)
    pin = tmp_path / "exiftool.pin"
    text = exiftool_install.PIN_FILE.read_text().replace(PIN.sha256, hashlib.sha256(registry.tarball).hexdigest())
    pin.write_text(text)
    monkeypatch.setattr(exiftool_install, "PIN_FILE", pin)
    with pytest.raises(InstallError, match=reason):
        install(registry=registry.url)
    assert not home.exists() or not [p for p in home.rglob("*") if p.name != "s3-exif-scrubber"]
    assert not (tmp_path / "escape").exists() and not Path("/tmp/escape-absolute").exists()


def test_no_perl_is_one_line_and_downloads_nothing(registry: NpmRegistry, home: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InstallError) as info:
        install(registry=registry.url)
    assert str(info.value) == exiftool_install.PERL_MISSING and "\n" not in str(info.value)
    assert "perl 5 is needed" in str(info.value)
    assert registry.requests == []
    monkeypatch.setenv("npm_config_registry", registry.url)
    result = CliRunner().invoke(cli, ["exiftool", "install"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == f"Error: {exiftool_install.PERL_MISSING}"
    assert "Traceback" not in result.output


def test_only_https_or_this_machine(home: Path) -> None:
    with pytest.raises(InstallError, match="only https://"):
        install(registry="http://registry.example.org")
    with pytest.raises(InstallError, match="only https://"):
        install(registry="ftp://127.0.0.1")
