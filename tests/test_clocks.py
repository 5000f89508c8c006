"""Clocks on China's working calendar, alerts fired exactly once (docs/clocks.md), with an injected clock."""

import os
import signal
import subprocess
import threading
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.sweep import sweep
from chuishao.models.db import Database, sync_url
from tests.county import CHUISHAO_CLI


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


def run_sweep(api, now: datetime):
    svc = api.client.app.state.services
    return api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, now)


def rows(settings, sql, **params):
    engine = create_engine(sync_url(settings.url))
    with engine.connect() as conn:
        out = conn.execute(text(sql), params).all()
    engine.dispose()
    return out


def test_friday_afternoon_before_a_make_up_saturday(county, clock):
    api = county
    clock.now = at("2026-10-09T16:30")  # Friday; Saturday 2026-10-10 is a make-up working day (调休)
    case = api.report()
    # accept: 2 working hours → 1 h on Friday, 1 h on Saturday morning
    assert (case["deadline"], case["provisional"]) == ("2026-10-10T10:00:00+08:00", False)
    assert case["time_left_minutes"] == 120
    clock.now = at("2026-10-10T09:30")
    case = api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
    # dispatch: 1 working day → the end of the next working day, Monday (Sunday is a rest day)
    assert case["deadline"] == "2026-10-12T17:30:00+08:00"


def test_five_working_days_over_national_day(county, clock):
    api = county
    clock.now = at("2026-09-30T10:00")
    case = api.to_handling("ENV01")
    assert case["deadline"] == "2026-10-13T17:30:00+08:00"  # 2026-09-30 + 5 working days (docs/clocks.md#defaults)


def test_deadline_in_2027_is_provisional_until_the_year_is_imported(county, clock, tmp_path):
    api = county
    clock.now = at("2026-12-28T10:00")  # Monday
    case = api.to_dispatched("ENV01")
    case = api.act("sthj_liaison", case["id"], "check_in")
    # 29, 30, 31, (1 Jan: rule-based holiday), 4, 5 January
    assert (case["deadline"], case["provisional"]) == ("2027-01-05T17:30:00+08:00", True)
    # the State Council's notice arrives: 1–4 January off
    schedule = tmp_path / "2027.csv"
    schedule.write_text("date,kind,name\n" + "".join(f"2027-01-0{d},holiday,元旦\n" for d in (1, 2, 3, 4)))
    env = {**os.environ, "CHUISHAO_DATABASE_URL": api.settings.url, "CHUISHAO_DATA_DIR": str(api.settings.data_dir)}
    out = subprocess.run([*CHUISHAO_CLI, "calendar", "import", str(schedule)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # this process learns of the import through the store (another process would reload it)
    svc = api.client.app.state.services
    api.client.portal.call(svc.cases.calendar.load, clock())
    case = api.get("sthj_liaison", case["id"])
    assert (case["deadline"], case["provisional"]) == ("2027-01-06T17:30:00+08:00", False)


def test_urgent_cases_count_wall_clock_time(county, clock):
    api = county
    clock.now = at("2026-11-21T23:00")  # Saturday night
    case = api.report(urgency="urgent")
    assert case["deadline"] == "2026-11-21T23:30:00+08:00"  # accept: 30 minutes
    clock.advance(minutes=10)
    case = api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
    assert case["deadline"] == "2026-11-22T00:10:00+08:00"  # dispatch: 1 hour, Sunday or not


def test_suspend_pauses_and_resume_keeps_the_remaining_time(county, clock):
    api = county
    clock.now = at("2026-11-16T09:00")  # Monday
    case = api.to_handling("ENV01")  # no assisting unit, so the only running clock is the handling one
    assert case["deadline"] == "2026-11-23T17:30:00+08:00" and case["time_left_minutes"] == 6 * 420
    clock.now = at("2026-11-17T09:00")
    case = api.act("liaison_fc", case["id"], "suspend", {"reason": "等待司法鉴定"})
    assert case["time_left_minutes"] == 5 * 420
    clock.now = at("2026-11-20T09:00")  # three days later, Friday
    assert api.get("liaison_fc", case["id"])["time_left_minutes"] == 5 * 420  # the clock stood still
    case = api.act("liaison_fc", case["id"], "resume")
    assert case["time_left_minutes"] == 5 * 420
    assert case["deadline"] == "2026-11-26T17:30:00+08:00"  # Fri, Mon, Tue, Wed, Thu
    assert len(run_sweep(api, at("2026-11-23T17:31"))) == 0  # the old deadline passes quietly


def test_alerts_fire_once_and_an_extension_starts_fresh_levels(county, clock, settings):
    api = county
    clock.now = at("2026-11-16T09:00")
    case = api.to_handling("ENV01")
    cid = case["id"]
    assert len(run_sweep(api, at("2026-11-20T16:00"))) == 0
    fired = run_sweep(api, at("2026-11-20T16:10"))  # 80 % of 6 × 7 working hours: Friday 16:06
    assert [lvl for c, _, lvl in fired if c == cid] == ["warning"]
    assert len(run_sweep(api, at("2026-11-20T16:20"))) == 0  # exactly once
    clock.now = at("2026-11-20T16:30")
    assert api.get("liaison_fc", cid)["alert"] == "warning"

    api.act("sthj_liaison", cid, "request_extension", {"working_days": 3, "reason": "等待测绘"})
    case = api.act("liaison_fc", cid, "approve_extension", {"note": "同意延期三个工作日"})
    assert (case["deadline"], case["alert"]) == ("2026-11-26T17:30:00+08:00", "none")
    assert len(run_sweep(api, at("2026-11-23T17:31"))) == 0  # the old deadline no longer counts
    assert [lvl for *_, lvl in run_sweep(api, at("2026-11-25T12:00"))] == ["warning"]  # fresh level
    assert [lvl for *_, lvl in run_sweep(api, at("2026-11-26T17:31"))] == ["overdue"]
    assert [lvl for *_, lvl in run_sweep(api, at("2026-11-27T17:31"))] == ["escalated"]  # a working day later
    assert len(run_sweep(api, at("2026-12-31T17:31"))) == 0
    clock.now = at("2026-11-27T18:00")
    assert api.get("supervisor", cid)["alert"] == "escalated"
    levels = rows(settings, "SELECT a.level FROM alerts a JOIN clocks c ON c.id = a.clock_id "
                            "WHERE a.case_id = :c AND c.kind = 'handle' ORDER BY a.id", c=cid)
    assert [lvl for (lvl,) in levels] == ["warning", "warning", "overdue", "escalated"]


def test_on_time_is_frozen_when_a_step_finishes(county, clock, settings):
    api = county
    clock.now = at("2026-11-16T09:00")
    case = api.report()
    clock.now = at("2026-11-16T10:30")
    api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})  # within 2 working hours
    frozen = rows(settings, "SELECT on_time FROM clocks WHERE case_id = :c AND kind = 'accept'", c=case["id"])
    assert frozen == [(True,)]
    # the admin later declares that Monday a holiday: the finished step keeps its flag
    svc = api.client.app.state.services
    api.client.portal.call(svc.cases.calendar.set_day, at("2026-11-16T00:00").date(), "holiday", "测试", clock())
    assert rows(settings, "SELECT on_time FROM clocks WHERE case_id = :c AND kind = 'accept'", c=case["id"]) \
        == [(True,)]


def _due_cases(api, clock, n=6):
    clock.now = at("2026-11-16T09:00")
    ids = [api.to_handling("ENV01")["id"] for _ in range(n)]
    return ids, at("2026-11-30T09:00")  # warning, overdue and escalation all due


@pytest.mark.parametrize("workers", [1, 2])
def test_two_sweeps_at_once_fire_each_alert_once(county, clock, settings, workers):
    # each sweeper with `workers` batches at once (the scheduled sweep runs 2 on PostgreSQL): four claimers in
    # all, small batches, every level still fires once
    api = county
    ids, now = _due_cases(api, clock)
    results, errors = [], []

    def one():
        try:
            results.append(_sweep_with(settings, now, batch=2, workers=workers))
        except Exception as err:  # noqa: BLE001 - surfaced below
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    fired = [f for r in results for f in r if f[0] in ids]
    assert len(fired) == len(set(fired))
    count = rows(settings, "SELECT count(*), count(DISTINCT clock_id || '-' || level) FROM alerts")
    assert count[0][0] == count[0][1]
    handle = rows(settings, "SELECT count(*) FROM alerts a JOIN clocks c ON c.id = a.clock_id WHERE c.kind = 'handle'")
    assert handle == [(len(ids) * 3,)]


def test_a_clock_held_by_an_action_while_the_sweep_passes_fires_in_a_later_sweep(county, clock, settings):
    # PostgreSQL's claims move on past a clock another transaction holds (SKIP LOCKED, then the next claim starts
    # after the last clock taken); that clock must not be lost, only left to a later sweep, and fire once then
    api = county
    if not settings.url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: a sweep waits for the write lock instead")
    ids, now = _due_cases(api, clock)
    held = rows(settings, "SELECT id FROM clocks WHERE case_id = :c AND kind = 'handle'", c=ids[2])[0][0]
    engine = create_engine(sync_url(settings.url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM clocks WHERE id = :k FOR UPDATE"), {"k": held})
            first = _sweep_with(settings, now, batch=2, workers=2)
            conn.rollback()
    finally:
        engine.dispose()
    assert {case for case, _, _ in first} == set(ids) - {ids[2]}
    second = _sweep_with(settings, now, batch=2, workers=2)
    assert [(case, lvl) for case, _, lvl in second] == [(ids[2], "warning"), (ids[2], "overdue"), (ids[2], "escalated")]
    assert _sweep_with(settings, now, batch=2, workers=2) == []
    fired = rows(settings, "SELECT count(*), count(DISTINCT (clock_id, level)) FROM alerts WHERE case_id = ANY(:c)",
                 c=ids)
    assert fired == [(len(ids) * 3, len(ids) * 3)]


def test_a_sweep_that_fails_says_why_commits_no_part_of_a_batch_and_leaves_the_collector_on(county, clock, settings,
                                                                                           monkeypatch):
    # the operator reads the batch's own error in the log (not "unhandled errors in a TaskGroup"); the batch
    # that failed wrote nothing, and the process's garbage collector, off while batches run, is on again
    import gc

    import chuishao.flows.sweep as sweep_module

    api = county
    ids, now = _due_cases(api, clock, n=3)
    real = sweep_module._alert_events

    def failing(out, *args):
        if any(c.case_id == ids[1] for c, _, _ in out.alerts):
            raise RuntimeError("the outbox is full")
        return real(out, *args)

    monkeypatch.setattr(sweep_module, "_alert_events", failing)
    with pytest.raises(RuntimeError, match="the outbox is full"):
        _sweep_with(settings, now, batch=1, workers=2)
    assert gc.isenabled()
    assert rows(settings, "SELECT count(*) FROM alerts WHERE case_id = :c", c=ids[1]) == [(0,)]
    monkeypatch.setattr(sweep_module, "_alert_events", real)
    _sweep_with(settings, now, batch=1, workers=2)
    fired = rows(settings, "SELECT count(*), count(DISTINCT a.clock_id || '-' || a.level) FROM alerts a "
                           "JOIN clocks c ON c.id = a.clock_id WHERE c.kind = 'handle'")
    assert fired == [(9, 9)]


def _sweep_with(settings, now, **kw):
    import asyncio

    from chuishao.flows.calendar_store import CalendarStore

    async def go():
        db = Database(settings.url)
        store = CalendarStore(db)
        await store.load(now)
        try:
            return (await sweep(db, store.current, now, **kw)).fired
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_a_sweep_killed_before_commit_fires_once_after_restart(county, clock, settings):
    api = county
    ids, now = _due_cases(api, clock, n=3)
    env = {**os.environ, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir),
           "CHUISHAO_SWEEP_PAUSE_AFTER_CLAIM": "60"}
    proc = subprocess.Popen([*CHUISHAO_CLI, "sweep", "--now", now.isoformat(), "--drill"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        while line and "claimed" not in line:
            line = proc.stderr.readline()
        assert "claimed" in line
        proc.send_signal(signal.SIGKILL)  # a real crash between claiming and committing
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rows(settings, "SELECT count(*) FROM alerts") == [(0,)]
    env.pop("CHUISHAO_SWEEP_PAUSE_AFTER_CLAIM")
    out = subprocess.run([*CHUISHAO_CLI, "sweep", "--now", now.isoformat(), "--drill"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    again = subprocess.run([*CHUISHAO_CLI, "sweep", "--now", now.isoformat(), "--drill"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert "sweep: 0 alerts fired" in again.stdout
    handle = rows(settings, "SELECT count(*) FROM alerts a JOIN clocks c ON c.id = a.clock_id WHERE c.kind = 'handle'")
    assert handle == [(len(ids) * 3,)]


@pytest.mark.parametrize("spec", ["bad", "0d", "99999d"])
def test_catalog_limits_are_validated(county, spec):
    r = county.as_("admin").post("/api/v1/catalog", json={"code": "X1", "name": "x", "category": "c",
                                                          "lead_unit": "ZRZY", "limits": {"handle": {"normal": spec}}})
    assert r.status_code == 422


def test_township_override_limits_win(county, clock):
    api = county
    clock.now = at("2026-11-16T09:00")
    api.as_("admin").put("/api/v1/catalog/ENV01/townships/FC", json={"limits": {"handle": {"normal": "2d"}}})
    case = api.to_dispatched("ENV01")
    case = api.act("sthj_liaison", case["id"], "check_in")
    assert case["deadline"] == "2026-11-18T17:30:00+08:00"


def test_calendar_endpoints_edit_days_import_years_and_set_hours(county, clock):
    api = county
    admin = api.as_("admin")
    y2026 = api.as_("disp_fc").get("/api/v1/calendar/2026").json()
    assert y2026["official"] and {"date": "2026-10-10", "kind": "workday", "name": None, "source": "package"} \
        in y2026["days"]
    assert api.as_("disp_fc").get("/api/v1/calendar/2027").json()["official"] is False

    clock.now = at("2026-11-16T09:00")
    case = api.to_handling("ENV01")
    assert case["deadline"] == "2026-11-23T17:30:00+08:00"
    # the county declares Tuesday a day off: the open deadline moves a working day later
    assert api.as_("disp_fc").put("/api/v1/calendar/days/2026-11-17", json={"kind": "holiday"}).status_code == 403
    r = admin.put("/api/v1/calendar/days/2026-11-17", json={"kind": "holiday", "name": "临时停工"})
    assert r.status_code == 200, r.text
    assert api.get("liaison_fc", case["id"])["deadline"] == "2026-11-24T17:30:00+08:00"
    assert admin.put("/api/v1/calendar/days/2026-11-17", json={"kind": None}).status_code == 200
    assert api.get("liaison_fc", case["id"])["deadline"] == "2026-11-23T17:30:00+08:00"

    # working hours: mornings only
    r = admin.put("/api/v1/calendar/hours", json={"windows": [["08:30", "12:00"]]})
    assert r.status_code == 200, r.text
    assert api.get("liaison_fc", case["id"])["deadline"] == "2026-11-23T12:00:00+08:00"
    for bad in ([["12:00", "08:30"]], [], [["25:00", "26:00"]], [["08:00", "12:00"], ["11:00", "13:00"]]):
        assert admin.put("/api/v1/calendar/hours", json={"windows": bad}).status_code == 422, bad

    r = admin.post("/api/v1/calendar/import", json={"holidays": ["2027-01-01"], "workdays": []})
    assert r.status_code == 200 and r.json()["year"] == 2027
    assert api.as_("disp_fc").get("/api/v1/calendar/2027").json()["official"] is True
    for bad in ({"holidays": ["2027-13-01"]}, {"holidays": ["2027-01-01", "2028-01-01"]}, {"holidays": []}):
        assert admin.post("/api/v1/calendar/import", json=bad).status_code == 422, bad


def test_working_minutes_between_counts_whole_days_as_the_day_by_day_walk_does():
    """Lists show time left for every row, so spans months long are counted by whole working days; the result
    must equal walking the calendar day by day, across holidays, make-up days and into a fallback year."""
    import random
    from datetime import timedelta as td

    from chuishao.flows.calendar import WorkingCalendar, from_packages
    from chuishao.flows.clock import LOCAL_TZ as TZ

    cal = WorkingCalendar(*from_packages())

    def walk(a, b):
        a, b = a.astimezone(TZ), b.astimezone(TZ)
        total, d = td(), a.date()
        while d <= b.date():
            if cal.is_workday(d):
                total += sum((max(td(), min(y, b) - max(x, a)) for x, y in cal._windows(d)), td())
            d += td(days=1)
        return total.total_seconds() / 60

    rng = random.Random(7)
    start = datetime(2025, 9, 1, tzinfo=TZ)
    for _ in range(500):
        a = start + td(minutes=rng.randrange(0, 60 * 24 * 500))
        b = a + td(minutes=rng.randrange(0, 60 * 24 * 300))
        assert cal.working_minutes_between(a, b) == walk(a, b), (a, b)
        assert cal.working_minutes_between(b, a) == -walk(a, b)
