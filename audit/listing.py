"""What to audit: streamed S3 listings (current objects or all versions) and local folders."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exif_scrubber.s3.objects import normalise_version


@dataclass(frozen=True)
class ObjectRef:
    """One object (version) to audit. ``bucket`` is empty for local files, whose ``key`` is a path."""

    bucket: str
    key: str
    size: int
    version_id: str | None = None
    is_latest: bool = True

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket else self.key


class ListingError(Exception):
    """A listing failed (no such bucket, access denied ...); the message is for the user."""


@dataclass(frozen=True)
class KeyFilter:
    """``--include``/``--exclude`` glob patterns on the key (or the path relative to the folder)."""

    include: Sequence[str] = ()
    exclude: Sequence[str] = ()

    def accepts(self, key: str) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(key, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.exclude)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> ``("bucket", "prefix")``; raises ``ValueError`` on anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, prefix


def list_s3(
    client: Any, bucket: str, prefix: str, *, all_versions: bool = False, keys: KeyFilter | None = None
) -> Iterator[ObjectRef]:
    """Stream the objects (or every version, delete markers excluded) under ``prefix``, page by page."""
    keys = keys or KeyFilter()
    try:
        if all_versions:
            pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for version in page.get("Versions", []):
                    if keys.accepts(version["Key"]):
                        yield ObjectRef(
                            bucket,
                            version["Key"],
                            int(version.get("Size", 0)),
                            normalise_version(version.get("VersionId")),
                            bool(version.get("IsLatest", True)),
                        )
        else:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if keys.accepts(obj["Key"]):
                        yield ObjectRef(bucket, obj["Key"], int(obj.get("Size", 0)))
    except ClientError as exc:
        raise ListingError(f"cannot list s3://{bucket}/{prefix}: {describe_client_error(exc)}") from None
    except BotoCoreError as exc:
        raise ListingError(f"cannot list s3://{bucket}/{prefix}: {exc}") from None


def list_local(root: Path, *, keys: KeyFilter | None = None) -> Iterator[ObjectRef]:
    """Stream the regular files under ``root`` in sorted order (symlinks are not followed)."""
    keys = keys or KeyFilter()
    if root.is_file():
        yield ObjectRef("", str(root), root.stat().st_size)
        return
    if not root.is_dir():
        raise ListingError(f"no such file or folder: {root}")
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file() or not keys.accepts(relative):
                continue
            yield ObjectRef("", str(path), path.stat().st_size)


def describe_client_error(exc: ClientError) -> str:
    """``AccessDenied: Access Denied`` from a botocore error, without the traceback."""
    error = exc.response.get("Error", {})
    code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error"))
    message = error.get("Message") or ""
    return f"{code}: {message}" if message else str(code)


def count(refs: Iterable[ObjectRef]) -> tuple[int, int]:
    """Objects and bytes of a listing (used for the progress bar's totals)."""
    objects = size = 0
    for ref in refs:
        objects += 1
        size += ref.size
    return objects, size
