"""Estimated AWS Lambda cost per million images from a measured duration and peak memory.

An estimate, not a quote: durations are measured on the benchmark machine, not in Lambda (where
CPU share grows with the memory setting, full vCPU at 1,769 MB), and memory is this machine's peak RSS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICE_PER_GB_S = 0.0000166667
"""USD per GB-second, x86_64, first 6 billion GB-s a month, US East (N. Virginia)."""
PRICE_PER_MILLION_REQUESTS = 0.20
PRICE_SOURCE = (
    "AWS Lambda pricing page (aws.amazon.com/lambda/pricing), x86_64, US East (N. Virginia), first tier: "
    "$0.0000166667 per GB-s and $0.20 per 1M requests, as quoted in a copy of the page dated 2026-05-11 "
    "(not re-read on the day of the run: this machine has no web access)"
)
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
MEMORY_STEP_MB = 64


@dataclass(frozen=True)
class CostEstimate:
    """What one contender would cost per million images."""

    memory_mb: int | None
    """Memory setting: the measured peak rounded up to 64 MB, at least 128 MB; None if over Lambda's 10,240 MB."""
    seconds_per_image: float
    usd_per_million: float | None


def memory_setting_mb(peak_mb: float) -> int | None:
    """The smallest Lambda memory setting (64 MB steps) that holds ``peak_mb``."""
    setting = max(MIN_MEMORY_MB, math.ceil(peak_mb / MEMORY_STEP_MB) * MEMORY_STEP_MB)
    return setting if setting <= MAX_MEMORY_MB else None


def estimate(seconds_per_image: float, peak_mb: float) -> CostEstimate:
    """Duration x memory x price, plus the request charge, for 1,000,000 images."""
    memory = memory_setting_mb(peak_mb)
    if memory is None:
        return CostEstimate(None, seconds_per_image, None)
    gb_seconds = seconds_per_image * memory / 1024
    usd = 1_000_000 * (gb_seconds * PRICE_PER_GB_S) + PRICE_PER_MILLION_REQUESTS
    return CostEstimate(memory, seconds_per_image, round(usd, 2))
