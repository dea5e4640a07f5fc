"""What FFmpeg (through PyAV) sees of a movie: the independent check beside the byte model, as Pillow is for images.

Per audio and video stream: codec, profile, pixel or sample format, dimensions, rate, channels, the codec's
configuration (a hash of its extradata), time base, duration and frame count; the display rotation is read from
the first decoded video frame, so a movie whose first frame does not decode is refused. Timed-metadata, subtitle
and timecode streams are not described: the scrub drops them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..pixels import PixelProbe, ProbeError
from .bitstream import BitstreamError
from .codec_config import canonical_config

_CONFIG_RECORDS = {"h264": b"avcC", "hevc": b"hvcC", "av1": b"av1C", "libdav1d": b"av1C"}
"""FFmpeg's codec names whose extradata, in a movie, is the payload of this configuration box."""


def probe_video(path: Path) -> PixelProbe:
    """Open ``path`` with FFmpeg's demuxer and describe its audio and video streams."""
    import av  # imported here: image-only runs never load FFmpeg

    try:
        with _open(av, path) as container:
            streams: list[Any] = [s for s in container.streams if s.type in ("video", "audio")]
            video = next((s for s in streams if s.type == "video"), None)
            parts = [_describe(stream) for stream in streams]
            rotation = _rotation(container, video)
            return PixelProbe(
                format=str(container.format.name),
                size=(video.codec_context.width, video.codec_context.height) if video is not None else (0, 0),
                mode="; ".join([*parts, f"rotation {rotation}"]),
                frames=int(video.frames) if video is not None else 0,
                orientation=None,
            )
    except ProbeError:
        raise
    except Exception as exc:  # FFmpeg's errors, and anything a damaged file provokes
        raise ProbeError(f"FFmpeg cannot read the movie ({type(exc).__name__})") from None


def _open(av: Any, path: Path) -> Any:
    """The container; metadata that is not UTF-8 must not make a movie unreadable (PyAV < 19 asks for that)."""
    try:
        return av.open(str(path), metadata_errors="ignore")
    except TypeError:  # PyAV 19 has no such argument (and no such error)
        return av.open(str(path))


def _describe(stream: Any) -> str:
    context = stream.codec_context
    extradata = hashlib.sha256(_decoder_config(context.name, bytes(context.extradata or b""))).hexdigest()[:16]
    if stream.type == "video":
        shape = f"{context.width}x{context.height} {context.format.name if context.format else '-'}"
    else:
        channels = context.layout.nb_channels if context.layout is not None else 0
        shape = f"{context.sample_rate} Hz {channels} ch {context.format.name if context.format else '-'}"
    return (
        f"{stream.type} {context.name} {stream.profile or '-'} {shape} config {extradata} "
        f"time base {stream.time_base} duration {stream.duration} frames {stream.frames}"
    )


def _decoder_config(codec: str, extradata: bytes) -> bytes:
    """The codec configuration as the scrub keeps it: an ``avcC``/``hvcC``/``av1C`` record in canonical form (reserved
    bits as the standard sets them, SEI user data and trailing bytes gone); any other extradata as it is."""
    kind = _CONFIG_RECORDS.get(codec)
    if kind is None or not extradata or extradata[0] not in (0x01, 0x81):  # not a record (e.g. Annex B)
        return extradata
    try:
        return canonical_config(kind, extradata)
    except BitstreamError:
        return extradata


def _rotation(container: Any, video: Any) -> int:
    """The display rotation of the first video frame, in degrees (0 without video)."""
    if video is None:
        return 0
    for frame in container.decode(video):
        return int(frame.rotation)
    raise ProbeError("the video track has no frame that decodes")
