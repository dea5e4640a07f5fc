"""S3 plumbing shared by the Lambda handler and ``exif-audit --fix``: the one path that rewrites an object.

Nothing here knows about Lambda events or the audit's reports; both build on it.
"""
