"""The migrations build exactly the schema the models describe, on both databases, so an upgrade of an
existing installation gets every table, column and index a fresh one has."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chuishao.models import metadata
from chuishao.models.db import make_sync_engine


# SQLite cannot reflect expression indexes (lower(username)); PostgreSQL compares it, so the check still holds there
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_migrated_schema_is_the_one_the_models_describe(db_url):
    engine = make_sync_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    assert diff == []
