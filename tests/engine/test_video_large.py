"""A 1 GB video is scrubbed with flat memory: the engine never holds the media in memory (memory-mapped and let
go as it is hashed, moved in place in steps), so its peak stays far below the Lambda's 256 MB budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.video_support import Plants, add_metadata_tracks, big_movie, sample_hashes

GIGABYTE = 1024**3
PEAK_LIMIT_MB = 256

_SCRUB = """
import json, resource, sys, time
from pathlib import Path
from exif_scrubber import Scrubber, ScrubPolicy
with Scrubber(ScrubPolicy()) as scrubber:
    started = time.perf_counter()
    report = scrubber.scrub_file(Path(sys.argv[1]), Path(sys.argv[2]))
    # VmHWM, not ru_maxrss: Linux carries a parent's peak across fork and exec into ru_maxrss
    seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text()
own = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
exiftool = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"outcome": report.outcome.value, "reason": report.reason, "notes": report.notes,
                  "seconds": seconds, "peak_mb": own, "exiftool_peak_mb": exiftool}))
"""


@pytest.mark.slow
def test_one_gigabyte_video_with_flat_memory(tmp_path: Path) -> None:
    # 4 MiB over a gigabyte: the x264 settings (SEI user data, about 700 bytes in every 9th packet, some 180 KB in
    # all) are removed, and the output must still be over a gigabyte
    source = big_movie(tmp_path / "big.mov", GIGABYTE + 4 * 1024**2)
    add_metadata_tracks(source, Plants(), camm=False)  # a GPS track to drop: the in-place rewrite moves samples
    output = tmp_path / "clean.mov"

    run = subprocess.run(
        [sys.executable, "-c", _SCRUB, str(source), str(output)], capture_output=True, text=True, timeout=600
    )

    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    sys.stderr.write(f"1 GB video: {result}\n")
    assert result["outcome"] == "cleaned", result["reason"]
    assert any("dropped track" in note for note in result["notes"])
    assert result["peak_mb"] < PEAK_LIMIT_MB, f"peak RSS {result['peak_mb']:.0f} MB for a 1 GB video"
    assert result["exiftool_peak_mb"] < PEAK_LIMIT_MB
    assert output.stat().st_size > GIGABYTE
    assert sample_hashes(output) == sample_hashes(source)
