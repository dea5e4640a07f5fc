"""The scrubbers compared, each with the same small interface: ``open``, ``run(src, dst)``, ``close``.

* ``exif-scrub clean --workers 1``: the real CLI command over a folder (:mod:`.cli_run`).
* ``engine``: this project's :class:`~exif_scrubber.Scrubber` in a warm process (one ExifTool ``-stay_open``
  process, as in one Lambda container), ``scrub_file`` with the full proof.
* ``exiftool``: one ``exiftool -all= -o OUT IN`` process per file, the same pinned ExifTool.
* ``pillow``: the original design's re-encode, verbatim: ``Image.open``, ``list(getdata())``,
  ``Image.new`` + ``putdata``, ``save(format=image.format)`` (pillow-heif's opener for HEIC).
* ``pillow-keep``: the same with the source's JPEG quantisation tables and subsampling, which is
  what ``quality='keep'`` means. Pillow refuses the literal ``quality='keep'`` on the new image
  (:func:`literal_keep_error` records its message); JPEG inputs only.
"""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass
class Outcome:
    """What one run of a contender on one file produced."""

    produced: bool
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Contender(Protocol):
    """A scrubber under test."""

    name: str

    def applies(self, image_format: str | None) -> bool:
        """Whether this contender is meant for an input of ``image_format`` (sniffed)."""

    def open(self) -> None:
        """Start whatever stays warm between files (untimed)."""

    def run(self, src: Path, dst: Path) -> Outcome:
        """Scrub ``src`` into ``dst`` (timed by the caller)."""

    def close(self) -> None:
        """Stop what :meth:`open` started."""


class EngineContender:
    """This project's engine, warm: one Scrubber with one ExifTool process, started before timing."""

    name = "engine"

    def __init__(self) -> None:
        from exif_scrubber import Scrubber, ScrubPolicy

        self.scrubber = Scrubber(ScrubPolicy(), pool_size=1)

    def applies(self, image_format: str | None) -> bool:
        return True

    def open(self) -> None:
        self.scrubber.warm_up()

    def run(self, src: Path, dst: Path) -> Outcome:
        report = self.scrubber.scrub_file(src, dst)
        extra = {"outcome": report.outcome.value, "timings_ms": report.timings_ms}
        return Outcome(produced=report.ok and dst.exists(), detail=report.reason, extra=extra)

    def close(self) -> None:
        self.scrubber.close()


def exiftool_args(executable: str, src: Path, dst: Path) -> list[str]:
    """``exiftool -all= -o OUT IN``: what a shell loop would run per file (ExifTool never overwrites ``OUT``)."""
    return [executable, "-all=", "-o", str(dst), str(src)]


def exiftool_peak_kb(executable: str, src: Path, dst: Path) -> int | None:
    """The same command once more under ``/usr/bin/time -f %M`` (a small C program, so nothing big is inherited):
    ExifTool's own peak RSS in KiB."""
    dst.unlink(missing_ok=True)
    try:
        done = subprocess.run([TIME, "-f", "%M", *exiftool_args(executable, src, dst)], capture_output=True, text=True)
    except OSError:
        return None
    dst.unlink(missing_ok=True)
    last = done.stderr.strip().splitlines()[-1:] or [""]
    return int(last[0]) if last[0].isdigit() else None


class PillowPutdata:
    """The original design's Pillow re-encode, verbatim (``keep=False``), or with the JPEG tables kept."""

    def __init__(self, *, keep: bool = False) -> None:
        import pillow_heif

        pillow_heif.register_heif_opener()
        self.keep = keep
        self.name = "pillow-keep" if keep else "pillow"

    def applies(self, image_format: str | None) -> bool:
        return image_format == "JPEG" if self.keep else True

    def open(self) -> None:
        """Nothing stays warm."""

    def run(self, src: Path, dst: Path) -> Outcome:
        from PIL import Image, JpegImagePlugin

        try:
            warnings.simplefilter("ignore", DeprecationWarning)  # getdata(): the design's call, deprecated in Pillow 13
            image = Image.open(src)
            data = list(image.getdata())
            clean = Image.new(image.mode, image.size)
            clean.putdata(data)
            del data
            if self.keep:
                if image.format != "JPEG":
                    return Outcome(produced=False, detail=f"not a JPEG ({image.format})")
                clean.save(
                    dst,
                    format=image.format,
                    qtables=getattr(image, "quantization", None),
                    subsampling=JpegImagePlugin.get_sampling(image),
                )
            else:
                clean.save(dst, format=image.format)
            image.close()
        except (Exception, MemoryError) as exc:  # the design has no error handling: record what broke
            dst.unlink(missing_ok=True)
            return Outcome(produced=False, detail=f"{type(exc).__name__}: {exc}"[:200])
        return Outcome(produced=True)

    def close(self) -> None:
        """Nothing to stop."""


def make(name: str) -> Contender:
    """The in-process contender called ``name`` (run by :mod:`.worker`)."""
    if name == "engine":
        return EngineContender()
    if name in ("pillow", "pillow-keep"):
        return PillowPutdata(keep=name == "pillow-keep")
    raise ValueError(f"unknown contender {name!r}")


IN_PROCESS = ("engine", "pillow", "pillow-keep")
TIME = "/usr/bin/time"
"""GNU time, to read a short-lived process's peak RSS without inheriting the caller's."""


def literal_keep_error(jpeg: Path, out: Path) -> str | None:
    """Pillow's answer to the literal ``quality='keep'`` on the re-created image (None if it worked)."""
    from PIL import Image

    with warnings.catch_warnings(), Image.open(jpeg) as image:
        warnings.simplefilter("ignore", DeprecationWarning)
        clean = Image.new(image.mode, image.size)
        clean.putdata(list(image.getdata()))
        try:
            clean.save(out, format=image.format, quality="keep")
        except (ValueError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            out.unlink(missing_ok=True)
    return None


def pillow_memory_estimate(width: int, height: int, bands: int) -> int:
    """Bytes the putdata variant needs, roughly: ``list(getdata())`` holds one Python tuple per pixel
    (56 + 8 per band bytes, small ints are shared) plus an 8-byte list slot, and two decoded images."""
    per_pixel = 8 + (40 + 8 * bands if bands > 1 else 32)
    return width * height * (per_pixel + 2 * max(bands, 1) * 4)
