"""Builds that never race: `sam build` (samconfig.toml: parallel, in the source tree) runs both ExifTool layers'
`make` at once, and both fetch the pinned tarball into the same exiftool_layer/build/dist. Each download now goes
to a temporary file of its own and is renamed into place atomically; a verified tarball already there is kept.

The two-process test holds both downloads at a barrier in the registry until both have asked, so they always
overlap (before the fix they shared one `.part` file, and the second rename failed with FileNotFoundError).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exif_scrubber import exiftool_install
from tests.npm_registry import NpmRegistry, serving

ROOT = Path(__file__).resolve().parent.parent
PIN = exiftool_install.read_pin()
TARBALL = ROOT / "exiftool_layer" / "build" / "dist" / PIN.tarball_name
INSTALLER = ROOT / "exif_scrubber" / "exiftool_install.py"


@pytest.fixture
def real_tarball() -> bytes:
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} missing: `make setup` fetches it")
    return TARBALL.read_bytes()


@pytest.fixture
def registry(real_tarball: bytes) -> Iterator[NpmRegistry]:
    """Tarball requests held until both downloads have asked, so they always overlap."""
    with serving(NpmRegistry(real_tarball, barrier=threading.Barrier(2, timeout=60))) as reg:
        yield reg


def _fetch_process(dist: Path, registry_url: str) -> subprocess.Popen[str]:
    """`make fetch`'s command, as each layer's make runs it (the script, standard library only)."""
    env = {**os.environ, "npm_config_registry": registry_url}
    command = [sys.executable, str(INSTALLER), "fetch", "--dist", str(dist)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_builds_fetching_at_once_both_succeed(registry: NpmRegistry, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    processes = [_fetch_process(dist, registry.url) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert registry.requests.count(f"/-/{PIN.tarball_name}") == 2  # both really downloaded, at the same time
    assert sorted(p.name for p in dist.iterdir()) == [PIN.tarball_name]  # no temporary file left behind
    assert hashlib.sha256((dist / PIN.tarball_name).read_bytes()).hexdigest() == PIN.sha256


def test_a_verified_tarball_already_there_is_kept(real_tarball: bytes, tmp_path: Path, monkeypatch: Any) -> None:
    """The twin that finished first: the second fetch downloads nothing."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / PIN.tarball_name).write_bytes(real_tarball)
    monkeypatch.setattr(exiftool_install, "download", _no_download)
    assert exiftool_install.fetch(dist) == dist / PIN.tarball_name


def test_a_damaged_tarball_is_fetched_again(real_tarball: bytes, tmp_path: Path, monkeypatch: Any) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / PIN.tarball_name).write_bytes(real_tarball[:1000])
    monkeypatch.setattr(exiftool_install, "download", lambda pin, registry=None: real_tarball)
    out = exiftool_install.fetch(dist)
    assert out.read_bytes() == real_tarball
    assert sorted(p.name for p in dist.iterdir()) == [PIN.tarball_name]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        exiftool_install.write_atomically(tmp_path / "x.tgz", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_debian_packages_fetched_by_two_builds_at_once(tmp_path: Path, monkeypatch: Any) -> None:
    """The layer's Debian cache: two builds of one architecture (two clones' tests, a build beside a test)
    download the same .deb at the same moment; both get the checked file, no temporary file stays."""
    sys.path.insert(0, str(ROOT / "exiftool_layer"))
    try:
        import debian_packages as dp
    finally:
        sys.path.remove(str(ROOT / "exiftool_layer"))
    data = b"!<arch>\n" + bytes(range(256)) * 64
    digest = hashlib.sha256(data).hexdigest()
    lock = tmp_path / "debian.lock"
    lock.write_text(f"amd64\tdemo\t1.0-1\t{digest}\t{len(data)}\tpool/main/d/demo/demo_1.0-1_amd64.deb\n")
    barrier = threading.Barrier(2, timeout=30)

    def download(entry: Any) -> bytes:
        barrier.wait()
        return data

    monkeypatch.setattr(dp, "download", download)
    cache = tmp_path / "cache"
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(dp.fetch("x86_64", ["demo"], cache, lock)))
               for _ in range(2)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    assert [p.name for p in cache.iterdir()] == ["demo_1.0-1_amd64.deb"]
    assert (cache / "demo_1.0-1_amd64.deb").read_bytes() == data


def _no_download(pin: Any, registry: str | None = None) -> bytes:
    raise AssertionError("a verified tarball was there: nothing should be downloaded")
