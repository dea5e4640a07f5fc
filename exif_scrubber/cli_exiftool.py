"""``exif-scrub exiftool``: install the pinned ExifTool, and say which one the engine uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from .errors import ScrubberError
from .exiftool_install import InstallError, default_dir, install, read_pin
from .exiftool_process import locate_exiftool


@click.group("exiftool")
def exiftool_group() -> None:
    """The ExifTool the engine runs (pinned; needs perl 5)."""


@exiftool_group.command("install")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Install here instead of the user's data directory (then point EXIFTOOL_PATH at DEST/exiftool).",
)
def install_command(dest: Path | None) -> None:
    """Download the pinned ExifTool from the npm registry, check its sha256, unpack, test it and install it."""
    pin = read_pin()
    click.echo(f"installing ExifTool {pin.exiftool_version} ({pin.package} {pin.npm_version}) ...", err=True)
    try:
        script = install(dest)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(script))
    if dest is not None:
        click.echo(f"not the default location: set EXIFTOOL_PATH={script} to use it", err=True)


@exiftool_group.command("path")
def path_command() -> None:
    """Print the ExifTool the engine would use (the same search as every command)."""
    try:
        click.echo(str(locate_exiftool()))
    except ScrubberError as exc:
        raise click.ClickException(str(exc)) from None


@exiftool_group.command("version")
def version_command() -> None:
    """Print the pinned version, and the version and path of the ExifTool the engine would use."""
    pin = read_pin()
    click.echo(f"pinned: {pin.exiftool_version} (default install: {default_dir(pin)})")
    try:
        path = locate_exiftool()
    except ScrubberError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        res = subprocess.run([str(path), "-ver"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise click.ClickException(f"cannot run {path}: {exc}") from None
    if res.returncode != 0:
        raise click.ClickException(f"{path} -ver failed (exit {res.returncode})")
    click.echo(f"in use: {res.stdout.strip()} ({path})")
