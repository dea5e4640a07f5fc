"""The per-file report the engine returns: what was there, what was removed, what was proven."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What happened to one file."""

    CLEANED = "cleaned"
    """Metadata was removed and the output passed every verification."""
    ALREADY_CLEAN = "already_clean"
    """Nothing outside the policy's allowlist was found; the file is left as it is."""
    UNSUPPORTED = "unsupported"
    """Not an image format this tool handles (recognised by magic bytes); left untouched."""
    FAILED = "failed"
    """Corrupt, truncated, hostile or unwritable input, or a failed verification; no output written."""


class Failure(StrEnum):
    """Why a ``FAILED`` file failed, where both command lines give it a name of its own (docs/audit.md#outcomes)."""

    UNREADABLE = "unreadable"
    """The input cannot be read as the image it claims to be: malformed, truncated, or ExifTool cannot read it."""
    ACCESS_ERROR = "access_error"
    """The file system refused a read or a write (permissions): the command lines exit 2."""


@dataclass(frozen=True)
class Verification:
    """The evidence collected before an output is accepted."""

    image_hash_before: str | None = None
    image_hash_after: str | None = None
    hash_equal: bool = False
    format_kept: bool = False
    size_kept: bool = False
    mode_kept: bool = False
    frames_kept: bool = False
    orientation_kept: bool = False
    frame_pixels_equal: bool | None = None
    """Per-frame decoded pixels compared (multi-frame files only); None when not applicable."""
    leftovers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check holds and no leftover remains."""
        return (
            self.hash_equal
            and self.format_kept
            and self.size_kept
            and self.mode_kept
            and self.frames_kept
            and self.orientation_kept
            and self.frame_pixels_equal is not False
            and not self.leftovers
        )


@dataclass
class ScrubReport:
    """Everything a caller, a log line or an auditor needs to know about one file."""

    source: str
    outcome: Outcome
    reason: str | None = None
    format: str | None = None
    mime_type: str | None = None
    bytes_before: int = 0
    bytes_after: int | None = None
    removed: dict[str, int] = field(default_factory=dict)
    """Tag counts removed, per ExifTool family-1 group (e.g. ``{"GPS": 12}``), from groups gone from the output and
    from groups it keeps rebuilt (those are also in ``rewritten``)."""
    rewritten: dict[str, int] = field(default_factory=dict)
    """The groups of ``removed`` that the output still holds, in a rebuilt form (an EXIF IFD reduced to the
    orientation, an ICC profile reduced to what decoding needs), with the tags removed from each; what they keep
    is in ``kept``. A group of ``removed`` that is not here is gone."""
    rewritten_blocks: list[str] = field(default_factory=list)
    """Blocks the byte model found not clean that the output keeps rebuilt in canonical form (``APP1 EXIF``,
    ``APP2 ICC profile``); the other blocks of ``leftovers_before``'s format group are removed."""
    kept: dict[str, int] = field(default_factory=dict)
    """Tag counts kept on purpose (orientation, colour profile, structure), per group."""
    leftovers_before: dict[str, list[str]] = field(default_factory=dict)
    """Privacy-relevant tags found in the input, per group."""
    orientation: int | None = None
    failure: Failure | None = None
    """For a failed file: whether it was unreadable or refused access (None: refused or not verified)."""
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    """With ``provenance=resign``, what happened to the input's C2PA manifest (``action``: resigned, stripped with
    its ``reason``, or kept; the assertions ``redacted`` and the ``digital_source_types`` kept); None otherwise."""
    verification: Verification | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the file is clean now (cleaned or already clean)."""
        return self.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN)

    @property
    def verified(self) -> bool:
        """True when an output was produced and proven lossless and clean."""
        return self.verification is not None and self.verification.passed

    @property
    def bytes_removed(self) -> int:
        """Bytes saved by the scrub (0 when nothing was written)."""
        return 0 if self.bytes_after is None else max(self.bytes_before - self.bytes_after, 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view of the report."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["failure"] = self.failure.value if self.failure else None
        data["verified"] = self.verified
        return data
