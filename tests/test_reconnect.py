"""When PostgreSQL drops the connections (a restart, a failover, an administrator's kill), the service recovers:
at most the requests that were on a dead connection fail, and the next ones are answered as usual. The action path
runs its statements on the driver's own connection (models/compiled.py), so it must retire a dead connection
itself, as SQLAlchemy would."""

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _drop_connections(db_url: str) -> int:
    name = make_url(db_url).database
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def _reports(api, n: int) -> list[int]:
    who, out = api.as_("gw_fc1"), []
    for _ in range(n):
        try:
            out.append(who.post("/api/v1/cases", json={"title": "东街占道经营", "description": "重连后上报"})
                       .status_code)
        except Exception:  # noqa: BLE001 - the test client raises what would be a 500
            out.append(500)
    return out


def test_reports_and_actions_recover_after_postgresql_drops_every_connection(county, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    api = county
    for round_ in range(2):  # the second time too: a connection that failed once must not stay in the pool
        case = api.report()
        api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
        assert _drop_connections(db_url) > 0
        statuses = _reports(api, 12)
        # each pooled connection that died may fail one request; then every request is answered again
        assert statuses[-6:] == [201] * 6, (round_, statuses)
        assert set(statuses) <= {201, 500}
        fresh = api.report()
        api.act("disp_fc", fresh["id"], "accept", {"category": "ENV01"})
        assert api.get("disp_fc", fresh["id"])["status"] == "accepted"
