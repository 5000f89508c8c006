"""Reading the admin's key/value settings (models/settings_table.py)."""

from chuishao.models.db import Database
from chuishao.models.settings_table import Setting


async def read_setting(db: Database, key: str) -> dict | None:
    """The stored value of `key` (a JSON object), or None when it was never set."""
    async with db.read() as s:
        row = await s.get(Setting, key)
    return None if row is None else row.value


async def write_setting(db: Database, key: str, value: dict) -> dict:
    """Store `value` (a JSON object) under `key`, replacing what was there, in one short transaction."""
    async with db.transaction() as s:
        row = await s.get(Setting, key)
        if row is None:
            s.add(Setting(key=key, value=value))
        else:
            row.value = value
    return value
