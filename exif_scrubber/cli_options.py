"""The options ``clean`` and ``inspect`` share, and the typed bundle they are read into."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from .exiftool_process import usable_cpus
from .policy import PROVENANCE_MODES, ScrubPolicy
from .provenance import Provenance
from .provenance.c2pa_lib import ProvenanceUnavailable
from .provenance.signing import KmsKey, PemKey, SigningError, SigningKey

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunOptions:
    """What both commands take besides the PATHs."""

    policy: ScrubPolicy
    workers: int
    as_json: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    fail_on_unsupported: bool
    provenance: Provenance | None = None
    """The signing key (``--provenance resign``), or None."""

    @classmethod
    def pop(cls, kwargs: dict[str, Any]) -> RunOptions:
        """Take the shared options out of a command's keyword arguments."""
        policy = ScrubPolicy(
            keep_copyright=kwargs.pop("keep_copyright"),
            strip_icc=kwargs.pop("strip_icc"),
            keep_live_photo_pairing=kwargs.pop("keep_live_photo_pairing"),
            drop_motion_photo_video=kwargs.pop("drop_motion_photo_video"),
            provenance=kwargs.pop("provenance"),
            drop_ai_disclosure=kwargs.pop("drop_ai_disclosure"),
        )
        signing = {name: kwargs.pop(name) for name in ("c2pa_key", "c2pa_chain", "c2pa_kms_key_id", "c2pa_tsa")}
        return cls(
            policy=policy,
            provenance=_provenance(policy, **signing),
            workers=kwargs.pop("workers"),
            as_json=kwargs.pop("as_json"),
            include=kwargs.pop("include"),
            exclude=kwargs.pop("exclude"),
            fail_on_unsupported=kwargs.pop("fail_on_unsupported"),
        )


def _provenance(
    policy: ScrubPolicy,
    c2pa_key: Path | None,
    c2pa_chain: Path | None,
    c2pa_kms_key_id: str | None,
    c2pa_tsa: str | None,
) -> Provenance | None:
    """The signer of ``--provenance resign`` (a PEM key, or a KMS key id), with its chain; usage errors otherwise."""
    given = c2pa_key or c2pa_chain or c2pa_kms_key_id or c2pa_tsa
    if policy.provenance != "resign":
        if given:
            raise click.UsageError(
                "--c2pa-key, --c2pa-chain, --c2pa-kms-key-id and --c2pa-tsa go with --provenance resign"
            )
        return None
    if c2pa_chain is None or bool(c2pa_key) == bool(c2pa_kms_key_id):
        raise click.UsageError("--provenance resign needs --c2pa-chain and one of --c2pa-key or --c2pa-kms-key-id")
    try:
        key: SigningKey
        if c2pa_key is not None:
            key = PemKey.from_files(c2pa_key, c2pa_chain)
        else:
            import boto3

            key = KmsKey(boto3.client("kms"), str(c2pa_kms_key_id), c2pa_chain.read_text(encoding="ascii"))
        return Provenance(key, tsa_url=c2pa_tsa)
    except (SigningError, ProvenanceUnavailable, OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None


_PEM = click.Path(exists=True, dir_okay=False, path_type=Path)
_OPTIONS = (
    click.option("--keep-copyright", is_flag=True, help="Keep copyright/creator/credit fields."),
    click.option("--strip-icc", is_flag=True, help="Also remove the ICC colour profile."),
    click.option(
        "--keep-live-photo-pairing",
        is_flag=True,
        help="Keep the identifier that pairs a Live Photo's still and movie (a UUID, nothing else).",
    ),
    click.option(
        "--drop-motion-photo-video",
        is_flag=True,
        help="Remove the movie of a motion photo (by default it is kept, cleaned like any video).",
    ),
    click.option(
        "--drop-ai-disclosure",
        is_flag=True,
        help="Also remove the XMP DigitalSourceType that says AI generated or edited the image (kept by default).",
    ),
    click.option(
        "--provenance",
        type=click.Choice(PROVENANCE_MODES),
        default="strip",
        show_default=True,
        help="C2PA manifests: strip removes them; resign gives a file that had one a new manifest signed with your "
        "key, the original as its parent with personal data redacted (needs the [c2pa] extra).",
    ),
    click.option("--c2pa-key", type=_PEM, help="With --provenance resign: the signing key (PEM, ECDSA P-256)."),
    click.option(
        "--c2pa-kms-key-id", metavar="KEY", help="With --provenance resign: sign with this AWS KMS key instead."
    ),
    click.option(
        "--c2pa-chain", type=_PEM, help="With --provenance resign: the certificate chain (PEM, signer first)."
    ),
    click.option("--c2pa-tsa", metavar="URL", help="With --provenance resign: an RFC 3161 time-stamp authority."),
    click.option(
        "--include",
        multiple=True,
        metavar="GLOB",
        help="Only files matching GLOB (repeatable; case-insensitive; without '/' it matches the file name, "
        "with '/' the path inside the folder given).",
    ),
    click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out files matching GLOB (repeatable)."),
    click.option(
        "--fail-on-unsupported",
        is_flag=True,
        help="Exit 1 when a file is not a supported image (by default such files are listed and left alone).",
    ),
    click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=usable_cpus(),
        show_default=True,
        help="Files handled in parallel (one warm ExifTool each).",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON."),
)


def run_options(func: F) -> F:
    """Add the shared options to a command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func
