"""Exceptions raised by the scrub engine."""

from __future__ import annotations


class ScrubberError(Exception):
    """Base class of every error the engine raises on purpose."""


class StructureError(ValueError):
    """A container (JPEG segments, PNG chunks, HEIF boxes, ...) cannot be followed safely."""


class ExifToolNotFound(ScrubberError):
    """No ExifTool executable could be located."""


class ExifToolVersionError(ScrubberError):
    """The located ExifTool is older than the minimum this project accepts."""


class ExifToolCrashed(ScrubberError):
    """The ExifTool process died or stopped answering while handling a file."""


class ExifToolArgumentError(ScrubberError, ValueError):
    """An argument cannot be sent to ExifTool: arguments go one per line over its ``-@`` stream, so a line break
    (or a NUL) inside one would split it into arguments of the sender's choosing."""


class ExifToolTimeout(ExifToolCrashed):
    """ExifTool did not finish a command within the per-file timeout."""
