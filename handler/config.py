"""Handler settings from environment variables, validated once at cold start."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from exif_scrubber import ScrubPolicy
from exif_scrubber.policy import parse_bool

from .marker import Marker

OnFailure = Literal["tag", "quarantine"]

SINGLE_PUT_LIMIT = 5 * 1024**3
"""S3's largest single PUT: the clean object is written with one conditional PutObject (see s3_object)."""
DEFAULT_MAX_OBJECT_BYTES = 1024**3
DEFAULT_QUARANTINE_PREFIX = "quarantine/"
TMP_SPACE_FACTOR = 4
"""Peak /tmp use per object: our download, the engine's private copy, its output, and our clean copy."""


class ConfigError(ValueError):
    """One or more environment variables are invalid; the message names each of them."""


MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class HandlerConfig:
    """Everything the handler needs to know besides the event."""

    policy: ScrubPolicy
    delete_original_version: bool = True
    on_failure: OnFailure = "tag"
    quarantine_prefix: str = DEFAULT_QUARANTINE_PREFIX
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    include_prefixes: tuple[str, ...] = ()
    exclude_prefixes: tuple[str, ...] = ()
    report_only: bool = False
    marker_secret: bytes | None = None
    """``MARKER_SECRET``: signs the marker so that an upload cannot claim to be scrubbed already."""
    work_dir: Path = Path(tempfile.gettempdir())
    """Where objects are downloaded (``TMPDIR``, i.e. /tmp on Lambda); its free space is checked per object."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HandlerConfig:
        """Read and check every setting; raise :class:`ConfigError` listing all problems at once."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        try:
            policy = ScrubPolicy.from_env(env)
        except ValueError as exc:
            problems.append(str(exc))
            policy = ScrubPolicy()
        flags: dict[str, bool] = {}
        for name, default in (("DELETE_ORIGINAL_VERSION", True), ("REPORT_ONLY", False)):
            try:
                flags[name] = parse_bool(env, name, default)
            except ValueError as exc:
                problems.append(str(exc))
                flags[name] = default
        on_failure_raw = (env.get("ON_FAILURE") or "tag").strip().lower()
        if on_failure_raw not in ("tag", "quarantine"):
            problems.append(f"ON_FAILURE must be 'tag' or 'quarantine', got {env.get('ON_FAILURE')!r}")
            on_failure_raw = "tag"
        on_failure: OnFailure = "quarantine" if on_failure_raw == "quarantine" else "tag"
        quarantine_prefix = (env.get("QUARANTINE_PREFIX") or DEFAULT_QUARANTINE_PREFIX).strip()
        if not quarantine_prefix.endswith("/") or quarantine_prefix.startswith("/"):
            problems.append(
                f"QUARANTINE_PREFIX must be a folder-like prefix ending in '/' (e.g. 'quarantine/'), "
                f"got {quarantine_prefix!r}"
            )
        max_bytes = _parse_size(env, problems)
        work_dir = Path(tempfile.gettempdir())
        secret = (env.get("MARKER_SECRET") or "").strip()
        if secret and len(secret) < MIN_SECRET_LENGTH:
            problems.append(f"MARKER_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return cls(
            policy=policy,
            delete_original_version=flags["DELETE_ORIGINAL_VERSION"],
            on_failure=on_failure,
            quarantine_prefix=quarantine_prefix,
            max_object_bytes=max_bytes,
            include_prefixes=_prefixes(env.get("INCLUDE_PREFIXES")),
            exclude_prefixes=_prefixes(env.get("EXCLUDE_PREFIXES")),
            report_only=flags["REPORT_ONLY"],
            work_dir=work_dir,
            marker_secret=secret.encode() if secret else None,
        )

    def excluded_because(self, key: str) -> str | None:
        """Why ``key`` is outside the scrubber's scope, or None when it is to be processed.

        The quarantine prefix is always excluded, whatever EXCLUDE_PREFIXES says.
        """
        if key.startswith(self.quarantine_prefix):
            return f"key is under the quarantine prefix {self.quarantine_prefix!r}"
        for prefix in self.exclude_prefixes:
            if key.startswith(prefix):
                return f"key is under EXCLUDE_PREFIXES entry {prefix!r}"
        if self.include_prefixes and not any(key.startswith(p) for p in self.include_prefixes):
            return "key is under none of INCLUDE_PREFIXES"
        return None

    def marker(self, exiftool_version: str) -> Marker:
        """The ``exif-stripped`` marker: policy fingerprint, engine/ExifTool versions, signed with the secret."""
        from exif_scrubber import __version__

        base = f"{self.policy.fingerprint()};engine={__version__};exiftool={exiftool_version}"
        return Marker(base=base, secret=self.marker_secret)


def _prefixes(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


def _parse_size(env: Mapping[str, str], problems: list[str]) -> int:
    raw = (env.get("MAX_OBJECT_BYTES") or "").strip()
    if not raw:
        return DEFAULT_MAX_OBJECT_BYTES
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"MAX_OBJECT_BYTES must be a whole number of bytes, got {raw!r}")
        return DEFAULT_MAX_OBJECT_BYTES
    if not 0 < value <= SINGLE_PUT_LIMIT:
        problems.append(f"MAX_OBJECT_BYTES must be between 1 and {SINGLE_PUT_LIMIT} (S3 single PUT), got {value}")
        return DEFAULT_MAX_OBJECT_BYTES
    return value
