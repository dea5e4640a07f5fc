"""Lossless, verified removal of image metadata with ExifTool."""

from .engine import ScanResult, Scrubber
from .policy import ScrubPolicy
from .report import Outcome, ScrubReport, Verification

__version__ = "0.1.0"

__all__ = ["Outcome", "ScanResult", "ScrubPolicy", "ScrubReport", "Scrubber", "Verification", "__version__"]
