"""``--fix``: scrub leaking objects through the one path that rewrites objects (``exif_scrubber.s3.processor``).

No second write path: every rewrite is ``ObjectScrubber.process`` (conditional GET on the audited version,
engine scrub and verification, conditional PUT keeping the attributes, marker set). The audit decides by content
only: a marker on the object, signed or not, never skips the scrub here. Only current versions are rewritten; a
dirty noncurrent version is reported, never copied over the current object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.s3.processor import ObjectScrubber
from exif_scrubber.s3.settings import ScrubSettings

from .report import ObjectResult


def fix(
    client: Any,
    scrubber: Scrubber,
    policy: ScrubPolicy,
    leaking: Iterable[ObjectResult],
    echo: Callable[[str], None],
) -> Counter[str]:
    """Run each leaking current object through the processor; return counts per processor status."""
    processor = ObjectScrubber(client, scrubber, ScrubSettings(policy=policy, trust_marker=False))
    outcomes: Counter[str] = Counter()
    for result in leaking:
        if not result.is_latest:
            outcomes["noncurrent (not rewritten)"] += 1
            echo(f"  noncurrent version {result.key} ({result.version_id}): not rewritten; delete that version")
            continue
        done = processor.process(result.bucket, result.key, version_id=result.version_id)
        outcomes[done.status.value] += 1
        echo(f"  {done.status.value:13} {result.key}" + (f" ({done.reason})" if done.reason else ""))
    return outcomes
