"""A Google Lens Blur photo keeps its depth map and unblurred original in the XMP (GDepth, GImage): both go with
the XMP, and the report says so (issue 17: depth maps are kept or, if dropped, the report says so)."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

from PIL import Image

from exif_scrubber import Outcome, Scrubber
from tests.oracle import exiftool_read, view_image

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\0"


def lens_blur(depth: bytes, original: bytes) -> bytes:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/"'
        ' xmlns:GImage="http://ns.google.com/photos/1.0/image/" GDepth:Format="RangeInverse" GDepth:Near="1.5"'
        f' GDepth:Far="9.5" GDepth:Mime="image/png" GDepth:Data="{base64.b64encode(depth).decode()}"'
        f' GImage:Mime="image/jpeg" GImage:Data="{base64.b64encode(original).decode()}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (90, 120, 150)).save(buffer, "JPEG")
    data = buffer.getvalue()
    payload = XMP_SIG + xmp
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def test_depth_map_and_original_go_and_the_report_says_so(scrubber: Scrubber, tmp_path: Path) -> None:
    depth = b"DEPTHMAP-TOKEN-" + bytes(range(64))
    original = b"ORIGINAL-TOKEN-" + bytes(range(64, 128))
    source, target = tmp_path / "blur.jpg", tmp_path / "out.jpg"
    source.write_bytes(lens_blur(depth, original))
    report = scrubber.scrub_file(source, target)
    assert report.outcome is Outcome.CLEANED, report.reason
    assert "depth map (Google GDepth, in the XMP): removed" in report.notes
    assert "the unedited original (Google GImage, in the XMP): removed" in report.notes
    out = target.read_bytes()
    assert base64.b64encode(depth) not in out and base64.b64encode(original) not in out
    assert not [k for k in exiftool_read(target)[0] if "GDepth" in k or "GImage" in k]
    assert view_image(target).frames == view_image(source).frames
