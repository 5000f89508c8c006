"""Fixtures: every database test runs on SQLite and on PostgreSQL (the real local server)."""

import asyncio
import os
import shutil
from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from chuishao.api.app import create_app
from chuishao.flows.admin import AdminService, Passwords, bootstrap
from chuishao.flows.clock import LOCAL_TZ, FixedClock
from chuishao.flows.units import UnitDirectory
from chuishao.models import metadata
from chuishao.models.config import Settings
from chuishao.models.db import Database
from chuishao.models.migrate import upgrade
from tests.county import build_county


def named_after(url: str, suffix: str) -> str:
    """The URL of a database on the same server named `<url's database>_<suffix>`."""
    u = make_url(url)
    return u.set(database=f"{u.database}_{suffix}").render_as_string(hide_password=False)


# .ci/run hands over a freshly created database; otherwise each pytest run makes (and drops) its own,
# so that runs side by side never share tables. Under pytest-xdist each worker process gets a database of its own,
# named after the given one, which it makes and drops itself.
_GIVEN_PG_URL = os.environ.get("CHUISHAO_TEST_PG_URL")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_URL = _GIVEN_PG_URL or f"postgresql://postgres@127.0.0.1:5432/chuishao_test_{os.getpid()}"
if _GIVEN_PG_URL and _WORKER:
    PG_URL = named_after(_GIVEN_PG_URL, _WORKER)
_OWN_PG_DATABASE = PG_URL != _GIVEN_PG_URL
ADMIN_PASSWORD = "admin-pass-123"
START = datetime(2026, 11, 16, 9, 0, tzinfo=LOCAL_TZ)  # a Monday morning


def _pg_admin(url: str, *statements: str) -> None:
    u = make_url(url)
    conninfo = f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql.format(db=u.database))


@pytest.fixture(scope="session")
def pg_url():
    _pg_admin(PG_URL, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', 'CREATE DATABASE "{db}"')
    upgrade(PG_URL)
    yield PG_URL
    if _OWN_PG_DATABASE:
        _pg_admin(PG_URL, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_pg(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    u = make_url(url)
    with psycopg.connect(f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}",
                         autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "chuishao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def clock():
    return FixedClock(START)


def test_settings(db_url, tmp_path, **overrides) -> Settings:
    # background rounds run right after each commit, as before batching (issue 13): the tests that snapshot every
    # table around a refused request need the earlier actions' fan-out done, not waiting out a batch window
    overrides = {"delivery_batch_seconds": 0.0, "live_batch_seconds": 0.0} | overrides
    return Settings(database_url=db_url, data_dir=tmp_path / "data",
                    secret_key="test-secret-of-at-least-thirty-two-bytes", argon2_time_cost=1,
                    argon2_memory_kib=8192, max_upload_bytes=1024 * 1024, **overrides)


test_settings.__test__ = False  # a helper, not a test


def bootstrap_settings(db_url, tmp_path, clock, **overrides) -> Settings:
    """Settings for a test database that holds the county unit and the admin user."""
    settings = test_settings(db_url, tmp_path, **overrides)

    async def run():
        db = Database(settings.url)
        svc = AdminService(db, UnitDirectory(), Passwords(1, 8192))
        await bootstrap(svc, county_code="WS", county_name="文水县", admin_password=ADMIN_PASSWORD, now=clock())
        await db.dispose()

    asyncio.run(run())
    return settings


@pytest.fixture
def settings(db_url, tmp_path):
    return test_settings(db_url, tmp_path)


@pytest.fixture
def bootstrapped(db_url, tmp_path, clock):
    return bootstrap_settings(db_url, tmp_path, clock)


@pytest.fixture
def client(bootstrapped, clock):
    app = create_app(bootstrapped, clock)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def api(client, bootstrapped):
    from tests.county import Api

    return Api(client, ADMIN_PASSWORD, bootstrapped)


@pytest.fixture
def county(api):
    """A small county: 2 townships, grids, a township team, 4 departments, catalog, users of every role."""
    build_county(api)
    return api
