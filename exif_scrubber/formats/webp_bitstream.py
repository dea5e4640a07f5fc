"""The headers of WebP's coded image data: a VP8 key frame (RFC 6386 9.1), a VP8L image (RFC 9649 3.2) and the
ALPH chunk's header byte (WebP container 2.7.1).

What these headers say decides the canvas of a file upgraded to the extended format, and whether an ALPH chunk
holds bytes no decoder reads. Where the coded data ends inside a VP8 frame's last token partition, or inside a
VP8L bitstream, is not declared anywhere: a decoder stops reading where the last pixel is decoded, so finding it
means entropy-decoding the whole image (see docs/threat-model.md, "What can still carry chosen bytes").
"""

from __future__ import annotations

from dataclasses import dataclass

VP8_START_CODE = b"\x9d\x01\x2a"
VP8L_SIGNATURE = 0x2F


class BitstreamError(ValueError):
    """A coded image whose header no decoder accepts."""


@dataclass(frozen=True)
class Bitstream:
    """What the header of a VP8 or VP8L payload declares."""

    width: int
    height: int
    alpha: bool
    """VP8L's alpha_is_used hint (what decoders report as the image having alpha); False for VP8."""


def vp8_header(payload: bytes, size: int) -> Bitstream:
    """The frame header of a VP8 key frame (``payload`` holds its first 10 bytes, of ``size``): a 3-byte frame tag,
    the start code, 14-bit width and height (their top two bits are upscaling hints)."""
    if len(payload) < 10:
        raise BitstreamError("a VP8 frame header is cut off")
    tag = int.from_bytes(payload[:3], "little")
    key_frame, version, shown, first_partition = tag & 1, (tag >> 1) & 7, (tag >> 4) & 1, tag >> 5
    if key_frame != 0 or version > 3 or not shown:
        raise BitstreamError("the VP8 data is not a shown key frame")
    if payload[3:6] != VP8_START_CODE:
        raise BitstreamError("the VP8 frame has no start code")
    if 10 + first_partition > size:
        raise BitstreamError("the first VP8 partition runs past its chunk")
    width, height = int.from_bytes(payload[6:8], "little") & 0x3FFF, int.from_bytes(payload[8:10], "little") & 0x3FFF
    if not width or not height:
        raise BitstreamError("a VP8 frame of no pixels")
    return Bitstream(width, height, alpha=False)


def vp8l_header(payload: bytes) -> Bitstream:
    """The header of a VP8L image: the signature byte, 14-bit width and height minus one, alpha_is_used, and a 3-bit
    version that must be 0."""
    if len(payload) < 5 or payload[0] != VP8L_SIGNATURE:
        raise BitstreamError("the VP8L data has no signature")
    bits = int.from_bytes(payload[1:5], "little")
    if bits >> 29:
        raise BitstreamError("a VP8L version other than 0")
    return Bitstream((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, alpha=bool(bits >> 28 & 1))


def alpha_compressed(byte: int) -> bool:
    """Whether the ALPH header ``byte`` (2 reserved bits, pre-processing, filtering, compression) declares compression
    method 1 (a headerless VP8L stream); 0 is raw: exactly one byte per pixel. libwebp refuses reserved bits, unknown
    pre-processing and unknown compression, and so does this."""
    if byte >> 6 or (byte >> 4) & 3 > 1 or byte & 3 > 1:
        raise BitstreamError("an ALPH chunk with reserved bits set, or unknown pre-processing or compression")
    return bool(byte & 3)
