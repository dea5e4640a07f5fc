"""``exif-audit``: audit S3 buckets and folders for image metadata with the engine's leftover scan."""

from .report import ObjectResult, Status, Summary
from .scan import Auditor

__all__ = ["Auditor", "ObjectResult", "Status", "Summary"]
