"""`chuishao demo`: the demo county on SQLite and PostgreSQL, checked the way a user would look at it."""

import asyncio
import shutil
from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from chuishao.api.app import build_services, create_app
from chuishao.flows.audit import verify_chains
from chuishao.flows.clock import LOCAL_TZ, FixedClock
from chuishao.flows.demo.builder import DemoExists, build_demo
from chuishao.flows.demo.county import DEMO_PASSWORD
from chuishao.models import metadata
from chuishao.models.cases import Case, Extension, Remark, Verification, Whistle
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.db import Database, sync_url
from chuishao.models.migrate import upgrade
from chuishao.models.org import ROLES, Unit, User
from chuishao.models.timeline import TimelineEntry
from tests.conftest import _pg_admin, named_after, test_settings

STATES = ("reported", "accepted", "dispatched", "handling", "feedback", "closed", "rejected", "merged", "returned",
          "disputed", "suspended", "legal_review")
# one demo login per role, as the summary lists them
LOGINS = {"admin": "admin", "county_supervisor": "supervisor", "township_dispatcher": "fc_dispatcher",
          "township_liaison": "fc_liaison", "grid_worker": "fc_g1", "department_liaison": "zrzy_liaison",
          "department_officer": "zrzy_officer1", "legal_reviewer": "sfj_reviewer"}


def run_demo(settings, clock, **kw) -> tuple[str, list[str]]:
    lines: list[str] = []

    async def go():
        svc = build_services(settings, clock)
        try:
            return await build_demo(svc, months=1, log=lines.append, **kw)
        finally:
            await svc.db.dispose()

    return asyncio.run(go()), lines


def snapshot(settings) -> dict:
    """What the demo left in the database, gathered in one read."""

    async def go():
        db = Database(settings.url)
        try:
            async with db.read() as s:
                units = (await s.execute(select(Unit))).scalars().all()
                users = (await s.execute(select(User))).scalars().all()
                items = (await s.execute(select(CatalogItem))).scalars().all()
                overrides = (await s.execute(select(func.count()).select_from(CatalogOverride))).scalar_one()
                cases = (await s.execute(select(Case))).scalars().all()
                whistles = (await s.execute(select(Whistle))).scalars().all()
                extensions = (await s.execute(select(Extension.state))).scalars().all()
                remarks = (await s.execute(select(Remark.kind))).scalars().all()
                verifications = (await s.execute(select(Verification.passed))).scalars().all()
                entries = (await s.execute(select(TimelineEntry.case_id, TimelineEntry.at)
                                           .order_by(TimelineEntry.case_id, TimelineEntry.seq))).all()
            audit = await verify_chains(db)
        finally:
            await db.dispose()
        return dict(units=units, users=users, items=items, overrides=overrides, cases=cases, whistles=whistles,
                    extensions=extensions, remarks=remarks, verifications=verifications, entries=entries,
                    audit=audit)

    return asyncio.run(go())


RANDOM_COLUMNS = {("users", "password_hash")}  # argon2 salts every hash afresh


def dump(url: str) -> dict[str, list[tuple]]:
    """Every table's rows in primary-key order, as the values read back (columns in RANDOM_COLUMNS left out)."""
    engine = create_engine(sync_url(url))
    out = {}
    try:
        with engine.connect() as conn:
            for t in metadata.sorted_tables:
                skip = {c for table, c in RANDOM_COLUMNS if table == t.name}
                rows = [tuple(r) for r in conn.execute(select(*(c for c in t.columns if c.name not in skip))
                                                       .order_by(*t.primary_key.columns))]
                out[t.name] = rows
    finally:
        engine.dispose()
    return out


@pytest.fixture
def second_db(db_url, sqlite_template, tmp_path):
    """A second empty, migrated database on the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "second" / "chuishao.db"
        path.parent.mkdir()
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = named_after(db_url, "second")
    _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', 'CREATE DATABASE "{db}"')
    try:
        upgrade(url)
        yield url
    finally:
        _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_demo_builds_a_realistic_county_and_refuses_a_second_run(settings, clock, second_db, tmp_path):
    began = clock()
    summary, log = run_demo(settings, clock)
    now = clock()
    assert DEMO_PASSWORD in summary and "fc_dispatcher" in summary and "zrzy_officer1" in summary
    assert any("replaying" in line for line in log)  # progress was printed

    db = snapshot(settings)
    kinds = Counter(u.kind for u in db["units"])
    assert kinds["county"] == 1 and 7 <= kinds["township"] <= 10
    assert 35 <= kinds["grid"] <= 50 and kinds["department"] == 12 + 1 and kinds["team"] >= 3  # + 司法局
    with_polygon = [u for u in db["units"] if u.kind == "grid" and u.polygon]
    assert 0 < len(with_polygon) < kinds["grid"]
    ring = with_polygon[0].polygon["coordinates"][0]
    assert all(111.5 < lon < 112.5 and 37.0 < lat < 37.8 for lon, lat in ring)  # around 文水县
    names = {u.name for u in db["units"]}
    assert {"凤城镇", "刘胡兰镇"} <= names

    assert 25 <= len(db["items"]) <= 40
    assert any(i.devolved for i in db["items"]) and any(i.enforcement for i in db["items"])
    assert db["overrides"] >= 2

    users = db["users"]
    assert set(ROLES) <= {u.role for u in users}
    assert {"fc_dispatcher", "fc_liaison", "fc_g1", "zrzy_liaison", "zrzy_officer1", "supervisor"} <= {
        u.username for u in users}
    today = now.astimezone(LOCAL_TZ).date()
    officers = [u for u in users if u.role == "department_officer"]
    assert any(u.certificate_expires and u.certificate_expires < today for u in officers)  # one expired
    assert sum(bool(u.certificate_no) for u in officers) >= len(officers) - 2

    cases = db["cases"]
    assert 120 <= len(cases) <= 400
    statuses = Counter(c.status for c in cases)
    assert set(STATES) <= set(statuses), statuses
    assert {c.outcome for c in cases if c.status == "closed"} == {
        "resolved", "partially_resolved", "not_resolvable", "transferred"}
    assert {"urgent", "normal"} <= {c.urgency for c in cases}
    assert len({c.source for c in cases}) >= 4
    assert all(c.merged_into_id for c in cases if c.status == "merged")
    assert any(c.status == "closed" and c.rework_count for c in cases)  # failed verification, rework, passed
    assert any(c.status == "closed" and c.return_count == 1 for c in cases)  # returned once, re-dispatched
    assert any(c.status == "closed" and c.return_count >= 2 for c in cases)  # returned twice → arbitrated
    assert any(w.arbitrated for w in db["whistles"]) and any(w.state == "returned" for w in db["whistles"])
    assert {"pending", "approved", "denied"} <= set(db["extensions"])
    assert {"urge", "supervise"} <= set(db["remarks"]) and False in db["verifications"]

    # every case has an intact hash chain, and its steps move forward in time up to `now`
    assert db["audit"].ok and db["audit"].cases == len(cases)
    last: dict[int, object] = {}
    for case_id, at in db["entries"]:
        assert at <= now
        assert case_id not in last or at >= last[case_id]
        last[case_id] = at
    first = min(c.created_at for c in cases)
    assert now - timedelta(days=45) <= first < now - timedelta(days=20)

    # deterministic: the same seed and clock build the same county again, row for row, in a second database
    run_demo(test_settings(second_db, tmp_path / "second"), FixedClock(began))
    first, second = dump(settings.url), dump(second_db)
    assert len(first["cases"]) == len(cases) and len(first["timeline"]) == len(db["entries"])
    assert [t for t in first if first[t] != second[t]] == [], "the same seed built a different county"

    # a demo user of each role logs in through the API and sees cases
    with TestClient(create_app(settings, clock)) as client:
        for role, username in LOGINS.items():
            r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, (username, r.text)
            assert r.json()["user"]["role"] == role
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            page = client.get("/api/v1/cases", headers=headers, params={"page_size": 100})
            assert page.status_code == 200 and page.json()["total"] > 0, (username, page.text)
            case = page.json()["items"][0]
            timeline = client.get(f"/api/v1/cases/{case['id']}/timeline", headers=headers)
            assert timeline.status_code == 200 and timeline.json()[0]["action"] == "report"
            if role == "grid_worker":  # only their own reports
                me = next(u.id for u in users if u.username == username)
                assert page.json()["total"] == sum(1 for c in cases if c.reporter_id == me)
            if role in ("county_supervisor", "admin"):
                assert page.json()["total"] == len(cases)
                # the deadline sweep ran through the history: late open cases show red or escalated
                late = sum(client.get("/api/v1/cases", headers=headers, params={"alert": level}).json()["total"]
                           for level in ("overdue", "escalated"))
                assert late > 0

    # running it again refuses, and changes nothing
    with pytest.raises(DemoExists) as refused:
        run_demo(settings, clock)
    assert "--reset" in str(refused.value) and "已有数据" in str(refused.value)
    again = snapshot(settings)
    assert len(again["cases"]) == len(cases) and len(again["users"]) == len(users)


def test_chuishao_demo_a_second_time_keeps_the_loaded_county(settings, db_url, tmp_path, monkeypatch, capsys):
    """`./scripts/demo` runs `chuishao demo` each time: a loaded demo is kept (ready at once), `--reset`
    reloads it into a new SQLite file."""
    from chuishao.models.config import get_settings
    from tests.test_cli_refusals import cli_runner

    run = cli_runner(settings, tmp_path, monkeypatch, capsys)
    try:
        code, out, err = run("demo", "--months", "1")
        assert code == 0, err
        loaded = snapshot(settings)
        code, out, err = run("demo", "--months", "1")
        assert code == 0 and err == "", err
        assert "reusing" in out and "bulletin" not in out
        again = snapshot(settings)
        assert [c.id for c in again["cases"]] == [c.id for c in loaded["cases"]]
        assert len(again["users"]) == len(loaded["users"])
        if db_url.startswith("sqlite"):
            import sqlite3

            monkeypatch.delenv("CHUISHAO_DATABASE_URL")  # --reset replaces the data directory's SQLite file
            monkeypatch.setenv("CHUISHAO_DATA_DIR", str(tmp_path / "own"))
            assert run("demo", "--months", "1")[0] == 0
            with sqlite3.connect(tmp_path / "own" / "chuishao.db") as conn:
                conn.execute("INSERT INTO settings (key, value) VALUES ('left over', '{}')")
            code, out, err = run("demo", "--months", "1", "--reset")
            assert code == 0 and "reusing" not in out and "demo county loaded" in out
            with sqlite3.connect(tmp_path / "own" / "chuishao.db") as conn:
                assert conn.execute("SELECT count(*) FROM settings WHERE key = 'left over'").fetchone() == (0,)
    finally:
        get_settings.cache_clear()
