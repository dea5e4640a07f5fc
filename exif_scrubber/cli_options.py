"""The options ``clean`` and ``inspect`` share, and the typed bundle they are read into."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .exiftool_process import usable_cpus
from .policy import ScrubPolicy

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

    @classmethod
    def pop(cls, kwargs: dict[str, Any]) -> RunOptions:
        """Take the shared options out of a command's keyword arguments."""
        policy = ScrubPolicy(
            keep_copyright=kwargs.pop("keep_copyright"),
            strip_icc=kwargs.pop("strip_icc"),
            keep_live_photo_pairing=kwargs.pop("keep_live_photo_pairing"),
            drop_motion_photo_video=kwargs.pop("drop_motion_photo_video"),
        )
        return cls(
            policy=policy,
            workers=kwargs.pop("workers"),
            as_json=kwargs.pop("as_json"),
            include=kwargs.pop("include"),
            exclude=kwargs.pop("exclude"),
            fail_on_unsupported=kwargs.pop("fail_on_unsupported"),
        )


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
