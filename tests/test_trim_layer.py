"""deploy/trim_layer.py's ELF edits, checked with an independent reader (pyelftools) on the real libraries of the
dev virtualenv's wheels (the same PyAV, Pillow and pillow-heif builds the layer installs for x86_64).

What the loader reads must not change: after stripping, every segment has the same address, sizes, flags,
alignment and bytes, at a file offset congruent to its address. Dropping a library removes only its NEEDED entry
and weakens only the symbols it defined. A stub loads (x86_64, here, with ctypes) and answers NULL.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

ROOT = Path(__file__).resolve().parent.parent


def _trim_layer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trim_layer", ROOT / "deploy" / "trim_layer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["trim_layer"] = module
    spec.loader.exec_module(module)
    return module


TL = _trim_layer()
SITE = Path(importlib.util.find_spec("av").origin or "").parent.parent  # type: ignore[union-attr]


def _one(pattern: str) -> Path:
    found = sorted(SITE.glob(pattern))
    if not found:
        pytest.skip(f"no {pattern} in {SITE} (a wheel without bundled libraries)")
    return found[0]


def _segments(path: Path) -> list[tuple[str, int, int, int, int, int, int, bytes]]:
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        out = []
        for segment in elf.iter_segments():
            h = segment.header
            out.append((h.p_type, h.p_vaddr, h.p_filesz, h.p_memsz, h.p_flags, h.p_align, h.p_offset, segment.data()))
        return out


def _masked(data: bytes, offset: int) -> bytes:
    """A segment's bytes with the fields stripping rewrites blanked, where the segment holds them: the ELF header's
    section-table fields (e_shoff, e_shnum, e_shstrndx: never read by the loader) and each program header's
    p_offset (which follows its segment's bytes)."""
    if offset != 0:
        return data
    out = bytearray(data)
    out[0x28:0x30], out[0x3C:0x40] = bytes(8), bytes(4)
    phoff, phnum = int.from_bytes(out[0x20:0x28], "little"), int.from_bytes(out[0x38:0x3A], "little")
    for index in range(phnum):
        start = phoff + index * 56 + 8
        out[start : start + 8] = bytes(8)
    return bytes(out)


def _dynamic(path: Path) -> tuple[list[str], dict[str, tuple[str, str, str]]]:
    """NEEDED names, and every dynamic symbol's (binding, type, section index)."""
    with path.open("rb") as handle:
        elf = ELFFile(handle)
        needed = [t.needed for s in elf.iter_sections() if isinstance(s, DynamicSection)
                  for t in s.iter_tags() if t.entry.d_tag == "DT_NEEDED"]  # fmt: skip
        table = elf.get_section_by_name(".dynsym")
        assert isinstance(table, SymbolTableSection)
        symbols = {
            s.name: (s["st_info"]["bind"], s["st_info"]["type"], str(s["st_shndx"])) for s in table.iter_symbols()
        }
        return needed, symbols


@pytest.mark.parametrize("pattern", ["av/video/frame*.so", "PIL/_imaging.*.so", "_awscrt*.so", "av.libs/libavcodec*"])
def test_stripping_keeps_every_byte_the_loader_maps(pattern: str, tmp_path: Path) -> None:
    original = _one(pattern)
    stripped = tmp_path / original.name
    shutil.copy(original, stripped)
    assert TL.strip_tree(tmp_path) >= 0
    before, after = _segments(original), _segments(stripped)
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old[:6] == new[:6]  # type, address, sizes, flags, alignment
        assert _masked(old[7], old[6]) == _masked(new[7], new[6])  # the bytes the loader maps
        if old[0] == "PT_LOAD":
            assert (new[6] - old[6]) % old[5] == 0  # offset still congruent to the address
    assert _dynamic(original) == _dynamic(stripped)
    with stripped.open("rb") as handle:
        names = [s.name for s in ELFFile(handle).iter_sections()]
    assert not [n for n in names if n.startswith(".debug") or n in (".symtab", ".strtab")]


def test_a_stripped_extension_still_imports(tmp_path: Path) -> None:
    """Runtime check on the host: Pillow's core module, stripped, loads and decodes."""
    original = _one("PIL/_imaging.*.so")
    package = tmp_path / "PIL"
    shutil.copytree(original.parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    if (SITE / "pillow.libs").is_dir():
        shutil.copytree(SITE / "pillow.libs", tmp_path / "pillow.libs")
    assert TL.strip_tree(tmp_path) > 0
    code = "import PIL.Image; print(PIL.Image.core.__file__); PIL.Image.new('RGB', (8, 8)).convert('L').tobytes()"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False,
                            env={"PYTHONPATH": str(tmp_path) + ":" + str(SITE)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(package))


def test_dropping_an_encoder_edits_only_its_entry_and_its_symbols(tmp_path: Path) -> None:
    libs = tmp_path / "av.libs"
    libs.mkdir()
    codec = _one("av.libs/libavcodec*")
    x264 = _one("av.libs/libx264*")
    for path in (codec, x264):
        shutil.copy(path, libs / path.name)
    provided = {n for n, (bind, _, ndx) in _dynamic(x264)[1].items() if ndx != "SHN_UNDEF" and bind != "STB_LOCAL"}
    assert TL.drop_encoders(tmp_path, ("libx264-",)) == [x264.name]
    assert not (libs / x264.name).exists()
    needed_before, symbols_before = _dynamic(codec)
    needed_after, symbols_after = _dynamic(libs / codec.name)
    assert needed_after == [n for n in needed_before if n != x264.name]
    changed = {n for n in symbols_before if symbols_before[n] != symbols_after[n]}
    imported = {n for n, (_, _, ndx) in symbols_before.items() if ndx == "SHN_UNDEF"}
    assert changed and changed == imported & provided
    assert all(symbols_after[n][0] == "STB_WEAK" for n in changed)


def test_a_library_whose_symbol_versions_are_needed_is_not_dropped(tmp_path: Path) -> None:
    """libavformat checks gnutls's symbol versions: the loader would assert on a missing library."""
    libs = tmp_path / "av.libs"
    libs.mkdir()
    for pattern in ("av.libs/libavformat*", "av.libs/libgnutls*"):
        shutil.copy(_one(pattern), libs)
    with pytest.raises(SystemExit, match="symbol versions"):
        TL.drop_encoders(tmp_path, ("libgnutls-",))


@pytest.mark.parametrize("machine", [62, 183])
def test_stub_library_is_a_well_formed_shared_object(machine: int, tmp_path: Path) -> None:
    stub = tmp_path / "libx265-test.so.216"
    stub.write_bytes(TL.stub_library(stub.name, machine, ["x265_api_get_216", "x265_cleanup"], ["_ZSt28trap"]))
    with stub.open("rb") as handle:
        elf = ELFFile(handle)
        assert elf["e_type"] == "ET_DYN" and elf["e_machine"] == ("EM_X86_64" if machine == 62 else "EM_AARCH64")
        dynamic = next(s for s in elf.iter_sections() if isinstance(s, DynamicSection))
        assert [t.soname for t in dynamic.iter_tags() if t.entry.d_tag == "DT_SONAME"] == [stub.name]
        types = {seg.header.p_type: seg.header for seg in elf.iter_segments()}
        assert types["PT_GNU_STACK"].p_flags & 1 == 0  # no executable stack
        assert types["PT_DYNAMIC"].p_flags & 2  # writable: the loader relocates it
    _, symbols = _dynamic(stub)
    assert {n: s[:2] for n, s in symbols.items() if n} == {
        name: ("STB_GLOBAL", "STT_FUNC") for name in ("x265_api_get_216", "x265_cleanup", "_ZSt28trap")
    }


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="runs the x86_64 stub natively")
def test_x86_stub_loads_and_answers_null(tmp_path: Path) -> None:
    stub = tmp_path / "libstub-test.so.1"
    stub.write_bytes(TL.stub_library(stub.name, 62, ["x265_api_get_216"]))
    library = ctypes.CDLL(str(stub), mode=os.RTLD_NOW)
    function = library.x265_api_get_216
    function.restype = ctypes.c_void_p
    assert function(8) is None  # NULL: "no x265 of that bit depth", as FFmpeg's wrapper asks


def test_every_aws_client_the_functions_create_keeps_its_model() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "handler").rglob("*.py")]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "exif_scrubber").rglob("*.py")]
    clients = {name for text in sources for name in re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", text)}
    assert clients >= {"s3", "s3control"}
    assert "get_secret" in (ROOT / "handler" / "secrets.py").read_text(encoding="utf-8")  # Powertools' parameters
    # Provenance=resign's clients (KMS; SSM through Powertools' get_parameter) bring their models in the C2PA layer
    # (deploy/Makefile, AWS_DATA_PATH), which only that configuration attaches.
    c2pa_layer = {"kms", "ssm"}
    assert re.search(r"extract_models\.py.* kms ssm$", (ROOT / "deploy" / "Makefile").read_text(), re.MULTILINE)
    assert (clients - c2pa_layer) | {"secretsmanager"} <= set(TL.SERVICES)
