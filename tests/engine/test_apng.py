"""APNG: frames counted from acTL/fcTL, metadata between frames removed, every frame decoded identically.

Animations are made by Pillow and by FFmpeg (PyAV's ``apng`` encoder); text and private chunks carrying a token are
then planted between the frames. Pillow decodes every frame of input and output (the independent oracle).
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from exif_scrubber.formats.png import PngHandler
from exif_scrubber.policy import ScrubPolicy

from .raster_support import assert_cleaned_without, frames, png_build, png_chunks, token


def _pictures(count: int) -> list[Image.Image]:
    return [Image.new("RGB", (40, 30), (index * 50, 90, 220 - index * 40)) for index in range(count)]


def pillow_apng(*, default_image: bool = False) -> bytes:
    pictures = _pictures(4)
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, "PNG", save_all=True, append_images=pictures[1:], default_image=default_image, duration=80, loop=0
    )
    return buffer.getvalue()


def ffmpeg_apng() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="apng") as container:
        stream = container.add_stream("apng", rate=10)
        stream.width, stream.height, stream.pix_fmt = 40, 30, "rgb24"
        for picture in _pictures(3):
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def planted_between_frames(data: bytes, secret: bytes) -> bytes:
    """A tEXt before every fcTL after the default image, a private chunk after the last frame."""
    chunks: list[tuple[bytes, bytes]] = []
    image_seen = False
    for kind, body in png_chunks(data):
        if kind in (b"fcTL", b"IEND") and image_seen:
            chunks.append((b"tEXt", b"Comment\0" + secret))
        if kind == b"IEND":
            chunks.append((b"prVt", secret))
        image_seen |= kind == b"IDAT"
        chunks.append((kind, body))
    return png_build(chunks)


MAKERS = {
    "Pillow": pillow_apng,
    "Pillow, default image outside the animation": lambda: pillow_apng(default_image=True),
    "FFmpeg": ffmpeg_apng,
}


@pytest.mark.parametrize("maker", list(MAKERS))
def test_an_apng_with_metadata_between_frames_is_cleaned_frame_for_frame(
    scrubber: Scrubber, tmp_path: Path, maker: str
) -> None:
    secret = token()
    original = MAKERS[maker]()
    source = tmp_path / "animated.png"
    source.write_bytes(planted_between_frames(original, secret))
    assert len(frames(source)) >= 3
    out = assert_cleaned_without(scrubber, source, tmp_path / "out.png", secret)
    kinds = [kind for kind, _ in png_chunks(out)]
    assert kinds.count(b"fcTL") == [kind for kind, _ in png_chunks(original)].count(b"fcTL")
    assert b"tEXt" not in kinds and b"prVt" not in kinds


@pytest.mark.parametrize("maker", list(MAKERS))
def test_frames_are_counted_from_actl_and_fctl(maker: str) -> None:
    data = MAKERS[maker]()
    chunks = png_chunks(data)
    with Image.open(io.BytesIO(data)) as image:
        shown = image.n_frames
    model = PngHandler().walk(data, ScrubPolicy())
    assert model.frames == shown
    assert model.frames == chunks[[k for k, _ in chunks].index(b"acTL")][1][3] + int(
        [k for k, _ in chunks].index(b"IDAT") < [k for k, _ in chunks].index(b"fcTL")
    )


def test_sequence_numbers_out_of_order_are_found_and_never_written(scrubber: Scrubber, tmp_path: Path) -> None:
    """Sequence numbers are 32 free bits per chunk unless they count 0, 1, 2 ...: the audit reports such a file, and
    (as decoders refuse it) it is refused, never written; the rewrite itself numbers the chunks it keeps from 0."""
    original = pillow_apng()
    shuffled = [
        (kind, (0x544F4B45 + index).to_bytes(4, "big") + body[4:]) if kind in (b"fcTL", b"fdAT") else (kind, body)
        for index, (kind, body) in enumerate(png_chunks(original))
    ]
    source = tmp_path / "shuffled.png"
    source.write_bytes(png_build(shuffled))
    assert not scrubber.scan(source).clean
    report = scrubber.scrub_file(source, tmp_path / "out.png")
    assert report.outcome is Outcome.FAILED and report.reason
    assert not (tmp_path / "out.png").exists()
    handler, policy = PngHandler(), ScrubPolicy()
    data = png_build(shuffled)
    out = png_chunks(handler.rewrite(handler.walk(data, policy), data, policy))
    numbers = [int.from_bytes(body[:4], "big") for kind, body in out if kind in (b"fcTL", b"fdAT")]
    assert numbers == list(range(len(numbers)))
    rebuilt = tmp_path / "rebuilt.png"
    rebuilt.write_bytes(png_build(out))
    reference = tmp_path / "reference.png"
    reference.write_bytes(original)
    assert frames(rebuilt) == frames(reference)


def test_apng_chunks_without_an_actl_are_removed(scrubber: Scrubber, tmp_path: Path) -> None:
    """fcTL and fdAT in a file without acTL are ignored by every decoder: free bytes, removed."""
    secret = token()
    chunks = [(k, b) for k, b in png_chunks(pillow_apng()) if k != b"acTL"]
    chunks = [(k, b + secret if k == b"fdAT" else b) for k, b in chunks]
    source = tmp_path / "stray.png"
    source.write_bytes(png_build(chunks))
    out = assert_cleaned_without(scrubber, source, tmp_path / "out.png", secret)
    assert {kind for kind, _ in png_chunks(out)} == {b"IHDR", b"IDAT", b"IEND"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda body: (9).to_bytes(4, "big") + body[4:], "acTL declares 9 frames, the file holds 4"),
        (lambda body: (0).to_bytes(4, "big") + body[4:], "acTL declares 0 frames"),
    ],
)
def test_an_actl_that_does_not_count_the_frames_is_refused(
    scrubber: Scrubber, tmp_path: Path, change: object, reason: str
) -> None:
    chunks = [(k, change(b) if k == b"acTL" else b) for k, b in png_chunks(pillow_apng())]  # type: ignore[operator]
    source = tmp_path / "miscounted.png"
    source.write_bytes(png_build(chunks))
    report = scrubber.scrub_file(source, tmp_path / "out.png")
    assert report.outcome is Outcome.FAILED and reason in str(report.reason)
    assert not (tmp_path / "out.png").exists()
