"""The ``exif-scrub demo`` pipeline: embedded S3, the Lambda handler and the audit, end to end."""

from .pipeline import run_demo

__all__ = ["run_demo"]
