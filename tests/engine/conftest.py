"""Fixtures of the engine tests: one warm scrubber per worker, sample images made on the fly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exif_scrubber import Scrubber, ScrubPolicy
from scrub_demo.samples import MetadataRecipe, make_sample

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CORPUS_SKIP_REASON = f"real-image corpus not found at {CORPUS} (it ships beside the repo on CI only)"
SampleFactory = Callable[..., Path]


def corpus_files() -> list[Path]:
    """The image files of the corpus (empty when it is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix.lower() not in (".json", ".tsv", ".md"))


@pytest.fixture(scope="session")
def scrubber() -> Iterator[Scrubber]:
    with Scrubber(ScrubPolicy()) as instance:
        yield instance


@pytest.fixture
def sample(scrubber: Scrubber, tmp_path: Path) -> SampleFactory:
    """``sample("JPEG", recipe=..., size=...)`` -> a fresh image with injected metadata."""
    counter = iter(range(1_000_000))

    def make(
        image_format: str, *, recipe: MetadataRecipe | None = None, size: tuple[int, int] = (96, 64), seed: int = 0
    ) -> Path:
        return make_sample(
            scrubber.pool, tmp_path / "in", f"sample{next(counter)}", image_format, size=size, recipe=recipe, seed=seed
        )

    return make
