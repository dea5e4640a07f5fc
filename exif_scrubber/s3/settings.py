"""What the object processor needs to know besides the object: one typed settings object.

The Lambda builds it from its environment (``handler.config``); ``exif-audit --fix`` from its options.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..policy import ScrubPolicy
from .marker import Marker

OnFailure = Literal["tag", "quarantine"]

SINGLE_PUT_LIMIT = 5 * 1024**3
"""S3's largest single PUT: the clean object is written with one conditional PutObject (see objects)."""
DEFAULT_MAX_OBJECT_BYTES = 1024**3
DEFAULT_QUARANTINE_PREFIX = "quarantine/"
DEFAULT_EVIDENCE_PREFIX = "exif-scrubber-evidence/"
TMP_SPACE_FACTOR = 2
"""Peak /tmp use per object: our download and the clean copy. The engine hard-links the download under its own
name (no copy), the format's handler writes the one output (ExifTool only reads), and the engine renames it to our
clean copy. A report-only scan reads the download where it lies."""


@dataclass(frozen=True)
class ScrubSettings:
    """How objects are scrubbed in place: policy, scope, failure handling, limits, marker."""

    policy: ScrubPolicy
    delete_original_version: bool = True
    on_failure: OnFailure = "tag"
    quarantine_prefix: str = DEFAULT_QUARANTINE_PREFIX
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    include_prefixes: tuple[str, ...] = ()
    exclude_prefixes: tuple[str, ...] = ()
    report_only: bool = False
    trial: bool = False
    """A dry run of the scrub on the live trigger (the stack's ``Mode=trial``): each object is scrubbed and verified
    in the work folder as usual, then tagged ``exif-scrub-trial=<what a scrub would do>`` and given its evidence
    record and metrics; it is never rewritten, deleted or quarantined."""
    marker_secret: bytes | None = None
    """Signs the marker so that an upload cannot claim to be scrubbed already."""
    trust_marker: bool = True
    """Skip an object whose marker proves we wrote it (the Lambda's loop guard). ``exif-audit --fix`` sets
    False: it decides by content only."""
    evidence_prefix: str | None = None
    """Write one evidence record per handled object under this prefix (None: no records, e.g. ``exif-audit --fix``).
    Keys under it are never processed."""
    evidence_bucket: str | None = None
    """The bucket of the evidence records; None: the object's own bucket."""
    work_dir: Path = Path(tempfile.gettempdir())
    """Where objects are downloaded (``TMPDIR``, i.e. /tmp on Lambda); its free space is checked per object."""

    def excluded_because(self, key: str) -> str | None:
        """Why ``key`` is outside the scrubber's scope, or None when it is to be processed.

        The quarantine and evidence prefixes are always excluded, whatever the exclusions say.
        """
        if key.startswith(self.quarantine_prefix):
            return f"key is under the quarantine prefix {self.quarantine_prefix!r}"
        if self.evidence_prefix and key.startswith(self.evidence_prefix):
            return f"key is under the evidence prefix {self.evidence_prefix!r}"
        for prefix in self.exclude_prefixes:
            if key.startswith(prefix):
                return f"key is under EXCLUDE_PREFIXES entry {prefix!r}"
        if self.include_prefixes and not any(key.startswith(p) for p in self.include_prefixes):
            return "key is under none of INCLUDE_PREFIXES"
        return None

    def marker(self, exiftool_version: str) -> Marker:
        """The ``exif-stripped`` marker: policy fingerprint, engine/ExifTool versions, signed with the secret."""
        from .. import __version__

        base = f"{self.policy.fingerprint()};engine={__version__};exiftool={exiftool_version}"
        return Marker(base=base, secret=self.marker_secret)
