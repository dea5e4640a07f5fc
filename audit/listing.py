"""What to audit: streamed S3 listings (current objects or all versions) and local folders."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exif_scrubber.localcopy import not_regular
from exif_scrubber.outcomes import SYMBOLIC_LINK, is_access_error
from exif_scrubber.s3.objects import normalise_version


@dataclass(frozen=True)
class ObjectRef:
    """One object (version) to audit. ``bucket`` is empty for local files, whose ``key`` is a path.

    A local listing also names what it found but cannot audit: ``skip`` (a symbolic link or a special file in a
    folder, listed as ``skipped``) or ``unreadable`` (a folder or file the listing could not read, a special file
    named as the target), with ``access_error`` when the file system refused the read.
    """

    bucket: str
    key: str
    size: int
    version_id: str | None = None
    is_latest: bool = True
    skip: str | None = None
    unreadable: str | None = None
    access_error: bool = False

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

    def excludes_folder(self, relative: str) -> bool:
        """True when an ``--exclude`` pattern leaves out everything under the folder ``relative``."""
        return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(relative + "/", p) for p in self.exclude)


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
    """Stream what is under ``root`` in sorted order: regular files to audit, and, never dropped silently,
    symbolic links (not followed) and special files to list as skipped, folders or files that cannot be read to
    list as unreadable. ``root`` itself may be a file (a link named as the target is followed, as exif-scrub does)."""
    keys = keys or KeyFilter()
    try:
        info = root.stat()
    except OSError as exc:
        raise ListingError(f"cannot read {root}: {exc.strerror or exc}") from None
    if stat.S_ISREG(info.st_mode):
        yield ObjectRef("", str(root), info.st_size)
    elif stat.S_ISDIR(info.st_mode):
        yield from _folder(root, root, keys)
    else:
        yield ObjectRef("", str(root), 0, unreadable=not_regular(info.st_mode))


def _folder(folder: Path, root: Path, keys: KeyFilter) -> Iterator[ObjectRef]:
    """The files of ``folder`` (sorted by name), then those of its sub-folders."""
    try:
        with os.scandir(folder) as scan:
            children = sorted(scan, key=lambda child: child.name)
    except OSError as exc:
        if folder == root or not keys.excludes_folder(folder.relative_to(root).as_posix()):
            yield _unreadable(folder, "cannot read the folder", exc)
        return
    folders = []
    for child in children:
        path = Path(child.path)
        relative = path.relative_to(root).as_posix()
        try:
            if child.is_dir(follow_symlinks=False):
                folders.append(path)
                continue
            info = child.stat(follow_symlinks=False)
        except OSError as exc:
            if keys.accepts(relative):
                yield _unreadable(path, "cannot read it", exc)
            continue
        if not keys.accepts(relative):
            continue
        if stat.S_ISREG(info.st_mode):
            yield ObjectRef("", str(path), info.st_size)
        else:
            skip = SYMBOLIC_LINK if stat.S_ISLNK(info.st_mode) else not_regular(info.st_mode)
            yield ObjectRef("", str(path), 0, skip=skip)
    for sub in folders:
        yield from _folder(sub, root, keys)


def _unreadable(path: Path, what: str, exc: OSError) -> ObjectRef:
    return ObjectRef(
        "", str(path), 0, unreadable=f"{what}: {exc.strerror or type(exc).__name__}", access_error=is_access_error(exc)
    )


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
