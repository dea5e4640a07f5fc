"""``python -m exif_scrubber.audit``: the same as the ``exif-audit`` command."""

from .cli import main

main()
