"""Tables, database setup and migrations. Imports nothing else of ours."""

from sqlmodel import SQLModel

from chuishao.models import (  # noqa: F401  (register tables)
    accounts,
    case_review,
    cases,
    catalog,
    clocks,
    disclosure,
    notifications,
    open311,
    org,
    reports,
    settings_table,
    timeline,
)

metadata = SQLModel.metadata
