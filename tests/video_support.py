"""Movies made for the tests: PyAV encodes them, then metadata is planted everywhere a movie can hide it.

Every plant carries a unique token, so a test can search the output's raw bytes for each one. The planted places:
Apple ``Keys`` (location, make, model, software, content identifier) and ``ItemList``, ``udta`` (``©xyz``, make,
model) and XMP (written by ExifTool), header dates, handler names, the compressor name of the video description,
a box inside the audio description, a ``meta`` box inside a track, ``free`` boxes inside ``moov`` and after it,
bytes inside ``mdat`` that no track references, and timed-metadata tracks with GPS in their samples (GoPro GPMF
``gpmd`` and Google ``camm``), which ExifTool reads with ``-ee``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.bitstream import BitStreamFilterContext

from exif_scrubber.exiftool_process import ExifToolPool
from exif_scrubber.formats.isobmff import box, full, iter_boxes

IDENTITY = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
LATITUDE, LONGITUDE = 48.8577, 2.2950
"""Where the planted GPS says the movie was made."""


@dataclass
class Plants:
    """What was planted, by place: each value is a token that must not survive."""

    tokens: dict[str, bytes] = field(default_factory=dict)

    def token(self, place: str) -> bytes:
        value = f"TK{hashlib.sha256(place.encode()).hexdigest()[:10].upper()}X".encode()
        self.tokens[place] = value
        return value


def encode_movie(
    path: Path,
    container_format: str,
    *,
    frames: int = 12,
    size: tuple[int, int] = (64, 48),
    rotation: int = 90,
    audio: bool = True,
    plants: Plants | None = None,
    keyframe_every: int = 4,
    content_identifier: str | None = None,
) -> Path:
    """A short H.264 (+ AAC) movie; with ``plants``, Apple keys, a creation date and handler names carry tokens."""
    options = {"movflags": "use_metadata_tags"} if plants is not None else {}
    with av.open(str(path), "w", format=container_format, options=options) as out:
        if plants is not None:
            out.metadata["com.apple.quicktime.location.ISO6709"] = f"+{LATITUDE:08.4f}+{LONGITUDE:09.4f}+035.000/"
            out.metadata["com.apple.quicktime.make"] = plants.token("keys make").decode()
            out.metadata["com.apple.quicktime.model"] = plants.token("keys model").decode()
            out.metadata["com.apple.quicktime.software"] = plants.token("keys software").decode()
            pairing = content_identifier or plants.token("content identifier").decode()
            out.metadata["com.apple.quicktime.content.identifier"] = pairing
            out.metadata["creation_time"] = "2024-05-06T07:08:09Z"
        video: Any = out.add_stream("libx264", rate=10, options={"g": str(keyframe_every), "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        if plants is not None:
            video.metadata["handler_name"] = plants.token("video handler name").decode()
        sound: Any = out.add_stream("aac", rate=8000, layout="mono") if audio else None
        if sound is not None and plants is not None:
            sound.metadata["handler_name"] = plants.token("audio handler name").decode()
        for index in range(frames):
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            for number, plane in enumerate(frame.planes):
                plane.update(bytes([(index * 37 + number * 80 + row) % 256 for row in range(plane.buffer_size)]))
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if sound is not None:
            for index in range(frames * 800 // 1024 + 1):
                chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                chunk.sample_rate = 8000
                chunk.planes[0].update(struct.pack("<1024f", *[((i * (index + 3)) % 64) / 64 for i in range(1024)]))
                chunk.pts = index * 1024
                out.mux(sound.encode(chunk))
            out.mux(sound.encode())
    return path


# ---------------------------------------------------------------------- boxes


def _child_start(data: bytes, parent: Any) -> int:
    """Where a box's children start (after any fields of its own)."""
    if parent.type in (b"stsd", b"dref"):
        return parent.body + 8
    if parent.type == b"meta":
        return parent.body + 4
    if parent.type in (b"avc1", b"hvc1"):
        return parent.body + 78
    if parent.type == b"mp4a":
        version = int.from_bytes(data[parent.body + 8 : parent.body + 10], "big")
        return parent.body + {0: 28, 1: 44, 2: 64}[version]
    return parent.body


def find_path(data: bytes, path: list[bytes | tuple[bytes, int]]) -> list[Any]:
    """The chain of boxes ``path`` names (``(type, n)``: the n-th child of that type)."""
    chain: list[Any] = []
    start, end = 0, len(data)
    for step in path:
        kind, nth = step if isinstance(step, tuple) else (step, 0)
        matches = [b for b in iter_boxes(data, start, end, last_to_end=not chain) if b.type == kind]
        found = matches[nth]
        chain.append(found)
        start, end = _child_start(data, found), found.end
    return chain


def insert_into(data: bytes, path: list[bytes | tuple[bytes, int]], payload: bytes) -> bytes:
    """``payload`` appended inside the last box of ``path``; every box around it grows, and chunk offsets past
    the insertion move with the bytes."""
    chain = find_path(data, path)
    at = chain[-1].end
    out = bytearray(data[:at] + payload + data[at:])
    for found in chain:
        size = struct.unpack(">I", out[found.start : found.start + 4])[0]
        out[found.start : found.start + 4] = struct.pack(">I", size + len(payload))
    _shift_offsets(out, 0, len(out), at, len(payload))
    return bytes(out)


def replace_in(data: bytes, path: list[bytes | tuple[bytes, int]], payload: bytes) -> bytes:
    """The last box of ``path`` with ``payload`` as its contents; the boxes around it and the chunk offsets past it
    move with the bytes."""
    chain = find_path(data, path)
    target = chain[-1]
    delta = len(payload) - (target.end - target.body)
    out = bytearray(data[: target.body] + payload + data[target.end :])
    for found in chain:
        size = struct.unpack(">I", out[found.start : found.start + 4])[0]
        out[found.start : found.start + 4] = struct.pack(">I", size + delta)
    _shift_offsets(out, 0, len(out), target.end, delta)
    return bytes(out)


def overwrite(data: bytes, path: list[bytes | tuple[bytes, int]], at: int, value: bytes) -> bytes:
    """``value`` written over the bytes at ``at`` of the payload of the last box of ``path``."""
    target = find_path(data, path)[-1]
    pos = target.body + at
    assert pos + len(value) <= target.end, "the value does not fit in the box"
    return data[:pos] + value + data[pos + len(value) :]


def _shift_offsets(data: bytearray, start: int, end: int, at: int, delta: int) -> None:
    for found in iter_boxes(data, start, end, last_to_end=start == 0):
        if found.type in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
            _shift_offsets(data, found.body, found.end, at, delta)
        elif found.type in (b"stco", b"co64"):
            width = 8 if found.type == b"co64" else 4
            count = int.from_bytes(data[found.body + 4 : found.body + 8], "big")
            for index in range(count):
                pos = found.body + 8 + index * width
                offset = int.from_bytes(data[pos : pos + width], "big")
                if offset >= at:
                    data[pos : pos + width] = (offset + delta).to_bytes(width, "big")


def with_compressed_header(path: Path) -> Path:
    """The movie with a ``cmov`` (QuickTime's zlib-compressed movie header) inside ``moov``: not supported."""
    cmov = box(b"cmov", box(b"dcom", b"zlib") + box(b"cmvd", struct.pack(">I", 8) + bytes(8)))
    path.write_bytes(insert_into(path.read_bytes(), [b"moov"], cmov))
    return path


def moov_last(data: bytes) -> bool:
    boxes = list(iter_boxes(data, 0, len(data)))
    return boxes[-1].type == b"moov"


def _trak(track_id: int, handler: bytes, entry: bytes, sizes: list[int], offset: int, duration: int) -> bytes:
    fields = struct.pack(">IIIII8xhhhh", 0, 0, track_id, 0, duration, 0, 0, 0, 0)
    tkhd = full(b"tkhd", 0, 3, fields + IDENTITY + bytes(8))
    mdhd = full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 1000, duration, 0x55C4, 0))
    hdlr = full(b"hdlr", 0, 0, bytes(4) + handler + bytes(12) + b"\0")
    dinf = box(b"dinf", full(b"dref", 0, 0, struct.pack(">I", 1) + full(b"url ", 0, 1, b"")))
    chunks = 1 if sizes else 0  # (no samples: the tables of a fragmented movie's track, empty)
    stbl = box(
        b"stbl",
        full(b"stsd", 0, 0, struct.pack(">I", 1) + entry)
        + full(b"stts", 0, 0, struct.pack(">I", chunks) + struct.pack(">II", len(sizes), duration // 12) * chunks)
        + full(b"stsc", 0, 0, struct.pack(">I", chunks) + struct.pack(">III", 1, len(sizes), 1) * chunks)
        + full(b"stsz", 0, 0, struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes))
        + full(b"stco", 0, 0, struct.pack(">I", chunks) + struct.pack(">I", offset) * chunks),
    )
    minf = box(b"minf", full(b"nmhd", 0, 0, b"") + dinf + stbl)
    return box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf))


def gpmf_sample(token: bytes) -> bytes:
    """One GoPro GPMF sample: a device holding a GPS5 stream (lat, lon, alt, 2D and 3D speed) and a name."""

    def klv(key: bytes, kind: bytes, size: int, values: bytes) -> bytes:
        repeat = len(values) // size if size else 0
        padded = values + bytes(-len(values) % 4)
        return key + kind + bytes([size]) + struct.pack(">H", repeat) + padded

    scale = klv(b"SCAL", b"l", 4, struct.pack(">5i", 10_000_000, 10_000_000, 1000, 1000, 100))
    gps = klv(b"GPS5", b"l", 20, struct.pack(">5i", int(LATITUDE * 1e7), int(LONGITUDE * 1e7), 35_000, 0, 0))
    name = klv(b"STNM", b"c", 1, token)
    stream = klv(b"STRM", b"\0", 1, name + scale + gps)
    return klv(b"DEVC", b"\0", 1, stream)


def camm_sample(token: bytes) -> bytes:
    """One Google camm type-5 sample (GPS: latitude, longitude, altitude), the token after it."""
    return struct.pack("<HHddd", 0, 5, LATITUDE, LONGITUDE, 35.0) + token


def add_metadata_tracks(path: Path, plants: Plants, *, gpmd: bool = True, camm: bool = True) -> None:
    """Append timed-metadata tracks (GPS in every sample) to a movie whose header is at the end: the samples go
    in a second ``mdat`` after the header, which is rebuilt with the new tracks."""
    with path.open("r+b") as handle:
        size = handle.seek(0, 2)
        top = list(_top_boxes(handle, size))
        moov = top[-1]
        assert moov[2] == b"moov", "plant tracks only into a movie whose header is last"
        handle.seek(moov[0])
        body = handle.read(moov[1] - moov[0])[8:]
        tracks: list[tuple[bytes, bytes, list[bytes]]] = []
        if gpmd:
            entry = box(b"gpmd", bytes(6) + struct.pack(">H", 1) + bytes(4))
            tracks.append((b"meta", entry, [gpmf_sample(plants.token("gpmd samples"))] * 3))
        if camm:
            entry = box(b"camm", bytes(6) + struct.pack(">H", 1))
            tracks.append((b"camm", entry, [camm_sample(plants.token("camm samples"))] * 3))
        header_size = len(body) + 8 + sum(len(_trak(0, h, e, [len(s) for s in ss], 0, 1000)) for h, e, ss in tracks)
        mdat_start = moov[0] + header_size
        traks, payload, next_id = b"", b"", 10
        for handler, entry, samples in tracks:
            traks += _trak(next_id, handler, entry, [len(s) for s in samples], mdat_start + 8 + len(payload), 1000)
            payload += b"".join(samples)
            next_id += 1
        new_moov = box(b"moov", body + traks)
        assert len(new_moov) == header_size
        handle.seek(moov[0])
        handle.truncate()
        handle.write(new_moov + box(b"mdat", payload))


def _top_boxes(handle: Any, size: int) -> Any:
    """(start, end, type) of each top-level box, read from the file's headers only."""
    pos = 0
    while pos < size:
        handle.seek(pos)
        length, kind = struct.unpack(">I4s", handle.read(8))
        if length == 1:
            length = struct.unpack(">Q", handle.read(8))[0]
        end = size if length == 0 else pos + length
        yield pos, end, kind
        pos = end


def plant_boxes(path: Path, plants: Plants) -> None:
    """Plant tokens in boxes no ExifTool write reaches: compressor name, audio description, track meta, free
    boxes, unreferenced bytes in mdat."""
    data = path.read_bytes()
    assert moov_last(data)
    entry = find_path(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"])[-1]
    name = plants.token("compressor name")
    at = entry.body + 42
    data = data[:at] + bytes([len(name)]) + name + bytes(31 - len(name)) + data[at + 32 :]
    data = insert_into(
        data,
        [b"moov", (b"trak", 1), b"mdia", b"minf", b"stbl", b"stsd", b"mp4a"],
        box(b"udta", plants.token("audio description box")),
    )
    data = insert_into(data, [b"moov"], box(b"free", plants.token("free in moov")))
    # unreferenced bytes at the end of the (first) mdat: the movie header after it only moves
    mdat = next(b for b in iter_boxes(data, 0, len(data)) if b.type == b"mdat")
    hidden = plants.token("unreferenced mdat bytes")
    data = data[: mdat.end] + hidden + data[mdat.end :]
    size = struct.unpack(">I", data[mdat.start : mdat.start + 4])[0]
    data = data[: mdat.start] + struct.pack(">I", size + len(hidden)) + data[mdat.start + 4 :]
    path.write_bytes(data)


def plant_with_exiftool(pool: ExifToolPool, path: Path, plants: Plants) -> None:
    """``©xyz``, make and model in ``udta``, XMP, and non-zero header dates (ExifTool's QuickTime writer)."""
    result = pool.execute(
        [
            "-overwrite_original",
            "-m",
            f"-UserData:GPSCoordinates={LATITUDE}, {LONGITUDE}, 35",
            f"-UserData:Make={plants.token('udta make').decode()}",
            f"-UserData:Model={plants.token('udta model').decode()}",
            f"-XMP-dc:Title={plants.token('xmp title').decode()}",
            f"-XMP-xmp:CreatorTool={plants.token('xmp creator tool').decode()}",
            "-QuickTime:CreateDate=2024:05:06 07:08:09",
            "-Track*Date=2024:05:06 07:08:09",
            "-Media*Date=2024:05:06 07:08:09",
            str(path),
        ]
    )
    assert "1 image files updated" in result.stdout, result.stderr


def planted_movie(pool: ExifToolPool, path: Path, container_format: str, **kwargs: Any) -> tuple[Path, Plants]:
    """A movie with metadata in every place listed above; each token is checked to be in the file."""
    plants = Plants()
    encode_movie(path, container_format, plants=plants, **kwargs)
    plant_boxes(path, plants)
    add_metadata_tracks(path, plants)
    with path.open("ab") as handle:
        handle.write(box(b"free", plants.token("free at the end")))
    plant_with_exiftool(pool, path, plants)
    track_meta = full(b"hdlr", 0, 0, bytes(4) + b"mdir" + bytes(12) + plants.token("track meta") + b"\0")
    data = insert_into(path.read_bytes(), [b"moov", b"trak"], full(b"meta", 0, 0, track_meta))
    path.write_bytes(data)
    missing = [place for place, token in plants.tokens.items() if token not in data]
    assert not missing, f"not planted: {missing}"
    return path, plants


# ---------------------------------------------------------------------- independent checks


_WITHOUT_SEI = {
    "h264": "filter_units=remove_types=6|12",
    "hevc": "filter_units=remove_types=38-40",
    "av1": "filter_units=remove_types=5|15",
    "libdav1d": "filter_units=remove_types=5|15",
}
"""FFmpeg's own bitstream filters that drop SEI and filler NAL units (H.264 6 and 12, HEVC 38 to 40) and AV1
metadata/padding OBUs: the scrub removes user data from them, and every other unit must be byte for byte what it
was."""


def without_user_data(container: Any, streams: list[Any]) -> Iterator[Any]:
    """The packets of ``streams``, demuxed by FFmpeg; for H.264, HEVC and AV1 without their SEI and filler units and
    metadata/padding OBUs, as FFmpeg's ``filter_units`` bitstream filter writes them (the units that stay are byte
    for byte the input's; timing and key flags are the packet's; a filtered packet names its stream by
    ``stream_index`` only)."""
    filters = {
        s.index: BitStreamFilterContext(_WITHOUT_SEI[s.codec_context.name], s)
        for s in streams
        if s.codec_context.name in _WITHOUT_SEI
    }
    for packet in container.demux(streams):
        bsf = filters.get(packet.stream.index)
        yield from bsf.filter(packet if packet.size else None) if bsf is not None else [packet]


def parameter_sets(codec: str, extradata: bytes) -> list[bytes]:
    """What a decoder takes from a stream's configuration record, read here without the engine's code: for an
    ``avcC``/``hvcC`` its profile bytes and its SPS/PPS (VPS) NAL units, for an ``av1C`` its profile bytes and its
    configuration OBUs that are sequence headers; any other extradata as it is. SEI arrays (x265's settings),
    reserved bits and bytes after the arrays, which the scrub removes or zeroes, are left out."""
    if codec == "h264" and extradata[:1] == b"\x01":
        sps, pos = _units(extradata, 6, extradata[5] & 0x1F)
        pps, _ = _units(extradata, pos + 1, extradata[pos])
        return [extradata[1:4], *sps, *pps]
    if codec == "hevc" and extradata[:1] == b"\x01":
        kept, pos = [extradata[1:13]], 23
        for _ in range(extradata[22]):
            kind, count = extradata[pos] & 0x3F, int.from_bytes(extradata[pos + 1 : pos + 3], "big")
            units, pos = _units(extradata, pos + 3, count)
            kept += units if kind in (32, 33, 34) else []
        return kept
    if codec in ("av1", "libdav1d") and extradata[:1] == b"\x81":
        return [extradata[1:3], *_sequence_headers(extradata[4:])]
    return [extradata]


def _units(record: bytes, pos: int, count: int) -> tuple[list[bytes], int]:
    units = []
    for _ in range(count):
        length = int.from_bytes(record[pos : pos + 2], "big")
        units.append(record[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return units, pos


def _sequence_headers(obus: bytes) -> list[bytes]:
    found, pos = [], 0
    while pos < len(obus):
        header = obus[pos]
        pos += 2 if header & 0x04 else 1
        size, shift = 0, 0
        while True:
            size, pos, shift = size | (obus[pos] & 0x7F) << shift, pos + 1, shift + 7
            if not obus[pos - 1] & 0x80:
                break
        if (header >> 3) & 0x0F == 1:
            found.append(obus[pos : pos + size])
        pos += size
    return found


def sample_hashes(path: Path) -> dict[str, str]:
    """Per audio/video stream, a SHA-256 over its packets' bytes (FFmpeg's demuxer, not the engine's walker); for
    H.264, HEVC and AV1 the packets without their SEI and filler units and metadata/padding OBUs
    (:func:`without_user_data`)."""
    hashes: dict[str, Any] = {}
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        kinds = {s.index: s.type for s in streams}
        for out in without_user_data(container, streams):
            if out.size:
                key = f"{kinds[out.stream_index]}{out.stream_index}"
                hashes.setdefault(key, hashlib.sha256()).update(bytes(out))
    return {key: digest.hexdigest() for key, digest in hashes.items()}


def first_and_last_frames(path: Path) -> tuple[Any, Any, int]:
    """Decode every video frame; the first, the last (as RGB bytes) and the rotation of the first."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return frames[0].to_rgb().planes[0], frames[-1].to_rgb().planes[0], int(frames[0].rotation)


def stream_summary(path: Path) -> list[tuple[str, str, int, int]]:
    """(type, codec, frames, duration) of each stream."""
    with av.open(str(path)) as container:
        return [
            (s.type, s.codec_context.name if s.codec_context else "-", s.frames, s.duration or 0)
            for s in container.streams
        ]


def big_movie(path: Path, target_bytes: int, *, size: tuple[int, int] = (640, 480), codec: str = "libx264") -> Path:
    """A movie of about ``target_bytes``: a few lossless intra-only frames of noise, encoded once, their packets
    muxed again and again (stream copy: seconds for a gigabyte). Every frame is a key frame, so it plays. (x264
    writes its settings as SEI user data in its first packet, which comes back every 9 packets.)"""
    import os

    options = {"g": "1", "qp": "0", "preset": "ultrafast"} if codec == "libx264" else {"g": "1", "qscale": "1"}
    with av.open(str(path), "w", format="mov") as out:
        video: Any = out.add_stream(codec, rate=25, options=options)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        packets = []
        for index in range(8):
            frame = av.VideoFrame(size[0], size[1], "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            frame.pts = index
            packets += [bytes(p) for p in video.encode(frame)]
        packets += [bytes(p) for p in video.encode()]
        written, index = 0, 0
        while written < target_bytes:
            payload = packets[index % len(packets)]
            packet = av.Packet(payload)
            packet.stream, packet.pts, packet.dts = video, index, index
            packet.time_base = Fraction(1, 25)
            packet.is_keyframe = True
            out.mux(packet)
            written += len(payload)
            index += 1
    return path


def remux(source: Path, target: Path, options: dict[str, str], container_format: str = "mp4") -> Path:
    """A stream copy of ``source`` into ``target`` with muxer ``options`` (faststart, fragmented, ...)."""
    with av.open(str(source)) as inp, av.open(str(target), "w", format=container_format, options=options) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return target


def apple_makernote(content_identifier: bytes) -> bytes:
    """An Apple maker note holding the Live Photo pairing identifier (tag 0x0011), as an iPhone writes it."""
    value = content_identifier + b"\0"
    header = b"Apple iOS\0" + b"\0\x01" + b"MM"
    data_at = len(header) + 2 + 12 + 4  # offsets count from the start of the maker note
    return header + struct.pack(">HHHII", 1, 0x0011, 2, len(value), data_at) + bytes(4) + value


def live_photo_still(path: Path, content_identifier: bytes, plants: Plants | None = None) -> Path:
    """The HEIC half of a Live Photo: EXIF with make, model and the pairing identifier in Apple's maker note."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    model = plants.token("still model").decode() if plants is not None else "iPhone 15 Pro"
    exif[0x010F], exif[0x0110], exif[0x0112] = "Apple", model, 6
    exif.get_ifd(0x8769)[0x927C] = apple_makernote(content_identifier)
    Image.new("RGB", (64, 48), (10, 200, 30)).save(path, exif=exif.tobytes())
    return path


# ---------------------------------------------------------------------- hostile movies (issue 18)


def table_movie(
    path: Path,
    *,
    sizes: list[int] | int,
    count: int,
    offsets: list[int],
    runs: list[tuple[int, int]],
    payload: int,
    tracks: int = 1,
    config: bytes = b"",
    sample: bytes = b"",
) -> Path:
    """A movie built from its sample tables alone: ``tracks`` video tracks sharing one ``mdat`` of ``payload``
    bytes (its body starts at byte 36), each with ``offsets`` (relative to the ``mdat`` body), the ``stsc`` ``runs``
    (first chunk, samples per chunk) and ``sizes`` (a list, or one size for all ``count`` samples). The tables are
    packed with ``array`` so that millions of entries take seconds. The samples are zero bytes, or ``sample`` at each
    chunk's offset (with ``config``, the ``avcC`` it decodes with, the movie plays)."""
    import sys
    from array import array

    def packed(code: str, values: Any) -> bytes:
        table = array(code, values)
        if sys.byteorder == "little":
            table.byteswap()
        return table.tobytes()

    ftyp = box(b"ftyp", b"isom" + bytes(4) + b"isom")
    body = len(ftyp) + 16
    entry = box(
        b"avc1", bytes(6) + b"\0\x01" + bytes(16) + struct.pack(">HH", 64, 48) + bytes(46) + b"\0\x18\xff\xff" + config
    )
    if isinstance(sizes, int):
        stsz = full(b"stsz", 0, 0, struct.pack(">II", sizes, count))
    else:
        stsz = full(b"stsz", 0, 0, struct.pack(">II", 0, count) + packed("I", sizes))
    stbl = box(
        b"stbl",
        full(b"stsd", 0, 0, struct.pack(">I", 1) + entry)
        + full(b"stts", 0, 0, struct.pack(">III", 1, count, 1))
        + full(b"stsc", 0, 0, struct.pack(">I", len(runs)) + b"".join(struct.pack(">III", f, n, 1) for f, n in runs))
        + stsz
        + full(b"stco", 0, 0, struct.pack(">I", len(offsets)) + packed("I", (body + o for o in offsets))),
    )
    traks = b""
    for number in range(1, tracks + 1):
        fields = struct.pack(">IIIII8xhhhh", 0, 0, number, 0, count, 0, 0, 0, 0)
        tkhd = full(b"tkhd", 0, 3, fields + IDENTITY + bytes(8))
        mdhd = full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 1000, count, 0x55C4, 0))
        hdlr = full(b"hdlr", 0, 0, bytes(4) + b"vide" + bytes(12) + b"\0")
        dinf = box(b"dinf", full(b"dref", 0, 0, struct.pack(">I", 1) + full(b"url ", 0, 1, b"")))
        minf = box(b"minf", full(b"vmhd", 0, 1, bytes(8)) + dinf + stbl)
        traks += box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf))
    header = struct.pack(">IIIIIH10x", 0, 0, 1000, count, 0x10000, 0x100) + IDENTITY + bytes(24)
    mvhd = full(b"mvhd", 0, 0, header + struct.pack(">I", tracks + 1))
    with path.open("wb") as out:
        out.write(ftyp + struct.pack(">I4sQ", 1, b"mdat", 16 + payload))
        if sample:
            spacing = offsets[1] - offsets[0] if len(offsets) > 1 else len(sample)
            out.write((sample + bytes(spacing - len(sample))) * len(offsets))
        out.truncate(body + payload)
        out.seek(body + payload)
        out.write(box(b"moov", mvhd + traks))
    return path


def intra_frame(size: tuple[int, int] = (64, 48), *, noise: bool = False) -> tuple[bytes, bytes]:
    """One H.264 intra frame (a sample that decodes on its own, NAL units with 4-byte lengths as in any MP4) and the
    ``avcC`` box it decodes with, both as FFmpeg's MP4 muxer writes them (x264's settings SEI included). With
    ``noise``, the picture is seeded noise at the coarsest quantiser: about 90 bytes of slice data beside x264's 540
    bytes of SEI, where a black picture codes in about 10."""
    import io
    import random

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        options = {"g": "1", "preset": "ultrafast", **({"qp": "51"} if noise else {})}
        video: Any = out.add_stream("libx264", rate=25, options=options)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        frame = av.VideoFrame(size[0], size[1], "yuv420p")
        seeded = random.Random(1)
        for plane in frame.planes:
            plane.update(seeded.randbytes(plane.buffer_size) if noise else bytes(plane.buffer_size))
        out.mux(video.encode(frame))
        out.mux(video.encode())
    buffer.seek(0)
    with av.open(buffer) as muxed:
        stream = muxed.streams.video[0]
        config = bytes(stream.codec_context.extradata)
        first = next(bytes(p) for p in muxed.demux(stream) if p.size)
    return first, box(b"avcC", config)


# ---------------------------------------------------------------------- fragmented movies


def fragmented_movie(path: Path, plants: Plants | None = None, *, frames: int = 40) -> Path:
    """A fragmented MP4 (FFmpeg: a fragment per key frame, offsets relative to each fragment); with ``plants``, a
    GoPro GPMF track (GPS) whose samples are in the fragments: one beside the audio and video of the first fragment
    (the fragment shrinks when it goes, so every data offset in it moves), one in a fragment of its own at the end,
    and a box of its own in the first track fragment."""
    staged = encode_movie(path.with_name("staged-" + path.name), "mp4", frames=frames, keyframe_every=5)
    remux(staged, path, {"movflags": "frag_keyframe+empty_moov+default_base_moof"})
    if plants is None:
        return path
    data = bytearray(path.read_bytes())
    top = list(iter_boxes(data, 0, len(data)))
    data = bytearray(b"".join(bytes(data[b.start : b.end]) for b in top if b.type != b"mfra"))
    entry = box(b"gpmd", bytes(6) + struct.pack(">H", 1) + bytes(4))
    trak = _trak(10, b"meta", entry, [], 0, 1000)
    trex = full(b"trex", 0, 0, struct.pack(">5I", 10, 1, 1000, 0, 0))
    data = bytearray(insert_into(bytes(data), [b"moov", b"mvex"], trex))
    data = bytearray(insert_into(bytes(data), [b"moov"], trak))
    first = next(b for b in iter_boxes(data, 0, len(data)) if b.type == b"moof")
    mdat = next(b for b in iter_boxes(data, first.end, len(data)) if b.type == b"mdat")
    sample = gpmf_sample(plants.token("gpmd samples in the first fragment"))
    unknown = box(b"zzzz", plants.token("box in a track fragment"))
    traf = box(b"traf", _gpmd_fragment(0) + unknown)
    growth = len(traf)
    at = mdat.end + growth - first.start  # where the sample lands, relative to the grown fragment
    traf = box(b"traf", _gpmd_fragment(at, len(sample)) + unknown)
    _shift_trun_offsets(data, first, growth)
    out = data[: first.end] + traf + data[first.end : mdat.end] + sample + data[mdat.end :]
    struct.pack_into(">I", out, first.start, first.end - first.start + growth)
    struct.pack_into(">I", out, mdat.start + growth, mdat.end - mdat.start + len(sample))
    last = gpmf_sample(plants.token("gpmd samples in a fragment of their own"))
    moof = box(b"moof", full(b"mfhd", 0, 0, struct.pack(">I", 999)) + box(b"traf", _gpmd_fragment(0, len(last))))
    moof = box(
        b"moof", full(b"mfhd", 0, 0, struct.pack(">I", 999)) + box(b"traf", _gpmd_fragment(len(moof) + 8, len(last)))
    )
    out += moof + box(b"mdat", last) + box(b"emsg", plants.token("event message"))
    path.write_bytes(bytes(out))
    return path


def _gpmd_fragment(offset: int, size: int = 0) -> bytes:
    """tfhd (track 10, relative to its fragment) and a one-sample trun at ``offset``."""
    tfhd = full(b"tfhd", 0, 0x020000, struct.pack(">I", 10))
    return tfhd + full(b"trun", 0, 0x201, struct.pack(">IiI", 1, offset, size))


def _shift_trun_offsets(data: bytearray, moof: Any, delta: int) -> None:
    """Move the data offsets of every run of a fragment by ``delta`` (it grows before its data)."""
    for traf in iter_boxes(data, moof.body, moof.end):
        if traf.type != b"traf":
            continue
        for run in iter_boxes(data, traf.body, traf.end):
            if run.type == b"trun" and data[run.body + 3] & 1:
                (offset,) = struct.unpack_from(">i", data, run.body + 8)
                struct.pack_into(">i", data, run.body + 8, offset + delta)


def pcm_movie(path: Path, codec: str) -> Path:
    """A QuickTime movie with H.264 video and uncompressed stereo sound (``sowt``, ``twos``, ``in24`` ...), which
    FFmpeg stores sample by sample (one ``stts`` entry of duration 1) and reads chunk by chunk."""
    with av.open(str(path), "w", format="mov") as out:
        video: Any = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound: Any = out.add_stream(codec, rate=8000, layout="stereo")
        for index in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            for plane in frame.planes:
                plane.update(bytes([index * 20 % 256]) * plane.buffer_size)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        for index in range(8):
            chunk = av.AudioFrame(format=sound.codec_context.format.name, layout="stereo", samples=1000)
            chunk.sample_rate, chunk.pts = 8000, index * 1000
            for plane in chunk.planes:
                plane.update(bytes((j * 7 + index) % 256 for j in range(plane.buffer_size)))
            out.mux(sound.encode(chunk))
        out.mux(sound.encode())
    return path
