"""Tables, database setup and migrations. Imports nothing else of ours."""

from sqlmodel import SQLModel

from models import cases, catalog, clocks, org, settings_table, timeline  # noqa: F401  (register tables)

metadata = SQLModel.metadata
