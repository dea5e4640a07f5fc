"""ITU-T T.35 registered user data inside video bitstreams: what stays (HDR10+ dynamic metadata), field by field.

H.264/HEVC SEI messages of payload type 4 and AV1 metadata OBUs of type ITU-T T.35 carry data registered with a
country code and a terminal provider: HDR10+ tone mapping (SMPTE ST 2094-40, Samsung's provider code) that HDR10+
displays use frame by frame, but also closed captions, active format descriptions and any vendor's records. Only
HDR10+ application 4 is kept, and only as its parsed fields (every value is a number; the bits after the last
field are alignment bits and bytes after it are dropped); every other T.35 payload goes.
"""

from __future__ import annotations

_HDR10_PLUS = bytes([0xB5, 0x00, 0x3C, 0x00, 0x01, 0x04])
"""Country code (United States), terminal provider code (Samsung, 0x003C), provider-oriented code (0x0001) and
application identifier (4) of ST 2094-40 dynamic metadata."""
_HEADER = len(_HDR10_PLUS) + 1
"""Bytes before the bit-packed fields: the codes above and the application version."""


class _Bits:
    """A big-endian bit reader that says when it runs out (None) instead of raising."""

    def __init__(self, data: bytes, start: int) -> None:
        self.data, self.pos = data, start * 8

    def read(self, count: int) -> int | None:
        if self.pos + count > len(self.data) * 8:
            return None
        value = 0
        for _ in range(count):
            value = (value << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def skip(self, count: int) -> bool:
        if self.pos + count > len(self.data) * 8:
            return False
        self.pos += count
        return True


def _peak_luminance(bits: _Bits) -> bool:
    """An actual peak luminance flag and, when set, its rows x columns table of 4-bit values (2..25 each way)."""
    flag = bits.read(1)
    if not flag:
        return flag == 0
    rows, cols = bits.read(5), bits.read(5)
    if rows is None or cols is None or not (2 <= rows <= 25 and 2 <= cols <= 25):
        return False
    return bits.skip(rows * cols * 4)


def _window_statistics(bits: _Bits) -> bool:
    """maxscl (3 x 17 bits), average maxrgb (17), the maxrgb percentiles (7 + 17 bits each), bright pixels (10)."""
    if not bits.skip(4 * 17):
        return False
    percentiles = bits.read(4)
    return percentiles is not None and bits.skip(percentiles * 24 + 10)


def _tone_mapping(bits: _Bits) -> bool:
    """A tone mapping flag (knee point 12 + 12 bits, Bezier anchors 10 bits each) and a saturation weight (6)."""
    flag = bits.read(1)
    if flag is None:
        return False
    if flag:
        if not bits.skip(24):
            return False
        anchors = bits.read(4)
        if anchors is None or not bits.skip(anchors * 10):
            return False
    saturation = bits.read(1)
    return saturation is not None and bits.skip(6 * saturation)


def hdr10_plus_bits(payload: bytes) -> int | None:
    """The bits ST 2094-40 dynamic metadata fills in ``payload`` (from the country code), or None when it is not
    HDR10+ or does not parse."""
    if not payload.startswith(_HDR10_PLUS) or len(payload) < _HEADER or payload[_HEADER - 1] > 1:
        return None
    bits = _Bits(payload, _HEADER)
    windows = bits.read(2)
    if windows is None or not 1 <= windows <= 3:
        return None
    if not bits.skip((windows - 1) * (4 * 16 + 2 * 16 + 8 + 3 * 16 + 1)):
        return None
    if not bits.skip(27) or not _peak_luminance(bits):  # targeted system display maximum luminance
        return None
    if not all(_window_statistics(bits) for _ in range(windows)) or not _peak_luminance(bits):
        return None
    if not all(_tone_mapping(bits) for _ in range(windows)):
        return None
    return bits.pos


def canonical_t35(payload: bytes) -> bytes | None:
    """The T.35 payload (country code first) as it stays: HDR10+ dynamic metadata cut to its fields, the bits
    after the last field zero or a one then zeros (SEI payload alignment); None for anything else (it goes)."""
    used = hdr10_plus_bits(payload)
    if used is None:
        return None
    size, spare = (used + 7) // 8, -used % 8
    kept = bytearray(payload[:size])
    if spare and kept[-1] & ((1 << spare) - 1) not in (0, 1 << (spare - 1)):
        kept[-1] &= 0xFF << spare & 0xFF  # only "1 then zeros" (HEVC's payload alignment) or zeros pad the last byte
    return bytes(kept)
