"""Hostile files for the tests: real images from Pillow, then a unique token planted where metadata can hide.

Every builder returns the file's bytes; the token is somewhere ExifTool may not look (a block it cannot parse,
bytes nothing references, padding, free text inside a kept item). The tests check that the token is in no output.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageCms

from exif_scrubber.kept.exif import ExifValues, build_exif
from exif_scrubber.kept.xmp import XmpValues, build_xmp
from scrub_demo.samples import make_pixels

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\0"


def pixels(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    return make_pixels(size, seed)


# ---------------------------------------------------------------------- JPEG


def jpeg(*, progressive: bool = False, orientation: int | None = 6, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": 90, "progressive": progressive}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    pixels(size).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def insert_after_soi(data: bytes, *segments: bytes) -> bytes:
    return data[:2] + b"".join(segments) + data[2:]


def before_eoi(data: bytes, extra: bytes) -> bytes:
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + extra + data[-2:]


def tiff_header_ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int = 0, order: str = ">") -> bytes:
    """A TIFF structure with one IFD at offset 8 whose values all fit in their entries."""
    head = (b"MM\0*" if order == ">" else b"II*\0") + struct.pack(order + "I", 8)
    table = struct.pack(order + "H", len(entries))
    for tag, typ, count, value in entries:
        table += struct.pack(order + "HHI", tag, typ, count) + value.ljust(4, b"\0")
    return head + table + struct.pack(order + "I", next_ifd)


def exif_with_orphan(token: bytes) -> bytes:
    """An Orientation-only IFD0, then a GPS IFD no IFD points to, holding the token."""
    tiff = tiff_header_ifd([(0x0112, 3, 1, struct.pack(">H", 6))])
    gps = struct.pack(">H", 1) + struct.pack(">HHII", 0x0002, 2, len(token), len(tiff) + 18) + b"\0\0\0\0" + token
    return b"Exif\0\0" + tiff + gps


def exif_with_thumbnail(token: bytes) -> bytes:
    """An Orientation-only IFD0 followed by a complete JPEG thumbnail nothing references."""
    buffer = io.BytesIO()
    pixels((16, 12), seed=3).save(buffer, "JPEG", quality=50, comment=token)
    return b"Exif\0\0" + tiff_header_ifd([(0x0112, 3, 1, struct.pack(">H", 6))]) + buffer.getvalue()


def icc_with_private_tag(token: bytes) -> bytes:
    """An sRGB profile with one extra private tag ('prvt') holding the token."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", profile, 128)
    body = b"text" + bytes(4) + token + b"\0"
    table_end = 132 + 12 * count
    entry = struct.pack(">4sII", b"prvt", len(profile) + 12 + ((4 - len(profile) % 4) % 4), len(body))
    shifted = bytearray(profile[:table_end] + entry + profile[table_end:])
    struct.pack_into(">I", shifted, 128, count + 1)
    for index in range(count):  # every data offset moved by the 12-byte entry
        at = 132 + 12 * index + 4
        struct.pack_into(">I", shifted, at, struct.unpack_from(">I", shifted, at)[0] + 12)
    shifted += bytes((4 - len(shifted) % 4) % 4)
    struct.pack_into(">I", shifted, 132 + 12 * count + 4, len(shifted))
    shifted += body
    struct.pack_into(">I", shifted, 0, len(shifted))
    return bytes(shifted)


def icc_segment(profile: bytes) -> bytes:
    return segment(0xE2, b"ICC_PROFILE\0\x01\x01" + profile)


def orientation_xmp_with_comment(token: bytes) -> bytes:
    packet = build_xmp(XmpValues(orientation=6))
    return packet.replace(b"<rdf:RDF", b"<!-- " + token + b" --><rdf:RDF")


def progressive_with(extra: bytes) -> bytes:
    """A progressive JPEG with ``extra`` inserted before its second scan (between scans)."""
    data = jpeg(progressive=True)
    first = data.index(b"\xff\xda")
    second = data.index(b"\xff\xda", first + 2)
    return data[:second] + extra + data[second:]


def junk_between_segments(token: bytes) -> bytes:
    data = jpeg()
    at = data.index(b"\xff\xdb")  # before the first DQT
    return data[:at] + token + data[at:]


def before_frame(data: bytes, *segments: bytes) -> bytes:
    """``segments`` inserted just before the frame header (SOF0 or SOF2)."""
    at = min(i for i in (data.find(b"\xff\xc0"), data.find(b"\xff\xc2")) if i >= 0)
    return data[:at] + b"".join(segments) + data[at:]


def without_segment(data: bytes, marker: int, signature: bytes = b"") -> bytes:
    """``data`` without its first ``marker`` segment whose payload starts with ``signature``."""
    at = 2
    while True:
        length = struct.unpack_from(">H", data, at + 2)[0]
        if data[at + 1] == marker and data[at + 4 : at + 4 + len(signature)] == signature:
            return data[:at] + data[at + 2 + length :]
        at += 2 + length


def dqt(slot: int, values: bytes) -> bytes:
    """A DQT segment defining one 8-bit table in ``slot`` (values: 64 bytes)."""
    return segment(0xDB, bytes([slot]) + values[:64].ljust(64, b"\x01"))


def dht(kind: int, slot: int, values: bytes) -> bytes:
    """A DHT segment defining one table whose codes are all 16 bits long, with these symbol values."""
    return segment(0xC4, bytes([kind << 4 | slot]) + bytes(15) + bytes([len(values)]) + values)


def jps_segment(comment: bytes, layout: int = 2) -> bytes:
    """An APP3 JPS stereo descriptor (stereo, side by side unless ``layout`` says otherwise) with a comment."""
    return segment(0xE3, b"_JPSJPS_" + struct.pack(">HBBBBH", 4, 0, 0, layout, 1, len(comment)) + comment)


def mpf_payload(entries: list[tuple[int, int, int]], attributes: list[tuple[int, int, int, bytes]]) -> bytes:
    """A big-endian MPF payload: the MP index IFD (version, count, entries of (attribute, size, offset)), then an
    attribute IFD holding ``attributes`` (tag, type, count, value) with out-of-line values after it."""
    raw = b"".join(struct.pack(">IIIHH", a, size, offset, 0, 0) for a, size, offset in entries)
    index_at, index_entries = 8, 3
    values_at = index_at + 2 + 12 * index_entries + 4
    attributes_at = values_at + len(raw)
    index = struct.pack(">H", index_entries)
    index += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    index += struct.pack(">HHII", 0xB001, 4, 1, len(entries))
    index += struct.pack(">HHII", 0xB002, 7, len(raw), values_at)
    index += struct.pack(">I", attributes_at) + raw
    table = struct.pack(">H", 1 + len(attributes)) + struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    extra_at, extra = attributes_at + 2 + 12 * (1 + len(attributes)) + 4, b""
    for tag, typ, count, value in attributes:
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack(">HHII", tag, typ, count, extra_at + len(extra))
            extra += value
    return b"MPF\0MM\0*" + struct.pack(">I", index_at) + index + table + b"\0\0\0\0" + extra


def mpo(
    images: list[bytes],
    *,
    attributes: list[tuple[int, int, int, bytes]] | None = None,
    file_order: list[int] | None = None,
    entry_type: int = 0x020002,
) -> bytes:
    """An MPO of JPEG ``images``: the first is the primary and holds the MP index; the index lists the others in the
    order given, while ``file_order`` says where they are in the file (indexes into ``images[1:]``)."""
    primary, rest = images[0], images[1:]
    order = file_order if file_order is not None else list(range(len(rest)))

    def built(sizes: list[tuple[int, int, int]]) -> bytes:
        return primary[:2] + segment(0xE2, mpf_payload(sizes, attributes or [])) + primary[2:]

    head = built([(0, 0, 0)] * len(images))
    header = 2 + 4 + 4  # the MPF TIFF header: after SOI, the APP2 marker and length, and "MPF\0"
    starts, position = {}, len(head)
    for number in order:
        starts[number] = position
        position += len(rest[number])
    entries = [(0x20030000, len(head), 0)]
    entries += [(entry_type, len(image), starts[number] - header) for number, image in enumerate(rest)]
    return built(entries) + b"".join(rest[number] for number in order)


def plain_jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    pixels(size, seed=seed).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


ISO_SIG = b"urn:iso:std:iso:ts:21496:-1\0"


def iso_block(fields: bytes) -> bytes:
    """A one-channel ISO 21496-1 block (final layout) whose 56 bytes of rational fields are ``fields``."""
    return b"\0\0\0\0\0" + fields[:56].ljust(56, b"\x01")


JPEG_CASES: dict[str, Callable[[bytes], bytes]] = {
    "APP1 EXIF whose IFD0 points past the segment, then text": lambda t: insert_after_soi(
        jpeg(orientation=None), segment(0xE1, b"Exif\0\0II*\0\xff\xff\0\0" + b"GPS 48.8584N 2.2945E " + t)
    ),
    "XMP that is not XML": lambda t: insert_after_soi(jpeg(), segment(0xE1, XMP_SIG + b"<not xml " + t)),
    "ICC_PROFILE segment of garbage": lambda t: insert_after_soi(jpeg(), icc_segment(b"garbage " + t * 3)),
    "orphaned GPS IFD inside a kept EXIF block": lambda t: insert_after_soi(
        jpeg(orientation=None), segment(0xE1, exif_with_orphan(t))
    ),
    "JPEG thumbnail after an Orientation-only IFD0": lambda t: insert_after_soi(
        jpeg(orientation=None), segment(0xE1, exif_with_thumbnail(t))
    ),
    "extra bytes after the JFIF APP0 fields": lambda t: insert_after_soi(
        jpeg(), segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0" + t)
    ),
    "extra bytes after the Adobe APP14 fields": lambda t: insert_after_soi(
        jpeg(), segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01" + t)
    ),
    "XML comment inside an XMP packet kept for the Orientation": lambda t: insert_after_soi(
        jpeg(orientation=None), segment(0xE1, XMP_SIG + orientation_xmp_with_comment(t))
    ),
    "private tag inside a kept ICC profile": lambda t: insert_after_soi(jpeg(), icc_segment(icc_with_private_tag(t))),
    "COM after the scan data": lambda t: before_eoi(jpeg(), segment(0xFE, t)),
    "APP9 between progressive scans": lambda t: progressive_with(segment(0xE9, t)),
    "bytes between header segments": junk_between_segments,
    "trailer after EOI": lambda t: jpeg() + t,
    "COM before the frame": lambda t: insert_after_soi(jpeg(), segment(0xFE, t)),
    "DQT table no component uses": lambda t: before_frame(jpeg(), dqt(3, t * 3)),
    "DQT table redefined before any scan reads it": lambda t: insert_after_soi(jpeg(), dqt(0, t * 3)),
    "DHT table no scan uses": lambda t: before_frame(jpeg(), dht(1, 3, t * 2)),
    "DHT table after the last scan": lambda t: before_eoi(jpeg(), dht(0, 0, t)),
    "DHT table between progressive scans that no later scan reads": lambda t: progressive_with(dht(1, 3, t * 2)),
    "JPS stereo descriptor comment": lambda t: insert_after_soi(jpeg(), jps_segment(t)),
    "MPF attribute of type UNDEFINED": lambda t: mpo(
        [plain_jpeg(1), plain_jpeg(2)], attributes=[(0xB101, 7, len(t), t)]
    ),
    "MPF attribute with more values than DC-007 gives it": lambda t: mpo(
        [plain_jpeg(1), plain_jpeg(2)], attributes=[(0xB205, 10, len(t) // 8 + 1, (t * 2)[: 8 * (len(t) // 8 + 1)])]
    ),
    "ISO 21496-1 gain-map block in a JPEG without a gain map": lambda t: insert_after_soi(
        jpeg(), segment(0xE2, ISO_SIG + iso_block(t * 3))
    ),
}


# ---------------------------------------------------------------------- PNG


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(*, mode: str = "RGB", icc: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image = pixels().convert(mode) if mode != "P" else pixels().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.save(buffer, "PNG", **({"icc_profile": icc} if icc else {}))
    return buffer.getvalue()


def png_insert(data: bytes, *chunks: bytes, before: bytes = b"IDAT") -> bytes:
    at = data.index(before) - 4
    return data[:at] + b"".join(chunks) + data[at:]


def png_replace(data: bytes, kind: bytes, body: bytes) -> bytes:
    """``data`` with the first chunk of type ``kind`` holding ``body``."""
    start = data.index(kind) - 4
    (length,) = struct.unpack_from(">I", data, start)
    return data[:start] + chunk(kind, body) + data[start + 12 + length :]


def palette_bytes(token: bytes) -> bytes:
    """``token`` padded to whole palette entries (3 bytes each)."""
    return token + b"." * (-len(token) % 3)


def png_palette_past_bit_depth(token: bytes) -> bytes:
    """A 4-bit palette image (16 entries can be indexed) whose PLTE holds more entries: the token."""
    data = png(mode="P")
    start = data.index(b"PLTE") - 4
    (length,) = struct.unpack_from(">I", data, start)
    return png_replace(data, b"PLTE", data[start + 8 : start + 8 + length] + palette_bytes(token))


def png_with_iend_payload(token: bytes) -> bytes:
    data = png()
    return data[: data.index(b"IEND") - 4] + chunk(b"IEND", token)


def png_with_idat_tail(token: bytes) -> bytes:
    """Bytes hidden inside IDAT, after the end of the compressed stream."""
    data = png()
    start = data.index(b"IDAT") - 4
    (length,) = struct.unpack_from(">I", data, start)
    payload = data[start + 8 : start + 8 + length]
    return data[:start] + chunk(b"IDAT", payload + token) + data[start + 12 + length :]


PNG_CASES: dict[str, Callable[[bytes], bytes]] = {
    "eXIf with a bogus IFD0 offset": lambda t: png_insert(png(), chunk(b"eXIf", b"MM\0*\0\0\xff\xff" + t)),
    "a second eXIf chunk": lambda t: png_insert(
        png(),
        chunk(b"eXIf", build_exif(ExifValues(orientation=6))),
        chunk(b"eXIf", tiff_header_ifd([(0x0112, 3, 1, b"\0\x06"), (0x010F, 2, 4, b"Cam\0")]) + t),
    ),
    "iTXt XMP that is not XML": lambda t: png_insert(png(), chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x " + t)),
    "iCCP holding compressed garbage": lambda t: png_insert(png(), chunk(b"iCCP", b"ICC profile\0\0x\x9c" + t)),
    "iCCP profile name": lambda t: png_insert(
        png(),
        chunk(
            b"iCCP",
            t[:60] + b"\0\0" + zlib.compress(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()),
        ),
    ),
    "IEND with a payload": png_with_iend_payload,
    "pHYs with extra bytes": lambda t: png_insert(png(), chunk(b"pHYs", b"\0\0\x0b\x13\0\0\x0b\x13\x01" + t)),
    "gAMA with extra bytes": lambda t: png_insert(png(), chunk(b"gAMA", b"\0\0\xb1\x8f" + t)),
    "sBIT with extra bytes": lambda t: png_insert(png(), chunk(b"sBIT", b"\x08\x08\x08" + t)),
    "tEXt": lambda t: png_insert(png(), chunk(b"tEXt", b"Comment\0" + t)),
    "a private chunk": lambda t: png_insert(png(), chunk(b"prVt", t)),
    "sPLT palette name": lambda t: png_insert(png(), chunk(b"sPLT", t[:40] + b"\0\x08" + b"\x01\x02\x03\x04\0\x01")),
    "bytes after IEND": lambda t: png() + t,
    "text after the image data": lambda t: png_insert(png(), chunk(b"tEXt", b"Comment\0" + t), before=b"IEND"),
    "a private tag inside the kept iCCP profile": lambda t: png_insert(
        png(),
        chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_with_private_tag(t), 0)),  # stored: token visible
    ),
    "PLTE in a truecolour image (a suggested palette)": lambda t: png_insert(png(), chunk(b"PLTE", palette_bytes(t))),
    "PLTE in a greyscale image": lambda t: png_insert(png(mode="L"), chunk(b"PLTE", palette_bytes(t))),
    "palette entries past what the bit depth can index": png_palette_past_bit_depth,
    "transparency entries past the palette": lambda t: png_insert(png(mode="P"), chunk(b"tRNS", b"\xff" * 16 + t)),
    "cHRM values no decoder accepts": lambda t: png_insert(png(), chunk(b"cHRM", (t * 2)[:32])),
    "cLLI and mDCV with extra bytes": lambda t: png_insert(
        png(), chunk(b"cLLI", bytes(8) + t), chunk(b"mDCV", bytes(24) + t)
    ),
}


def apng_with_fdat_tail(token: bytes) -> bytes:
    """Bytes hidden inside an APNG frame's fdAT, after the end of its compressed stream."""
    buffer = io.BytesIO()
    frames = [pixels(seed=i) for i in range(2)]
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:])
    data = buffer.getvalue()
    start = data.index(b"fdAT") - 4
    (length,) = struct.unpack_from(">I", data, start)
    payload = data[start + 8 : start + 8 + length]
    return data[:start] + chunk(b"fdAT", payload + token) + data[start + 12 + length :]


REFUSED_PNG_CASES: dict[str, Callable[[bytes], bytes]] = {
    "bytes hidden in IDAT after the compressed stream": png_with_idat_tail,
    "bytes hidden in an APNG frame after its compressed stream": apng_with_fdat_tail,
}


# ---------------------------------------------------------------------- WebP


def riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WEBP" + chunks


def webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def webp(*, animated: bool = False, orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": 80}
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if animated:
        frames = [pixels(seed=i) for i in range(3)]
        frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100, **options)
    else:
        pixels().save(buffer, "WEBP", **options)
    return buffer.getvalue()


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found, pos = [], 12
    while pos + 8 <= len(data):
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        found.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return found


def webp_build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return riff(b"".join(webp_chunk(f, p) for f, p in chunks))


def webp_add(token_chunk: tuple[bytes, bytes], *, flags: int = 0) -> bytes:
    chunks = webp_chunks(webp(orientation=6))
    fourcc, payload = chunks[0]
    assert fourcc == b"VP8X"
    chunks[0] = (fourcc, bytes([payload[0] | flags]) + payload[1:])
    return webp_build([*chunks, token_chunk])


def webp_frame_with(extra: tuple[bytes, bytes]) -> bytes:
    chunks = webp_chunks(webp(animated=True))
    for index, (fourcc, payload) in enumerate(chunks):
        if fourcc == b"ANMF":
            chunks[index] = (fourcc, payload + webp_chunk(*extra))
            break
    return webp_build(chunks)


def webp_simple_with_exif(orientation: int, token: bytes) -> bytes:
    """A simple-format file (no VP8X) that still carries an EXIF chunk, as some tools write: Orientation and Make."""
    exif = tiff_header_ifd([(0x0112, 3, 1, struct.pack(">H", orientation)), (0x010F, 2, 4, b"Cam\0")]) + token
    chunks = [c for c in webp_chunks(webp()) if c[0] in (b"VP8 ", b"VP8L")]
    return webp_build([*chunks, (b"EXIF", exif)])


def webp_raw_alpha(token: bytes) -> bytes:
    """A lossy WebP with alpha whose ALPH chunk is uncompressed (one byte per pixel), the token after the plane."""
    buffer = io.BytesIO()
    image = pixels().convert("RGBA")
    image.putalpha(pixels().convert("L"))
    image.save(buffer, "WEBP", quality=80)
    chunks = webp_chunks(buffer.getvalue())
    assert [fourcc for fourcc, _ in chunks] == [b"VP8X", b"ALPH", b"VP8 "]
    plane = image.getchannel("A").tobytes()
    return webp_build([chunks[0], (b"ALPH", b"\0" + plane + token), chunks[2]])


def webp_replace(data: bytes, fourcc: bytes, change: Callable[[bytes], bytes]) -> bytes:
    return webp_build([(f, change(p) if f == fourcc else p) for f, p in webp_chunks(data)])


WEBP_CASES: dict[str, Callable[[bytes], bytes]] = {
    "EXIF chunk with a bogus offset": lambda t: webp_add((b"EXIF", b"II*\0\xff\xff\0\0" + t), flags=0x08),
    "XMP chunk that is not XML": lambda t: webp_add((b"XMP ", b"<x " + t), flags=0x04),
    "an unknown chunk": lambda t: webp_add((b"ZZZZ", t)),
    "an EXIF chunk inside an ANMF frame": lambda t: webp_frame_with((b"EXIF", b"MM\0*\0\0\0\x08" + t)),
    "an unknown chunk inside an ANMF frame": lambda t: webp_frame_with((b"ABCD", t)),
    "bytes after the RIFF end": lambda t: webp() + t,
    "bytes after the plane of an uncompressed ALPH chunk": webp_raw_alpha,
    "a second VP8 image after the image of a simple file": lambda t: webp_build(
        [*(c for c in webp_chunks(webp()) if c[0] == b"VP8 "), (b"VP8 ", t)]
    ),
    "extra bytes in ANIM": lambda t: webp_replace(webp(animated=True), b"ANIM", lambda p: p + t),
}


# ---------------------------------------------------------------------- GIF


def gif(*, animated: bool = False) -> bytes:
    buffer = io.BytesIO()
    frames = [
        pixels(seed=i).convert("P", palette=Image.Palette.ADAPTIVE, colors=32) for i in range(2 if animated else 1)
    ]
    frames[0].save(buffer, "GIF", save_all=animated, append_images=frames[1:], loop=0, duration=100)
    return buffer.getvalue()


def gif_replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, old
    return data.replace(old, new, 1)


def sub_blocks(payload: bytes) -> bytes:
    return (
        b"".join(bytes([len(payload[i : i + 255])]) + payload[i : i + 255] for i in range(0, len(payload), 255)) + b"\0"
    )


def gif_before_trailer(extension: bytes) -> bytes:
    data = gif()
    return data[:-1] + extension + data[-1:]


def gif_first_image(data: bytes) -> tuple[int, int, int]:
    """Where the first image descriptor of a GIF starts, where its LZW sub-blocks start and where they end."""
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    assert data[pos] == 0x2C
    flags = data[pos + 9]
    at = pos + 11 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    end = at
    while data[end]:
        end += 1 + data[end]
    return pos, at, end + 1


def gif_lzw_payload(data: bytes, at: int, end: int) -> bytes:
    payload, pos = b"", at
    while pos < end - 1:
        payload += data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + data[pos]
    return payload


def gif_after_end_code(token: bytes) -> bytes:
    """The token inside the first frame's sub-blocks, after the LZW end code."""
    data = gif()
    _, at, end = gif_first_image(data)
    return data[:at] + sub_blocks(gif_lzw_payload(data, at, end) + token) + data[end:]


def gif_wider_global_table(token: bytes) -> bytes:
    """The global colour table doubled in size, the token in the entries no pixel can index."""
    data = gif()
    bits = data[10] & 7
    size = 3 << (bits + 1)
    extra = (token * (2 * size // len(token) + 1))[:size]
    return data[:10] + bytes([(data[10] & 0xF8) | (bits + 1)]) + data[11 : 13 + size] + extra + data[13 + size :]


GIF_CASES: dict[str, Callable[[bytes], bytes]] = {
    "extra sub-blocks in NETSCAPE2.0": lambda t: gif_replace(
        gif(animated=True), b"NETSCAPE2.0\x03\x01\x00\x00\x00", b"NETSCAPE2.0\x03\x01\x00\x00" + sub_blocks(t)
    ),
    "extra sub-blocks in a graphic control extension": lambda t: gif_with_gce_extra(t),
    "a comment extension": lambda t: gif_before_trailer(b"\x21\xfe" + sub_blocks(t)),
    "a plain-text extension": lambda t: gif_before_trailer(b"\x21\x01\x0c" + bytes(12) + sub_blocks(t)),
    "an unknown application extension": lambda t: gif_before_trailer(b"\x21\xff\x0bUNKNOWNAPP1" + sub_blocks(t)),
    "an XMP application extension": lambda t: gif_before_trailer(b"\x21\xff\x0bXMP DataXMP" + sub_blocks(t)),
    "bytes after the trailer": lambda t: gif() + t,
    "bytes after the LZW end code inside the image sub-blocks": gif_after_end_code,
    "colour table entries past what the LZW code size can index": gif_wider_global_table,
    "a NETSCAPE2.0 sub-block that is not a loop count": lambda t: gif_replace(
        gif(animated=True), b"NETSCAPE2.0\x03\x01\x00\x00\x00", b"NETSCAPE2.0" + sub_blocks(b"\x02" + t)
    ),
}


def gif_with_gce_extra(token: bytes) -> bytes:
    data = gif(animated=True)
    at = data.index(b"\x21\xf9\x04")
    return data[: at + 7] + sub_blocks(token) + data[at + 8 :]


# ---------------------------------------------------------------------- TIFF


def tiff(**tags: object) -> bytes:
    """A TIFF from Pillow carrying ``tags`` ({tag id as 'tNNN': value})."""
    from PIL import TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0112] = 6
    for key, value in tags.items():
        info[int(key[1:])] = value
    buffer = io.BytesIO()
    pixels().save(buffer, "TIFF", tiffinfo=info)
    return buffer.getvalue()


def tiff_page(*extra: tuple[int, int, object], grey: bool = False, strip_tail: bytes = b"") -> bytes:
    """An uncompressed page from the test-side TIFF writer with ``extra`` entries (replacing those of the same tag)."""
    from . import tiff_support

    page = tiff_support.rgb_page(16, 12, 7)
    if grey:
        page.entries = [e for e in page.entries if e[0] not in (0x0102, 0x0106, 0x0115)]
        page.entries += [(0x0102, 3, (8,)), (0x0106, 3, (1,)), (0x0115, 3, (1,))]
        page.strips = [page.strips[0][: 16 * 12]]
    tags = {tag for tag, _, _ in extra}
    page.entries = [e for e in page.entries if e[0] not in tags] + list(extra)
    if strip_tail:
        page.strip_counts = [len(page.strips[0]) + len(strip_tail)]
        page.strips = [page.strips[0] + strip_tail]
    return tiff_support.build([page])


def rationals(token: bytes, count: int) -> tuple[tuple[int, int], ...]:
    """``count`` fractions whose numerators and denominators spell the token (in a little-endian file)."""
    words = struct.unpack(f"<{2 * count}I", (token * (8 * count // len(token) + 1))[: 8 * count])
    return tuple(zip(words[0::2], words[1::2], strict=True))


def shorts(token: bytes) -> tuple[int, ...]:
    """SHORT values that spell the token (in a little-endian file)."""
    padded = token + b"\0" * (len(token) % 2)
    return struct.unpack(f"<{len(padded) // 2}H", padded)


TIFF_CASES: dict[str, Callable[[bytes], bytes]] = {
    "tag 700 (XMP) holding garbage": lambda t: tiff(t700=b"<garbage " + t),
    "the ICC tag holding garbage": lambda t: tiff(t34675=b"garbage " + t),
    "InkNames": lambda t: tiff(t333=t.decode()),
    "a private tag": lambda t: tiff(t49152=t.decode()),
    "ImageDescription and Software": lambda t: tiff(t270=t.decode(), t305="Cam 1.0"),
    "bytes nothing references": lambda t: tiff() + t,
    "PrimaryChromaticities spelling text": lambda t: tiff_page((0x013F, 5, rationals(t, 6))),
    "WhitePoint on a greyscale image": lambda t: tiff_page((0x013E, 5, rationals(t, 2)), grey=True),
    "JPEGTables on an uncompressed image": lambda t: tiff_page((0x015B, 7, b"\xff\xd8" + t + b"\xff\xd9")),
    "MinSampleValue with extra counts": lambda t: tiff_page((0x0118, 3, (0, 0, 0, *shorts(t)))),
    "a ColorMap on an RGB image": lambda t: tiff_page((0x0140, 3, shorts(t) * 35)),
    "an ASCII-typed XResolution": lambda t: tiff_page((0x011A, 2, t + b"\0")),
    "StripByteCounts longer than the pixels": lambda t: tiff_page(strip_tail=t),
}


# ---------------------------------------------------------------------- HEIF


def heic(*, exif: bytes | None = None, two: bool = False, size: tuple[int, int] = (64, 48)) -> bytes:
    import pillow_heif

    heif = pillow_heif.from_pillow(pixels(size))
    if exif is not None:
        heif.info["exif"] = exif
    if two:
        second = heif.add_from_pillow(pixels((64, 48), seed=5))
        if exif is not None:
            second.info["exif"] = exif
    buffer = io.BytesIO()
    heif.save(buffer, quality=50)
    return buffer.getvalue()


def avif(*, size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    pixels(size, seed).save(buffer, "AVIF", quality=50)
    return buffer.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def _full(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    found, pos = [], start
    while pos < end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        found.append((kind, pos, pos + size))
        pos += size
    return found


@dataclass
class NewItem:
    """An item :func:`heif_edit` adds: its type, data, and how it relates to the others."""

    type: bytes
    payload: bytes
    content_type: bytes = b""
    describes: int | None = None
    references: list[tuple[bytes, tuple[int, ...]]] = field(default_factory=list)
    """(reference type, item ids) from this item, e.g. ``(b"dimg", (1, 2))``, ``(b"auxl", (1,))``."""
    properties: list[tuple[bytes, bool]] = field(default_factory=list)
    """(property box, essential) associated with this item (added to ipco)."""
    hidden: bool = False
    in_idat: bool = False


def heif_edit(
    data: bytes,
    *,
    items: list[NewItem] | None = None,
    item_names: dict[int, bytes] | None = None,
    properties: list[bytes] | None = None,
    handler_name: bytes = b"",
    top_level: bytes = b"",
    mdat_tail: bytes = b"",
    groups: bytes = b"",
    brands: tuple[bytes, ...] = (),
    base_offsets: bool = False,
    references: list[tuple[bytes, int, tuple[int, ...]]] | None = None,
    associate: list[tuple[int, bytes, bool]] | None = None,
    hidden: set[int] | None = None,
    primary: int | None = None,
    patch: dict[bytes, Callable[[bytes], bytes]] | None = None,
    hdlr_reserved: bytes = bytes(16),
    meta_flags: int = 0,
    entry_flags: dict[int, int] | None = None,
    meta_extra: bytes = b"",
) -> bytes:
    """Rebuild a HEIF written by pillow-heif with additions (a test-side writer, independent of the engine's).

    New items get the ids after the file's highest (see :func:`next_item_id`). ``properties`` are appended to ``ipco``
    and associated with the primary item; ``mdat_tail`` lands in ``mdat`` where no item points; ``groups`` are
    ``grpl`` children; ``base_offsets`` writes every location as a base offset plus non-zero extent offsets.
    ``patch`` rewrites the file's own property boxes by type (box bytes in, box bytes out); ``hdlr_reserved`` are
    the 16 pre-defined and reserved bytes of ``hdlr``; ``entry_flags`` the ``infe`` flags by item id;
    ``meta_extra`` boxes are added to ``meta`` (e.g. a ``dinf``).
    """
    from exif_scrubber.formats import heif_meta

    top = _children(data, 0, len(data))
    meta_kind, meta_start, meta_end = next(t for t in top if t[0] == b"meta")
    ftyp = next(data[s:e] for k, s, e in top if k == b"ftyp")
    if brands:
        ftyp = _box(b"ftyp", ftyp[8:] + b"".join(brands))
    parsed = heif_meta.parse_meta(data, heif_meta.Box(meta_start, meta_end, meta_kind, meta_start + 8))
    layout = _Layout(parsed, data, patch or {})
    for new in items or []:
        layout.add(new)
    for prop in properties or []:
        layout.associate(parsed.primary, prop, False)
    for item_id, prop, essential in associate or []:
        layout.associate(item_id, prop, essential)
    layout.references += references or []
    layout.entries = [(i, k, ct, h or i in (hidden or set())) for i, k, ct, h in layout.entries]
    names, flags = item_names or {}, entry_flags or {}
    infe = b"".join(
        _full(
            b"infe",
            struct.pack(">HH", i, 0) + k + names.get(i, b"") + b"\0" + (ct + b"\0" if k == b"mime" else b""),
            2,
            int(hidden) | flags.get(i, 0),
        )
        for i, k, ct, hidden in layout.entries
    )
    iinf = _full(b"iinf", struct.pack(">H", len(layout.entries)) + infe)
    iref = (
        _full(
            b"iref",
            b"".join(
                _box(t, struct.pack(">HH", f, len(to)) + b"".join(struct.pack(">H", x) for x in to))
                for t, f, to in layout.references
            ),
        )
        if layout.references
        else b""
    )
    ipma_body = b"".join(
        struct.pack(">HB", i, len(links)) + bytes((int(e) << 7) | x for e, x in links)
        for i, links in layout.associations.items()
    )
    iprp = _box(
        b"iprp", _box(b"ipco", layout.ipco) + _full(b"ipma", struct.pack(">I", len(layout.associations)) + ipma_body)
    )
    hdlr = _full(b"hdlr", hdlr_reserved[:4] + b"pict" + hdlr_reserved[4:16] + handler_name + b"\0")
    pitm = _full(b"pitm", struct.pack(">H", primary or parsed.primary))
    idat = _box(b"idat", b"".join(layout.payloads[i] for i in layout.idat)) if layout.idat else b""
    grpl = _box(b"grpl", groups) if groups else b""

    def meta_with(offsets: dict[int, int], mdat_at: int) -> bytes:
        base_size = 4 if base_offsets else 0
        body = struct.pack(">HH", 0x4400 | (base_size << 4), len(layout.entries))
        idat_at = 0
        for i, _, _, _ in layout.entries:
            size = len(layout.payloads[i])
            method = 1 if i in layout.idat else 0
            start = idat_at if method else offsets.get(i, 0)
            base = mdat_at if base_offsets and not method else 0
            body += struct.pack(">HH", i, method) + b"\0\0" + (struct.pack(">I", base) if base_offsets else b"")
            body += struct.pack(">HII", 1, start - base, size)
            idat_at += size if method else 0
        return _full(
            b"meta",
            hdlr + pitm + meta_extra + _full(b"iloc", body, 1) + iinf + iref + iprp + idat + grpl,
            0,
            meta_flags,
        )

    size = len(meta_with({}, 0))
    mdat_at = len(ftyp) + size + 8
    position, offsets = mdat_at, {}
    for i, _, _, _ in layout.entries:
        if i not in layout.idat:
            offsets[i] = position
            position += len(layout.payloads[i])
    mdat = _box(
        b"mdat", b"".join(layout.payloads[i] for i, _, _, _ in layout.entries if i not in layout.idat) + mdat_tail
    )
    return ftyp + meta_with(offsets, mdat_at) + mdat + top_level


class _Layout:
    """The items, references and properties of the file being rebuilt by :func:`heif_edit`."""

    def __init__(self, parsed: object, data: bytes, patch: dict[bytes, Callable[[bytes], bytes]]) -> None:
        from exif_scrubber.formats.heif_meta import Meta

        assert isinstance(parsed, Meta)
        self.payloads = {i: b"".join(data[s : s + n] for s, n in item.extents) for i, item in parsed.items.items()}
        self.entries = [(i, item.type, item.content_type, item.hidden) for i, item in parsed.items.items()]
        self.references = [(r.type, r.from_id, r.to_ids) for r in parsed.references]
        patch = {b"hvcC": _hvcc_reserved_zero, **patch}
        unchanged: Callable[[bytes], bytes] = lambda raw: raw  # noqa: E731
        self.ipco = b"".join(patch.get(p.type, unchanged)(data[p.start : p.end]) for p in parsed.properties)
        self.count = len(parsed.properties)
        self.associations = {i: list(item.properties) for i, item in parsed.items.items()}
        self.next_id = max(parsed.items) + 1
        self.idat: set[int] = set()

    def associate(self, item_id: int, prop: bytes, essential: bool) -> None:
        self.ipco += prop
        self.count += 1
        self.associations.setdefault(item_id, []).append((essential, self.count))

    def add(self, new: NewItem) -> None:
        item_id, self.next_id = self.next_id, self.next_id + 1
        self.entries.append((item_id, new.type, new.content_type, new.hidden))
        self.payloads[item_id] = new.payload
        if new.describes is not None:
            self.references.append((b"cdsc", item_id, (new.describes,)))
        self.references += [(kind, item_id, to) for kind, to in new.references]
        for prop, essential in new.properties:
            self.associate(item_id, prop, essential)
        if new.in_idat:
            self.idat.add(item_id)


def _hvcc_reserved_zero(raw: bytes) -> bytes:
    """hvcC with the reserved bit of each NAL unit array zero, as ISO/IEC 14496-15 has it (libheif writes its
    array_completeness flag there): the files :func:`heif_edit` writes are otherwise in canonical form, so a
    hiding place is the only finding."""
    body, pos = bytearray(raw), 8 + 23
    for _ in range(raw[8 + 22]):
        body[pos] &= 0xBF
        count, pos = struct.unpack_from(">H", raw, pos + 1)[0], pos + 3
        for _ in range(count):
            pos += 2 + struct.unpack_from(">H", raw, pos)[0]
    return bytes(body)


def next_item_id(data: bytes) -> int:
    """The id :func:`heif_edit` gives the first item it adds."""
    from exif_scrubber.formats import heif_meta

    kind, start, end = next(t for t in _children(data, 0, len(data)) if t[0] == b"meta")
    return max(heif_meta.parse_meta(data, heif_meta.Box(start, end, kind, start + 8)).items) + 1


def uuid_property(token: bytes) -> bytes:
    return _box(b"uuid", bytes(range(16)) + token[:16].ljust(16, b"."))


HEIF_CASES: dict[str, Callable[[bytes], bytes]] = {
    "an Exif item replaced with garbage": lambda t: heif_edit(
        heic(), items=[NewItem(b"Exif", b"\0\0\0\0garbage " + t, describes=1)]
    ),
    "an XMP item replaced with garbage": lambda t: heif_edit(
        heic(), items=[NewItem(b"mime", b"<not xml " + t, b"application/rdf+xml", describes=1)]
    ),
    "a top-level free box holding text": lambda t: heif_edit(heic(), top_level=_box(b"free", t)),
    "a top-level skip box holding text": lambda t: heif_edit(heic(), top_level=_box(b"skip", t)),
    "a mime item of type text/plain": lambda t: heif_edit(heic(), items=[NewItem(b"mime", t, b"text/plain", 1)]),
    "a 32-byte uuid property": lambda t: heif_edit(heic(), properties=[uuid_property(t)]),
    "an item name": lambda t: heif_edit(heic(), item_names={1: t}),
    "the handler name": lambda t: heif_edit(heic(), handler_name=t),
    "a free box inside ipco": lambda t: heif_edit(heic(), properties=[_box(b"free", t)]),
    "bytes in mdat no item references": lambda t: heif_edit(heic(), mdat_tail=t),
    "a user-description property": lambda t: heif_edit(heic(), properties=[_full(b"udes", b"en\0" + t + b"\0\0\0")]),
    "ftyp compatible brands spelling text": lambda t: heif_edit(heic(), brands=_brands(t)),
    "bytes after the fields of ispe": lambda t: heif_edit(heic(), patch={b"ispe": _append(t)}),
    "bytes after the fields of pixi": lambda t: heif_edit(heic(), patch={b"pixi": _append(t)}),
    "bytes after the fields of colr nclx": lambda t: heif_edit(heic(), patch={b"colr": _append(t)}),
    "bytes after the fields of clap": lambda t: heif_edit(heic(), patch={b"clap": _append(t)}),
    "bytes after the arrays of hvcC": lambda t: heif_edit(heic(), patch={b"hvcC": _append(t)}),
    "an SEI array in hvcC": lambda t: heif_edit(heic(), patch={b"hvcC": lambda raw: _hvcc_with_sei(raw, t)}),
    "bytes after the fields of clli and mdcv": lambda t: heif_edit(
        heic(), properties=[_box(b"clli", struct.pack(">HH", 1000, 400) + t), _box(b"mdcv", MDCV + t)]
    ),
    "bytes after the fields of irot, imir and pasp": lambda t: heif_edit(
        heic(), properties=[_box(b"irot", b"\0" + t), _box(b"imir", b"\0" + t), _box(b"pasp", PASP + t)]
    ),
    "auxC subtype bytes of an alpha plane": lambda t: _with_auxiliary(ALPHA_URN + b"\0" + t),
    "an auxiliary image whose type is text": lambda t: _with_auxiliary(b"urn:" + t + b"\0"),
    "bytes after the depth representation of a depth map": lambda t: _with_auxiliary(
        b"urn:mpeg:hevc:2015:auxid:2\0" + _depth_subtype(t)
    ),
    "a dref url string": lambda t: heif_edit(heic(), meta_extra=_dinf(t)),
    "parameters after the XMP item's content type": lambda t: heif_edit(
        heic(), items=[NewItem(b"mime", ORIENTED_XMP, b"application/rdf+xml; charset=" + t, describes=1)]
    ),
}

AVIF_CASES: dict[str, Callable[[bytes], bytes]] = {
    "an XMP item replaced with garbage": lambda t: heif_edit(
        avif(), items=[NewItem(b"mime", b"<not xml " + t, b"application/rdf+xml", describes=1)]
    ),
    "ftyp compatible brands spelling text": lambda t: heif_edit(avif(), brands=_brands(t)),
    "a metadata OBU in av1C": lambda t: heif_edit(avif(), patch={b"av1C": _append(_metadata_obu(t))}),
    "a padding OBU in av1C": lambda t: heif_edit(avif(), patch={b"av1C": _append(b"\x7a" + bytes([len(t)]) + t)}),
    "bytes after the fields of ispe": lambda t: heif_edit(avif(), patch={b"ispe": _append(t)}),
    "bytes after the fields of pixi": lambda t: heif_edit(avif(), patch={b"pixi": _append(t)}),
    "bytes in mdat no item references": lambda t: heif_edit(avif(), mdat_tail=t),
}
"""AVIF: the same hiding places in files Pillow's AVIF encoder writes, and the AV1 configuration's OBUs."""

ALPHA_URN = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
MDCV = struct.pack(">8H2I", 13250, 34500, 7500, 3000, 34000, 16000, 15635, 16450, 10_000_000, 50)
PASP = struct.pack(">II", 1, 1)
ORIENTED_XMP = build_xmp(XmpValues(orientation=1))
"""An XMP packet with a kept value that does not turn the image (libheif ignores an XMP item whose content type
has parameters, ExifTool reads it: with a turning orientation the two would disagree on the input)."""
DEPTH_SEI = bytes.fromhex("351f7bfc010bc62020")
"""A depth_representation_info SEI payload as an iPhone writes it (d_min 1.498, d_max 4.383)."""


def _append(tail: bytes) -> Callable[[bytes], bytes]:
    """Append ``tail`` to a box (its size grows with it)."""
    return lambda raw: _box(raw[4:8], raw[8:] + tail)


def _brands(token: bytes) -> tuple[bytes, ...]:
    padded = token.ljust(-(-len(token) // 4) * 4, b".")
    return tuple(padded[i : i + 4] for i in range(0, len(padded), 4))


def _hvcc_with_sei(raw: bytes, token: bytes) -> bytes:
    """hvcC with one more array: a prefix SEI NAL unit (user data unregistered) carrying ``token``."""
    payload = bytes(16) + token
    nal = b"\x4e\x01\x05" + bytes([len(payload)]) + payload + b"\x80"
    body = bytearray(raw[8:])
    body[22] += 1
    return _box(b"hvcC", bytes(body) + bytes([0x80 | 39]) + struct.pack(">HH", 1, len(nal)) + nal)


def _metadata_obu(token: bytes) -> bytes:
    """An AV1 metadata OBU of type ITU-T T.35 (user data) carrying ``token``."""
    payload = b"\x04\xb5\x00\x3c" + token + b"\x80"
    return b"\x2a" + bytes([len(payload)]) + payload


def _depth_subtype(token: bytes) -> bytes:
    nal = b"\x4e\x01\xb1" + bytes([len(DEPTH_SEI)]) + DEPTH_SEI + token
    return struct.pack(">II", len(nal) + 4, len(nal)) + nal


def _dinf(token: bytes) -> bytes:
    url = _full(b"url ", token + b"\0", 0, 0)
    return _box(b"dinf", _full(b"dref", struct.pack(">I", 1) + url))


def _with_auxiliary(aux_c: bytes) -> bytes:
    """Two images, the second an auxiliary image of the first whose auxC payload (after version and flags) is
    ``aux_c``."""
    return heif_edit(
        heic(two=True), references=[(b"auxl", 2, (1,))], associate=[(2, _full(b"auxC", aux_c), True)], hidden={2}
    )
