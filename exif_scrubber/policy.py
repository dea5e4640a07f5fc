"""The metadata policy: one typed object that says what is removed and what is kept."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MAX_PIXELS = 178_000_000
"""Refuse images above this many pixels (decompression bombs); just under Pillow's own hard limit."""

POLICY_VERSION = "1"

C2PA_REMOVED = (
    "KEEP_C2PA is not supported: C2PA manifests are always removed (a manifest can carry a location, a thumbnail "
    "and names, and its hash binding no longer validates once other metadata is removed; re-sign after scrubbing)"
)


@dataclass(frozen=True)
class ScrubPolicy:
    """What the engine keeps. Everything not kept here is removed.

    By default the pixels, the Orientation, the ICC colour profile, the structure a decoder
    needs (e.g. the Adobe APP14 segment) and HDR gain-map rendering parameters are kept.
    """

    keep_copyright: bool = False
    """Keep copyright/creator/credit fields of EXIF, IPTC and XMP."""
    strip_icc: bool = False
    """Also remove the ICC colour profile (colours may shift on wide-gamut images)."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    keep_live_photo_pairing: bool = False
    """Keep the identifier that pairs a Live Photo's still and movie (Apple's ``ContentIdentifier``, a UUID), in
    canonical form: a one-entry Apple maker note in EXIF, a one-key ``Keys`` box in the movie. Nothing else."""
    drop_motion_photo_video: bool = False
    """Remove the movie of a motion photo (Google, Samsung, a JPEG with an MP4 appended). By default it is kept,
    cleaned as any video is, and every offset and length pointing at it is rewritten."""

    def fingerprint(self) -> str:
        """A short, stable description recorded in the S3 marker, e.g. ``p1;icc``."""
        flags = [f"p{POLICY_VERSION}"]
        if not self.strip_icc:
            flags.append("icc")
        if self.keep_copyright:
            flags.append("copyright")
        if self.keep_live_photo_pairing:
            flags.append("livephoto")
        if self.drop_motion_photo_video:
            flags.append("nomotion")
        return ";".join(flags)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScrubPolicy:
        """Build a policy from ``KEEP_COPYRIGHT``, ``STRIP_ICC``, ``MAX_PIXELS``, ``KEEP_LIVE_PHOTO_PAIRING``,
        ``DROP_MOTION_PHOTO_VIDEO``.

        Raises ``ValueError`` with a clear message on a malformed value.
        """
        env = os.environ if environ is None else environ
        max_pixels_raw = env.get("MAX_PIXELS", str(DEFAULT_MAX_PIXELS))
        try:
            max_pixels = int(max_pixels_raw)
        except ValueError:
            raise ValueError(f"MAX_PIXELS must be a whole number, got {max_pixels_raw!r}") from None
        if max_pixels <= 0:
            raise ValueError(f"MAX_PIXELS must be positive, got {max_pixels}")
        if parse_bool(env, "KEEP_C2PA", False):
            raise ValueError(C2PA_REMOVED)
        return cls(
            keep_copyright=parse_bool(env, "KEEP_COPYRIGHT", False),
            strip_icc=parse_bool(env, "STRIP_ICC", False),
            max_pixels=max_pixels,
            keep_live_photo_pairing=parse_bool(env, "KEEP_LIVE_PHOTO_PAIRING", False),
            drop_motion_photo_video=parse_bool(env, "DROP_MOTION_PHOTO_VIDEO", False),
        )


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """Read a boolean environment variable, refusing anything but true/false spellings."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")
