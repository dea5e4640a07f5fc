"""S3 I/O for one object: HEAD, conditional GET to a file, conditional PUT with the same attributes,
tags, exact-version deletes and the quarantine copy. Nothing here decides; the processor does.

Writes use one ``PutObject`` with ``IfMatch`` (up to 5 GiB, S3's single-PUT limit, which
MAX_OBJECT_BYTES may not exceed): the condition covers the whole write in a single request.
Multipart uploads are never used, so there is no window between parts in which a newer upload could land
unchecked, and nothing is left behind to abort.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from .marker import MARKER_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STATUS_TAG = "exif-scrub"
"""Object tag: ``clean`` (scrubbed or already clean: what a read-gating bucket policy lets through), or
``unsupported`` / ``failed`` on objects we could not clean."""
MAX_TAGS = 10
CHUNK = 1024 * 1024

_WRITABLE_CHECKSUMS = {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "XXHASH64", "XXHASH3", "XXHASH128"}
"""Checksum algorithms botocore (with awscrt) can compute for a PUT."""


class ObjectGone(Exception):
    """The object (or the version) does not exist (404)."""


class ObjectChanged(Exception):
    """A precondition failed (412): the object is no longer the one we meant."""


class ObjectTooLarge(Exception):
    """The object is larger than MAX_OBJECT_BYTES."""


@dataclass(frozen=True)
class Head:
    """What a HEAD of the current object tells."""

    etag: str
    version_id: str | None
    size: int
    metadata: dict[str, str]
    checksum_sha256: str | None = None
    """The SHA-256 checksum S3 stores for the object (base64, as ``x-amz-checksum-sha256``), when it has one."""

    @property
    def marker(self) -> str | None:
        """The value of our ``exif-stripped`` marker, if the object carries it."""
        return self.metadata.get(MARKER_KEY)


@dataclass(frozen=True)
class Attributes:
    """The object's attributes that a rewrite must carry over, as read with the bytes."""

    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: datetime | None = None
    storage_class: str | None = None
    server_side_encryption: str | None = None
    sse_kms_key_id: str | None = None
    bucket_key_enabled: bool | None = None
    checksum_algorithm: str | None = None
    website_redirect_location: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def put_args(self) -> dict[str, Any]:
        """Keyword arguments for PutObject/CopyObject, without metadata and tags."""
        pairs: dict[str, Any] = {
            "ContentType": self.content_type,
            "CacheControl": self.cache_control,
            "ContentDisposition": self.content_disposition,
            "ContentEncoding": self.content_encoding,
            "ContentLanguage": self.content_language,
            "Expires": self.expires,
            "StorageClass": self.storage_class,
            "ServerSideEncryption": self.server_side_encryption,
            "WebsiteRedirectLocation": self.website_redirect_location,
        }
        if self.server_side_encryption and self.server_side_encryption.startswith("aws:kms"):
            pairs["SSEKMSKeyId"] = self.sse_kms_key_id
            pairs["BucketKeyEnabled"] = self.bucket_key_enabled
        if self.checksum_algorithm in _WRITABLE_CHECKSUMS:
            pairs["ChecksumAlgorithm"] = self.checksum_algorithm
        return {name: value for name, value in pairs.items() if value is not None}


@dataclass(frozen=True)
class Snapshot:
    """Exactly what was read: the version, its ETag, its size and its attributes."""

    etag: str
    version_id: str | None
    size: int
    attributes: Attributes
    tag_count: int = 0

    @property
    def versioned(self) -> bool:
        """True when the read named a real version (not an unversioned or ``null`` version)."""
        return normalise_version(self.version_id) is not None


@dataclass(frozen=True)
class Written:
    """The object we wrote."""

    etag: str
    version_id: str | None


def error_code(exc: ClientError) -> str:
    """The S3 error code of a ClientError (``"NoSuchKey"``, ``"PreconditionFailed"``, ``"404"``, ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    """The HTTP status of a ClientError (0 when unknown)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "ConditionalRequestConflict",
        "OperationAborted",
        "KMS.ThrottlingException",
        "KMS.KMSInternalException",
    }
)
"""S3 error codes that a later attempt may not meet (throttling, 5xx-like, concurrent writes)."""


def is_transient(exc: ClientError) -> bool:
    """True when a later attempt of the same request may succeed."""
    status = http_status(exc)
    return error_code(exc) in TRANSIENT_CODES or status >= 500 or status in (409, 429)


def normalise_version(version_id: str | None) -> str | None:
    """A real version id, or None: unversioned objects list and HEAD as ``"null"``."""
    return None if version_id in (None, "", "null") else version_id


def is_not_found(exc: ClientError) -> bool:
    return http_status(exc) == 404 or error_code(exc) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound")


def is_precondition_failed(exc: ClientError) -> bool:
    return http_status(exc) == 412 or error_code(exc) in ("412", "PreconditionFailed")


@contextmanager
def conditional(changed: str, gone: str) -> Iterator[None]:
    """Turn S3's answers to a conditional request into our exceptions: 412 -> ObjectChanged, 404 -> ObjectGone."""
    try:
        yield
    except ClientError as exc:
        if is_precondition_failed(exc):
            raise ObjectChanged(changed) from None
        if is_not_found(exc):
            raise ObjectGone(gone or error_code(exc)) from None
        raise


def clean_etag(etag: str | None) -> str:
    """An ETag without its quotes, for comparisons."""
    return (etag or "").strip().strip('"')


class S3Objects:
    """The S3 calls the handler makes, each one explicit about which object or version it touches."""

    def __init__(self, client: S3Client) -> None:
        self.client = client

    def head(self, bucket: str, key: str, version_id: str | None = None) -> Head | None:
        """HEAD the current object (or exactly ``version_id``) with its checksum; None when there is none."""
        args: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            args["VersionId"] = version_id
        try:
            response = self.client.head_object(**args)
        except ClientError as exc:
            if is_not_found(exc) or http_status(exc) == 405:  # 405: the version named is a delete marker
                return None
            raise
        return Head(
            etag=clean_etag(response.get("ETag")),
            version_id=response.get("VersionId"),
            size=int(response.get("ContentLength", 0)),
            metadata=dict(response.get("Metadata", {})),
            checksum_sha256=response.get("ChecksumSHA256") or None,
        )

    def download(
        self, bucket: str, key: str, dest: Path, *, etag: str, version_id: str | None, max_bytes: int
    ) -> Snapshot:
        """Stream the object into ``dest`` only if it still has ``etag`` (and ``version_id``).

        Raises :class:`ObjectChanged` (412), :class:`ObjectGone` (404) or :class:`ObjectTooLarge`.
        The body's checksum, if the object has one, is validated by botocore while streaming.
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key, "IfMatch": f'"{etag}"', "ChecksumMode": "ENABLED"}
        if version_id:
            args["VersionId"] = version_id
        with conditional(f"ETag is no longer {etag}", gone=""):
            response = self.client.get_object(**args)
        body = response["Body"]
        size = int(response.get("ContentLength", 0))
        try:
            if size > max_bytes:
                raise ObjectTooLarge(f"{size} bytes is more than MAX_OBJECT_BYTES={max_bytes}")
            written = 0
            with dest.open("wb") as handle:
                for chunk in body.iter_chunks(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ObjectTooLarge(f"more than MAX_OBJECT_BYTES={max_bytes} bytes")
                    handle.write(chunk)
        finally:
            body.close()
        if written != size:
            raise OSError(f"short read: got {written} of {size} bytes")
        return Snapshot(
            etag=clean_etag(response.get("ETag")),
            version_id=response.get("VersionId"),
            size=size,
            attributes=_attributes(response),
            tag_count=int(response.get("TagCount", 0) or 0),
        )

    def tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        """The tags of exactly this version (or of the object in an unversioned bucket)."""
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        response = self.client.get_object_tagging(**args)
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    def put(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        attributes: Attributes,
        metadata: Mapping[str, str],
        tags: Mapping[str, str],
        if_match: str,
        checksum_sha256: str | None = None,
    ) -> Written:
        """Write ``path`` to the key only while its ETag is still ``if_match``; 412 -> ObjectChanged.

        ``checksum_sha256`` (base64 SHA-256 of ``path``): sent as the object's checksum instead of the one the
        original had; S3 refuses the write unless the bytes it receives have it, and stores it with the object."""
        args = attributes.put_args()
        if checksum_sha256 is not None:
            args.update(ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum_sha256)
        if tags:
            args["Tagging"] = urlencode(dict(tags))
        replaced, deleted = "a newer object replaced the one we read", "the object was deleted after we read it"
        with conditional(replaced, deleted), path.open("rb") as body:
            response = self.client.put_object(
                Bucket=bucket, Key=key, Body=body, Metadata=dict(metadata), IfMatch=f'"{if_match}"', **args
            )
        return Written(etag=clean_etag(response.get("ETag")), version_id=response.get("VersionId"))

    def add_tag(self, bucket: str, key: str, version_id: str | None, name: str, value: str) -> None:
        """Set one tag on exactly this version, keeping every other tag it has."""
        tags = self.tags(bucket, key, version_id)
        tags[name] = value
        if len(tags) > MAX_TAGS:
            raise ValueError(f"the object already has {MAX_TAGS} tags; cannot add {name}={value}")
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Tagging": {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]},
        }
        if version_id:
            args["VersionId"] = version_id
        self.client.put_object_tagging(**args)

    def delete_version(self, bucket: str, key: str, version_id: str) -> None:
        """Permanently delete exactly one version (never the current object by name)."""
        if normalise_version(version_id) is None:
            raise ValueError(f"refusing to delete without a real version id ({version_id!r})")
        self.client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)

    def delete_if_match(self, bucket: str, key: str, etag: str) -> None:
        """Delete the current object only while its ETag is still ``etag``; 412 -> ObjectChanged."""
        with conditional("a newer object replaced the one we read", "already deleted"):
            self.client.delete_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')

    def copy_private(
        self, bucket: str, key: str, dest_key: str, snapshot: Snapshot, extra_tags: Mapping[str, str]
    ) -> Written:
        """Server-side copy of exactly the version read to a new ``dest_key``, private (no ACL is copied or set).

        Keeps content type, metadata, encryption, storage class; tags are the original's plus ``extra_tags``.
        ``x-amz-copy-source-if-match`` (the ETag read) and ``If-None-Match: *`` (never replaces an existing object):
        S3 answers 412 for either (-> ObjectChanged, the caller finds out which); 404 -> ObjectGone.
        """
        source: dict[str, str] = {"Bucket": bucket, "Key": key}
        if snapshot.version_id:
            source["VersionId"] = snapshot.version_id
        tags = self.tags(bucket, key, snapshot.version_id) if snapshot.tag_count else {}
        tags.update(extra_tags)
        args = snapshot.attributes.put_args()
        try:
            response = self.client.copy_object(
                Bucket=bucket,
                Key=dest_key,
                CopySource=source,  # type: ignore[arg-type]
                CopySourceIfMatch=f'"{snapshot.etag}"',
                IfNoneMatch="*",
                MetadataDirective="REPLACE",
                Metadata=snapshot.attributes.metadata,
                TaggingDirective="REPLACE",
                Tagging=urlencode(tags),
                **args,
            )
        except ClientError as exc:
            if is_precondition_failed(exc):
                raise ObjectChanged(f"{dest_key} exists, or the source changed") from None
            if is_not_found(exc):
                raise ObjectGone(f"the source is gone: {error_code(exc)}") from None
            raise
        result = response.get("CopyObjectResult", {})
        return Written(etag=clean_etag(result.get("ETag")), version_id=response.get("VersionId"))


def _attributes(response: Mapping[str, Any]) -> Attributes:
    algorithm = next(
        (
            name.removeprefix("Checksum")
            for name in response
            if name.startswith("Checksum") and name != "ChecksumType" and response[name]
        ),
        None,
    )
    expires = response.get("Expires")
    return Attributes(
        content_type=response.get("ContentType"),
        cache_control=response.get("CacheControl"),
        content_disposition=response.get("ContentDisposition"),
        content_encoding=response.get("ContentEncoding"),
        content_language=response.get("ContentLanguage"),
        expires=expires if isinstance(expires, datetime) else None,
        storage_class=response.get("StorageClass"),
        server_side_encryption=response.get("ServerSideEncryption"),
        sse_kms_key_id=response.get("SSEKMSKeyId"),
        bucket_key_enabled=response.get("BucketKeyEnabled"),
        checksum_algorithm=algorithm,
        website_redirect_location=response.get("WebsiteRedirectLocation"),
        metadata=dict(response.get("Metadata", {})),
    )
