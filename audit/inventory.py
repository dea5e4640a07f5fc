"""Reading an S3 Inventory report (``manifest.json`` plus CSV.gz data files) instead of listing.

The manifest and its data files are read from S3 (``s3://dest-bucket/.../manifest.json``) or from
a local folder holding a downloaded report. Rows are streamed one data file at a time. Keys in
Inventory CSV files are URL-encoded (``+`` for a space); they are decoded here.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from .listing import KeyFilter, ListingError, ObjectRef, describe_client_error, parse_s3_uri

_REQUIRED = ("Bucket", "Key")


def read_inventory(
    manifest: str, client: Any | None, *, all_versions: bool = False, keys: KeyFilter | None = None
) -> Iterator[ObjectRef]:
    """Stream the objects an Inventory report lists (current versions only unless ``all_versions``)."""
    keys = keys or KeyFilter()
    doc = _load_manifest(manifest, client)
    if str(doc.get("fileFormat", "CSV")).upper() != "CSV":
        raise ListingError(f"only CSV inventory reports can be read; this one is {doc.get('fileFormat')}")
    schema = [column.strip() for column in str(doc.get("fileSchema", "")).split(",")]
    if any(column not in schema for column in _REQUIRED):
        raise ListingError(f"the inventory schema has no Bucket/Key columns: {doc.get('fileSchema')!r}")
    files = doc.get("files")
    if not isinstance(files, list) or not files:
        raise ListingError("the inventory manifest lists no data files")
    for entry in files:
        with _open_data_file(manifest, doc, str(entry["key"]), client) as raw:
            text = io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", newline="")
            for row in csv.reader(text):
                ref = _row(dict(zip(schema, row, strict=False)), all_versions)
                if ref is not None and keys.accepts(ref.key):
                    yield ref


def _row(row: dict[str, str], all_versions: bool) -> ObjectRef | None:
    if row.get("IsDeleteMarker", "false").lower() == "true":
        return None
    latest = row.get("IsLatest", "true").lower() != "false"
    if not latest and not all_versions:
        return None
    size = row.get("Size", "") or "0"
    version = row.get("VersionId") or None
    return ObjectRef(row["Bucket"], unquote_plus(row["Key"]), int(size), version, latest)


def _load_manifest(manifest: str, client: Any | None) -> dict[str, Any]:
    try:
        if manifest.startswith("s3://"):
            bucket, key = parse_s3_uri(manifest)
            if client is None:
                raise ListingError("an S3 client is needed to read an inventory manifest from S3")
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            body = Path(manifest).read_bytes()
        doc = json.loads(body)
    except ClientError as exc:
        raise ListingError(f"cannot read the inventory manifest {manifest}: {describe_client_error(exc)}") from None
    except (OSError, BotoCoreError, ValueError) as exc:
        raise ListingError(f"cannot read the inventory manifest {manifest}: {exc}") from None
    if not isinstance(doc, dict):
        raise ListingError(f"{manifest} is not an S3 Inventory manifest")
    return doc


def _open_data_file(manifest: str, doc: dict[str, Any], key: str, client: Any | None) -> IO[bytes]:
    """A data file of the report: from the destination bucket, or next to a local manifest."""
    try:
        if manifest.startswith("s3://"):
            bucket = str(doc.get("destinationBucket", "")).removeprefix("arn:aws:s3:::")
            if not bucket:
                bucket = parse_s3_uri(manifest)[0]
            assert client is not None
            body: IO[bytes] = client.get_object(Bucket=bucket, Key=key)["Body"]
            return body
        folder = Path(manifest).parent
        for candidate in (folder / key, folder / "data" / Path(key).name, folder / Path(key).name):
            if candidate.is_file():
                return candidate.open("rb")
        raise ListingError(f"inventory data file {key} not found next to {manifest}")
    except ClientError as exc:
        raise ListingError(f"cannot read inventory data file {key}: {describe_client_error(exc)}") from None
