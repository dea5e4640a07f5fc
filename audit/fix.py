"""``--fix``: scrub leaking objects through the one path that rewrites objects (``exif_scrubber.s3.processor``).

No second write path: every rewrite is ``ObjectScrubber.process`` (conditional GET on the audited version,
engine scrub and verification, conditional PUT keeping the attributes, marker set). The audit decides by content
only: a marker on the object, signed or not, never skips the scrub here. Only current versions are rewritten; a
dirty noncurrent version is reported, never copied over the current object. S3 versions cannot be rewritten, so
``--purge-noncurrent`` deletes exactly the leaking noncurrent versions instead, and only where the key still has a
current object (a version that is the key's only copy is kept: nothing is lost).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.s3.objects import S3Objects
from exif_scrubber.s3.processor import ObjectScrubber
from exif_scrubber.s3.settings import ScrubSettings

from .report import ObjectResult


def fix(
    client: Any,
    scrubber: Scrubber,
    policy: ScrubPolicy,
    leaking: Iterable[ObjectResult],
    echo: Callable[[str], None],
    *,
    purge_noncurrent: bool = False,
) -> Counter[str]:
    """Run each leaking current object through the processor; return counts per processor status."""
    processor = ObjectScrubber(client, scrubber, ScrubSettings(policy=policy, trust_marker=False))
    outcomes: Counter[str] = Counter()
    for result in leaking:
        if not result.is_latest:
            if purge_noncurrent:
                outcome = purge(client, result)
                outcomes[outcome] += 1
                echo(f"  {outcome:13} {result.key} ({result.version_id})")
            else:
                outcomes["noncurrent (not rewritten)"] += 1
                echo(f"  noncurrent version {result.key} ({result.version_id}): not rewritten; --purge-noncurrent")
            continue
        done = processor.process(result.bucket, result.key, version_id=result.version_id)
        outcomes[done.status.value] += 1
        echo(f"  {done.status.value:13} {result.key}" + (f" ({done.reason})" if done.reason else ""))
    return outcomes


def purge(client: Any, result: ObjectResult) -> str:
    """Permanently delete one leaking noncurrent version, unless it is the key's only copy; returns the outcome."""
    objects = S3Objects(client)
    try:
        if objects.head(result.bucket, result.key) is None:
            return "kept (only copy: the key has no current object)"
        assert result.version_id is not None
        objects.delete_version(result.bucket, result.key, result.version_id)
    except (ClientError, BotoCoreError, ValueError) as exc:
        return f"not purged ({type(exc).__name__}: {exc})"
    return "purged"
