"""What each output kept: decoded pixels (identical, or PSNR), format, displayed orientation, frames.

Runs after the timed runs, in worker processes, one input at a time against all its outputs.
Leftovers are counted separately with the engine's own :meth:`~exif_scrubber.Scrubber.scan`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pillow_heif
from PIL import Image, ImageChops, ImageStat

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.pixels import PixelProbe, ProbeError, probe
from exif_scrubber.policy import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from .run import Measurement

FRAME_DIGEST_PIXEL_BUDGET = 64_000_000
"""Multi-frame files up to this many pixels in all get every frame's decoded pixels compared."""

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
SAME_FAMILY = ({"JPEG", "MPO"}, {"HEIF", "HEIC"})


def _probe(path: Path) -> PixelProbe | str:
    try:
        return probe(path)
    except ProbeError as exc:
        return str(exc)


def _frames(path: Path, count: int) -> list[Image.Image]:
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as image:
            for index in range(count):
                image.seek(index)
                frames.append(image.copy())
    return frames


def compare_frame(a: Image.Image, b: Image.Image) -> tuple[bool, float | None, str | None]:
    """(identical, PSNR in dB when not identical, note) for two decoded frames."""
    if a.size != b.size:
        return False, None, f"size {a.size} -> {b.size}"
    if a.mode == b.mode and a.tobytes() == b.tobytes():
        return True, None, None
    alpha = any(m in ("RGBA", "LA", "PA", "P") or "A" in m for m in (a.mode, b.mode))
    target = "RGBA" if alpha else "RGB"
    ca, cb = a.convert(target), b.convert(target)
    note = None if a.mode == b.mode else f"mode {a.mode} -> {b.mode}"
    if ca.tobytes() == cb.tobytes():
        return True, None, note
    stat = ImageStat.Stat(ImageChops.difference(ca, cb))
    mse = sum(s / n for s, n in zip(stat.sum2, stat.count, strict=True)) / len(stat.count)
    return False, (round(10 * math.log10(255**2 / mse), 2) if mse else None), note


def compare(
    src: Path,
    out: Path,
    src_probe: PixelProbe | str | None = None,
    src_frames: dict[int, list[Image.Image]] | None = None,
) -> dict[str, Any]:
    """Everything the report says about one output against its input (``src_frames`` caches decodes)."""
    before = src_probe if src_probe is not None else _probe(src)
    cache = {} if src_frames is None else src_frames
    after = _probe(out)
    result: dict[str, Any] = {"bytes_in": src.stat().st_size, "bytes_out": out.stat().st_size}
    if isinstance(before, str) or isinstance(after, str):
        problem = after if isinstance(after, str) else before
        result.update(
            identical=None,
            psnr_db=None,
            note=f"Pillow cannot read: {problem}",
            format_kept=None,
            orientation_kept=None,
            frames_kept=None,
        )
        return result
    result.update(
        format_in=before.format,
        format_out=after.format,
        format_kept=before.format == after.format or any({before.format, after.format} <= f for f in SAME_FAMILY),
        orientation_in=before.orientation or 1,
        orientation_out=after.orientation or 1,
        orientation_kept=(before.orientation or 1) == (after.orientation or 1),
        frames_in=before.frames,
        frames_out=after.frames,
        frames_kept=before.frames == after.frames,
    )
    width, height = before.size
    count = min(before.frames, after.frames)
    if width * height * count > FRAME_DIGEST_PIXEL_BUDGET:
        count = 1
    try:
        if count not in cache:
            cache.clear()
            cache[count] = _frames(src, count)
        frames_a, frames_b = cache[count], _frames(out, count)
    except Exception as exc:
        result.update(identical=None, psnr_db=None, note=f"cannot decode: {exc}"[:160])
        return result
    identical, worst, notes = True, None, []
    for a, b in zip(frames_a, frames_b, strict=True):
        same, psnr, note = compare_frame(a, b)
        identical &= same
        if psnr is not None:
            worst = psnr if worst is None else min(worst, psnr)
        if note and note not in notes:
            notes.append(note)
    result.update(identical=identical, psnr_db=worst, note="; ".join(notes) or None, frames_compared=count)
    return result


def compare_all(src: str, outs: list[str]) -> list[dict[str, Any]]:
    """``compare`` for every output of one input, decoding the input's header once (process-pool entry)."""
    source = Path(src)
    before = _probe(source)
    cache: dict[int, list[Image.Image]] = {}
    return [compare(source, Path(out), before, cache) for out in outs]


def evaluate_outputs(measurements: Sequence[Measurement], log: Callable[[str], None]) -> None:
    """Fidelity of every produced output (worker processes, both cores: after the timed runs) and its leftovers
    (the engine's own ``scan``, the audit's definition)."""
    outputs: dict[str, list[tuple[Measurement, str]]] = {}
    for m in measurements:
        if not m.spec.evaluated:
            continue
        for record in m.files:
            if record.produced and record.dst.exists():
                outputs.setdefault(str(record.src), []).append((m, str(record.dst)))
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as processes:
        futures = {src: processes.submit(compare_all, src, [dst for _, dst in outs]) for src, outs in outputs.items()}
        with Scrubber(ScrubPolicy(), pool_size=2) as scrubber, ThreadPoolExecutor(max_workers=2) as threads:
            pairs = [pair for outs in outputs.values() for pair in outs]
            scans = list(threads.map(lambda pair: scrubber.scan(Path(pair[1])), pairs))
        for (m, dst), scan in zip(pairs, scans, strict=True):
            m.evaluations[dst] = {
                "leftovers": sum(len(v) for v in scan.leftovers.values()),
                "leftover_groups": sorted(scan.leftovers),
                "scan_error": scan.error,
            }
        for src, future in futures.items():
            try:
                results = future.result()
            except Exception as exc:  # a decoder crash must not lose the whole run
                results = [{"identical": None, "note": f"evaluation failed: {exc}"}] * len(outputs[src])
            for (m, dst), fidelity in zip(outputs[src], results, strict=True):
                m.evaluations[dst].update(fidelity)
    log(f"  evaluated {sum(len(o) for o in outputs.values())} outputs in {time.perf_counter() - started:.0f} s")
