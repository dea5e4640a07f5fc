"""The metadata policy: one typed object that says what is removed and what is kept."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DEFAULT_MAX_PIXELS = 178_000_000
"""Refuse images above this many pixels (decompression bombs); just under Pillow's own hard limit."""

POLICY_VERSION = "1"

C2PA_REMOVED = (
    "KEEP_C2PA is not supported: C2PA manifests are always removed (a manifest can carry a location, a thumbnail "
    "and names, and its hash binding no longer validates once other metadata is removed); PROVENANCE=resign "
    "re-signs the provenance with the personal data redacted"
)
Provenance = Literal["strip", "resign"]
PROVENANCE_MODES: tuple[Provenance, ...] = ("strip", "resign")


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
    provenance: Provenance = "strip"
    """What happens to a C2PA manifest: ``strip`` removes it; ``resign`` gives a file whose input carried one a new
    manifest signed by the deployer's key, the original as its parent with every assertion that can carry personal
    data redacted (or, where that is impossible, removes it and says why)."""
    drop_ai_disclosure: bool = False
    """Also remove the IPTC XMP ``DigitalSourceType`` that says AI generated or edited the image (kept by default:
    it is not personal data, and platforms and the EU AI Act rely on it)."""

    @property
    def keep_ai_disclosure(self) -> bool:
        return not self.drop_ai_disclosure

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
        if self.provenance == "resign":
            flags.append("c2pa")
        if self.drop_ai_disclosure:
            flags.append("noai")
        return ";".join(flags)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScrubPolicy:
        """Build a policy from ``KEEP_COPYRIGHT``, ``STRIP_ICC``, ``MAX_PIXELS``, ``KEEP_LIVE_PHOTO_PAIRING``,
        ``DROP_MOTION_PHOTO_VIDEO``, ``PROVENANCE`` (``strip`` or ``resign``) and ``DROP_AI_DISCLOSURE``.

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
            provenance=parse_provenance(env.get("PROVENANCE")),
            drop_ai_disclosure=parse_bool(env, "DROP_AI_DISCLOSURE", False),
        )


def parse_provenance(raw: str | None) -> Provenance:
    """``strip`` (the default, also for an empty value) or ``resign``; ``ValueError`` for anything else."""
    value = (raw or "strip").strip().lower() or "strip"
    if value == "strip":
        return "strip"
    if value == "resign":
        return "resign"
    raise ValueError(f"PROVENANCE must be strip or resign, got {raw!r}")


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
