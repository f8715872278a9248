"""The built-in cron worker that forgets uploads no command recorded before they expired: their
rows, then their bytes. Files that events record are kept for ever."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from fluvius.application.workers import CronWorker
from fluvius.data.uploads import expired_uploads, forget_upload

if TYPE_CHECKING:
    from sqlalchemy import Table

    from fluvius.data.driver import Database
    from fluvius.media import MediaStore

EXPIRY_WORKER = "fluvius-upload-expiry"
EXPIRY_SCHEDULE = "*/10 * * * *"
BATCH = 500


async def forget_expired_uploads(
    database: Database, uploads: Table, media: MediaStore, now: dt.datetime
) -> int:
    """Delete every upload unused and expired at `now`, row first (so no command can take it
    meanwhile), then its bytes; how many were deleted."""
    forgotten = 0
    while True:
        async with database.read.connect() as connection:
            expired = await expired_uploads(connection, uploads, now, BATCH)
        for upload_id in expired:
            async with database.write.begin() as connection:
                deleted = await forget_upload(connection, uploads, upload_id, now)
            if deleted:
                await media.delete(str(upload_id))
                forgotten += 1
        if len(expired) < BATCH:
            return forgotten


def upload_expiry_worker(uploads: Table) -> CronWorker:
    """The cron worker that runs `forget_expired_uploads` every ten minutes."""

    async def forget(context: Any) -> None:
        if context.media is None:
            raise LookupError(f"{EXPIRY_WORKER} runs with a media store")
        now = dt.datetime.now(dt.UTC)
        await forget_expired_uploads(context.processor.database, uploads, context.media, now)

    return CronWorker(EXPIRY_WORKER, EXPIRY_SCHEDULE, forget, retries=1)
