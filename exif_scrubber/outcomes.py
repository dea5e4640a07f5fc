"""What both command lines call a file they do not scan or clean normally, in one place.

``exif-scrub`` and ``exif-audit`` name and count these the same way (the table is docs/audit.md#outcomes): an
empty file and anything that is not an image the engine handles are ``unsupported``; a file that cannot be read as
the image it claims to be is ``unreadable``; a read the file system (or S3) refuses is an access error (an
``unreadable`` entry marked ``access_error``, and exit code 2); a symbolic link or a special file found in a folder
is ``skipped``. The reasons are the same words in both tools.
"""

from __future__ import annotations

import errno

from .formats import raw_camera_format, sniff

EMPTY = "empty file (0 bytes): not an image"
"""An empty upload is not an image: it holds no metadata and nothing to clean, so it is left alone like any other
file that is not an image (``--fail-on-unsupported`` / ``--fail-on unsupported`` fail on it)."""
NOT_AN_IMAGE = "not a supported image format"
SYMBOLIC_LINK = "symbolic link, not followed"

_ACCESS_ERRNOS = frozenset({errno.EACCES, errno.EPERM})


def raw_reason(name: str) -> str:
    """The reason a raw camera file is unsupported: ``raw camera format (Canon CR2), not supported``."""
    return f"raw camera format ({name}), not supported"


def unsupported_reason(head: bytes) -> str | None:
    """Why a file starting with ``head`` (its first bytes, or all of it) is unsupported, or None when the engine
    handles its format. Raw formats that are TIFF inside (DNG, NEF, ...) are recognised later, by the TIFF walker."""
    if not head:
        return EMPTY
    raw = raw_camera_format(head)
    if raw:
        return raw_reason(raw)
    return NOT_AN_IMAGE if sniff(head) is None else None


def is_access_error(exc: OSError) -> bool:
    """True when the file system refused the operation (permissions), not when the file is broken or gone."""
    return isinstance(exc, PermissionError) or exc.errno in _ACCESS_ERRNOS
