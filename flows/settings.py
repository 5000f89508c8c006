"""Reading the admin's key/value settings (models/settings_table.py)."""

from models.db import Database
from models.settings_table import Setting


async def read_setting(db: Database, key: str) -> dict | None:
    """The stored value of `key` (a JSON object), or None when it was never set."""
    async with db.read() as s:
        row = await s.get(Setting, key)
    return None if row is None else row.value
