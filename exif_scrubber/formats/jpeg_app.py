"""The small APPn segments a JPEG keeps, each parsed field by field and written again from its values.

* JFIF ``APP0`` (JFIF 1.02): version 1.00-1.02, density unit (0 aspect ratio, 1 dots per inch, 2 per cm) and the
  two 16-bit densities (print size: display data); the thumbnail is never kept (0 x 0).
* Adobe ``APP14`` (Adobe TN 5116): the colour transform (0 none / RGB or CMYK, 1 YCbCr, 2 YCCK) decides how decoders
  convert the colours; the DCT encoder version and the two flag words do not, and are written as 100, 0, 0.
* JPS ``APP3`` (stereoscopic JPEG, ``_JPSJPS_``): the 4-byte stereo descriptor (media type mono or stereo, layout,
  the flags half height/half width/left field first, separation) tells stereo viewers how to split the image; its
  optional comment is free text and is dropped.

Each reader returns the canonical payload (signature included) or None when the segment is not one decoders and
viewers read (too short, a wrong signature): such a segment is metadata.
"""

from __future__ import annotations

import struct

JFIF_SIG = b"JFIF\0"
ADOBE_SIG = b"Adobe"
JPS_SIG = b"_JPSJPS_"
_JFIF_SIZE = 14
"""libjpeg reads a JFIF APP0 of at least 14 bytes (``APP0_DATA_LEN``); a shorter one is not JFIF to it."""
_ADOBE_SIZE = 12
"""libjpeg reads an Adobe APP14 of at least 12 bytes (``APP14_DATA_LEN``); a shorter one is ignored."""
_JPS_FLAGS = 0x07
"""Half height, half width, left field first: the flag bits JPS defines."""


def is_jfif(payload: bytes) -> bool:
    """True when libjpeg takes this APP0 as JFIF (it then decodes three components as YCbCr)."""
    return len(payload) >= _JFIF_SIZE and payload.startswith(JFIF_SIG)


def jfif(payload: bytes) -> bytes | None:
    """The canonical JFIF payload: version 1.0x (x at most 2), a known unit (else 0), the densities, no thumbnail."""
    if not is_jfif(payload):
        return None
    minor, unit = min(payload[6], 2), payload[7] if payload[7] <= 2 else 0
    x_density, y_density = struct.unpack_from(">HH", payload, 8)
    return JFIF_SIG + struct.pack(">BBBHHBB", 1, minor, unit, x_density, y_density, 0, 0)


def adobe_transform(payload: bytes) -> int | None:
    """The colour transform of an Adobe APP14 as libjpeg reads it, or None when libjpeg ignores the segment."""
    if len(payload) < _ADOBE_SIZE or not payload.startswith(ADOBE_SIG):
        return None
    return payload[11]


def adobe(transform: int) -> bytes:
    """The canonical Adobe payload for ``transform``."""
    return ADOBE_SIG + struct.pack(">HHHB", 100, 0, 0, transform)


def jps(payload: bytes) -> bytes | None:
    """The canonical JPS payload: the stereo descriptor, reserved flag bits zeroed, an empty comment."""
    if not payload.startswith(JPS_SIG) or len(payload) < len(JPS_SIG) + 6:
        return None
    (length,) = struct.unpack_from(">H", payload, len(JPS_SIG))
    if length < 4:
        return None
    separation, flags, layout, media = payload[10:14]
    if media > 1:
        return None  # neither mono nor stereo: viewers do not read it
    return JPS_SIG + struct.pack(">HBBBBH", 4, separation, flags & _JPS_FLAGS, layout, media, 0)
