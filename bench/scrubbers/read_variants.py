"""What one ExifTool read costs, option by option, on a warm ExifTool:
``python -m bench.scrubbers.read_variants FILE... [--out bench/results/exiftool_read_variants.md]``.

The engine's light read (``READ_ARGS``, ``-u`` where a verdict depends on it) against what it asked before
the byte model (``-ee`` and ``-ImageDataHash``: full passes over the file in Perl). Not part of ``make bench``;
a follow-up to its profile.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from exif_scrubber.exiftool_process import ExifToolPool
from exif_scrubber.reading import READ_ARGS

from .machine import load_average

_HASH = ["-api", "ImageHashType=SHA256", "-ImageDataHash"]
VARIANTS: dict[str, list[str]] = {
    "engine read (READ_ARGS)": list(READ_ARGS),
    "engine read with unknown tags (+ -u)": [*READ_ARGS, "-u"],
    "+ -ee": [*READ_ARGS, "-u", "-ee"],
    "+ -ImageDataHash (SHA256)": [*READ_ARGS, "-u", *_HASH],
    "the read before the byte model (+ -ee + -ImageDataHash)": [*READ_ARGS, "-u", "-ee", *_HASH],
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
    parser = argparse.ArgumentParser(description="Cost of each option of an ExifTool read.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = "# ExifTool read variants (warm -stay_open process)\n\n" + measure(args.files)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
