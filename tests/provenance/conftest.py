"""Fixtures of the provenance tests: a camera's and a deployer's test chains, and scrubbers for both policies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exif_scrubber import Scrubber, ScrubPolicy
from exif_scrubber.provenance import Provenance
from exif_scrubber.provenance.signing import PemKey

from .c2pa_support import Chain, make_chain


@pytest.fixture(scope="session")
def scrubber() -> Iterator[Scrubber]:
    """Today's policy (``strip``)."""
    with Scrubber(ScrubPolicy()) as instance:
        yield instance


@pytest.fixture(scope="session")
def camera() -> Chain:
    return make_chain("Test Camera Maker")


@pytest.fixture(scope="session")
def deployer() -> Chain:
    return make_chain("Test Deployer")


@pytest.fixture(scope="session")
def resigner(deployer: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrubber]:
    key, chain = deployer.write(tmp_path_factory.mktemp("keys"), "deployer")
    provenance = Provenance(PemKey.from_files(key, chain))
    with Scrubber(ScrubPolicy(provenance="resign"), provenance=provenance) as instance:
        yield instance
