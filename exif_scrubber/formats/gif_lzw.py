"""GIF's LZW code stream, followed code by code without building the pixels: where its end code is, how many
pixels it codes and which colour indices they use.

A GIF decoder stops reading at the end code, and stops writing pixels once the frame is full: bytes after the end
code, and codes past the last pixel, are read by no decoder. Following the stream needs only each code's width and
the length of the string each dictionary entry stands for (4096 integers), never the strings themselves, so memory is
flat; time is linear in the compressed size. The rules are those of GIF89a appendix F as giflib and Pillow implement
them: the code width grows when the next free entry reaches 2 ** width (at most 12 bits), a full dictionary adds
nothing until a clear code ("deferred clear"), and the first code after a clear must be a literal.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CODE_BITS = 12
TABLE_SIZE = 1 << MAX_CODE_BITS


class LzwError(ValueError):
    """A code no decoder accepts (past the next free dictionary entry, or not a literal after a clear code)."""


@dataclass(frozen=True)
class LzwStream:
    """What following a frame's code stream found."""

    length: int
    """Bytes of the stream up to and including the byte that holds the last bit of the end code (all of it when the
    stream has no end code)."""
    pixels: int
    """Pixels coded before the end code."""
    overrun: bool
    """Codes follow the one that filled the frame (decoders read them and write nothing)."""
    used: bytes
    """For each colour index below the clear code, 1 when a pixel has it (every pixel comes from a literal code)."""


def follow(data: bytes, min_code_size: int, frame_pixels: int) -> LzwStream:  # noqa: C901 - one decoder loop
    """Follow the LZW codes of one frame's image data (its sub-blocks joined) of a frame of ``frame_pixels``."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    lengths = [1] * clear + [0] * (TABLE_SIZE - clear)
    width, next_code, previous = min_code_size + 1, end + 1, -1
    limit, mask = 1 << width, (1 << width) - 1
    buffer = bits = position = produced = 0
    size = len(data)
    used = bytearray(clear)
    while True:
        if bits < width:  # 6 bytes at a time; the whole bytes left in the buffer are given back below
            if position >= size:
                return LzwStream(size, produced, produced > frame_pixels, bytes(used))
            buffer |= int.from_bytes(data[position : position + 6], "little") << bits
            bits += 8 * (min(size, position + 6) - position)
            position += 6
            if bits < width:
                return LzwStream(size, produced, produced > frame_pixels, bytes(used))
        code = buffer & mask
        buffer >>= width
        bits -= width
        if code == clear:
            width, next_code, previous = min_code_size + 1, end + 1, -1
            limit, mask = 1 << width, (1 << width) - 1
            continue
        if code == end:
            return LzwStream(min(size, position) - bits // 8, produced, produced > frame_pixels, bytes(used))
        if produced >= frame_pixels:
            return LzwStream(min(size, position) - bits // 8, produced, True, bytes(used))
        if code < clear:
            used[code] = 1
        if previous < 0:
            if code > clear:
                raise LzwError("the LZW data does not start with a literal")
            length = 1
        elif code > next_code:
            raise LzwError("an LZW code past the dictionary")
        else:
            length = lengths[previous] + 1 if code == next_code else lengths[code]
            if next_code < TABLE_SIZE:
                lengths[next_code] = lengths[previous] + 1
                next_code += 1
                if next_code == limit and width < MAX_CODE_BITS:
                    width += 1
                    limit, mask = limit << 1, (limit << 1) - 1
        produced += length
        previous = code
