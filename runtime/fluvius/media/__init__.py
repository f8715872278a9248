"""Media: the bytes of file fields, in a store on local disk or S3, received and served as streams.

The rows that say whose each upload is live in the database (fluvius.data.uploads); this package
only moves bytes: `open_store` picks the store that FLUVIUS_MEDIA_URL names, `receive` streams a
request body into it (hashed, size-limited, its type read from its first bytes).
"""

from fluvius.media.intake import Received, TooLarge, receive
from fluvius.media.store import MediaStore, open_store

__all__ = ["MediaStore", "Received", "TooLarge", "open_store", "receive"]
