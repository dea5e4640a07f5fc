"""Property tests: any mix of injected metadata on any small image comes out clean and identical."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from exif_scrubber import Outcome, Scrubber
from scrub_demo.samples import MetadataRecipe, inject, make_pixels, save_image

recipes = st.builds(
    MetadataRecipe,
    gps=st.booleans(),
    camera=st.booleans(),
    serial=st.booleans(),
    timestamps=st.booleans(),
    iptc=st.booleans(),
    xmp=st.booleans(),
    comment=st.booleans(),
    thumbnail=st.booleans(),
    copyright=st.booleans(),
    orientation=st.none() | st.integers(min_value=1, max_value=8),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    recipe=recipes,
    image_format=st.sampled_from(["JPEG", "PNG", "WEBP", "TIFF"]),
    size=st.tuples(st.integers(8, 120), st.integers(8, 120)),
    mode=st.sampled_from(["RGB", "L"]),
    seed=st.integers(0, 1000),
)
def test_any_injected_metadata_is_removed_losslessly(
    scrubber: Scrubber,
    tmp_path: Path,
    recipe: MetadataRecipe,
    image_format: str,
    size: tuple[int, int],
    mode: str,
    seed: int,
) -> None:
    source = tmp_path / f"prop-{seed}-{image_format}.img"
    save_image(make_pixels(size, seed, mode if image_format != "WEBP" else "RGB"), source, image_format)
    inject(scrubber.pool, source, recipe, image_format)
    target = tmp_path / f"prop-{seed}-{image_format}.out"
    report = scrubber.scrub_file(source, target)

    assert report.outcome in (Outcome.CLEANED, Outcome.ALREADY_CLEAN), report.reason
    produced = target if target.exists() else source
    assert scrubber.scan(produced).clean
    with Image.open(source) as before, Image.open(produced) as after:
        assert before.tobytes() == after.tobytes()
        assert before.getexif().get(0x0112) == after.getexif().get(0x0112)
    if report.outcome is Outcome.CLEANED:
        assert report.verification is not None and report.verification.hash_equal
