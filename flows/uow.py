"""Unit of work: one short transaction per human action (see `Database.transaction`)."""

from sqlalchemy.ext.asyncio import AsyncSession  # noqa: F401  (re-exported for type hints)

from models.db import Database


def unit_of_work(db: Database):
    """Commit on success, roll back on any error. On SQLite the process's writers take turns."""
    return db.transaction()
