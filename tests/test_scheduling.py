"""Prefect runs the sweep on its schedule, with no manual call: embedded (one `chuishao serve`) and
scale-out (PostgreSQL, `prefect server start`, `chuishao worker`, API processes), as real processes."""

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chuishao.api.app import build_services
from chuishao.flows.access import Actor
from chuishao.flows.admin import bootstrap
from chuishao.flows.clock import FixedClock
from chuishao.models.config import Settings
from chuishao.models.db import sync_url
from chuishao.models.migrate import upgrade
from tests.compose_native import NATIVE, Native
from tests.county import CHUISHAO_CLI
from tests.prefect_api import PrefectRuns, processes_with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_overdue_case(settings: Settings) -> int:
    """A county set up and an urgent case reported 40 days ago, never accepted: all three alert levels are due,
    and last month and last week lie after the county's first record, so the scheduled reports have a period
    to cover (an earlier one is skipped: nothing to report)."""
    upgrade(settings.url)
    clock = FixedClock(datetime.now(UTC) - timedelta(days=40))

    async def run(svc):
        await bootstrap(svc.admin, county_code="WS", county_name="文水县", admin_password="admin-pass-1",
                        now=clock())
        await svc.admin.create_unit({"code": "FC", "name": "凤城镇", "kind": "township", "parent": "WS"}, clock())
        await svc.admin.create_unit({"code": "FC-G1", "name": "东街网格", "kind": "grid", "parent": "FC"}, clock())
        await svc.admin.create_user({"username": "gw", "password": "secret-pass-1", "name": "网格员",
                                     "role": "grid_worker", "unit": "FC-G1"}, clock())
        return await _report_urgent(svc, clock)

    return _with_services(settings, clock, run)


def report_overdue_case(settings: Settings, title: str) -> int:
    """One more urgent case by the seeded grid worker, reported 40 days ago: its three levels are due at once."""
    clock = FixedClock(datetime.now(UTC) - timedelta(days=40))

    async def run(svc):
        return await _report_urgent(svc, clock, title)

    return _with_services(settings, clock, run)


async def _report_urgent(svc, clock, title: str = "燃气管道泄漏") -> int:
    async with svc.db.read() as s:
        grid = await svc.cases.units.by_code(s, "FC-G1")
        user_id = (await s.execute(text("SELECT id FROM users WHERE username = 'gw'"))).scalar_one()
    actor = Actor(user_id, "gw", "grid_worker", grid.id, "FC-G1", grid.parent_id)
    case = await svc.cases.report(actor, {"title": title, "urgency": "urgent"}, clock())
    return case["id"]


def _with_services(settings: Settings, clock, fn):
    async def run():
        svc = build_services(settings, clock)
        await svc.cases.calendar.load(clock())
        try:
            return await fn(svc)
        finally:
            await svc.db.dispose()

    return asyncio.run(run())


def wait_for_alerts(settings: Settings, case_id: int, seconds: float, procs) -> list[str]:
    engine = create_engine(sync_url(settings.url))
    levels: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for p in procs:
                assert p.poll() is None, f"{p.args} exited early with {p.returncode}"
            with engine.connect() as conn:
                levels = [lvl for (lvl,) in conn.execute(
                    text("SELECT level FROM alerts WHERE case_id = :c ORDER BY id"), {"c": case_id})]
            if len(levels) >= 3:
                return levels
            time.sleep(1)
    finally:
        engine.dispose()
    return levels


def wait_for_rows(settings: Settings, sql: str, done, seconds: float, procs) -> tuple:
    engine = create_engine(sync_url(settings.url))
    row = ()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for p in procs:
                assert p.poll() is None, f"{p.args} exited early with {p.returncode}"
            with engine.connect() as conn:
                row = tuple(conn.execute(text(sql)).one())
            if done(row):
                return row
            time.sleep(1)
    finally:
        engine.dispose()
    return row


def reports_month(settings: Settings) -> str:
    engine = create_engine(sync_url(settings.url))
    with engine.connect() as conn:
        month = conn.execute(text("SELECT month FROM bulletins")).scalar_one()
    engine.dispose()
    return month


def stop(*procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def base_env(settings: Settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir),
            "CHUISHAO_SECRET_KEY": "scheduling-test-secret-of-32-bytes!!", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1", **extra}


def test_embedded_serve_fires_the_scheduled_sweep(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'chuishao.db'}", data_dir=tmp_path / "data")
    case_id = seed_overdue_case(settings)
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - outlives this block, closed below
    env = base_env(settings, CHUISHAO_SWEEP_INTERVAL_SECONDS="3", CHUISHAO_REPORT_INTERVAL_SECONDS="30")
    serve = subprocess.Popen([*CHUISHAO_CLI, "serve", "--port", str(port)], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    try:
        levels = wait_for_alerts(settings, case_id, 150, [serve])
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        # the weekly checkpoint and the monthly bulletin deployments fire on their (test) schedules too
        reports = wait_for_rows(settings, "SELECT (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM bulletins)",
                                lambda row: row[0] >= 1 and row[1] >= 1, 120, [serve])
        assert reports[0] >= 1 and reports[1] >= 1
        month = reports_month(settings)
        assert (settings.data_dir / "bulletins" / month / "bulletin.pdf").stat().st_size > 10_000
        serve.terminate()  # SIGTERM: a graceful stop, not Prefect's sys.exit() in the middle of a request
        assert serve.wait(40) == 0
    finally:
        stop(serve)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "stopping" in output and "SystemExit" not in output, output[-3000:]
    assert levels == ["warning", "overdue", "escalated"], output[-3000:]
    assert "deadline-sweep" in output  # start-up says what it schedules
    assert (settings.data_dir / "prefect" / "prefect.db").exists()  # Prefect's state under the data dir


# --- the scale-out, as docker-compose.yml describes it, run as native processes (tests/compose_native.py)

# what the operator's .env holds
SECRETS = {"POSTGRES_PASSWORD": "unused-here-trust-auth", "CHUISHAO_SECRET_KEY": "scheduling-test-secret-of-32-bytes!!",
           "CHUISHAO_ADMIN_PASSWORD": "Fengcheng-east-street-2026"}
# the scheduled work, sooner: the sweep every 3 s, both reports every 20 s
KNOBS = {"CHUISHAO_SWEEP_INTERVAL_SECONDS": "3", "CHUISHAO_REPORT_INTERVAL_SECONDS": "20",
         "PREFECT_WORKER_QUERY_SECONDS": "2"}


def wait_until(what: str, done, seconds: float, procs=()) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        for p in procs:
            assert p.poll() is None, f"{p.args} exited early with {p.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


class Topology:
    """The compose services started here, each with its own log file and PREFECT_HOME (its container's)."""

    def __init__(self, native: Native, tmp_path: Path):
        self.native, self.tmp = native, tmp_path
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        self.started: set[str] = set()

    def home(self, name: str) -> str:
        return str(self.tmp / f"prefect-home-{name}")

    def marker(self, name: str) -> str:
        return f"PREFECT_HOME={self.home(name)}"

    def start(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - closed in close()
        self.logs.append(log)
        workdir = self.tmp / f"workdir-{name}"  # a container's own working directory, not this checkout
        workdir.mkdir(exist_ok=True)
        proc = subprocess.Popen(self.native.command(name), cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                env=self.native.env(name, PREFECT_HOME=self.home(name), **KNOBS))
        self.procs[name] = proc
        self.started.add(name)
        return proc

    def run_once(self, name: str, seconds: float) -> int:
        """A one-off service (compose's `init`): run it to its end; its exit status."""
        status = self.start(name).wait(seconds)
        del self.procs[name]
        return status

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def close(self) -> None:
        stop(*reversed(self.procs.values()))
        for name in self.procs:  # the safety net: nothing of this test may outlive it
            for pid in processes_with(self.marker(name)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for log in self.logs:
            log.close()


def _at(run: dict, key: str) -> datetime | None:
    return datetime.fromisoformat(run[key]) if run.get(key) else None


def test_scale_out_topology_from_the_compose_file(tmp_path, pg_url):
    """docker-compose.yml's services as native processes: PostgreSQL, `prefect server start`, `chuishao init`,
    `chuishao worker`, two API processes on one address. Alerts fire once, through the worker only; the
    worker's checkpoint and bulletin are served by the API; a worker killed mid-outage and started again
    catches up in one bounded run with truthful times; stopping it leaves no process behind."""
    u = make_url(pg_url)
    databases = {"chuishao": f"{u.database}_scale", "prefect": f"{u.database}_prefect"}
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname=postgres"

    def recreate(drop_only: bool = False) -> None:  # as deploy/postgres-init.sql does for the container
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for name in databases.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if not drop_only:
                    conn.execute(f'CREATE DATABASE "{name}"')

    recreate()
    native = Native(pg_url=pg_url, databases=databases, volumes={"data": tmp_path / "data"},
                    ports={"prefect": free_port(), "api": free_port()}, variables=SECRETS)
    settings = Settings(database_url=native.env("api")["CHUISHAO_DATABASE_URL"], data_dir=tmp_path / "data")
    case_id = seed_overdue_case(settings)
    prefect = PrefectRuns(native.env("worker")["PREFECT_API_URL"])
    api = f"http://127.0.0.1:{native.ports['api']}"
    top = Topology(native, tmp_path)
    try:
        # the compose start order; the worker is started before the Prefect server is up: it waits
        server = top.start("prefect")
        assert top.run_once("init", 120) == 0, top.log("init")
        worker = top.start("worker")
        wait_until("the Prefect server", prefect.healthy, 240, [server, worker])
        top.start("api")
        wait_until("the API", lambda: _healthy(f"{api}/healthz"), 120, top.procs.values())

        # 1. the sweep runs on its schedule, through the worker only, and each level fires once
        levels = wait_for_alerts(settings, case_id, 180, top.procs.values())
        assert levels == ["warning", "overdue", "escalated"], top.log("worker")[-3000:]
        lease = rows(settings, "SELECT value FROM settings WHERE key = 'scheduler_lease'")[0][0]
        lease = lease if isinstance(lease, dict) else json.loads(lease)
        assert lease["mode"] == "worker"
        assert {h["pid"] for h in lease["holders"].values()} == {worker.pid}  # the wrapper holds the schedules
        assert any(r["state"]["type"] == "COMPLETED" for r in prefect.runs("deadline-sweep"))  # Prefect ran it

        # 2. the worker's checkpoint and bulletin, downloaded through the API's one address
        wait_for_rows(settings, "SELECT (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM bulletins)",
                      lambda row: row[0] >= 1 and row[1] >= 1, 180, top.procs.values())
        month = reports_month(settings)
        week = rows(settings, "SELECT week FROM checkpoints ORDER BY week DESC LIMIT 1")[0][0]
        token = httpx.post(f"{api}/api/v1/auth/token", data={"username": "admin", "password": "admin-pass-1"},
                           timeout=30).json()["access_token"]
        on_disk = Path(native.volumes["data"]) / "bulletins" / month / "bulletin.pdf"
        for _ in range(4):  # a new connection each time: the kernel hands them to either API process
            auth = {"Authorization": f"Bearer {token}"}
            pdf = httpx.get(f"{api}/api/v1/bulletins/{month}.pdf", headers=auth, timeout=60)
            assert pdf.status_code == 200 and pdf.content == on_disk.read_bytes()
            xlsx = httpx.get(f"{api}/api/v1/bulletins/{month}.xlsx", headers=auth, timeout=60)
            assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
            checkpoint = httpx.get(f"{api}/api/v1/checkpoints/{week}", headers=auth, timeout=60)
            assert checkpoint.status_code == 200 and checkpoint.json()["week"] == week

        # 3. the worker is killed outright; alerts fall due while it is down; it comes back and catches up
        worker.kill()
        worker.wait(10)
        wait_until("the Prefect worker and its flow runs to end", lambda: not processes_with(top.marker("worker")),
                   90)
        down = datetime.now(UTC)
        late_case = report_overdue_case(settings, "东街路灯倒伏")

        def missed_so_far() -> int:  # sweeps scheduled since the worker died, their time passed, nobody ran them
            return sum(down < _at(r, "expected_start_time") < datetime.now(UTC) and r["state"]["type"] == "SCHEDULED"
                       for r in prefect.runs("deadline-sweep"))

        wait_until("missed sweeps", lambda: missed_so_far() >= 4, 60)
        back = datetime.now(UTC)
        worker = top.start("worker")
        wait_for_alerts(settings, late_case, 180, top.procs.values())
        seen = datetime.now(UTC)

        # 4. stopping the wrapper stops everything it started
        worker.terminate()
        assert worker.wait(60) == 0, top.log("worker")[-3000:]
        left = processes_with(top.marker("worker"))
        sweeps = prefect.runs("deadline-sweep")
        fired = rows(settings, "SELECT level, due_at, fired_at FROM alerts WHERE case_id = :c ORDER BY id",
                     c=late_case)
        alert_events = rows(settings, "SELECT count(*) FROM events WHERE kind = 'alert'")[0][0]
    finally:
        top.close()
        recreate(drop_only=True)

    worker_log = top.log("worker")
    assert "scheduler: worker" in top.log("api")  # the API processes run no scheduler of their own
    assert [lvl for lvl, _, _ in fired] == ["warning", "overdue", "escalated"], worker_log[-3000:]
    for _, due_at, fired_at in fired:
        assert utc(due_at) <= back <= utc(fired_at) <= seen  # raised after the worker came back, not in the future
    missed = [r for r in sweeps if down < _at(r, "expected_start_time") < back]
    # collapsed: at most the first missed run is started, the rest are cancelled before a process is started; the
    # catch-up is that run or, when the returning worker cancelled them all, the first one scheduled after its return
    ran = [r for r in missed if r["state"]["type"] != "CANCELLED"]
    assert len(missed) >= 4 and len(ran) <= 2, [(r["expected_start_time"], r["state"]["name"]) for r in missed]
    assert any(r["state"]["type"] == "COMPLETED" and r["start_time"] and back <= _at(r, "start_time") <= seen
               for r in sweeps), [(r["expected_start_time"], r["state"]["name"]) for r in sweeps]
    spans = sorted((_at(r, "start_time"), _at(r, "end_time")) for r in sweeps
                   if r["state"]["type"] != "CANCELLED" and r["start_time"] and r["end_time"])
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # one sweep at a time, never a stampede
    assert alert_events == 6  # each alert of both cases once
    assert left == [], left
    assert top.started == set(NATIVE)  # every service compose runs, ran here


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def rows(settings: Settings, sql: str, **params) -> list:
    engine = create_engine(sync_url(settings.url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _no_inherited_prefect(monkeypatch):
    for k in list(os.environ):
        if k.startswith("PREFECT_"):
            monkeypatch.delenv(k)
