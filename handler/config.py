"""Handler settings from environment variables, validated once at cold start."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exif_scrubber import ScrubPolicy
from exif_scrubber.policy import parse_bool
from exif_scrubber.s3.settings import (
    DEFAULT_EVIDENCE_PREFIX,
    DEFAULT_MAX_OBJECT_BYTES,
    DEFAULT_QUARANTINE_PREFIX,
    SINGLE_PUT_LIMIT,
    TMP_SPACE_FACTOR,
    OnFailure,
    ScrubSettings,
)

__all__ = ["DEFAULT_EVIDENCE_PREFIX", "TMP_SPACE_FACTOR", "ConfigError", "HandlerConfig"]


class ConfigError(ValueError):
    """One or more environment variables are invalid; the message names each of them."""


MIN_SECRET_LENGTH = 16
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS_KEY = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)/[A-Za-z0-9/_-]+|alias/[A-Za-z0-9/_-]+|[0-9a-fA-F-]{36}"
)
_CHAIN_SOURCE = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
    r"|arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]+|/[A-Za-z0-9/_.-]+"
)
"""Where the C2PA certificate chain lives: a Secrets Manager secret ARN, an SSM parameter ARN, or a parameter name."""
_SECRET_ID = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]+"
)


@dataclass(frozen=True)
class HandlerConfig(ScrubSettings):
    """The Lambda's :class:`~exif_scrubber.s3.settings.ScrubSettings`, read from its environment.

    The marker secret itself is never in the environment: ``MARKER_SECRET_ARN`` names it in Secrets Manager and
    the runtime reads it at init (``handler.secrets``).
    """

    marker_secret_arn: str | None = None
    c2pa_kms_key_id: str | None = None
    """``PROVENANCE=resign``: the KMS key (``ECC_NIST_P256``, ``SIGN_VERIFY``) that signs new manifests."""
    c2pa_cert_chain: str | None = None
    """``PROVENANCE=resign``: the Secrets Manager secret or SSM parameter holding its certificate chain (PEM)."""
    c2pa_tsa_url: str | None = None
    """An optional RFC 3161 time-stamp authority for the new manifests."""

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
        for name, default in (("DELETE_ORIGINAL_VERSION", True), ("REPORT_ONLY", False), ("TRIAL", False)):
            try:
                flags[name] = parse_bool(env, name, default)
            except ValueError as exc:
                problems.append(str(exc))
                flags[name] = default
        if flags["REPORT_ONLY"] and flags["TRIAL"]:
            problems.append("REPORT_ONLY and TRIAL exclude each other (TRIAL tags and records, REPORT_ONLY does not)")
        on_failure = _on_failure(env, problems)
        quarantine_prefix = _quarantine_prefix(env, problems)
        max_bytes = _parse_size(env, problems)
        work_dir = Path(tempfile.gettempdir())
        secret_arn = _secret_arn(env, problems)
        evidence_prefix = _folder(env, "EVIDENCE_PREFIX", problems)
        evidence_bucket = _evidence_bucket(env, evidence_prefix, problems)
        c2pa_key, c2pa_chain, c2pa_tsa = _c2pa_signing(env, policy, flags["REPORT_ONLY"], problems)
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
            trial=flags["TRIAL"],
            work_dir=work_dir,
            marker_secret_arn=secret_arn,
            evidence_prefix=evidence_prefix,
            evidence_bucket=evidence_bucket,
            c2pa_kms_key_id=c2pa_key,
            c2pa_cert_chain=c2pa_chain,
            c2pa_tsa_url=c2pa_tsa,
        )


def _c2pa_signing(
    env: Mapping[str, str], policy: ScrubPolicy, report_only: bool, problems: list[str]
) -> tuple[str | None, str | None, str | None]:
    """``C2PA_KMS_KEY_ID``, ``C2PA_CERT_CHAIN`` and ``C2PA_TSA_URL``: required with ``PROVENANCE=resign`` (a
    report-only function needs only the chain, to recognise its deployment's manifests), checked whenever set."""
    key = (env.get("C2PA_KMS_KEY_ID") or "").strip() or None
    chain = (env.get("C2PA_CERT_CHAIN") or "").strip() or None
    tsa = (env.get("C2PA_TSA_URL") or "").strip() or None
    if policy.provenance == "resign" and report_only and not chain:
        problems.append("PROVENANCE=resign needs C2PA_CERT_CHAIN (the chain whose manifests a report accepts)")
    elif policy.provenance == "resign" and not report_only and not (key and chain):
        problems.append("PROVENANCE=resign needs C2PA_KMS_KEY_ID and C2PA_CERT_CHAIN (the KMS key and its chain)")
    if key and not _KMS_KEY.fullmatch(key):
        problems.append(f"C2PA_KMS_KEY_ID must be a KMS key ARN, key id or alias, got {key!r}")
    if chain and not _CHAIN_SOURCE.fullmatch(chain):
        problems.append(
            f"C2PA_CERT_CHAIN must be a Secrets Manager secret ARN or an SSM parameter ARN or name, got {chain!r}"
        )
    if tsa and not tsa.startswith("https://"):
        problems.append(f"C2PA_TSA_URL must be an https:// URL, got {tsa!r}")
    return key, chain, tsa


def _folder(env: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """An optional folder-like prefix (``evidence/``); None when unset."""
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.endswith("/") or value.startswith("/"):
        problems.append(f"{name} must be a folder-like prefix ending in '/' (e.g. 'evidence/'), got {value!r}")
    return value


def _prefixes(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


def _on_failure(env: Mapping[str, str], problems: list[str]) -> OnFailure:
    raw = (env.get("ON_FAILURE") or "tag").strip().lower()
    if raw not in ("tag", "quarantine"):
        problems.append(f"ON_FAILURE must be 'tag' or 'quarantine', got {env.get('ON_FAILURE')!r}")
    return "quarantine" if raw == "quarantine" else "tag"


def _quarantine_prefix(env: Mapping[str, str], problems: list[str]) -> str:
    prefix = (env.get("QUARANTINE_PREFIX") or DEFAULT_QUARANTINE_PREFIX).strip()
    if not prefix.endswith("/") or prefix.startswith("/"):
        problems.append(
            f"QUARANTINE_PREFIX must be a folder-like prefix ending in '/' (e.g. 'quarantine/'), got {prefix!r}"
        )
    return prefix


def _secret_arn(env: Mapping[str, str], problems: list[str]) -> str | None:
    if env.get("MARKER_SECRET"):
        problems.append(
            "MARKER_SECRET is not read: anyone allowed lambda:GetFunctionConfiguration can read an environment "
            "variable; store the secret in Secrets Manager and set MARKER_SECRET_ARN"
        )
    arn = (env.get("MARKER_SECRET_ARN") or "").strip() or None
    if arn and not _SECRET_ID.fullmatch(arn):
        problems.append(f"MARKER_SECRET_ARN must be a Secrets Manager secret ARN or name, got {arn!r}")
    return arn


def _evidence_bucket(env: Mapping[str, str], evidence_prefix: str | None, problems: list[str]) -> str | None:
    bucket = (env.get("EVIDENCE_BUCKET") or "").strip() or None
    if bucket and not _BUCKET_NAME.fullmatch(bucket):
        problems.append(f"EVIDENCE_BUCKET must be a bucket name, got {bucket!r}")
    if bucket and not evidence_prefix:
        problems.append("EVIDENCE_BUCKET needs EVIDENCE_PREFIX (e.g. 'exif-scrubber-evidence/')")
    return bucket


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
