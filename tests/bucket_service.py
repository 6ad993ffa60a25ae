"""Moved to ``helpers.bucket_service``; this re-export keeps test modules not yet updated working until they are."""
from helpers.bucket_service import BucketService, bucket_service  # noqa: F401
