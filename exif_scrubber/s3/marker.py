"""The ``exif-stripped`` marker: what it records and, with ``MARKER_SECRET``, proof that we wrote it.

Anyone allowed to upload can also send ``x-amz-meta-exif-stripped``; an unsigned marker would let such
an upload skip the scrub. With a secret the marker carries an HMAC over the bucket, the key, the size
and the MD5 of the clean bytes (what S3 returns as the ETag of a single-part, non-KMS upload), so the
HEAD alone proves that the current bytes are the ones we wrote. Where S3's ETag is not an MD5
(SSE-KMS), the HMAC covers bucket, key and size only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

MARKER_KEY = "exif-stripped"
_SIG = re.compile(r"(?:^|;)sig=([0-9a-f]{32})(?:;|$)")
_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_KMS = ("aws:kms", "aws:kms:dsse")


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def etag_is_md5(etag: str, server_side_encryption: str | None) -> bool:
    """True when S3's ETag of the object is the MD5 of its bytes."""
    return server_side_encryption not in _KMS and bool(_MD5_ETAG.fullmatch(etag.strip('"')))


@dataclass(frozen=True)
class Marker:
    """Builds and checks marker values for one configuration."""

    base: str
    """Policy fingerprint and engine/ExifTool versions, e.g. ``p1;icc;engine=0.1.0;exiftool=13.59``."""
    secret: bytes | None = None

    def value(self, bucket: str, key: str, size: int, md5: str | None) -> str:
        """The marker for a clean object about to be written (``md5`` None when its ETag will not be one)."""
        if not self.secret:
            return self.base
        return f"{self.base};sig={self._sign(bucket, key, size, md5)}"

    def trusted(
        self, bucket: str, key: str, value: str | None, size: int, etag: str, server_side_encryption: str | None
    ) -> bool:
        """True when ``value`` proves that the current object is one we scrubbed."""
        if value is None:
            return False
        if not self.secret:
            return True
        match = _SIG.search(value)
        if match is None:
            return False
        md5 = etag.strip('"') if etag_is_md5(etag, server_side_encryption) else None
        return hmac.compare_digest(match.group(1), self._sign(bucket, key, size, md5))

    def _sign(self, bucket: str, key: str, size: int, md5: str | None) -> str:
        assert self.secret is not None
        message = f"{bucket}\n{key}\n{size}\n{md5 or '-'}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]
