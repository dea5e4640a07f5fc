"""Inputs and independent checks shared by the provenance tests."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image

from tests.oracle import exiftool_read, personal_data

from .c2pa_support import (
    AI,
    MIME,
    STRUCTURAL_LABELS,
    Chain,
    Tokens,
    camera_manifest,
    read_manifests,
    sign_with,
    thumbnails,
)

pillow_heif.register_heif_opener()

EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIC": "heic", "AVIF": "avif", "MP4": "mp4", "MOV": "mov"}
REDACTED = {"c2pa.metadata", "stds.schema-org.CreativeWork", "stds.exif"}


def picture(image_format: str, tokens: Tokens, *, orientation: int = 6) -> bytes:
    """A picture whose EXIF carries a location and a maker (tokens), with a turned orientation."""
    exif = Image.Exif()
    exif[0x010F] = tokens.serial  # Make
    exif[0x0112] = orientation if image_format != "PNG" else 1  # see test_png_exif_after_a_manifest
    exif.get_ifd(0x8825)[2] = (39.0, 21.0, 6.0)
    exif.get_ifd(0x8825)[1] = "N"
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4 % 256, y * 5 % 256, (x * y) % 256) for y in range(48) for x in range(64)])
    out = io.BytesIO()
    save_format = {"HEIC": "HEIF"}.get(image_format, image_format)
    image.save(out, save_format, exif=exif.tobytes(), **({"quality": 90} if image_format == "JPEG" else {}))
    return out.getvalue()


def signed_input(tmp_path: Path, image_format: str, camera: Chain, tokens: Tokens, **manifest: Any) -> Path:
    data = picture(image_format, tokens)
    thumbnail = image_format in ("JPEG", "PNG", "WEBP")  # c2pa-rs makes thumbnails of these
    signed = sign_with(camera, camera_manifest(tokens, **manifest), MIME[image_format], data, thumbnail=thumbnail)
    path = tmp_path / f"in.{EXTENSION[image_format]}"
    path.write_bytes(signed)
    return path


def assert_no_personal_data(output: Path, input_path: Path, tokens: Tokens, mime: str) -> None:
    """No token in the raw bytes, no thumbnail of the original, and ExifTool reads nothing personal: only the
    structure of the store and the assertions the engine keeps."""
    data = output.read_bytes()
    assert not [token for token in tokens.all() if token.encode() in data]
    for thumbnail in thumbnails(input_path, mime):
        assert thumbnail not in data
    tags = {key: value for document in exiftool_read(output) for key, value in document.items()}
    assert not [k for k in tags if _group(k) == "JSON"]  # the JSON assertions (metadata, author, EXIF)
    assert not [k for k, v in tags.items() if any(token in str(v) for token in tokens.all())]
    labels = [str(v) for k, v in tags.items() if _group(k) == "JUMBF" and k.split("#")[0].endswith(":JUMDLabel")]
    assert labels and all(STRUCTURAL_LABELS.match(label) for label in labels), labels
    leaks = [found for found in personal_data(output) if ":JUMDLabel=" not in found]  # labels: checked above
    assert not leaks, leaks


def _group(key: str) -> str:
    parts = key.split("#")[0].split(":")
    return parts[-2] if len(parts) > 1 else ""


def assert_resigned(output: Path, mime: str, camera: Chain, deployer: Chain) -> None:
    """The output's manifest validates against the deployer's root, its parent is the original's manifest with the
    personal assertions redacted and the AI disclosure kept, and no thumbnail of the original is there."""
    view = read_manifests(output, mime, anchors=deployer.root_pem)
    assert view is not None and view.state in ("Valid", "Trusted"), view and view.results
    assert "signingCredential.trusted" in view.active_codes("success")
    assert not view.active_codes("failure")
    assert view.active["signature_info"]["common_name"] == "Test Deployer"
    both = read_manifests(output, mime, anchors=deployer.root_pem + camera.root_pem)
    assert both is not None and both.state == "Trusted"
    [ingredient] = view.active["ingredients"]
    assert ingredient["relationship"] == "parentOf" and "thumbnail" not in ingredient
    assert "thumbnail" not in view.active
    [own] = [a["data"]["actions"] for a in view.active["assertions"] if a["label"].startswith("c2pa.actions")]
    actions = [action["action"] for action in own]
    assert "c2pa.edited.metadata" in actions and actions.count("c2pa.redacted") == len(view.active["redactions"])
    assert {uri.rsplit("/", 1)[-1] for uri in view.active["redactions"]} >= REDACTED
    assert not set(view.assertion_labels()) & (REDACTED | {"c2pa.thumbnail.claim"})
    parent = view.store["manifests"][ingredient["active_manifest"]]
    kinds = [a.get("digitalSourceType") for x in parent["assertions"] for a in x["data"].get("actions", [])]
    assert AI in kinds
