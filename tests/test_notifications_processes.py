"""Notifications across real processes: a crash between commit and delivery, and two API processes on
PostgreSQL sharing one live feed through LISTEN/NOTIFY."""

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import websockets
from sqlalchemy.engine import make_url

from chuishao.models.config import Settings
from tests.county import CHUISHAO_CLI, Api, build_county
from tests.test_notifications import Receiver, allow_loopback, eventually
from tests.test_scheduling import base_env, free_port


class HttpApi(Api):
    """The test county's helper, over real HTTP to a server process."""

    def __init__(self, base: str, admin_password: str):
        super().__init__(httpx.Client(base_url=base, timeout=30), admin_password)


def start_server(settings: Settings, port: int, log_path, **env_extra) -> subprocess.Popen:
    env = base_env(settings, CHUISHAO_SCHEDULER="worker", CHUISHAO_ARGON2_TIME_COST="1",
                   CHUISHAO_ARGON2_MEMORY_KIB="8192", **env_extra)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([*CHUISHAO_CLI, "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, Path(log_path).read_text()[-2000:]
        time.sleep(0.1)
    raise AssertionError("server did not start")


def init(settings: Settings):
    env = base_env(settings, CHUISHAO_ARGON2_TIME_COST="1", CHUISHAO_ARGON2_MEMORY_KIB="8192")
    out = subprocess.run([*CHUISHAO_CLI, "init", "--admin-password", "admin-pass-123"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_a_crash_between_commit_and_delivery_is_delivered_after_restart(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'chuishao.db'}", data_dir=tmp_path / "data")
    init(settings)
    hook = Receiver()
    port = free_port()
    # the first process commits actions but is killed before its deliverer runs
    first = start_server(settings, port, tmp_path / "serve.log", CHUISHAO_DELIVERY_DELAY="600")
    try:
        api = HttpApi(f"http://127.0.0.1:{port}", "admin-pass-123")
        build_county(api)
        allow_loopback(api)
        assert api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook", json={"address": hook.url}).status_code \
            == 200
        case = api.to_dispatched("LAND01")  # committed: the response says so
        assert case["status"] == "dispatched"
        time.sleep(1)
        assert hook.requests == []
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        second = start_server(settings, port, tmp_path / "serve.log")
        try:
            assert eventually(lambda: hook.requests, seconds=20)
            body = json.loads(hook.requests[0][1])
            assert body["event"]["case_id"] == case["id"] and "吹哨" in body["title"]
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        hook.close()


def test_an_event_caused_through_one_process_reaches_a_socket_on_another(tmp_path, pg_url):
    u = make_url(pg_url)
    name = f"{u.database}_two"
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(database_url=u.set(database=name).render_as_string(hide_password=False),
                        data_dir=tmp_path / "data")
    init(settings)
    port_a, port_b = free_port(), free_port()
    a = start_server(settings, port_a, tmp_path / "a.log")
    b = start_server(settings, port_b, tmp_path / "b.log")
    try:
        via_b = HttpApi(f"http://127.0.0.1:{port_b}", "admin-pass-123")
        build_county(via_b)
        token = via_b.token("zrzy_liaison")

        async def listen_on_a():
            async with websockets.connect(f"ws://127.0.0.1:{port_a}/api/v1/ws?token={token}") as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                case = await asyncio.to_thread(via_b.to_dispatched, "LAND01")  # acted through process B
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                return case, event

        case, event = asyncio.run(listen_on_a())
        assert (event["case_id"], event["action"]) == (case["id"], "dispatch")
    finally:
        for p in (a, b):
            p.terminate()
        for p in (a, b):
            p.wait(10)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

