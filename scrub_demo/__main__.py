"""``python -m scrub_demo`` (what ``make demo`` runs): the real pipeline on an embedded S3 (moto, 127.0.0.1)."""

from __future__ import annotations

import sys

import click

from .pipeline import run_demo


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--keep-running", is_flag=True, help="Leave the embedded S3 up and scrub your own uploads live.")
@click.option("--verbose", is_flag=True, help="Also print the handler's JSON log lines and EMF metrics.")
def main(keep_running: bool, verbose: bool) -> None:
    """Upload sample photos, let the Lambda handler scrub them from their S3 events, then audit the bucket."""
    sys.exit(run_demo(keep_running=keep_running, verbose=verbose))


main()
