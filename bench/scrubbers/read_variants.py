"""What one engine read costs, option by option, on a warm ExifTool:
``python -m bench.scrubbers.read_variants FILE... [--out bench/results/exiftool_read_variants.md]``.

Separates the metadata read from the full-file passes (``-ImageDataHash``, ``-ee``) that dominate
the engine's time on large files. Not part of ``make bench``; a follow-up to its profile.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from exif_scrubber.exiftool_process import ExifToolPool
from exif_scrubber.reading import READ_ARGS

from .machine import load_average

_NO_HASH = [a for a in READ_ARGS if a != "-ImageDataHash"]
VARIANTS: dict[str, list[str]] = {
    "engine read (READ_ARGS)": list(READ_ARGS),
    "engine verification read (+ -u)": [*READ_ARGS, "-u"],
    "without -ImageDataHash": _NO_HASH,
    "without -ImageDataHash and -ee (metadata only)": [a for a in _NO_HASH if a != "-ee"],
    "with -ImageDataHash, without -ee": [a for a in READ_ARGS if a != "-ee"],
    "-ImageDataHash alone (SHA256)": ["-j", "-api", "ImageHashType=SHA256", "-ImageDataHash"],
    "-ImageDataHash alone (MD5)": ["-j", "-api", "ImageHashType=MD5", "-ImageDataHash"],
}


def measure(files: list[Path], repeats: int = 7) -> str:
    """Median and minimum milliseconds of each variant on each file, as markdown."""
    lines = [
        f"Load average before: {load_average()}",
        "",
        "| file | variant | median ms | min ms |",
        "|---|---|---|---|",
    ]
    with ExifToolPool(size=1) as pool:
        for path in files:
            pool.execute([*READ_ARGS, str(path)])  # warm: modules loaded, file in the page cache
            label = f"{path.name} ({path.stat().st_size / 1e6:.1f} MB)"
            for name, args in VARIANTS.items():
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    pool.execute([*args, str(path)])
                    times.append((time.perf_counter() - started) * 1000)
                lines.append(f"| {label} | {name} | {statistics.median(times):.1f} | {min(times):.1f} |")
        lines += ["", f"ExifTool {'{}.{:02d}'.format(*pool.version)}; load average after: {load_average()}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Cost of each option of the engine's ExifTool read.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = "# ExifTool read variants (warm -stay_open process)\n\n" + measure(args.files)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
