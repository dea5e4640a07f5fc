"""Regenerate perl-modules.txt: the Perl core files ExifTool loads, traced over an image corpus.

Runs the pinned ExifTool (``make -C exiftool_layer local``) under a Debian 12 Perl with TraceINC.pm, which
dumps %INC and the loaded XS objects at exit, through the scrub engine's kinds of work: reads, the
SHA-256 ImageDataHash, lossless metadata removal, GPS injection, -stay_open batches and error paths.
The union of what was loaded, minus ExifTool's own modules, is the list the layer ships.

    .venv/bin/python exiftool_layer/trace_modules.py [--corpus DIR] [--perl PERL]   (or: make trace-modules)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXIFTOOL = HERE / "build" / "exiftool" / "exiftool"
OUTPUT = HERE / "perl-modules.txt"
SKIP_SUFFIXES = {".tsv", ".md", ".json"}

SCENARIOS: dict[str, list[str]] = {
    "read": ["-a", "-u", "-G1", "-j", "-struct", "-ee"],
    "read-engine": ["-j", "-G3:1", "-a", "-u", "-ee", "-n"],
    "read-numeric-binary": ["-a", "-G", "-n", "-b", "-j"],
    "read-csv": ["-csv", "-a", "-G1"],
    "hash-sha256": ["-ImageDataHash", "-api", "ImageHashType=SHA256", "-j"],
    "hash-md5-sha512": ["-ImageDataHash", "-api", "ImageHashType=SHA512", "-ImageDataMD5", "-j"],
    "validate": ["-validate", "-warning", "-error", "-a", "-j"],
    "thumbnail": ["-ThumbnailImage", "-PreviewImage", "-b", "-j"],
}
SCRUB_ARGS = [
    "-all=",
    "--icc_profile:all",
    "-trailer:all=",
    "-adobe:all=",
    "-tagsfromfile",
    "@",
    "-colorspacetags",
    "-orientation",
]
# The kinds of writes exif_scrubber issues: keep-lists copied back, Orientation set numerically, and
# QuickTime dates reset to the 1904 epoch (which loads Time::Local).
ENGINE_WRITE_ARGS = [
    "-all=",
    "-CommonIFD0=",
    "--ICC_Profile:all",
    "--JUMBF:all",
    "-tagsFromFile",
    "@",
    "-ExifIFD:ColorSpace",
    "-ExifIFD:Gamma",
    "-InteropIFD:InteropIndex",
    "-IFD0:Orientation",
    "-EXIF:Artist",
    "-EXIF:Copyright",
    "-IPTC:By-line",
    "-IPTC:CopyrightNotice",
    "-XMP-dc:Creator",
    "-XMP-dc:Rights",
    "-XMP-xmpRights:all",
    "-IFD0:Orientation#=1",
    "-XMP-tiff:Orientation#=1",
]
DATE_ARGS = [
    "-QuickTime:CreateDate=1904:01:01 00:00:00",
    "-QuickTime:ModifyDate=1904:01:01 00:00:00",
    "-QuickTime:TrackCreateDate=1904:01:01 00:00:00",
    "-QuickTime:MediaModifyDate=1904:01:01 00:00:00",
]
GPS_ARGS = [
    "-GPSLatitude=48.8584",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.2945",
    "-GPSLongitudeRef=E",
    "-XMP:GPSLatitude=48.8584",
    "-Artist=trace",
]


def corpus_files(corpus: Path) -> list[Path]:
    """Every image in the corpus (sidecar manifests skipped)."""
    return sorted(p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES)


def broken_files(files: Sequence[Path], work: Path) -> list[Path]:
    """Truncated copies, an empty file and a missing path, to trace ExifTool's error paths."""
    out = [work / "empty.jpg", work / "does-not-exist.jpg"]
    out[0].write_bytes(b"")
    for src in files[::10]:
        cut = work / f"cut-{src.name}"
        cut.write_bytes(src.read_bytes()[: max(64, src.stat().st_size // 3)])
        out.append(cut)
    return out


def run_traced(perl: str, trace: Path, args: Sequence[str], stdin: str | None = None) -> None:
    """Run ExifTool once under TraceINC, appending what it loaded to ``trace``."""
    cmd = [perl, f"-I{HERE / 'perl'}", f"-MTraceINC={trace}", str(EXIFTOOL), *args]
    data = stdin.encode() if stdin is not None else None
    subprocess.run(cmd, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=1800)


def stay_open_script(files: Sequence[Path], out_dir: Path) -> str:
    """An -@ - argument stream like PyExifTool's: several commands, then -stay_open False."""
    lines: list[str] = []
    for n, src in enumerate(files[:20]):
        lines += ["-j", "-G1", "-a", str(src), "-echo4", f"{{ready{n}}}", "-execute"]
        lines += [*SCRUB_ARGS, "-o", str(out_dir / f"so-{n}{src.suffix}"), str(src), "-execute"]
    return "\n".join([*lines, "-stay_open", "False", ""])


def trace_all(perl: str, files: Sequence[Path], work: Path) -> Path:
    """Run every scenario and return the raw trace file."""
    trace = work / "trace.tsv"
    paths = [str(p) for p in files]
    for args in SCENARIOS.values():
        run_traced(perl, trace, [*args, *paths])
    run_traced(perl, trace, ["-ver"])
    run_traced(perl, trace, ["-listd"])
    writes = (("gps", GPS_ARGS), ("scrub", SCRUB_ARGS), ("engine", ENGINE_WRITE_ARGS), ("dates", DATE_ARGS))
    for name, extra in writes:
        out_dir = work / name
        out_dir.mkdir()
        run_traced(perl, trace, [*extra, "-o", f"{out_dir}/", *paths])
    run_traced(perl, trace, [*SCRUB_ARGS, "-o", f"{work}/", *map(str, broken_files(files, work))])
    run_traced(perl, trace, ["-stay_open", "True", "-@", "-"], stay_open_script(files, work))
    trace_engine(perl, trace, files, work)
    return trace


def trace_engine(perl: str, trace: Path, files: Sequence[Path], work: Path) -> None:
    """Scrub the corpus with the project's engine through a traced ExifTool."""
    try:
        from exif_scrubber.engine import Scrubber
        from exif_scrubber.policy import ScrubPolicy
    except ImportError as exc:
        raise SystemExit(f"run with the project's virtualenv (.venv/bin/python): {exc}") from exc
    wrapper = work / "traced-exiftool"
    cmd = [perl, f"-I{HERE / 'perl'}", f"-MTraceINC={trace}", str(EXIFTOOL)]
    wrapper.write_text(f"#!{sys.executable}\nimport os, sys\ncmd = {cmd!r}\nos.execv(cmd[0], cmd + sys.argv[1:])\n")
    wrapper.chmod(0o755)
    out = work / "engine-out"
    out.mkdir()
    with Scrubber(ScrubPolicy(), exiftool_path=wrapper, work_dir=work) as scrubber:
        for src in files:
            scrubber.scrub_file(src, out / src.name)


def relative_files(lines: Iterable[str]) -> set[str]:
    """Map trace lines to paths relative to the Perl library dir they came from, without ExifTool's own."""
    exif_lib = str(EXIFTOOL.parent / "lib")
    rows = [line.rstrip("\n").split("\t") for line in lines]
    dirs = sorted({r[1] for r in rows if r[0] == "dir" and r[1].startswith("/")}, key=len, reverse=True)
    found: set[str] = set()
    for row in rows:
        full = row[2] if row[0] == "inc" else row[1] if row[0] == "so" else ""
        if not full or full.startswith((exif_lib, str(HERE / "perl"))):
            continue
        base = next((d for d in dirs if full.startswith(d + "/")), None)
        if base is None:
            raise SystemExit(f"loaded from outside @INC: {full}")
        found.add(full[len(base) + 1 :])
    return found


def perl_version(perl: str) -> str:
    """The tracing Perl's version string, for the list header."""
    res = subprocess.run([perl, "-e", "print $^V"], capture_output=True, text=True, check=True)
    return res.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Trace, then write perl-modules.txt."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    ap.add_argument("--perl", default="perl")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    opts = ap.parse_args(argv)
    if not EXIFTOOL.is_file():
        raise SystemExit("run `make -C exiftool_layer local` first")
    perl = shutil.which(opts.perl)
    if perl is None:
        raise SystemExit(f"{opts.perl} not found")
    opts.perl = perl
    files = corpus_files(opts.corpus)
    with tempfile.TemporaryDirectory(prefix="trace-") as tmp:
        modules = sorted(relative_files(trace_all(opts.perl, files, Path(tmp)).read_text().splitlines()))
    header = [
        "# Perl core files the pinned ExifTool loads, relative to Perl's library dirs. Generated by",
        "# exiftool_layer/trace_modules.py (do not edit by hand): traced with Perl "
        f"{perl_version(opts.perl)} over {len(files)} corpus files.",
    ]
    opts.output.write_text("\n".join([*header, *modules]) + "\n")
    print(f"{len(modules)} files -> {opts.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
