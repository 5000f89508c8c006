"""Prefect runs the sweep on its schedule, with no manual call: embedded (one `chuishao serve`) and
scale-out (PostgreSQL, `prefect server start`, `chuishao worker`, API processes), as real processes."""

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import build_services
from flows.access import Actor
from flows.admin import bootstrap
from flows.clock import FixedClock
from models.config import Settings
from models.db import sync_url
from models.migrate import upgrade


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

    async def run():
        svc = build_services(settings, clock)
        await svc.cases.calendar.load(clock())
        try:
            await bootstrap(svc.admin, county_code="WS", county_name="文水县", admin_password="admin-pass-1",
                            now=clock())
            await svc.admin.create_unit({"code": "FC", "name": "凤城镇", "kind": "township", "parent": "WS"}, clock())
            await svc.admin.create_unit({"code": "FC-G1", "name": "东街网格", "kind": "grid", "parent": "FC"},
                                        clock())
            user = await svc.admin.create_user({"username": "gw", "password": "secret-pass-1", "name": "网格员",
                                                "role": "grid_worker", "unit": "FC-G1"}, clock())
            async with svc.db.read() as s:
                grid = await svc.cases.units.by_code(s, "FC-G1")
            actor = Actor(user["id"], "gw", "grid_worker", grid.id, "FC-G1", grid.parent_id)
            case = await svc.cases.report(actor, {"title": "燃气管道泄漏", "urgency": "urgent"}, clock())
            return case["id"]
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
    serve = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
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


def test_scale_out_worker_fires_the_sweep_on_postgresql(tmp_path, pg_url):
    u = make_url(pg_url)
    db = f"{u.database}_scale"
    prefect_db = f"{u.database}_prefect"
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for name in (db, prefect_db):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    url = u.set(database=db).render_as_string(hide_password=False)
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    case_id = seed_overdue_case(settings)

    prefect_port, api_port = free_port(), free_port()
    prefect_url = f"http://127.0.0.1:{prefect_port}/api"
    env = base_env(settings, CHUISHAO_SWEEP_INTERVAL_SECONDS="3", CHUISHAO_SCHEDULER="worker",
                   PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_API_URL=prefect_url,
                   PREFECT_API_DATABASE_CONNECTION_URL=u.set(drivername="postgresql+asyncpg", database=prefect_db)
                   .render_as_string(hide_password=False),
                   PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_UI_ENABLED="false")
    logs = {name: open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed in the finally below
            for name in ("prefect", "worker", "api")}
    procs = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                       "--port", str(prefect_port)], env=env, stdout=logs["prefect"],
                                      stderr=subprocess.STDOUT))
        for _ in range(240):
            try:
                if httpx.get(f"{prefect_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        procs.append(subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(api_port),
                                       "--workers", "2"], env=env, stdout=logs["api"], stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([sys.executable, "-m", "api.cli", "worker"], env=env, stdout=logs["worker"],
                                      stderr=subprocess.STDOUT))
        levels = wait_for_alerts(settings, case_id, 180, procs)
        assert httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=5).status_code == 200
    finally:
        stop(*reversed(procs))
        for f in logs.values():
            f.close()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for name in (db, prefect_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    worker_log = (tmp_path / "worker.log").read_text()
    assert levels == ["warning", "overdue", "escalated"], worker_log[-3000:]
    api_log = (tmp_path / "api.log").read_text()
    assert "scheduler: worker" in api_log  # the API processes run no scheduler of their own


@pytest.fixture(autouse=True)
def _no_inherited_prefect(monkeypatch):
    for k in list(os.environ):
        if k.startswith("PREFECT_"):
            monkeypatch.delenv(k)
