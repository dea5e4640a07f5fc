"""The ExifTool Lambda layer runs where Lambda's python3.12/3.13 runtimes have only glibc 2.34 and /bin/sh.

(a) ELF scan of every ELF file in the built layer; (b) a hermetic root holding only glibc's libraries,
/bin/sh and the layer at /opt, entered with chroot + unshare; (c) the same for arm64 through qemu.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

try:
    from tests import layer_support as ls
except ImportError:  # tests/ is no package: pytest puts tests/ itself on sys.path
    import layer_support as ls

ARCHES = ["x86_64", "arm64"]
LOCAL_EXIFTOOL = ls.BUILD / "exiftool" / "exiftool"
CORPUS = ls.REPO.parent / "shared" / "corpus"
SCRUB = ["-all=", "--icc_profile:all", "-tagsfromfile", "@", "-colorspacetags", "-orientation"]
HASH = ["-j", "-G1", "-ImageDataHash", "-api", "ImageHashType=SHA256", "-gps:all"]


@pytest.fixture(scope="session", params=ARCHES)
def arch(request: pytest.FixtureRequest) -> str:
    """Each test runs for both layer architectures."""
    return str(request.param)


@pytest.fixture(scope="session")
def layer(arch: str) -> Path:
    """The built layer tree (build/layer-<arch>), built once and cached by make."""
    return Path(ls.build_layer(arch))


@pytest.fixture(scope="session")
def root(arch: str, layer: Path) -> Path:
    """A hermetic root for ``arch``; skips when privileges (root, unshare) are missing, and outside CI when
    qemu user emulation is (.ci/run installs it)."""
    problem = ls.privilege_problem()
    if problem:
        pytest.skip(f"hermetic {arch} test not possible here: {problem}")
    problem = ls.emulation_problem(arch)
    if problem and os.environ.get("CI"):
        pytest.fail(f"hermetic {arch} test: {problem}")
    if problem:
        pytest.skip(f"hermetic {arch} test not possible here: {problem}")
    return Path(ls.hermetic_root(arch, layer))


def host_exiftool(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The pinned ExifTool run by the host perl (make -C exiftool_layer local): the reference."""
    return subprocess.run(["perl", str(LOCAL_EXIFTOOL), *args], capture_output=True, check=True)


def gps_jpeg(path: Path) -> Path:
    """A small JPEG made with Pillow, then given GPS, Artist and XMP by the host ExifTool."""
    img = Image.new("RGB", (96, 64))
    img.putdata([(x * 2, y * 3, (x * y) % 256) for y in range(64) for x in range(96)])
    img.save(path, quality=90)
    host_exiftool(
        "-overwrite_original",
        "-GPSLatitude=48.8584",
        "-GPSLatitudeRef=N",
        "-GPSLongitude=2.2945",
        "-GPSLongitudeRef=E",
        "-Artist=Jane Doe",
        "-XMP:Creator=Jane Doe",
        str(path),
    )
    return path


def meta(run: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    """Parse ExifTool's -j output, failing with its stderr."""
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    return list(json.loads(run.stdout))


# ---------------------------------------------------------------- how it was built
def test_layer_is_built_by_its_sam_target_without_apt_or_dpkg(layer: Path, arch: str) -> None:
    """`layer` is what `make --makefile exiftool_layer/Makefile build-ExifToolLayer<Arch>` wrote to
    ARTIFACTS_DIR with a PATH of make, a bare python3, uname and touch: no apt-get, no dpkg-deb, no npm."""
    path = ls.build_path()
    assert sorted(os.listdir(path)) == sorted(ls.BUILD_TOOLS)
    for tool in ("apt-get", "dpkg-deb", "dpkg", "npm", "perl"):
        assert shutil.which(tool, path=path) is None, tool
    log = (ls.BUILD / f"{layer.name}.log").read_text()
    assert log.startswith(f"PATH={path}\n") and ls.SAM_TARGET[arch] in log.splitlines()[1]
    assert f"layer {arch} (debian perl) -> {layer}" in log
    buildinfo = (layer / "exiftool" / "BUILDINFO.txt").read_text()
    locked = ls.builder().debian_packages.read_lock()
    debian_arch = ls.builder().DEBIAN_ARCH[arch]
    for package in ls.builder().PACKAGES:  # the layer holds exactly the locked (sha256-checked) versions
        entry = locked[(debian_arch, package)]
        assert f"  {package} {entry.version} ({debian_arch})\n" in buildinfo


# ---------------------------------------------------------------- (a) ELF
def test_every_elf_file_needs_only_glibc_2_34_and_the_layer(layer: Path, arch: str) -> None:
    reports, problems = ls.elf_problems(layer, arch)
    names = {r.path.name for r in reports}
    assert {"perl", "libcrypt.so.1"} <= names, names
    assert problems == []


def test_elf_scan_rejects_host_libraries_built_for_newer_glibc(tmp_path: Path) -> None:
    """The scan can fail: Debian 12's own libcrypt needs GLIBC_2.36, its Bzip2.so needs libbz2."""
    host = [
        Path("/usr/lib/x86_64-linux-gnu/libcrypt.so.1"),
        *Path("/usr/lib/x86_64-linux-gnu/perl").glob("5.*/auto/Compress/Raw/Bzip2/Bzip2.so"),
    ]
    if not all(p.exists() for p in host) or len(host) < 2:
        pytest.skip("needs Debian 12 x86_64 host libcrypt1 + libperl5.36")
    for p in host:
        shutil.copy(p, tmp_path / p.name)
    _, problems = ls.elf_problems(tmp_path, "x86_64")
    assert any("libcrypt.so.1: needs GLIBC_2.36" in p for p in problems), problems
    assert any("needs libbz2.so.1.0, neither" in p for p in problems), problems
    assert ls.glibc_too_new("GLIBC_2.35") and not ls.glibc_too_new("GLIBC_2.34")


def test_host_perl_mode_builds_a_working_layer(tmp_path: Path) -> None:
    """PERL_FROM=host: a layer made from the build host's own Perl runs and keeps @INC inside the layer."""
    if ls.builder().host_arch() != "x86_64" or not LOCAL_EXIFTOOL.exists():
        pytest.skip("host-mode check runs on x86_64 with `make -C exiftool_layer local` done")
    tarball = next((ls.BUILD / "dist").glob("*.tgz"))
    out = tmp_path / "layer"
    subprocess.run(
        [
            sys.executable,
            str(ls.LAYER_DIR / "build_layer.py"),
            "--perl-from",
            "host",
            "--arch",
            "x86_64",
            "--out",
            str(out),
            "--tarball",
            str(tarball),
            "--exiftool-version",
            ls.pin()["EXIFTOOL_VERSION"],
        ],
        check=True,
        capture_output=True,
    )
    run = subprocess.run([str(out / "bin" / "exiftool"), "-ver", "-v2"], capture_output=True, text=True, check=True)
    assert run.stdout.split("Include directories:\n", 1)[1].split() == [
        str(out / "exiftool" / "lib"),
        str(out / "exiftool" / "perl" / "modules"),
    ]
    assert "host perl" in (out / "exiftool" / "BUILDINFO.txt").read_text()


# ---------------------------------------------------------------- layer layout
def test_layer_is_slim_and_carries_the_pin(layer: Path) -> None:
    files = [p for p in layer.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix == ".pod" or "/man/" in str(p)]
    assert "exiftool: " + ls.pin()["EXIFTOOL_VERSION"] in (layer / "exiftool" / "BUILDINFO.txt").read_text()
    launcher = (layer / "bin" / "exiftool").read_text()
    assert launcher.startswith("#!/bin/sh") and "/usr/bin/perl" not in launcher.split("\n", 3)[3]
    assert sum(p.stat().st_size for p in files) < 30_000_000
    assert (layer.parent / f"{layer.name}.zip").stat().st_size < 10_000_000


# ---------------------------------------------------------------- (b)/(c) hermetic root
def test_root_has_no_perl_but_the_layers(root: Path) -> None:
    perls = [p for p in root.rglob("perl*") if not p.is_relative_to(root / "opt")]
    assert perls == []
    assert not (root / "usr" / "bin" / "perl").exists()
    assert [p for p in root.rglob("libcrypt.so*") if not p.is_relative_to(root / "opt")] == []
    assert {p.name for p in root.iterdir()} <= {"bin", "dev", "lib", "lib64", "opt", "proc", "tmp", "usr", "work"}
    assert sorted(p.name for p in (root / "bin").iterdir()) == ["dash", "sh"]


def test_exiftool_version_and_include_dirs_in_root(root: Path) -> None:
    run = ls.in_root(root, ["/opt/bin/exiftool", "-ver", "-v2"])
    out = run.stdout.decode()
    assert run.returncode == 0, run.stderr
    assert run.stderr == b""  # no locale or library warnings with the runtime's LANG
    assert out.startswith(f"ExifTool version {ls.pin()['EXIFTOOL_VERSION']}\nPerl version 5.036")
    inc = out.split("Include directories:\n", 1)[1].split()
    assert inc == ["/opt/exiftool/lib", "/opt/exiftool/perl/modules"]


def test_every_shipped_perl_file_compiles_in_root(root: Path, layer: Path, tmp_path: Path) -> None:
    """Each traced module loads from the layer alone (a script file: perl -e needs /dev/null)."""
    mods_dir = layer / "exiftool/perl/modules"
    mods = sorted(str(p.relative_to(mods_dir)) for p in mods_dir.rglob("*.pm"))
    script = tmp_path / "require_all.pl"
    script.write_text("require $_ for @ARGV; print scalar(keys %INC);\n")
    perl = ["/opt/exiftool/perl/bin/perl", "-I/opt/exiftool/perl/modules", "-MExifToolLayerINC"]
    run = ls.in_root(
        root,
        [*perl, str(script), *mods],
        [tmp_path],
        env={"LD_LIBRARY_PATH": "/opt/exiftool/perl/lib", "PERL_BADLANG": "0"},
    )
    assert (run.returncode, run.stderr) == (0, b""), run.stderr.decode()
    assert int(run.stdout) >= len(mods)


def test_host_perl_cannot_leak_into_root(root: Path) -> None:
    """Even with PERL5LIB/PERL5OPT pointing at host paths, the launcher confines @INC to /opt."""
    hostile = {"PERL5LIB": "/usr/share/perl/5.36", "PERL5OPT": "-MPOSIX", "PERLLIB": "/usr/share/perl5"}
    run = ls.in_root(root, ["/opt/bin/exiftool", "-ver", "-v2"], env=hostile)
    assert run.returncode == 0, run.stderr.decode()
    assert "/usr/share" not in run.stdout.decode()


def test_scrub_and_verify_in_root(root: Path, tmp_path: Path) -> None:
    """A real scrub by the layer's ExifTool inside the root: pixels hash-identical, GPS and Artist gone."""
    src = gps_jpeg(tmp_path / "gps.jpg")
    dst = tmp_path / "clean.jpg"
    exiftool = ["/opt/bin/exiftool"]
    before = meta(ls.in_root(root, [*exiftool, *HASH, str(src)], [tmp_path]))[0]
    assert "GPS:GPSLatitude" in before
    scrub = ls.in_root(root, [*exiftool, *SCRUB, "-o", str(dst), str(src)], [tmp_path])
    assert scrub.returncode == 0, scrub.stderr.decode()
    after = meta(ls.in_root(root, [*exiftool, *HASH, "-a", "-Artist", str(dst)], [tmp_path]))[0]
    assert after["File:ImageDataHash"] == before["File:ImageDataHash"]
    assert not [k for k in after if k.startswith("GPS") or k.endswith("Artist")], after
    reference = meta(host_exiftool(*HASH, "-Artist", str(dst)))[0]  # host ExifTool agrees
    assert reference["File:ImageDataHash"] == before["File:ImageDataHash"]
    assert not [k for k in reference if k.startswith("GPS") or k.endswith("Artist")]


def test_engine_scrubs_with_the_layer_in_root(root: Path, tmp_path: Path) -> None:
    """The project's engine on the host, its ExifTool being the layer's, run inside the hermetic root."""
    from exif_scrubber.engine import Scrubber
    from exif_scrubber.policy import ScrubPolicy

    src = gps_jpeg(tmp_path / "gps.jpg")
    dst = tmp_path / "out" / "clean.jpg"
    dst.parent.mkdir()
    wrapper = ls.root_wrapper(root, [tmp_path], tmp_path / "exiftool-in-root")
    with Scrubber(ScrubPolicy(), exiftool_path=wrapper, work_dir=tmp_path) as scrubber:
        assert scrubber.exiftool_version == ls.pin()["EXIFTOOL_VERSION"]
        report = scrubber.scrub_file(src, dst)
    assert (str(report.outcome), report.verified) == ("cleaned", True), report.reason
    before, after = (meta(host_exiftool(*HASH, "-Artist", str(p)))[0] for p in (src, dst))
    assert after["File:ImageDataHash"] == before["File:ImageDataHash"]
    assert "GPS:GPSLatitude" in before
    assert not [k for k in after if k.startswith("GPS") or k.endswith("Artist")], after


@pytest.mark.corpus
def test_corpus_reads_and_scrubs_identically_in_root(root: Path, arch: str, tmp_path: Path) -> None:
    """Over the corpus, the layer in the root reads and scrubs exactly like the host ExifTool."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    files = sorted(str(p) for p in CORPUS.iterdir() if p.suffix.lower() not in {".tsv", ".md", ".json"})
    if arch != "x86_64":
        files = files[::4]  # qemu emulation is slow; a quarter of the corpus still covers every format
    read = ["-j", "-a", "-G1", "-ImageDataHash", "-api", "ImageHashType=SHA256", "-x", "System:all", *files]
    inside = ls.in_root(root, ["/opt/bin/exiftool", *read], [CORPUS])
    assert b"Can't locate" not in inside.stderr, inside.stderr.decode(errors="replace")
    outside = subprocess.run(["perl", str(LOCAL_EXIFTOOL), *read], capture_output=True, check=False)
    assert json.loads(inside.stdout) == json.loads(outside.stdout)
    (tmp_path / "layer").mkdir()
    (tmp_path / "host").mkdir()
    scrub = ls.in_root(root, ["/opt/bin/exiftool", *SCRUB, "-o", f"{tmp_path}/layer/", *files], [CORPUS, tmp_path])
    assert b"Can't locate" not in scrub.stderr, scrub.stderr.decode(errors="replace")
    subprocess.run(
        ["perl", str(LOCAL_EXIFTOOL), *SCRUB, "-o", f"{tmp_path}/host/", *files], capture_output=True, check=False
    )
    written = sorted(p.name for p in (tmp_path / "layer").iterdir())
    assert len(written) > len(files) // 2
    assert written == sorted(p.name for p in (tmp_path / "host").iterdir())
    for name in written:  # byte-identical output to the host ExifTool's
        assert (tmp_path / "layer" / name).read_bytes() == (tmp_path / "host" / name).read_bytes(), name
