"""Videos: this engine against ``exiftool -all=`` per file and against an FFmpeg stream-copy remux that drops
metadata (PyAV: audio and video streams copied, no metadata, ``+bitexact``), on generated movies with metadata
planted everywhere a movie hides it (see tests/video_support.py) and on a large camera-like movie.

Per contender and input: wall time (median), output size, planted places whose token survives in the output's
bytes, what the audit's check still finds (the byte model plus ExifTool with ``-ee``: timed GPS included),
whether every kept track's samples are byte-identical, the rotation kept, and whether the first and last frames
still decode.

    .venv/bin/python -m bench.video_bench [--quick] [--big-mb 512] [--reps 3]

writes bench/results/video_bench.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from exif_scrubber import Scrubber, ScrubPolicy
from tests.video_support import (
    Plants,
    add_metadata_tracks,
    big_movie,
    first_and_last_frames,
    planted_movie,
    sample_hashes,
)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
Contender = Callable[[Scrubber, Path, Path], bool]


def engine(scrubber: Scrubber, source: Path, target: Path) -> bool:
    report = scrubber.scrub_file(source, target)
    return report.outcome.value in ("cleaned", "already_clean")


def exiftool_all(scrubber: Scrubber, source: Path, target: Path) -> bool:
    scrubber.pool.execute(["-all=", "-o", str(target), str(source)], timeout_s=600)
    return target.exists()


def exiftool_all_m(scrubber: Scrubber, source: Path, target: Path) -> bool:
    """The same with ``-m``: minor errors (an odd but readable box) do not stop the write."""
    scrubber.pool.execute(["-m", "-all=", "-o", str(target), str(source)], timeout_s=600)
    return target.exists()


def ffmpeg_remux(scrubber: Scrubber, source: Path, target: Path) -> bool:
    """``ffmpeg -i in -map 0:v -map 0:a -c copy -map_metadata -1 -fflags +bitexact out``, through PyAV."""
    container_format = "mov" if source.suffix == ".mov" else "mp4"
    with (
        av.open(str(source)) as inp,
        av.open(str(target), "w", format=container_format, options={"fflags": "+bitexact"}) as out,
    ):
        kept = [s for s in inp.streams if s.type in ("video", "audio")]
        streams = {s.index: out.add_stream_from_template(s) for s in kept}
        for packet in inp.demux(kept):
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return target.exists()


CONTENDERS: dict[str, Contender] = {
    "engine": engine,
    "exiftool -all=": exiftool_all,
    "exiftool -m -all=": exiftool_all_m,
    "ffmpeg stream copy": ffmpeg_remux,
}


def _inputs(work: Path, scrubber: Scrubber, big_mb: int) -> list[tuple[str, Path, dict[str, bytes]]]:
    inputs = []
    for fmt in ("mp4", "mov"):
        path, plants = planted_movie(scrubber.pool, work / f"planted.{fmt}", fmt)
        inputs.append((f"planted {fmt.upper()} ({path.stat().st_size // 1024} KB)", path, plants.tokens))
    big = big_movie(work / "camera.mov", big_mb * 1024**2)
    plants = Plants()
    add_metadata_tracks(big, plants)
    inputs.append((f"camera MOV with a GPS track ({big.stat().st_size // 1024**2} MB)", big, plants.tokens))
    return inputs


def _measure(
    scrubber: Scrubber, name: str, contender: Contender, source: Path, tokens: dict[str, bytes], reps: int, work: Path
) -> dict[str, Any]:
    times, produced = [], False
    target = work / f"out{source.suffix}"
    for _ in range(reps):
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        produced = contender(scrubber, source, target)
        times.append(time.perf_counter() - started)
    row: dict[str, Any] = {"contender": name, "seconds": round(statistics.median(times), 3), "produced": produced}
    if not produced:
        return row
    scan = scrubber.scan(target, copy=False)
    row |= {
        "bytes_out_over_in": round(target.stat().st_size / source.stat().st_size, 4),
        "tokens_surviving": _surviving(target, tokens),
        "leftover_groups": sorted(scan.leftovers) if not scan.error else [f"error: {scan.error}"],
        "timed_gps_left": any(g.startswith("Doc") and "GPSLatitude" in n for g, n in scan.leftovers.items()),
        "samples_identical": sample_hashes(target) == sample_hashes(source),
    }
    try:
        _, _, rotation = first_and_last_frames(target)
        row |= {"plays": True, "rotation": rotation}
    except Exception as exc:  # a contender's output that no longer decodes is a result, not a crash
        row |= {"plays": False, "rotation": None, "decode_error": type(exc).__name__}
    return row


def _surviving(path: Path, tokens: dict[str, bytes], step: int = 64 * 1024**2) -> list[str]:
    """The planted places whose token is still in the file's bytes (read in steps that overlap by a token)."""
    found: set[str] = set()
    overlap = max((len(t) for t in tokens.values()), default=1)
    with path.open("rb") as handle:
        tail = b""
        while block := handle.read(step):
            window = tail + block
            found |= {place for place, token in tokens.items() if token in window}
            tail = window[-overlap:]
    return sorted(found)


def collect(quick: bool, big_mb: int, reps: int) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp, Scrubber(ScrubPolicy(), timeout_s=600) as scrubber:
        work = Path(tmp)
        for label, source, tokens in _inputs(work, scrubber, 8 if quick else big_mb):
            _, _, rotation = first_and_last_frames(source)
            for name, contender in CONTENDERS.items():
                print(f"{label}: {name}", flush=True)
                row = _measure(scrubber, name, contender, source, tokens, 1 if quick else reps, work)
                rows.append({"input": label, "rotation_in": rotation, "planted": len(tokens), **row})
    return {
        "command": f"python -m bench.video_bench{' --quick' if quick else ''} --big-mb {big_mb} --reps {reps}",
        "machine": f"{platform.machine()}, {platform.python_version()}, PyAV {av.__version__}",
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Videos: engine vs `exiftool -all=` vs FFmpeg stream copy",
        "",
        f"`{result['command']}` on {result['machine']}. Generated by bench/video_bench.py; see its docstring.",
        "",
        "| input | contender | s | out/in | tokens left | leftovers (audit) | timed GPS | samples equal | rotation "
        "| plays |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["rows"]:
        if not row["produced"]:
            lines.append(f"| {row['input']} | {row['contender']} | {row['seconds']} | no output | | | | | | |")
            continue
        left = f"{len(row['tokens_surviving'])} of {row['planted']}"
        lines.append(
            f"| {row['input']} | {row['contender']} | {row['seconds']} | {row.get('bytes_out_over_in', '-')} | "
            f"{left} | {', '.join(row.get('leftover_groups', [])) or 'none'} | "
            f"{'yes' if row.get('timed_gps_left') else 'no'} | {row.get('samples_identical', '-')} | "
            f"{row.get('rotation_in')} -> {row.get('rotation')} | {row.get('plays', '-')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, one run each")
    parser.add_argument("--big-mb", type=int, default=512, help="size of the camera-like movie")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = collect(args.quick, args.big_mb, args.reps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "video_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "video_bench.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
