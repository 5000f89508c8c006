"""Unit of work: one short transaction per human action."""

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Database


@contextlib.asynccontextmanager
async def unit_of_work(db: Database) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on any error. On SQLite the process's writers take turns."""
    async with db.write_lock(), db.sessions() as session, session.begin():
        yield session
