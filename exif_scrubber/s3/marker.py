"""The ``exif-stripped`` marker: what it records and, with ``MARKER_SECRET``, proof that we wrote these bytes.

Anyone allowed to upload can also send ``x-amz-meta-exif-stripped``; an unsigned marker would let such an upload
skip the scrub. With a secret the marker carries an HMAC over the bucket, the key, the size and the object's
SHA-256 checksum as S3 stores it. The scrubber writes the clean object with ``ChecksumSHA256`` (computed from the
verified file; S3 refuses the write unless the bytes it receives match it) and the HEAD of the loop guard reads it
back with ``ChecksumMode=ENABLED``. A marker copied onto other bytes therefore never verifies, under any
encryption (an ETag is an MD5 only for single-part uploads without SSE-KMS; the checksum is the bytes' own).

The version id would bind the object too, but it is assigned by S3 after the write, so the write cannot carry a
signature over it. Markers signed before the checksum was (over size and MD5) and objects without a SHA-256
checksum do not verify: such an object is checked like any other (once; a clean one is written back or tagged).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

MARKER_KEY = "exif-stripped"
_SIG = re.compile(r"(?:^|;)sig=([0-9a-f]{32})(?:;|$)")
_SIGNED_FIELDS = "sha256-v2"
"""Names what the HMAC covers; a marker signed over other fields (size and MD5, before) never verifies."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file as S3 spells a checksum: base64 of the 32-byte digest."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


def is_signed(value: str) -> bool:
    """True when the marker value carries a signature (which may or may not verify)."""
    return _SIG.search(value) is not None


@dataclass(frozen=True)
class Marker:
    """Builds and checks marker values for one configuration."""

    base: str
    """Policy fingerprint and engine/ExifTool versions, e.g. ``p1;icc;engine=0.1.0;exiftool=13.59``."""
    secret: bytes | None = None

    def value(self, bucket: str, key: str, size: int, checksum_sha256: str | None) -> str:
        """The marker for a clean object about to be written with this S3 ``ChecksumSHA256`` (base64).

        Signed needs the checksum: without one (or without a secret) the marker is the unsigned base."""
        if not self.secret or not checksum_sha256:
            return self.base
        return f"{self.base};sig={self._sign(bucket, key, size, checksum_sha256)}"

    def trusted(self, bucket: str, key: str, value: str | None, size: int, checksum_sha256: str | None) -> bool:
        """True when ``value`` proves that the current object (of ``size`` bytes, with the ``ChecksumSHA256`` a
        HEAD with checksum mode returned) is one we scrubbed. Without a secret any marker is trusted as sent."""
        if value is None:
            return False
        if not self.secret:
            return True
        match = _SIG.search(value)
        if match is None or not checksum_sha256:
            return False
        return hmac.compare_digest(match.group(1), self._sign(bucket, key, size, checksum_sha256))

    def _sign(self, bucket: str, key: str, size: int, checksum_sha256: str) -> str:
        assert self.secret is not None
        message = f"{_SIGNED_FIELDS}\n{bucket}\n{key}\n{size}\n{checksum_sha256}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]
