"""``--fix``: scrub leaking objects through the Lambda's own per-object path (``handler.processor``).

No second write path: every rewrite is ``ObjectScrubber.process`` (HEAD marker guard, conditional
GET on the audited version, engine scrub and verification, conditional PUT keeping the attributes,
marker set). Only current versions are rewritten; a dirty noncurrent version is reported, never
copied over the current object.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from exif_scrubber import Scrubber, ScrubPolicy

from .report import ObjectResult


def fix(
    client: Any,
    scrubber: Scrubber,
    policy: ScrubPolicy,
    bucket_of: dict[str, str],
    leaking: Iterable[ObjectResult],
    echo: Any,
) -> Counter[str]:
    """Run each leaking current object through the handler; return counts per handler status."""
    from handler.config import HandlerConfig
    from handler.processor import ObjectScrubber

    config = dataclasses.replace(HandlerConfig.from_env(), policy=policy, report_only=False)
    processor = ObjectScrubber(client, scrubber, config)
    outcomes: Counter[str] = Counter()
    for result in leaking:
        if not result.is_latest:
            outcomes["noncurrent (not rewritten)"] += 1
            echo(f"  noncurrent version {result.key} ({result.version_id}): not rewritten; delete that version")
            continue
        done = processor.process(bucket_of[result.key], result.key, version_id=result.version_id)
        outcomes[done.status.value] += 1
        echo(f"  {done.status.value:13} {result.key}" + (f" ({done.reason})" if done.reason else ""))
    return outcomes
