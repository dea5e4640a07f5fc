"""Trim the Python dependency layer to what the functions use: ``python3 deploy/trim_layer.py LAYER/python``.

Run by deploy/Makefile after pip has installed deploy/requirements.txt (manylinux wheels, either architecture),
before byte-compiling. Lambda allows 250 MB unzipped for a function and its layers; the wheels as installed are
about 207 MB on x86_64, mostly FFmpeg (PyAV), libheif and botocore's models. What goes, and why it is safe:

* **Debug information.** Extension modules and bundled libraries carry DWARF and static symbol tables the
  loader never reads. :func:`strip_debug` drops the non-allocated ``.debug*``, ``.symtab`` and ``.strtab``
  sections and nothing else: every byte the loader maps (each program header's file range) is unchanged.
* **FFmpeg's encoder-only libraries** (:data:`ENCODERS`: x265, x264, SVT-AV1, LAME, in ``av.libs``). The scrubber
  never encodes: its video check (exif_scrubber/formats/video_probe.py) demuxes, reads codec parameters and
  decodes the first frame, which FFmpeg's own decoders (H.264, HEVC, ...) and the kept dav1d, libvpx, opus and
  opencore libraries do. libavcodec names the encoders as ``DT_NEEDED``; :func:`drop_needed` removes those entries
  and marks the symbols it imports from them weak, so it loads without them (Python loads extensions with
  RTLD_NOW: a weak undefined symbol resolves to NULL instead of failing). Opening one of those encoders would
  crash; nothing in the functions does.
* **botocore's service models** other than :data:`SERVICES` (the clients handler/ creates: S3, S3 Control,
  Secrets Manager through Powertools' parameters; STS and SSO for botocore's credential chain).
* Typing stubs and Cython declarations (``.pyi``, ``.pxd``), C sources and headers, Powertools' Swagger UI assets.

tests/test_sam_build.py measures the result after ``sam build`` and runs the video check and the engine's
scrub of a movie, a HEIC and the other formats against the trimmed x86_64 tree on CPython 3.12;
tests/test_trim_layer.py checks the ELF edits with an independent reader (pyelftools).
Standard library only, Python 3.9+ (it runs where ``sam build`` runs).
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("s3", "s3control", "secretsmanager", "sts", "sso", "sso-oidc")
"""botocore/data folders kept: every ``boto3.client(...)`` in handler/ and exif_scrubber/ must be here
(tests/test_trim_layer.py greps for them)."""
ENCODERS = ("libx264-", "libSvtAv1Enc-", "libmp3lame-")
"""File-name prefixes (auditwheel's ``<name>-<hash>.so...``) of the encoder-only libraries dropped from av.libs.
Not libx265: FFmpeg asks it for its bit depths when libavcodec first lists its codecs (``init_static_data``)."""
STUBBED = ("libx265-",)
"""Libraries replaced by a stub of a few hundred bytes (:func:`stub_library`): x265, the HEVC *encoder* (20 MB in
av.libs, 23 MB in pillow_heif.libs). FFmpeg's libx265 wrapper asks ``x265_api_get(bit depth)`` when libavcodec first
lists its codecs, so the library must answer: the stub answers NULL (no x265), as an FFmpeg built without it would.
libheif calls x265 only to encode (and ``x265_cleanup`` when it shuts down: a no-op here)."""
TRAPS = ("_ZSt28__throw_bad_array_new_lengthv",)
"""Stubbed functions that must never return (libstdc++'s throw helper x265 re-exports): they trap instead."""
UNUSED_MODULES = ("PIL/_imagingft.", "PIL/_imagingtk.")
"""Extension modules nothing imports (Pillow's fonts and Tk); the bundled libraries only they need go too."""
BUNDLED_LIBRARIES = ("av.libs", "pillow.libs", "pillow_heif.libs")
PRUNED_SUFFIXES = (".pyi", ".pxd", ".pyx", ".c", ".h")
PRUNED_DIRS = ("aws_lambda_powertools/event_handler/openapi/swagger_ui",)
PRUNED_FILES = ("aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",)

SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
SHT_NOBITS, SHT_REL, SHT_RELA, SHT_DYNAMIC, SHT_DYNSYM = 8, 9, 4, 6, 11
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_STRSZ, DT_SYMENT, DT_SONAME = 0, 1, 4, 5, 6, 10, 11, 14
PT_LOAD, PT_DYNAMIC, PT_GNU_STACK = 1, 2, 0x6474E551
STUB_CODE = {  # e_machine: (return 0, trap)
    62: (bytes.fromhex("31c0c3"), bytes.fromhex("0f0b")),  # x86_64: xor eax,eax; ret / ud2
    183: (struct.pack("<II", 0xD2800000, 0xD65F03C0), struct.pack("<I", 0xD4200000)),  # aarch64: mov x0,#0; ret / brk
}
STB_GLOBAL, STB_WEAK = 1, 2
STT_FUNC = 2
SHDR = struct.Struct("<IIQQQQIIQQ")
PHDR = struct.Struct("<IIQQQQQQ")
SYM = struct.Struct("<IBBHQQ")
DYN = struct.Struct("<qQ")


class ElfError(ValueError):
    """Not an ELF file this script edits (only 64-bit little-endian: x86_64 and aarch64)."""


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    raw: tuple[int, ...]


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _sections(data: bytes | bytearray) -> tuple[list[Section], int]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raws = [SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    strtab = raws[shstrndx]
    sections = []
    for index, raw in enumerate(raws):
        start = strtab[4] + raw[0]
        name = bytes(data[start : data.index(b"\0", start)]).decode()
        sections.append(Section(index, name, raw[1], raw[2], raw[4], raw[5], raw[6], raw[7], raw[8], raw))
    return sections, shstrndx


def _segments(data: bytes | bytearray) -> list[tuple[int, ...]]:
    """Every program header: (type, flags, offset, vaddr, paddr, filesz, memsz, align)."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return [PHDR.unpack_from(data, phoff + i * phentsize) for i in range(phnum)]


def _removable(section: Section, shstrndx: int) -> bool:
    if section.index in (0, shstrndx) or section.flags & SHF_ALLOC:
        return False
    return section.name.startswith((".debug", ".rela.debug", ".rel.debug")) or section.name in (".symtab", ".strtab")


def _kept_ranges(data: bytes | bytearray, kept: list[Section]) -> list[list[int]]:
    """Merged, sorted [start, end) file ranges that must stay: headers, every segment, every kept section."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    spans = [(0, 64), (phoff, phoff + phentsize * phnum)]
    spans += [(seg[2], seg[2] + seg[5]) for seg in _segments(data) if seg[5]]
    spans += [(s.offset, s.offset + s.size) for s in kept if s.index and s.type != SHT_NOBITS and s.size]
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def strip_debug(data: bytes) -> bytes | None:
    """``data`` without its debug sections and static symbol table, or None when it has none.

    Everything the loader reads keeps its bytes: the ELF and program headers and each segment's file range. The
    gaps the dropped sections leave are closed in whole multiples of the largest segment alignment (auditwheel's
    patchelf puts a segment after the debug sections), so every segment's file offset stays congruent to its
    address; program and section headers follow their bytes, and a new section header table ends the file."""
    sections, shstrndx = _sections(data)
    dropped = {s.index for s in sections if _removable(s, shstrndx)}
    if not dropped:
        return None
    kept = [s for s in sections if s.index not in dropped]
    quantum = max([seg[7] for seg in _segments(data) if seg[0] == 1 and seg[7] > 1] or [4096])
    ranges, shifts, shift, previous_end = _kept_ranges(data, kept), [], 0, 0
    for start, end in ranges:
        shift += (start - previous_end) // quantum * quantum
        shifts.append(shift)
        previous_end = end

    def moved(offset: int) -> int:
        index = max((i for i, (start, _) in enumerate(ranges) if start <= offset), default=0)
        return offset - shifts[index]

    out = bytearray()
    for (start, end), delta in zip(ranges, shifts, strict=True):
        out += bytes(start - delta - len(out))
        out += data[start:end]
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, _ = struct.unpack_from("<HH", data, 0x36)
    struct.pack_into("<Q", out, 0x20, moved(phoff))
    for i, seg in enumerate(_segments(data)):
        PHDR.pack_into(out, moved(phoff) + i * phentsize, seg[0], seg[1], moved(seg[2]), *seg[3:])
    new_index = {s.index: i for i, s in enumerate(kept)}
    out += bytes(-len(out) % 8)
    shoff = len(out)
    for section in kept:
        raw = list(section.raw)
        raw[4] = moved(section.offset) if section.index else 0
        raw[6] = new_index.get(section.link, 0)
        if section.type in (SHT_REL, SHT_RELA) or section.flags & SHF_INFO_LINK:
            raw[7] = new_index.get(section.info, 0)
        out += SHDR.pack(*raw)
    struct.pack_into("<Q", out, 0x28, shoff)
    struct.pack_into("<HHH", out, 0x3A, SHDR.size, len(kept), new_index[shstrndx])
    return bytes(out)


def _string(data: bytes | bytearray, table: Section, offset: int) -> str:
    start = table.offset + offset
    return bytes(data[start : data.index(b"\0", start)]).decode()


def needed(data: bytes | bytearray) -> list[str]:
    """The ``DT_NEEDED`` names of an ELF file."""
    sections, _ = _sections(data)
    dynamic = next((s for s in sections if s.type == SHT_DYNAMIC), None)
    if dynamic is None:
        return []
    strtab = sections[dynamic.link]
    names = []
    for offset in range(dynamic.offset, dynamic.offset + dynamic.size, DYN.size):
        tag, value = DYN.unpack_from(data, offset)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            names.append(_string(data, strtab, value))
    return names


def version_files(data: bytes | bytearray) -> list[str]:
    """The libraries named in ``.gnu.version_r`` (whose symbol versions the loader checks)."""
    sections, _ = _sections(data)
    names = []
    for table in (s for s in sections if s.type == SHT_GNU_VERNEED):
        strtab, offset = sections[table.link], table.offset
        for _ in range(table.info):
            _, _, file_name, _, following = struct.unpack_from("<HHIII", data, offset)
            names.append(_string(data, strtab, file_name))
            if not following:
                break
            offset += following
    return names


def dynamic_symbols(data: bytes | bytearray, *, defined: bool) -> set[str]:
    """Names of the defined (exported) or undefined (imported) dynamic symbols."""
    sections, _ = _sections(data)
    found: set[str] = set()
    for table in (s for s in sections if s.type == SHT_DYNSYM):
        strtab = sections[table.link]
        for offset in range(table.offset + SYM.size, table.offset + table.size, SYM.size):
            name, info, _, shndx, _, _ = SYM.unpack_from(data, offset)
            if name and (shndx != 0) == defined and info >> 4 in (STB_GLOBAL, STB_WEAK):
                found.add(_string(data, strtab, name))
    return found


def drop_needed(data: bytes, sonames: set[str], symbols: set[str]) -> bytes:
    """``data`` without ``DT_NEEDED`` entries for ``sonames`` and with its imports of ``symbols`` made weak.

    Both edits are in place (same size, same layout): the later ``.dynamic`` entries move up and the table ends
    in more ``DT_NULL`` entries; a symbol's binding is one nibble of its ``st_info``."""
    out = bytearray(data)
    sections, _ = _sections(out)
    for dynamic in (s for s in sections if s.type == SHT_DYNAMIC):
        strtab = sections[dynamic.link]
        entries = [DYN.unpack_from(out, o) for o in range(dynamic.offset, dynamic.offset + dynamic.size, DYN.size)]
        kept = [e for e in entries if not (e[0] == DT_NEEDED and _string(out, strtab, e[1]) in sonames)]
        kept += [(DT_NULL, 0)] * (len(entries) - len(kept))
        for i, entry in enumerate(kept):
            DYN.pack_into(out, dynamic.offset + i * DYN.size, *entry)
    for table in (s for s in sections if s.type == SHT_DYNSYM):
        strtab = sections[table.link]
        for offset in range(table.offset + SYM.size, table.offset + table.size, SYM.size):
            name, info, _, shndx, _, _ = SYM.unpack_from(out, offset)
            if name and shndx == 0 and info >> 4 == STB_GLOBAL and _string(out, strtab, name) in symbols:
                out[offset + 4] = (STB_WEAK << 4) | (info & 0xF)
    return bytes(out)


def soname(data: bytes | bytearray) -> str | None:
    sections, _ = _sections(data)
    for dynamic in (s for s in sections if s.type == SHT_DYNAMIC):
        for offset in range(dynamic.offset, dynamic.offset + dynamic.size, DYN.size):
            tag, value = DYN.unpack_from(data, offset)
            if tag == DT_SONAME:
                return _string(data, sections[dynamic.link], value)
    return None


def stub_library(name: str, machine: int, functions: Iterable[str], traps: Iterable[str] = ()) -> bytes:
    """A shared library named ``name`` (its SONAME) that exports ``functions``, each returning 0 (NULL), and
    ``traps``, each stopping the process (``ud2``/``brk``): one read-only executable segment (headers, SysV hash,
    symbols, strings, code), ``.dynamic`` alone in a writable one (the loader relocates it in place), a
    non-executable stack, and section headers for the tools."""
    returns, trap = STUB_CODE[machine]
    symbols = sorted({*functions, *traps})
    dynstr = bytearray(b"\0" + name.encode() + b"\0")
    offsets = {}
    for symbol in symbols:
        offsets[symbol] = len(dynstr)
        dynstr += symbol.encode() + b"\0"
    count = len(symbols) + 1
    hash_at = 64 + 4 * PHDR.size
    dynsym_at = _align(hash_at + 4 * (2 + 1 + count), 8)
    dynstr_at = dynsym_at + SYM.size * count
    text_at = _align(dynstr_at + len(dynstr), 16)
    code = b"".join((trap if s in set(traps) else returns).ljust(16, b"\0") for s in symbols)
    dynamic_at = _align(text_at + len(code), 16)
    dynamic_vaddr = dynamic_at + 0x10000  # another page, same offset modulo the 64 KiB alignment
    entries = [(DT_SONAME, 1), (DT_HASH, hash_at), (DT_STRTAB, dynstr_at), (DT_SYMTAB, dynsym_at),
               (DT_STRSZ, len(dynstr)), (DT_SYMENT, SYM.size), (DT_NULL, 0)]  # fmt: skip
    shstrtab = b"\0.hash\0.dynsym\0.dynstr\0.text\0.dynamic\0.shstrtab\0"
    shstrtab_at = dynamic_at + DYN.size * len(entries)
    shoff = _align(shstrtab_at + len(shstrtab), 8)
    out = bytearray(shoff + 7 * SHDR.size)
    out[:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
    struct.pack_into("<HHIQQQIHHHHHH", out, 16, 3, machine, 1, 0, 64, shoff, 0, 64, PHDR.size, 4, SHDR.size, 7, 6)
    segments = [
        (PT_LOAD, 5, 0, 0, 0, text_at + len(code), text_at + len(code), 0x10000),
        (PT_LOAD, 6, dynamic_at, dynamic_vaddr, dynamic_vaddr, DYN.size * len(entries), DYN.size * len(entries),
         0x10000),
        (PT_DYNAMIC, 6, dynamic_at, dynamic_vaddr, dynamic_vaddr, DYN.size * len(entries),
         DYN.size * len(entries), 8),
        (PT_GNU_STACK, 6, 0, 0, 0, 0, 0, 16),
    ]  # fmt: skip
    for i, segment in enumerate(segments):
        PHDR.pack_into(out, 64 + i * PHDR.size, *segment)
    struct.pack_into(f"<{3 + count}I", out, hash_at, 1, count, count - 1, 0, *range(count - 1))
    for i, symbol in enumerate(symbols, start=1):
        SYM.pack_into(out, dynsym_at + i * SYM.size, offsets[symbol], 0x12, 0, 4, text_at + 16 * (i - 1), 16)
    out[dynstr_at : dynstr_at + len(dynstr)] = dynstr
    out[text_at : text_at + len(code)] = code
    for i, entry in enumerate(entries):
        DYN.pack_into(out, dynamic_at + i * DYN.size, *entry)
    out[shstrtab_at : shstrtab_at + len(shstrtab)] = shstrtab
    headers = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        (1, 5, SHF_ALLOC, hash_at, hash_at, 4 * (3 + count), 2, 0, 8, 4),
        (7, SHT_DYNSYM, SHF_ALLOC, dynsym_at, dynsym_at, SYM.size * count, 3, 1, 8, SYM.size),
        (15, 3, SHF_ALLOC, dynstr_at, dynstr_at, len(dynstr), 0, 0, 1, 0),
        (23, 1, SHF_ALLOC | 0x4, text_at, text_at, len(code), 0, 0, 16, 0),
        (29, SHT_DYNAMIC, SHF_ALLOC | 0x1, dynamic_vaddr, dynamic_at, DYN.size * len(entries), 3, 0, 8, DYN.size),
        (38, 3, 0, 0, shstrtab_at, len(shstrtab), 0, 0, 1, 0),
    ]
    for i, header in enumerate(headers):
        SHDR.pack_into(out, shoff + i * SHDR.size, *header)
    return bytes(out)


def _align(value: int, alignment: int) -> int:
    return value + (-value % alignment)


def elf_machine(data: bytes | bytearray) -> int:
    return int(struct.unpack_from("<H", data, 18)[0])


def stub_out(tree: Path, prefixes: Iterable[str] = STUBBED) -> list[str]:
    """Replace each bundled library matching ``prefixes`` by a stub exporting exactly the functions the other ELF
    files import from it (an imported data object is refused: a stub cannot stand for it); return their names."""
    files = elf_files(tree)
    targets = [p for p in files if p.parent.name in BUNDLED_LIBRARIES and p.name.startswith(tuple(prefixes))]
    for target in targets:
        data = target.read_bytes()
        exported = dynamic_symbols(data, defined=True)
        users = [p.read_bytes() for p in files if p != target and target.name in needed(p.read_bytes())]
        imported: dict[str, int] = {}
        for user in users:
            imported.update(imports(user))
        wanted = {name: kind for name, kind in imported.items() if name in exported}
        objects = sorted(name for name, kind in wanted.items() if kind != STT_FUNC)
        if objects:
            raise SystemExit(f"{target}: {objects} are data, not functions: a stub cannot replace the library")
        traps = [name for name in wanted if name in TRAPS]
        name = soname(data) or target.name
        target.write_bytes(stub_library(name, elf_machine(data), [n for n in wanted if n not in traps], traps))
    return sorted(p.name for p in targets)


def imports(data: bytes | bytearray) -> dict[str, int]:
    """The undefined dynamic symbols of an ELF file and their types (STT_FUNC, STT_OBJECT, ...)."""
    sections, _ = _sections(data)
    found: dict[str, int] = {}
    for table in (s for s in sections if s.type == SHT_DYNSYM):
        strtab = sections[table.link]
        for offset in range(table.offset + SYM.size, table.offset + table.size, SYM.size):
            name, info, _, shndx, _, _ = SYM.unpack_from(data, offset)
            if name and shndx == 0:
                found[_string(data, strtab, name)] = info & 0xF
    return found


# ---------------------------------------------------------------- the layer
def elf_files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def drop_encoders(tree: Path, prefixes: Iterable[str] = ENCODERS) -> list[str]:
    """Remove the encoder-only libraries from ``av.libs`` and every reference to them; return their names."""
    libs = tree / "av.libs"
    doomed = sorted(p for p in libs.glob("*.so*") if p.name.startswith(tuple(prefixes))) if libs.is_dir() else []
    if not doomed:
        return []
    sonames = {p.name for p in doomed}
    exported = set().union(*(dynamic_symbols(p.read_bytes(), defined=True) for p in doomed))
    for path in elf_files(tree):
        if path in doomed:
            continue
        data = path.read_bytes()
        if sonames & set(needed(data)):
            versioned = sonames & set(version_files(data))
            if versioned:  # the loader would look for the library to check its symbol versions
                raise SystemExit(f"{path}: needs symbol versions of {sorted(versioned)}: cannot drop them")
            path.write_bytes(drop_needed(data, sonames, exported))
    for path in doomed:
        path.unlink()
    return sorted(sonames)


def drop_unused(tree: Path, modules: Iterable[str] = UNUSED_MODULES) -> list[str]:
    """Remove the unused extension modules, then every bundled library that no remaining module needs, directly
    or through other libraries; return what was removed."""
    removed = [p for p in tree.rglob("*.so") if str(p.relative_to(tree)).startswith(tuple(modules))]
    for path in removed:
        path.unlink()
    files = {p.name: p for p in elf_files(tree)}
    pending = [p for p in files.values() if p.parent.name not in BUNDLED_LIBRARIES]
    reached: set[str] = set()
    while pending:
        for name in needed(pending.pop().read_bytes()):
            if name in files and name not in reached:
                reached.add(name)
                pending.append(files[name])
    unused = [p for p in files.values() if p.parent.name in BUNDLED_LIBRARIES and p.name not in reached]
    for path in unused:
        path.unlink()
    return sorted(str(p.relative_to(tree)) for p in removed + unused)


def prune_botocore(tree: Path, services: Sequence[str] = SERVICES) -> int:
    """Delete botocore's models of services no function calls; return how many were deleted."""
    data = tree / "botocore" / "data"
    if not data.is_dir():
        return 0
    missing = [name for name in services if not (data / name).is_dir()]
    if missing:
        raise SystemExit(f"botocore has no model for {missing}: check SERVICES in {__file__}")
    doomed = [p for p in data.iterdir() if p.is_dir() and p.name not in services]
    for path in doomed:
        shutil.rmtree(path)
    return len(doomed)


def prune_files(tree: Path) -> int:
    """Delete typing stubs, Cython declarations, C sources and headers, and the listed folders."""
    doomed = [p for p in tree.rglob("*") if p.is_file() and p.suffix in PRUNED_SUFFIXES]
    doomed += [tree / name for name in PRUNED_FILES if (tree / name).is_file()]
    for path in doomed:
        path.unlink()
    for name in PRUNED_DIRS:
        for asset in (tree / name).glob("*.css"):
            asset.unlink()
    return len(doomed)


def strip_tree(tree: Path) -> int:
    """Strip every ELF file in the tree; return the bytes saved."""
    saved = 0
    for path in elf_files(tree):
        data = path.read_bytes()
        stripped = strip_debug(data)
        if stripped is not None:
            mode = path.stat().st_mode
            path.write_bytes(stripped)
            path.chmod(mode)
            saved += len(data) - len(stripped)
    return saved


def tree_bytes(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("tree", type=Path, help="the layer's python/ folder")
    opts = parser.parse_args(argv)
    before = tree_bytes(opts.tree)
    dropped = drop_encoders(opts.tree) + drop_unused(opts.tree)
    stubbed = stub_out(opts.tree)
    services = prune_botocore(opts.tree)
    files = prune_files(opts.tree)
    stripped = strip_tree(opts.tree)
    after = tree_bytes(opts.tree)
    print(
        f"trim_layer: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB (dropped {', '.join(dropped) or 'no library'}; "
        f"stubbed {', '.join(stubbed) or 'nothing'}; "
        f"{services} botocore models, {files} stub/source files; debug info {stripped / 1e6:.1f} MB)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
