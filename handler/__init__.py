"""The S3 Lambda around the scrub engine: events in, verified clean objects back under the same key."""
