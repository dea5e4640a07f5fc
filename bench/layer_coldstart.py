"""Cold start and warm per-file time of the ExifTool Lambda layer, next to the host ExifTool.

    .venv/bin/python -m bench.layer_coldstart [--runs 7] [--warm 20]

Builds (or reuses) ``exiftool_layer/build/layer-x86_64`` and runs its ``bin/exiftool`` on this machine's
glibc. Measured, for the layer and for the host ExifTool (host perl + ``make -C exiftool_layer local``):

* raw: start ``exiftool -stay_open True -@ -``, send one lossless scrub (``-all= ... -o``), time until its
  ``-execute`` answer (cold), then the same scrub again in that process (warm, per file);
* engine: ``Scrubber.scrub_file`` (read, write, verify) first call vs later calls, with no warm-up, with the
  pool's process start in init (``Scrubber.warm_up``), and with a tiny-image scrub in init.

The arm64 layer is not timed: under qemu emulation the numbers say nothing about Graviton.
Writes ``bench/results/layer_coldstart.{json,md}``. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
LAYER_DIR = REPO / "exiftool_layer"
LAYER = LAYER_DIR / "build" / "layer-x86_64"
LOCAL = LAYER_DIR / "build" / "exiftool" / "exiftool"
RESULTS = REPO / "bench" / "results"
SCRUB = ["-all=", "--icc_profile:all", "-tagsfromfile", "@", "-colorspacetags", "-orientation"]
GPS = [
    "-GPSLatitude=48.8584",
    "-GPSLatitudeRef=N",
    "-GPSLongitude=2.2945",
    "-GPSLongitudeRef=E",
    "-Artist=bench",
    "-XMP:Creator=bench",
]


def make_image(path: Path, size: tuple[int, int]) -> Path:
    """A JPEG from Pillow with GPS/Artist/XMP added by the host ExifTool."""
    w, h = size
    img = Image.radial_gradient("L").resize((w, h)).convert("RGB")
    img.save(path, quality=90)
    subprocess.run(["perl", str(LOCAL), "-q", "-overwrite_original", *GPS, str(path)], check=True)
    return path


class StayOpen:
    """One ``-stay_open`` ExifTool process driven like PyExifTool does."""

    def __init__(self, cmd: Sequence[str]) -> None:
        self.proc = subprocess.Popen(
            [*cmd, "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.n = 0

    def execute(self, args: Sequence[str]) -> bytes:
        """Send one command and wait for its {readyN} marker."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.n += 1
        self.proc.stdin.write(("\n".join([*args, f"-execute{self.n}"]) + "\n").encode())
        self.proc.stdin.flush()
        out = b""
        marker = f"{{ready{self.n}}}".encode()
        while marker not in out:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("exiftool exited")
            out += line
        return out

    def close(self) -> None:
        """Ask ExifTool to exit and wait for it."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"-stay_open\nFalse\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def raw_run(cmd: Sequence[str], src: Path, work: Path, warm: int) -> tuple[float, list[float]]:
    """Cold ms (process start to first finished scrub) and warm ms per later scrub, one process."""
    start = time.perf_counter()
    tool = StayOpen(cmd)
    tool.execute([*SCRUB, "-o", str(work / "cold.jpg"), str(src)])
    cold = (time.perf_counter() - start) * 1000
    warm_ms = []
    for i in range(warm):
        t0 = time.perf_counter()
        tool.execute([*SCRUB, "-o", str(work / f"warm{i}.jpg"), str(src)])
        warm_ms.append((time.perf_counter() - t0) * 1000)
    tool.close()
    for p in work.glob("*.jpg"):
        p.unlink()
    return cold, warm_ms


def engine_run(exiftool: Path, src: Path, tiny: Path, work: Path, warm: int, mode: str) -> dict[str, Any]:
    """Init ms (Scrubber + optional warm-up), first scrub ms and warm ms per file through the engine."""
    from exif_scrubber.engine import Scrubber
    from exif_scrubber.policy import ScrubPolicy

    t0 = time.perf_counter()
    scrubber = Scrubber(ScrubPolicy(), exiftool_path=exiftool, work_dir=work)
    if mode == "pool":
        scrubber.warm_up()
    elif mode == "tiny-scrub":
        scrubber.scrub_file(tiny, work / "tiny-out.jpg")
    init = (time.perf_counter() - t0) * 1000
    times = []
    for i in range(warm + 1):
        t1 = time.perf_counter()
        report = scrubber.scrub_file(src, work / f"out{i}.jpg")
        times.append((time.perf_counter() - t1) * 1000)
        if str(report.outcome) != "cleaned":
            raise RuntimeError(f"engine did not clean: {report.outcome} {report.reason}")
    scrubber.close()
    for p in work.glob("*out*.jpg"):
        p.unlink()
    return {"init_ms": init, "first_ms": times[0], "warm_ms": times[1:]}


def median(values: Sequence[float]) -> float:
    """Median rounded to 0.1 ms."""
    return round(statistics.median(values), 1)


def interleaved(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[Any]]:
    """Run every variant ``runs`` times, alternating between them so background load hits all alike."""
    rows: dict[str, list[Any]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            rows[name].append(fn())
    return rows


def measure(runs: int, warm: int) -> dict[str, Any]:
    """All measurements, as a JSON-able dict."""
    exiftools = {"layer-x86_64": [str(LAYER / "bin" / "exiftool")], "host": ["perl", str(LOCAL)]}
    engine_paths = {"layer-x86_64": LAYER / "bin" / "exiftool", "host": LOCAL}
    out: dict[str, Any] = {"raw": {}, "engine": {}}
    with tempfile.TemporaryDirectory(prefix="layer-bench-") as tmp:
        work = Path(tmp)
        src = make_image(work / "photo.jpg", (1600, 1200))
        tiny = make_image(work / "tiny.jpg", (8, 8))
        (work / "raw").mkdir()
        (work / "engine").mkdir()
        raw = interleaved({n: partial(raw_run, c, src, work / "raw", warm) for n, c in exiftools.items()}, runs)
        for name, rows in raw.items():
            out["raw"][name] = {
                "cold_ms": median([r[0] for r in rows]),
                "warm_ms": median([t for r in rows for t in r[1]]),
            }
        modes = ("none", "pool", "tiny-scrub")
        engine = interleaved(
            {
                f"{n}/{m}": partial(engine_run, p, src, tiny, work / "engine", warm, m)
                for n, p in engine_paths.items()
                for m in modes
            },
            runs,
        )
        for key, rows in engine.items():
            name, mode = key.split("/")
            out["engine"].setdefault(name, {})[mode] = {
                "init_ms": median([r["init_ms"] for r in rows]),
                "first_scrub_ms": median([r["first_ms"] for r in rows]),
                "warm_scrub_ms": median([t for r in rows for t in r["warm_ms"]]),
                "init_plus_first_ms": median([r["init_ms"] + r["first_ms"] for r in rows]),
            }
        out["image"] = {"size": [1600, 1200], "bytes": src.stat().st_size}
    return out


def machine() -> dict[str, Any]:
    """Where the numbers come from."""
    perl = subprocess.run(["perl", "-e", "print $^V"], capture_output=True, text=True, check=True).stdout
    buildinfo = (LAYER / "exiftool" / "BUILDINFO.txt").read_text()
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "host_perl": perl, "layer_buildinfo": buildinfo}


def markdown(data: dict[str, Any]) -> str:
    """The results as a markdown report."""
    lines = [
        "# ExifTool layer: cold start and warm per-file time",
        "",
        f"Machine: {data['machine']['platform']}, {data['machine']['cpus']} CPUs, 1-min load average "
        f"{data['machine']['load_avg'][0][0]:.1f} before and {data['machine']['load_avg'][1][0]:.1f} after "
        "(other work shared the machine). Image: "
        f"{data['image']['size'][0]}x{data['image']['size'][1]} JPEG with GPS/EXIF/XMP, "
        f"{data['image']['bytes']} bytes. Medians of {data['runs']} process starts per variant (variants "
        f"interleaved), warm figures over {data['warm_per_run']} further files per process.",
        "",
        "## Raw ExifTool (-stay_open, one lossless scrub command)",
        "",
        "| ExifTool | cold: start to first finished scrub (ms) | warm scrub (ms/file) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v['cold_ms']} | {v['warm_ms']} |" for k, v in data["raw"].items()]
    lines += [
        "",
        "## Engine (Scrubber.scrub_file: read, write, verify)",
        "",
        "| ExifTool | init warm-up | init (ms) | first scrub (ms) | init + first (ms) | warm scrub (ms/file) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, modes in data["engine"].items():
        lines += [
            f"| {name} | {mode} | {v['init_ms']} | {v['first_scrub_ms']} | {v['init_plus_first_ms']} | "
            f"{v['warm_scrub_ms']} |"
            for mode, v in modes.items()
        ]
    lines += ["", "Layer built from:", "", "```", data["machine"]["layer_buildinfo"].strip(), "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the layer if needed, measure, write the results."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7, help="process starts per variant")
    ap.add_argument("--warm", type=int, default=20, help="warm scrubs per process")
    opts = ap.parse_args(argv)
    subprocess.run(["make", "-s", "-C", str(LAYER_DIR), "local", "layer-x86_64"], check=True)
    load_before = os.getloadavg()
    data = {"runs": opts.runs, "warm_per_run": opts.warm, **measure(opts.runs, opts.warm), "machine": machine()}
    data["machine"]["load_avg"] = [load_before, os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "layer_coldstart.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "layer_coldstart.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
