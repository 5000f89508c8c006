"""Honest catch-up after an outage (issue 12): alerts record when they fell due and when they were raised, and
missed scheduled runs neither stampede nor get lost.

The stamping rule is tested with the injectable clock on both databases; the catch-up itself with real
processes: PostgreSQL, `prefect server start`, and plain `prefect worker start` processes, the first of which
comes up only after several sweep intervals without any worker, and dies in the middle of a sweep."""

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial

import psycopg
import pytest
from sqlalchemy.engine import make_url

from chuishao.flows.clock import LOCAL_TZ, FixedClock
from chuishao.flows.jobs import run_redelivery
from chuishao.flows.periods import previous_week
from chuishao.flows.sweep import sweep
from chuishao.models.config import Settings
from tests.prefect_api import PrefectRuns, processes_with
from tests.test_notifications import Receiver, idle_county
from tests.test_scheduling import base_env, free_port, rows, seed_overdue_case, stop


def utc(t: datetime | str) -> datetime:
    """A timestamp read with raw SQL (naive UTC; SQLite answers text) made aware."""
    t = datetime.fromisoformat(t) if isinstance(t, str) else t
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


class TickingClock(FixedClock):
    """Moves one minute every time it is read: a sweep that takes time to raise its batches."""

    def __call__(self):
        self.advance(minutes=1)
        return self.now


def test_caught_up_alerts_are_stamped_when_raised_not_when_due(county, clock):
    api = county
    svc = api.client.app.state.services
    cases = [api.report(urgency="urgent") for _ in range(3)]  # accept within 30 minutes, escalation 24 h later
    raised_from = clock.now + timedelta(days=3)  # nobody swept for three days
    ticking = TickingClock(raised_from)
    result = api.client.portal.call(partial(sweep, batch=1), svc.db, svc.cases.calendar.current, ticking)
    assert len(result) == 9  # three levels for each case, each once

    fired = rows(api.settings, "SELECT case_id, level, due_at, fired_at FROM alerts ORDER BY id")
    assert sorted((c, lvl) for c, lvl, _, _ in fired) == sorted(
        (c["id"], lvl) for c in cases for lvl in ("warning", "overdue", "escalated"))
    for _, _, due_at, fired_at in fired:
        # raised when the sweep ran (each batch reads the clock once), not at the minute it fell due
        assert utc(due_at) < raised_from < utc(fired_at) <= ticking.now
    assert len({f for _, _, _, f in fired}) == 3  # one reading per batch (one case's clock), not one per sweep
    # the outbox says both, and its time is the raising
    events = rows(api.settings, "SELECT case_id, action, at, payload FROM events WHERE kind = 'alert' ORDER BY id")
    assert len(events) == 9
    stamped = {(c, lvl): (d, f) for c, lvl, d, f in fired}
    for case_id, level, at, payload in events:
        due_at, fired_at = stamped[(case_id, level)]
        payload = payload if isinstance(payload, dict) else json.loads(payload)
        assert utc(at) == utc(fired_at)
        assert datetime.fromisoformat(payload["fired_at"]) == utc(fired_at)
        assert datetime.fromisoformat(payload["due_at"]) == utc(due_at)
        assert payload["fired_at"].endswith("+08:00")  # shown in Asia/Shanghai, like the deadline


def test_a_sweep_never_stamps_a_time_after_its_clock(county, clock):
    api = county
    svc = api.client.app.state.services
    api.report(urgency="urgent")
    clock.advance(minutes=31)  # the warning (24 min) and the deadline (30 min) have passed
    result = api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, clock)
    assert [lvl for _, _, lvl in result] == ["warning", "overdue"]
    (latest,) = rows(api.settings, "SELECT max(fired_at) FROM alerts")[0]
    assert utc(latest) <= clock.now
    # a fixed time still works: a replay or a drill at a chosen moment stamps that moment
    clock.advance(hours=24)
    at = clock.now
    result = api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, at)
    assert [lvl for _, _, lvl in result] == ["escalated"]
    (stamped,) = rows(api.settings, "SELECT fired_at FROM alerts WHERE level = 'escalated'")[0]
    assert utc(stamped) == at


def test_a_late_alert_is_delivered_saying_when_it_fell_due_and_when_it_was_raised(tmp_path, db_url, clock):
    """The redelivery job sends what a late sweep raised: the text names both times, and each attempt is recorded
    when it was made, not when the job began."""
    hook = Receiver()
    try:
        with idle_county(db_url, tmp_path, clock, "sthj_liaison", hook.url) as api:
            settings = api.settings
            case = api.to_handling("ENV01")
            svc = api.client.app.state.services
            raised = clock.now + timedelta(days=14)  # the sweep ran two weeks late
            fired = api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, raised)
            assert [lvl for c, _, lvl in fired if c == case["id"]] == ["warning", "overdue", "escalated"]
            ticking = TickingClock(raised)
            result = asyncio.run(run_redelivery(ticking, settings))
    finally:
        hook.close()
    assert result["sent"] == len(hook.requests) >= 3
    due = {lvl: utc(d) for lvl, d in rows(settings, "SELECT level, due_at FROM alerts WHERE case_id = :c",
                                          c=case["id"])}
    sent = [json.loads(body) for _, body in hook.requests]
    texts = {m["event"]["action"]: m["body"] for m in sent if m["event"]["kind"] == "alert"}
    assert set(texts) == {"warning", "overdue", "escalated"}
    for level, body in texts.items():
        assert f"到期 due: {due[level].astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}" in body
        assert f"发出 raised: {raised.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}" in body
    attempts = [utc(a) for (a,) in rows(settings, "SELECT at FROM delivery_attempts ORDER BY id")]
    assert len(attempts) == len(hook.requests)
    assert all(a < b for a, b in itertools.pairwise(attempts))  # each when it was made
    assert raised < attempts[0] and attempts[-1] <= ticking.now


# --- the catch-up with real processes -------------------------------------------------------------------

SWEEP_INTERVAL = 3  # seconds
OUTAGE_INTERVALS = 6  # sweep runs missed before the worker comes up


def terminal(run: dict) -> bool:
    return run["state"]["type"] in ("COMPLETED", "CANCELLED", "FAILED", "CRASHED")


def wait_until(what: str, done, seconds: float, procs):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited early with {p.returncode}"
        if done():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def stop_group(proc) -> None:
    """The worker's process group, SIGTERM first (its flow runs have sessions of their own: processes_with)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def last_mondays(now: datetime, n: int) -> list[datetime]:
    """The last `n` Monday 09:00 (Asia/Shanghai) before `now`, oldest first: when the weekly checkpoint runs."""
    local = now.astimezone(LOCAL_TZ)
    monday = (local - timedelta(days=local.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    if monday > local:
        monday -= timedelta(days=7)
    return [monday - timedelta(days=7 * k) for k in reversed(range(n))]


@pytest.fixture
def databases(pg_url):
    """Our database and Prefect's, both on the local PostgreSQL, dropped afterwards."""
    u = make_url(pg_url)
    names = (f"{u.database}_catchup", f"{u.database}_catchup_prefect")
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname=postgres"

    def recreate(drop_only: bool = False):
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if not drop_only:
                    conn.execute(f'CREATE DATABASE "{name}"')

    recreate()
    yield (u.set(database=names[0]).render_as_string(hide_password=False),
           u.set(drivername="postgresql+asyncpg", database=names[1]).render_as_string(hide_password=False))
    recreate(drop_only=True)


def test_after_an_outage_missed_runs_collapse_and_alerts_are_stamped_truthfully(tmp_path, databases):
    """No worker for several sweep intervals; then one comes up and dies mid-sweep (killed outright, its flow-run
    process too); then the scheduler starts again. The missed sweeps collapse into one run that raises every
    alert once, stamped when it was raised; the missed checkpoints each still run for their week."""
    url, prefect_db = databases
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    case_id = seed_overdue_case(settings)  # all three levels long due
    prefect_port = free_port()
    prefect_url = f"http://127.0.0.1:{prefect_port}/api"
    env = base_env(settings, CHUISHAO_SWEEP_INTERVAL_SECONDS=str(SWEEP_INTERVAL),
                   PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=prefect_url,
                   PREFECT_API_DATABASE_CONNECTION_URL=prefect_db, PREFECT_UI_ENABLED="false",
                   PREFECT_WORKER_QUERY_SECONDS="2",
                   # a report run waiting for its deployment's slot is retried this soon (default 30 s)
                   PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS="3")
    prefect = PrefectRuns(prefect_url)
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("prefect", "dying", "worker")}  # noqa: SIM115
    procs: dict[str, subprocess.Popen] = {}

    def start_worker(name: str, **extra) -> subprocess.Popen:
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "chuishao", "--type", "process"],
            env={**env, "CHUISHAO_TEST_WORKER": name, **extra}, stdout=logs[name], stderr=subprocess.STDOUT,
            start_new_session=True)
        return procs[name]

    def scheduler_starts() -> None:  # what `chuishao worker` does before it starts a Prefect worker
        subprocess.run([sys.executable, "-c", "import asyncio; from api.worker import register; "
                        "asyncio.run(register(print))"], env=env, check=True, timeout=120)

    try:
        procs["prefect"] = server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
            env=env, stdout=logs["prefect"], stderr=subprocess.STDOUT)
        wait_until("the Prefect server", prefect.healthy, 180, [server])
        scheduler_starts()
        # the outage: the server schedules the sweep every few seconds and nobody runs it
        began = datetime.now(UTC)
        wait_until(f"{OUTAGE_INTERVALS} missed sweeps",
                   lambda: len(prefect.late_runs("deadline-sweep", datetime.now(UTC))) >= OUTAGE_INTERVALS,
                   120, [server])
        # two Monday checkpoints missed as well (a long outage): each week must still get its checkpoint
        mondays = last_mondays(began, 2)
        for monday in mondays:
            prefect.backfill("weekly-checkpoint", monday)

        # a worker comes up and dies between claiming the due clocks and committing: nothing of it remains but a
        # flow run Prefect still believes is running, holding the sweep's only slot
        dying = start_worker("dying", CHUISHAO_SWEEP_PAUSE_AFTER_CLAIM="600")
        wait_until("a sweep to claim the due clocks", lambda: "pausing before commit" in (
            tmp_path / "dying.log").read_text(), 120, [server, dying])
        for pid in processes_with("CHUISHAO_TEST_WORKER=dying"):
            os.kill(pid, signal.SIGKILL)
        dying.wait(10)

        scheduler_starts()
        back = datetime.now(UTC)
        worker = start_worker("worker")

        def caught_up() -> bool:
            fired = rows(settings, "SELECT count(*) FROM alerts WHERE case_id = :c", c=case_id)[0][0]
            late = prefect.late_runs("deadline-sweep", back) + prefect.late_runs("weekly-checkpoint", back)
            return fired >= 3 and all(terminal(r) for r in late)

        wait_until("the catch-up", caught_up, 240, [server, worker])
        seen = datetime.now(UTC)
        sweeps = prefect.late_runs("deadline-sweep", back)
        checkpoints = prefect.late_runs("weekly-checkpoint", back)
    finally:
        server = procs.pop("prefect", None)
        for name, proc in procs.items():
            stop_group(proc)
            for pid in processes_with(f"CHUISHAO_TEST_WORKER={name}"):  # its flow runs have sessions of their own
                os.kill(pid, signal.SIGKILL)
        if server is not None:
            stop(server)
        for f in logs.values():
            f.close()
    worker_log = (tmp_path / "worker.log").read_text()[-4000:]

    # the missed sweeps collapse: at most two ran (each a ~115 MB process), the rest were cancelled unstarted;
    # the one the dead worker left running was put back on the schedule, not left holding the slot
    ran = [r for r in sweeps if r["run_count"]]  # entered Running (a cancelled run has a start_time too)
    print(f"\n{len(sweeps)} sweeps missed: {len(ran)} started, "
          f"{sum(r['state']['type'] == 'CANCELLED' for r in sweeps)} cancelled")
    assert len(sweeps) >= OUTAGE_INTERVALS
    assert 1 <= len(ran) <= 2, worker_log
    # the run the dead worker left running, once put back on the schedule, is either run or (as the missed sweep it
    # then is) cancelled — which depends on timing (seen under load: 16 missed, the one started cancelled, and the
    # next sweep on time raised the alerts); it never stays Running, holding the slot, or crashes. That the catch-up
    # happened is the alerts below: each fired once, after the worker came back.
    assert {r["state"]["type"] for r in ran} <= {"COMPLETED", "SCHEDULED", "CANCELLED"}, worker_log
    assert all(r["state"]["type"] == "CANCELLED" for r in sweeps if not r["run_count"]), worker_log

    # every alert once, stamped when the worker raised it: after it came back, never in the future
    fired = rows(settings, "SELECT level, due_at, fired_at FROM alerts WHERE case_id = :c ORDER BY id", c=case_id)
    assert [lvl for lvl, _, _ in fired] == ["warning", "overdue", "escalated"]
    for _, due_at, fired_at in fired:
        assert utc(due_at) <= back <= utc(fired_at) <= seen
    assert rows(settings, "SELECT count(*) FROM events WHERE kind = 'alert'")[0][0] == 3

    # the reports still ran once for each missed period, late, one after the other
    assert sorted(r["state"]["type"] for r in checkpoints) == ["COMPLETED", "COMPLETED"], worker_log
    weeks = {w for (w,) in rows(settings, "SELECT week FROM checkpoints WHERE NOT preview")}
    assert {previous_week(m) for m in mondays} <= weeks
