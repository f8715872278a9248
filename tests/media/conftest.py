"""The media stores of tests/media/stores.py, as fixtures here."""

from tests.media.stores import media_url, s3_endpoint

__all__ = ["media_url", "s3_endpoint"]
