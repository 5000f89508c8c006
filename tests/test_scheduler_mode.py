"""The scheduler mode is explicit and checked (CHUISHAO_SCHEDULER), startup says truthfully who schedules, and a
second scheduler for the same database is refused, naming the one that runs (the lease in flows/scheduler.py).
Real processes and both databases."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from chuishao.flows import scheduler
from chuishao.flows.scheduler import Holder, SchedulerTaken, claim, current, release
from chuishao.models.db import Database
from tests.county import CHUISHAO_CLI

NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
NOT_LISTENING = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHUISHAO_"))}
    return {**env, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir),
            "CHUISHAO_SECRET_KEY": "scheduler-mode-test-secret-of-32-bytes", "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}


def chuishao(env: dict, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CHUISHAO_CLI, *argv], env=env, capture_output=True, text=True,
                          timeout=timeout)


def start(env: dict, log_path, *argv: str) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - the child writes it; closed when the test's tmp dir goes
    return subprocess.Popen([*CHUISHAO_CLI, *argv], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_line(proc: subprocess.Popen, log_path, text: str, seconds: float = 240) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = log_path.read_text()
        if text in out:
            return out
        assert proc.poll() is None, f"exited with {proc.returncode} before {text!r}:\n{out[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} within {seconds} s:\n{log_path.read_text()[-3000:]}")


def wait_healthy(proc: subprocess.Popen, log_path, port: int, seconds: float = 240) -> str:
    """Wait until the API answers /healthz; returns what the process printed by then."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return log_path.read_text()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no answer within {seconds} s:\n{log_path.read_text()[-3000:]}")


def stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    """The whole of stderr: one line, Chinese first, then English after ' / '."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    zh, en = lines[0].removeprefix("错误 error: ").split(" / ", 1)
    assert re.search(r"[\u4e00-\u9fff]", zh) and re.match(r"[`A-Za-z]", en), lines[0]
    return lines[0]


@pytest.fixture
def sqlite_settings(tmp_path, sqlite_template):
    """A migrated SQLite database of its own (for what does not depend on the kind of database)."""
    import shutil

    from chuishao.models.config import Settings

    shutil.copy(sqlite_template, tmp_path / "chuishao.db")
    return Settings(database_url=f"sqlite:///{tmp_path / 'chuishao.db'}", data_dir=tmp_path / "data")


# --- the mode ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unknown_mode_is_refused_naming_the_allowed_values(sqlite_settings, command):
    env = env_for(sqlite_settings, CHUISHAO_SCHEDULER="wroker", PREFECT_API_URL=NOT_LISTENING)
    line = one_line_refusal(chuishao(env, command, *(["--port", str(free_port())] if command == "serve" else [])))
    assert "wroker" in line and "embedded" in line and "worker" in line


def test_several_api_processes_cannot_run_the_schedules_embedded(sqlite_settings):
    """Each process would schedule on its own (or, as before, none would while saying 'embedded')."""
    for mode in (None, "embedded"):
        env = env_for(sqlite_settings, **({"CHUISHAO_SCHEDULER": mode} if mode else {}))
        result = chuishao(env, "serve", "--port", str(free_port()), "--workers", "2")
        line = one_line_refusal(result)
        assert "CHUISHAO_SCHEDULER=worker" in line and "chuishao worker" in line
        assert "scheduler: embedded" not in result.stdout


def test_an_api_only_process_says_who_runs_the_schedules(bootstrapped, tmp_path):
    """CHUISHAO_SCHEDULER=worker: the API says it schedules nothing, and whether a `chuishao worker` holds the
    schedules of its database (here one still waiting for its Prefect server)."""
    env = env_for(bootstrapped, CHUISHAO_SCHEDULER="worker")
    port = free_port()
    api = start(env, tmp_path / "api1.log", "serve", "--port", str(port))
    try:
        out = wait_healthy(api, tmp_path / "api1.log", port)
    finally:
        stop(api)
    assert "scheduler: worker" in out and "no scheduler holds this database's schedules" in out, out

    worker = start({**env, "PREFECT_API_URL": NOT_LISTENING}, tmp_path / "worker.log", "worker")
    try:
        wait_for_line(worker, tmp_path / "worker.log", "waiting for the Prefect server")
        api = start(env, tmp_path / "api2.log", "serve", "--port", str(port))
        try:
            out = wait_healthy(api, tmp_path / "api2.log", port)
        finally:
            stop(api)
    finally:
        stop(worker)
    assert f"the schedules are run by `chuishao worker` (Prefect {NOT_LISTENING}) on {socket.gethostname()} " \
           f"pid {worker.pid}" in out, out


# --- a second scheduler, as real processes ------------------------------------------------------------------


def test_an_embedded_serve_beside_a_worker_is_refused_naming_it(bootstrapped, tmp_path):
    """The worker holds the schedules from its start (before its Prefect server answers)."""
    env = env_for(bootstrapped)
    worker = start({**env, "PREFECT_API_URL": NOT_LISTENING}, tmp_path / "worker.log", "worker")
    try:
        wait_for_line(worker, tmp_path / "worker.log", "holding the schedules")
        result = chuishao(env, "serve", "--port", str(free_port()))
    finally:
        stop(worker)
    line = one_line_refusal(result)
    assert f"`chuishao worker` (Prefect {NOT_LISTENING}) on {socket.gethostname()} pid {worker.pid}, since " in line
    assert "CHUISHAO_SCHEDULER=worker" in line  # what to do if this process should only serve the API
    assert "scheduler: embedded" not in result.stdout and "starting the Prefect server" not in result.stdout
    # the worker stopped and let go of the schedules
    async def lease():
        db = Database(bootstrapped.url)
        try:
            return await current(db, datetime.now(UTC))
        finally:
            await db.dispose()

    assert asyncio.run(lease()) is None


def test_a_second_embedded_serve_and_a_worker_beside_one_are_refused(tmp_path, sqlite_settings):
    env = env_for(sqlite_settings)
    first = start(env, tmp_path / "first.log", "serve", "--port", str(free_port()))
    try:
        out = wait_for_line(first, tmp_path / "first.log", "scheduler: embedded")
        second = chuishao(env, "serve", "--port", str(free_port()))
        worker = chuishao({**env, "PREFECT_API_URL": NOT_LISTENING}, "worker")
        assert first.poll() is None  # the first one is untouched
    finally:
        stop(first)
    assert "this `chuishao serve`" in out and "runs the schedules in-process" in out  # startup says it truthfully
    for result in (second, worker):
        line = one_line_refusal(result)
        assert f"an embedded `chuishao serve` on {socket.gethostname()} pid {first.pid}, since " in line, line
    assert "stop it first" in one_line_refusal(worker)


# --- the lease rule, on both databases -----------------------------------------------------------------------


def run(coro_fn, url: str):
    async def go():
        db = Database(url)
        try:
            return await coro_fn(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_one_scheduler_per_database_until_its_heartbeat_is_stale(db_url):
    first = Holder("embedded", host="county-a", pid=101)
    other = Holder("embedded", host="county-b", pid=202)

    async def scenario(db):
        await claim(db, first, NOW)
        with pytest.raises(SchedulerTaken) as refused:
            await claim(db, other, NOW + timedelta(seconds=60))
        await claim(db, first, NOW + timedelta(seconds=60))  # the holder's heartbeat
        with pytest.raises(SchedulerTaken):  # 89 s after that heartbeat it still counts
            await claim(db, other, NOW + timedelta(seconds=60 + 89))
        taken = await claim(db, other, NOW + timedelta(seconds=60 + 91))  # it stopped beating: take it over
        with pytest.raises(SchedulerTaken) as lost:  # the old holder comes back and finds it gone
            await claim(db, first, NOW + timedelta(seconds=160), lost=True)
        return refused.value, taken, lost.value

    refused, taken, lost = run(scenario, db_url)
    assert "on county-a pid 101, since 2026-11-16 09:00:00 +0800" in refused.en
    assert "county-a" in refused.zh and "进程 101" in refused.zh
    assert taken.taken_over["holders"] and "county-a pid 101" in taken.line()
    assert "lost the schedules" in lost.en and "county-b pid 202" in lost.en


def test_a_crashed_holder_on_this_host_is_taken_over_at_once(db_url):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    crashed = Holder("worker", prefect="http://prefect-a/api", pid=gone.pid)
    me = Holder("embedded")

    async def scenario(db):
        await claim(db, crashed, NOW)
        return await claim(db, me, NOW + timedelta(seconds=5)), await current(db, NOW + timedelta(seconds=5))

    taken, (lease, holders) = run(scenario, db_url)
    assert taken.taken_over is not None and f"pid {gone.pid}" in taken.line()
    assert lease["mode"] == "embedded" and list(holders) == [me.token]


def test_workers_of_one_prefect_server_share_the_schedules(db_url):
    a = Holder("worker", prefect="http://prefect-a/api", host="node-1", pid=11)
    b = Holder("worker", prefect="http://prefect-a/api", host="node-2", pid=22)
    elsewhere = Holder("worker", prefect="http://prefect-b/api", host="node-3", pid=33)
    serve = Holder("embedded", host="node-4", pid=44)

    async def scenario(db):
        await claim(db, a, NOW)
        await claim(db, b, NOW + timedelta(seconds=1))  # Prefect hands each run to one of them
        refusals = []
        for h in (elsewhere, serve):
            with pytest.raises(SchedulerTaken) as refused:
                await claim(db, h, NOW + timedelta(seconds=2))
            refusals.append(refused.value)
        await release(db, a)  # one stops: the other still holds them
        with pytest.raises(SchedulerTaken):
            await claim(db, serve, NOW + timedelta(seconds=3))
        after_one = await current(db, NOW + timedelta(seconds=3))
        await release(db, b)
        after_both = await current(db, NOW + timedelta(seconds=3))
        await claim(db, serve, NOW + timedelta(seconds=4))  # free again
        return refusals, after_one, after_both

    (other_prefect, embedded), after_one, after_both = run(scenario, db_url)
    assert "PREFECT_API_URL" in other_prefect.en and "prefect-a" in other_prefect.en
    assert "CHUISHAO_SCHEDULER=worker" in embedded.en and "and 1 more" in embedded.en
    assert list(after_one[1]) == [b.token] and after_one[0]["since"] == NOW.isoformat()  # since the first one
    assert after_both is None


def test_two_schedulers_starting_at_once_one_wins(db_url):
    """Both find no lease and try to write it in the same moment: exactly one is refused."""
    holders = [Holder("embedded", host=f"node-{i}", pid=i) for i in (1, 2)]

    async def scenario(_):
        dbs = [Database(db_url) for _ in holders]
        try:
            return await asyncio.gather(*(claim(db, h, NOW) for db, h in zip(dbs, holders, strict=True)),
                                        return_exceptions=True)
        finally:
            for db in dbs:
                await db.dispose()

    results = run(scenario, db_url)
    assert sorted(type(r).__name__ for r in results) == ["Claim", "SchedulerTaken"], results


def test_the_mode_values_are_defined_in_one_place():
    assert scheduler.scheduler_mode(None) == scheduler.scheduler_mode("") == "embedded"
    assert {m: scheduler.scheduler_mode(m) for m in scheduler.MODES} == {"embedded": "embedded", "worker": "worker"}
    with pytest.raises(scheduler.Invalid):
        scheduler.scheduler_mode("Worker ")
