"""The marker's HMAC key, read from Secrets Manager at run time (never from the environment), cached.

Powertools Parameters caches the value for ``SECRET_MAX_AGE`` seconds, so each invocation may ask again at no
cost and a rotated secret is picked up within that time.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from .config import MIN_SECRET_LENGTH, ConfigError

SECRET_MAX_AGE = 300


def marker_secret(secret_id: str) -> bytes:
    """The secret's value as bytes; :class:`ConfigError` when it cannot be read or is too short."""
    try:
        value = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE)
    except parameters.GetParameterError as exc:
        raise ConfigError(f"invalid configuration: cannot read MARKER_SECRET_ARN {secret_id}: {exc}") from None
    text = value.decode() if isinstance(value, bytes) else str(value)
    text = text.strip()
    if len(text) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"invalid configuration: the secret MARKER_SECRET_ARN names must be at least {MIN_SECRET_LENGTH} "
            "characters long"
        )
    return text.encode()
