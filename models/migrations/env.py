"""Alembic environment: sync drivers, batch mode so that SQLite can alter tables."""

import os

from alembic import context

from chuishao.models import metadata
from chuishao.models.db import make_sync_engine

config = context.config
url = config.attributes.get("database_url") or os.environ.get("CHUISHAO_DATABASE_URL")
if not url:
    from chuishao.models.config import get_settings

    settings = get_settings()
    settings.ensure_data_dir()
    url = settings.url


def run() -> None:
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
