"""Throughput of the six-step loop through the real HTTP API (docs/operations.md#performance-targets), beside a bare
endpoint.

For each configuration — SQLite with one `chuishao serve` process (the embedded default), PostgreSQL with
`chuishao serve --workers 2` — this script:
  1. makes a fresh data directory (and, for PostgreSQL, a fresh database `chuishao_bench`), runs
     `chuishao init`, starts the service as a real subprocess on 127.0.0.1 and waits for /healthz;
  2. builds a small county through the admin API (4 townships, 12 grids, 4 township teams, 6 departments,
     7 catalog items, 50 users) and logs every user in once;
  3. drives N complete loops — report → accept (with a category) → dispatch → check_in → feedback → verify —
     with C loops in flight at once, each loop one case taken through its six steps in order, cases spread
     over grids and catalog items (and so over departments and township teams); a warm-up runs first;
  4. stops the service, then starts `bench/baseline_app.py` on the same stack and database with the same
     number of processes and hits its bare versioned-UPDATE endpoint on random rows of 100,000;
  5. writes loops/s, actions/s, p50/p99 latency, errors and the baseline into bench/RESULTS.md (## loop).

Every non-2xx answer, transport error or unexpected state counts as an error and is reported. The load
generator is this Python process (a lean asyncio HTTP/1.1 client, or httpx with --client httpx) on the same
machine as the servers; its CPU use is measured and reported beside the figures. Only 127.0.0.1 is
contacted. Servers are always stopped.

    .venv/bin/python bench/loop.py                      # both configurations, defaults
    .venv/bin/python bench/loop.py --only sqlite --loops 200 --concurrency 16
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import (  # noqa: E402 - the raw client, CPU accounting and server handling peers.py shares
    OUR_DATABASE,
    CpuSnap,
    RawClient,
    Recorder,
    Server,
    await_quiet,
    client_errors,
    connection_split,
    cpu_and_ram,
    cpu_delta,
    free_port,
    invocation,
    log,
    pct,
    run_event_loop,
    serving_processes,
    summarise,
    tracebacks,
    write_section,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## loop"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
ADMIN_PASSWORD = "bench-admin-pass-1"
PASSWORD = "bench-pass-123"
STEPS = ("report", "accept", "dispatch", "check_in", "feedback", "verify")

# docs/operations.md#performance-targets
TARGET_PG_RATE = 1000.0
TARGET_PG_P99_MS = 100.0
TARGET_PG_RATIO = 0.50
TARGET_SQLITE_RATE = 400.0

# ---- the county -----------------------------------------------------------------------------------------
TOWNSHIPS = {"FC": "凤城镇", "KZ": "开栅镇", "NZ": "南庄镇", "XQ": "下曲镇"}
DEPARTMENTS = {"ZRZY": "自然资源局", "STHJ": "生态环境分局", "ZJJ": "住房和城乡建设局", "SCJG": "市场监督管理局",
               "SLJ": "水利局", "NYNC": "农业农村局"}
CATALOG = [
    {"code": "LAND01", "name": "违法占地", "category": "国土/违法占地", "lead_unit": "ZRZY", "assist_units": ["ZJJ"],
     "enforcement": True},
    {"code": "ENV01", "name": "秸秆焚烧", "category": "环境/秸秆焚烧", "lead_unit": "STHJ"},
    {"code": "STALL01", "name": "占道经营", "category": "市容/占道经营", "devolved": True},
    {"code": "MKT01", "name": "食品摊贩", "category": "市场/食品安全", "lead_unit": "SCJG", "enforcement": True},
    {"code": "WATER01", "name": "河道违建", "category": "水利/河道管理", "lead_unit": "SLJ", "assist_units": ["ZRZY"]},
    {"code": "BUILD01", "name": "违法建设", "category": "住建/违法建设", "lead_unit": "ZJJ",
     "assist_units": ["ZRZY", "SLJ"]},
    {"code": "FARM01", "name": "农药残留", "category": "农业/农药残留", "lead_unit": "NYNC", "assist_units": ["SCJG"]},
]
GRIDS = [f"{t}-G{i}" for t in TOWNSHIPS for i in (1, 2, 3)]
RECEIVERS = [*DEPARTMENTS, *(f"{t}-ZFD" for t in TOWNSHIPS)]  # units that take whistles


def county_requests() -> list[tuple[str, dict]]:
    """(path, body) for every admin POST that builds the county, in order."""
    out: list[tuple[str, dict]] = []
    for code, name in TOWNSHIPS.items():
        out.append(("/api/v1/units", {"code": code, "name": name, "kind": "township", "parent": "WS"}))
        for i in (1, 2, 3):
            out.append(("/api/v1/units", {"code": f"{code}-G{i}", "name": f"{name}第{i}网格", "kind": "grid",
                                          "parent": code}))
        out.append(("/api/v1/units", {"code": f"{code}-ZFD", "name": f"{name}综合行政执法队", "kind": "team",
                                      "parent": code}))
    for code, name in DEPARTMENTS.items():
        out.append(("/api/v1/units", {"code": code, "name": name, "kind": "department", "parent": "WS"}))
    out += [("/api/v1/catalog", item) for item in CATALOG]
    for username, role, unit, cert in users():
        body = {"username": username, "password": PASSWORD, "name": username, "role": role, "unit": unit}
        if cert:
            body |= {"certificate_no": cert, "certificate_expires": "2030-12-31"}
        out.append(("/api/v1/users", body))
    return out


def users() -> list[tuple[str, str, str, str | None]]:
    """(username, role, unit, certificate_no) for everyone a loop needs."""
    out = [(gw(g), "grid_worker", g, None) for g in GRIDS]
    for t in TOWNSHIPS:
        out += [(disp(t), "township_dispatcher", t, None), (liaison(t), "township_liaison", t, None)]
    for n, u in enumerate(RECEIVERS):
        out += [(liaison(u), "department_liaison", u, None),
                (officer(u, 1), "department_officer", u, f"晋执-{n:02d}01"),
                (officer(u, 2), "department_officer", u, f"晋执-{n:02d}02")]
    return out


def gw(grid: str) -> str:
    return f"gw_{grid.lower()}"


def disp(township: str) -> str:
    return f"disp_{township.lower()}"


def liaison(unit: str) -> str:
    return f"liaison_{unit.lower()}"


def officer(unit: str, n: int) -> str:
    return f"off{n}_{unit.lower()}"


# ---- subprocesses ----------------------------------------------------------------------------------------
def banner(path: Path) -> list[str]:
    """What `chuishao serve` said about itself when starting (its lines starting with •)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [x.lstrip("• ").strip() for x in lines if x.startswith("•")][:8]


def service_env(data_dir: Path, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHUISHAO_")}
    env.update(CHUISHAO_DATA_DIR=str(data_dir), CHUISHAO_SECRET_KEY=secrets.token_urlsafe(48),
               CHUISHAO_ARGON2_TIME_COST="1", CHUISHAO_ARGON2_MEMORY_KIB="8192",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PYTHONUNBUFFERED="1")
    if database_url:
        env["CHUISHAO_DATABASE_URL"] = database_url
    return env


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute(sql)


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated",
               "tup_deleted")


def pg_db_counters(db: str) -> dict[str, int] | None:
    """The database's cumulative counters (PostgreSQL publishes a backend's counts at most once a second, so a
    delta over a window is approximate by about a second's worth at each end)."""
    import psycopg

    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5) as c:
            row = c.execute(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = %s",
                            (db,)).fetchone()
    except Exception:  # noqa: BLE001 - an analysis aid
        return None
    return dict(zip(PG_COUNTERS, row, strict=True)) if row else None


def pg_version() -> tuple[str, str]:
    """PostgreSQL's version and the settings that bear on write throughput."""
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
            rows = c.execute("SELECT name, setting, unit FROM pg_settings WHERE name IN ('synchronous_commit', "
                             "'fsync', 'shared_buffers', 'max_connections', 'wal_sync_method') ORDER BY name")
            settings = ", ".join(f"{n}={v}{'×' + u if u and u[0].isdigit() else u or ''}" for n, v, u in rows)
            return version, settings
    except Exception as err:  # noqa: BLE001 - reported, not fatal
        return f"unreachable ({type(err).__name__})", ""


# ---- the load --------------------------------------------------------------------------------------------
class Loops:
    """Drives six-step loops against a running chuishao."""

    def __init__(self, client, tokens: dict[str, str], seed: int):
        self.c, self.tokens, self.rng = client, tokens, random.Random(seed)

    async def _call(self, rec: Recorder, step: str, who: str, path: str, body: dict, expect: int,
                    version: int | None = None) -> dict | None:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if version is not None:
            headers["If-Match"] = str(version)
        t0 = time.perf_counter()
        try:
            r = await self.c.post(path, json=body, headers=headers)
        except client_errors() as err:
            rec.error(step, type(err).__name__, f"{who} POST {path}: {err!r}")
            return None
        elapsed = time.perf_counter() - t0
        if r.status_code != expect:
            rec.error(step, str(r.status_code), f"{who} POST {path} {json.dumps(body, ensure_ascii=False)} -> "
                                                f"{r.text}")
            return None
        rec.ok(step, elapsed)
        return r.json()

    async def one(self, rec: Recorder) -> None:
        grid = self.rng.choice(GRIDS)
        township = grid.split("-")[0]
        item = self.rng.choice(CATALOG)["code"]
        n = self.rng.randrange(1, 999)
        case = await self._call(rec, "report", gw(grid), "/api/v1/cases", {
            "title": f"{TOWNSHIPS[township]}{n}号附近发现问题", "description": "网格员巡查发现，现场已拍照。",
            "township": township, "grid": grid, "address": f"{TOWNSHIPS[township]}{n}号", "urgency": "normal",
        }, 201)
        if case is None:
            return self._failed(rec)
        url = f"/api/v1/cases/{case['id']}/actions"
        plan = [
            ("accept", lambda c: disp(township), {"category": item}, "accepted"),
            ("dispatch", lambda c: disp(township), {}, "dispatched"),
            ("check_in", lambda c: liaison(c["lead_unit"]), {}, "handling"),
            ("feedback", lambda c: officer(c["lead_unit"], 1),
             {"outcome": "resolved", "result": "已现场处置完毕", "officers": None}, "feedback"),
            ("verify", lambda c: liaison(township), {"passed": True, "satisfaction": "satisfied", "rating": 5},
             "closed"),
        ]
        for step, who_of, body, expected in plan:
            if step == "feedback":
                body = {**body, "officers": [officer(case["lead_unit"], 1), officer(case["lead_unit"], 2)]}
            who = who_of(case)
            nxt = await self._call(rec, step, who, f"{url}/{step}", body, 200, case["version"])
            if nxt is None:
                return self._failed(rec)
            if nxt.get("status") != expected:
                rec.error(step, "unexpected state", f"case {case['id']}: {nxt.get('status')} (wanted {expected})")
                return self._failed(rec)
            case = nxt
        rec.loops_done += 1

    @staticmethod
    def _failed(rec: Recorder) -> None:
        rec.loops_failed += 1

    async def run(self, rec: Recorder, loops: int, concurrency: int, max_seconds: float) -> float:
        """Run `loops` loops, `concurrency` at a time, stopping new ones after max_seconds. Wall seconds."""
        started, deadline = time.perf_counter(), time.monotonic() + max_seconds
        remaining = [loops]

        async def worker():
            while remaining[0] > 0 and time.monotonic() < deadline:
                remaining[0] -= 1
                await self.one(rec)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def bump_load(client, rec: Recorder, path: str, requests: int, concurrency: int, max_seconds: float,
                    seed: int, rows: int = 100_000) -> float:
    rng = random.Random(seed)
    started, deadline = time.perf_counter(), time.monotonic() + max_seconds
    remaining = [requests]

    async def worker():
        while remaining[0] > 0 and time.monotonic() < deadline:
            remaining[0] -= 1
            url = path.format(id=rng.randint(1, rows))
            t0 = time.perf_counter()
            try:
                r = await client.post(url)
            except client_errors() as err:
                rec.error("bump", type(err).__name__, repr(err))
                continue
            if r.status_code == 200:
                rec.ok("bump", time.perf_counter() - t0)
            else:
                rec.error("bump", str(r.status_code), f"POST {url} -> {r.text}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def http_client(base: str, concurrency: int):
    import httpx

    return httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(30.0),
                             limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))


@contextlib.asynccontextmanager
async def load_client(args, server: "Server"):
    """The client that carries the measured load (setup always uses httpx)."""
    if args.client == "httpx":
        async with http_client(server.base, args.concurrency) as c:
            yield c
        return
    async with RawClient("127.0.0.1", server.port) as c:
        yield c


async def before_window(c, server: "Server", args) -> dict:
    """Right before a measured window: wait for the machine to be quiet, then (raw client, --balance) open the
    connections anew, as many on each worker process. Reopening comes last because uvicorn closes
    connections idle for 5 s, and whatever the wait closed would come back split by chance."""
    quiet = await await_quiet(args.quiet_wait, server.pgid)
    workers = serving_processes(server.pgid, server.port)
    if isinstance(c, RawClient) and args.balance and len(workers) > 1:
        await c.connect_balanced(args.concurrency, workers)
    return quiet


# ---- SQL statements per action (in-process, same database) ----------------------------------------------
async def count_statements(database_url: str, data_dir: Path, seed: int) -> tuple[dict[str, list[str]], dict]:
    """Run two loops in-process through the ASGI app with a statement counter; the second, warm one counts.

    Only statements issued by the request's own asyncio task count (httpx's ASGI transport runs the app in
    the caller's task); what the app's background tasks run meanwhile is returned apart, with the seconds
    it was watched, so pollers show up as what they are."""
    import httpx
    from sqlalchemy import event

    from chuishao.api.app import create_app
    from chuishao.models import compiled
    from chuishao.models.config import Settings

    settings = Settings(database_url=database_url, data_dir=data_dir, secret_key=secrets.token_urlsafe(48),
                        argon2_time_cost=1, argon2_memory_kib=8192)
    app = create_app(settings)
    seen: list[str] = []
    background: Counter = Counter()
    mine: set = set()
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        engine = app.state.services.db.engine.sync_engine

        def on_execute(conn, cursor, statement, params, context, executemany):
            on_statement(statement)

        def on_statement(statement):  # SQLAlchemy's executions and the action path's own (models/compiled.py)
            text = " ".join(statement.split())[:120]
            try:
                task = asyncio.current_task()
            except RuntimeError:
                task = None
            if task is not None and id(task) in mine:
                seen.append(text)
            else:
                background[text[:90]] += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        compiled.OBSERVERS.append(on_statement)
        mine.add(id(asyncio.current_task()))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
            tokens = await login_all(c)
            background.clear()
            watched = time.perf_counter()
            per_step: dict[str, list[str]] = {}
            for run in range(2):
                loops = Loops(c, tokens, seed + run)
                rec = Recorder()
                marks: dict[str, list[str]] = {}
                original = loops._call

                async def call(rec_, step, *a, _orig=original, _marks=marks, **kw):
                    start = len(seen)
                    out = await _orig(rec_, step, *a, **kw)
                    _marks[step] = seen[start:]
                    return out

                loops._call = call
                await loops.one(rec)
                if rec.n_errors:
                    raise RuntimeError(f"statement count loop failed: {rec.samples}")
                per_step = marks
            watched = time.perf_counter() - watched
        event.remove(engine, "before_cursor_execute", on_execute)
        compiled.OBSERVERS.remove(on_statement)
    finally:
        # Shut the app down without cancelling anything from here, and give up waiting after 15 s: on Python
        # 3.11 the app's shutdown (api/live.py Live.stop) can wait forever when its deliver loop's cancellation
        # lands as a commit's kick completes (asyncio.wait_for then swallows the cancellation), and Live.stop
        # suppresses CancelledError, so a timeout sent into it would be swallowed too. The pause lets the
        # last kick settle first.
        await asyncio.sleep(1.0)
        shutdown = asyncio.ensure_future(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait([shutdown], timeout=15)
        if not done:
            log("  in-process app's lifespan shutdown did not finish within 15 s; left behind")
    return per_step, {"seconds": round(watched, 2), "statements": dict(background.most_common(6)),
                      "total": sum(background.values()), "shutdown_hung": not done}


# ---- setup through the API -------------------------------------------------------------------------------
async def login(c, username: str, password: str) -> str:
    r = await c.post("/api/v1/auth/token", data={"username": username, "password": password})
    if r.status_code != 200:
        raise RuntimeError(f"login {username}: {r.status_code} {r.text}")
    return r.json()["access_token"]


async def login_all(c) -> dict[str, str]:
    names = [u[0] for u in users()]
    tokens = await asyncio.gather(*(login(c, n, PASSWORD) for n in names))
    return dict(zip(names, tokens, strict=True))


async def build_county(c) -> None:
    admin = {"Authorization": f"Bearer {await login(c, 'admin', ADMIN_PASSWORD)}"}
    for path, body in county_requests():
        r = await c.post(path, json=body, headers=admin)
        if r.status_code != 201:
            raise RuntimeError(f"county setup POST {path} {body.get('code') or body.get('username')}: "
                               f"{r.status_code} {r.text}")


# ---- one configuration -----------------------------------------------------------------------------------
async def measure_loops(server: Server, args, seed: int) -> dict:
    async with http_client(server.base, args.concurrency) as c:
        t0 = time.perf_counter()
        await build_county(c)
        tokens = await login_all(c)
        log(f"  county built and {len(tokens)} users logged in ({time.perf_counter() - t0:.1f} s)")
    conn: dict = {}
    async with load_client(args, server) as c:
        warm = Recorder()
        await Loops(c, tokens, seed).run(warm, args.warmup, args.concurrency, args.max_seconds)
        log(f"  warm-up: {warm.loops_done} loops, {warm.n_errors} errors")
        quiet = await before_window(c, server, args)
        counters = pg_db_counters(OUR_DATABASE[0]) if OUR_DATABASE else None
        rec = Recorder()
        before = CpuSnap.take()
        wall = await Loops(c, tokens, seed + 1).run(rec, args.loops, args.concurrency, args.max_seconds)
        after = CpuSnap.take()
        conn["seen"] = connection_split(server)
        if counters:
            await asyncio.sleep(1.2)  # let the backends publish their last second
            end = pg_db_counters(OUR_DATABASE[0])
            counters = {k: end[k] - counters[k] for k in PG_COUNTERS} if end else None
    cpu = cpu_delta(before, after, server.pgid)
    out = summarise(rec, wall, cpu)
    out["connections"], out["quiet"], out["pg_counters"] = conn, quiet, counters
    out["warmup"] = {"loops": warm.loops_done, "errors": warm.n_errors, "samples": warm.samples}
    out["per_step"] = {s: {"n": len(rec.latencies[s]), "p50": pct(rec.latencies[s], .5),
                           "p99": pct(rec.latencies[s], .99)} for s in STEPS}
    out["loops"], out["loops_failed"] = rec.loops_done, rec.loops_failed
    out["loops_per_s"] = rec.loops_done / wall if wall else 0.0
    log(f"  loops: {rec.loops_done} in {wall:.1f} s = {out['loops_per_s']:.1f} loops/s, "
        f"{out['rate']:.0f} actions/s, p50 {out['p50']:.1f} ms, p99 {out['p99']:.1f} ms, errors {out['errors']}; "
        f"connections per process {conn['seen']}, server CPU s per process {cpu['server_split']}")
    return out


async def measure_baseline(server: Server, args, seed: int) -> dict:
    results = {}
    async with load_client(args, server) as c:
        for name, path in (("versioned", "/rows/{id}/bump"), ("returning", "/rows/{id}/bump-returning")):
            warm = Recorder()
            await bump_load(c, warm, path, args.concurrency * 20, args.concurrency, args.max_seconds, seed)
            quiet = await before_window(c, server, args)
            rec = Recorder()
            before = CpuSnap.take()
            wall = await bump_load(c, rec, path, args.baseline_requests, args.concurrency, args.max_seconds,
                                   seed + 1)
            after = CpuSnap.take()
            results[name] = summarise(rec, wall, cpu_delta(before, after, server.pgid))
            results[name]["connections"] = {"seen": connection_split(server)}
            results[name]["quiet"] = quiet
            r = results[name]
            log(f"  baseline {name}: {r['requests']} requests, {r['rate']:.0f} r/s, p50 {r['p50']:.1f} ms, "
                f"p99 {r['p99']:.1f} ms, errors {r['errors']}; connections per process "
                f"{r['connections']['seen']}, server CPU s per process {r['cpu']['server_split']}")
    return results


async def run_config(kind: str, args, tmp: Path) -> dict:
    workers = 1 if kind == "sqlite" else args.pg_workers
    data_dir = tmp / kind / "data"
    data_dir.mkdir(parents=True)
    OUR_DATABASE[:] = [args.pg_database] if kind == "postgresql" else []
    if kind == "postgresql":
        db = args.pg_database
        pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{db}"')
        database_url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"
        env = service_env(data_dir, database_url)
        if workers > 1:  # more than one API process must leave the schedules to a worker: API only here
            env["CHUISHAO_SCHEDULER"] = "worker"
    else:
        database_url = f"sqlite:///{(data_dir / 'chuishao.db').resolve()}"  # what the default resolves to
        env = service_env(data_dir, None)  # the embedded default: no CHUISHAO_DATABASE_URL at all
    result: dict = {"kind": kind, "workers": workers, "database_url": database_url}
    try:
        log(f"{kind}: chuishao init")
        subprocess.run([str(BIN / "chuishao"), "init", "--admin-password", ADMIN_PASSWORD], cwd=ROOT, env=env,
                       check=True, timeout=180, stdout=subprocess.DEVNULL)
        port = free_port()
        serve = [str(BIN / "chuishao"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                 str(workers)]
        result["serve_command"] = shlex.join(["chuishao", *serve[1:]])
        server = Server(f"chuishao ({kind})", serve, env, tmp / kind / "serve.log", port)
        try:
            server.start()
            await server.wait_healthy()
            log(f"{kind}: chuishao serve --workers {workers} healthy on :{port}")
            result["loop"] = measure = await measure_loops(server, args, args.seed)
        finally:
            result["stop"] = server.stop()
        measure["tracebacks"] = tracebacks(server.log)
        result["banner"] = banner(server.log)
        if args.sql_count:
            try:
                counting = asyncio.ensure_future(count_statements(database_url, data_dir, args.seed + 7))
                done, _ = await asyncio.wait([counting], timeout=120)  # not wait_for: see count_statements
                if not done:
                    raise TimeoutError("counting did not finish in 120 s")
                per_step, result["background_sql"] = counting.result()
                result["statements"] = per_step
                log("  SQL statements per action: " + ", ".join(f"{s} {len(v)}" for s, v in per_step.items()))
            except Exception as err:  # noqa: BLE001 - an analysis aid, never fatal to the measurement
                result["statements_error"] = repr(err)
                log(f"  SQL count failed: {err!r}")

        log(f"{kind}: baseline table ({100_000} rows)")
        sys.path.insert(0, str(HERE))
        import baseline_app

        baseline_app.setup(database_url)
        port = free_port()
        argv = [str(BIN / "uvicorn"), "baseline_app:create_app", "--factory", "--app-dir", str(HERE), "--host",
                "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        result["baseline_command"] = "BENCH_BASELINE_URL=... " + shlex.join(["uvicorn", *argv[1:]]).replace(
            str(HERE), "bench")
        benv = {**env, "BENCH_BASELINE_URL": database_url}
        server = Server(f"baseline ({kind})", argv, benv, tmp / kind / "baseline.log", port)
        try:
            server.start()
            await server.wait_healthy()
            log(f"{kind}: baseline --workers {workers} healthy on :{port}")
            result["baseline"] = await measure_baseline(server, args, args.seed)
        finally:
            result["baseline_stop"] = server.stop()
    finally:
        if kind == "postgresql" and not args.keep:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_database}" WITH (FORCE)')
    return result


# ---- the report ------------------------------------------------------------------------------------------
def machine() -> dict:
    cpu, ram = cpu_and_ram()
    pg, pg_settings = pg_version()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "python": platform.python_version(),
            "postgresql": pg, "pg_settings": pg_settings, "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "wrk": shutil.which("wrk") or "not installed", "kernel": platform.release()}


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def f0(x: float) -> str:
    return "n/a" if x != x else f"{x:,.0f}"


def f1(x: float) -> str:
    return "n/a" if x != x else f"{x:,.1f}"


def render(results: list[dict], info: dict, command: str, args, started: dt.datetime, elapsed: float) -> str:
    L = [SECTION, ""]
    L.append(f"Measured {started:%Y-%m-%d %H:%M %Z} (run took {elapsed:.0f} s) by `bench/loop.py`.")
    L.append("")
    L.append(f"- Machine: {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM; Python {info['python']}; "
             f"PostgreSQL {info['postgresql']} (stock settings: {info['pg_settings']}); Linux {info['kernel']}; "
             f"load average at start {info['load']}.")
    L.append(f"- Command: `{command}`")
    L.append(f"- Load: {args.concurrency} loops in flight, each a fresh case taken report → accept → dispatch → "
             f"check_in → feedback → verify (6 actions, `If-Match` sent), cases spread over {len(GRIDS)} grids in "
             f"{len(TOWNSHIPS)} townships and {len(CATALOG)} catalog items ({len(RECEIVERS)} receiving units); "
             f"{args.warmup} warm-up loops first, not counted. Latency is client-side, per action.")
    wrk = "is installed but not used" if info["wrk"] != "not installed" else "is not installed"
    how = ("a lean asyncio HTTP/1.1 client on uvloop (`--client raw`; setup and logins use httpx)"
           if args.client == "raw" else "httpx on uvloop (`--client httpx`)")
    L.append(f"- Load generator: this Python process, {how}, keep-alive, {args.concurrency} "
             f"connections; wrk {wrk}. **It shares the {info['nproc']} cores with the servers and PostgreSQL**: "
             "its own CPU is in the CPU table below, so every rate here is a lower bound on what the server alone "
             "could do.")
    if args.client == "raw" and args.balance:
        L.append("- Connections are split evenly over the worker processes (`--balance`, the default): with a few "
                 "long-lived keep-alive connections the kernel's accept split between uvicorn workers is left to "
                 "chance (seen here from 16/16 to 32/0), and an unlucky split halves a 2-process rate. "
                 "`--no-balance` leaves it to the kernel; the split seen is in the CPU table.")
    quiet = [m.get("quiet") for r in results for m in [r.get("loop"), *r.get("baseline", {}).values()]
             if m and m.get("quiet")]
    if quiet:
        loud = [q for q in quiet if not q["quiet"]]
        L.append(f"- Before each measured window the script waited for the machine to be idle apart from itself "
                 f"(< 15 % of all cores busy; longest wait {max(q['waited'] for q in quiet):.0f} s)"
                 + (f"; {len(loud)} window(s) started with the machine still busy — see 'other processes' below."
                    if loud else "; every window started on an otherwise idle machine."))
    L.append("- Servers: `chuishao serve` as shipped, its output to a file (access log on). With one process and "
             "SQLite that is the embedded mode — what it printed on starting is quoted under the CPU table; with "
             "`--workers 2` it is plain uvicorn (uvloop + httptools). The baseline is `bench/baseline_app.py` under "
             "the uvicorn command line (uvloop + httptools, access log on) with the same database, the same "
             "`models.db.Database` engine settings and the same number of processes.")
    L.append("")

    L.append("### Against the targets")
    L.append("")
    L.append("| configuration | figure | measured | target (docs/operations.md#performance-targets) | |")
    L.append("|---|---|---|---|---|")
    for r in results:
        lp = r.get("loop")
        if r.get("failed"):
            L.append(f"| {r['kind']} | the run | failed: {r['failed'].splitlines()[0][:300]} | | not met |")
        if lp is None:
            continue
        base = r.get("baseline", {}).get("versioned")
        if r["kind"] == "postgresql":
            name = f"PostgreSQL, {r['workers']} processes"
            L.append(f"| {name} | actions/s | {f0(lp['rate'])} | >= 1,000 | "
                     f"{verdict(lp['rate'] >= TARGET_PG_RATE and not lp['errors'])} |")
            L.append(f"| {name} | p99 per action | {f1(lp['p99'])} ms | < 100 ms | "
                     f"{verdict(lp['p99'] < TARGET_PG_P99_MS)} |")
            L.append(f"| {name} | loops/s | {f1(lp['loops_per_s'])} | about 150 (implied) | "
                     f"{verdict(lp['loops_per_s'] >= 150)} |")
            if base:
                ratio = lp["rate"] / base["rate"] if base["rate"] else float("nan")
                L.append(f"| {name} | actions/s ÷ bare versioned UPDATE ({f0(base['rate'])} r/s) | {ratio:.0%} | "
                         f">= 50 % | {verdict(ratio >= TARGET_PG_RATIO)} |")
        else:
            name = "SQLite, 1 process"
            L.append(f"| {name} | actions/s | {f0(lp['rate'])} | >= 400 | "
                     f"{verdict(lp['rate'] >= TARGET_SQLITE_RATE and not lp['errors'])} |")
            if base:
                ratio = lp["rate"] / base["rate"] if base["rate"] else float("nan")
                L.append(f"| {name} | actions/s ÷ bare versioned UPDATE ({f0(base['rate'])} r/s) | {ratio:.0%} | "
                         "(no target) | |")
        L.append(f"| {name} | errors (non-2xx, transport, wrong state) | {lp['errors']} | 0 | "
                 f"{verdict(lp['errors'] == 0)} |")
    L.append("")

    L.append("### All figures")
    L.append("")
    L.append("| configuration | what | n | loops/s | rate /s | p50 ms | p99 ms | max ms | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        name = "SQLite, 1 process" if r["kind"] == "sqlite" else f"PostgreSQL, {r['workers']} processes"
        lp = r.get("loop")
        if lp:
            L.append(f"| {name} | chuishao six-step loop, actions | {lp['requests']} actions / {lp['loops']} loops | "
                     f"{f1(lp['loops_per_s'])} | {f0(lp['rate'])} | {f1(lp['p50'])} | {f1(lp['p99'])} | "
                     f"{f1(lp['max'])} | {lp['errors']} |")
        for bname, label in (("versioned", "baseline: SELECT version + versioned UPDATE"),
                             ("returning", "baseline: one UPDATE … RETURNING")):
            b = r.get("baseline", {}).get(bname)
            if b:
                L.append(f"| {name} | {label} | {b['requests']} | | {f0(b['rate'])} | {f1(b['p50'])} | "
                         f"{f1(b['p99'])} | {f1(b['max'])} | {b['errors']} |")
    L.append("")

    L.append("### Per action (ms, client-side)")
    L.append("")
    L.append("| configuration | " + " | ".join(STEPS) + " |")
    L.append("|---|" + "---|" * len(STEPS))
    for r in results:
        lp = r.get("loop")
        if lp:
            name = "SQLite, 1 process" if r["kind"] == "sqlite" else f"PostgreSQL, {r['workers']} processes"
            L.append(f"| {name} p50 / p99 | " + " | ".join(
                f"{f1(lp['per_step'][s]['p50'])} / {f1(lp['per_step'][s]['p99'])}" for s in STEPS) + " |")
    L.append("")

    L.append("### Where the CPU went during the measured window")
    L.append("")
    L.append("CPU seconds from /proc over each measured window: the server's process group, PostgreSQL (its own "
             "processes and the backends of the bench database), this load generator, and everything else on the "
             "machine (machine busy time less ours: other sessions' work, short-lived processes, kernel threads); "
             "per request = CPU seconds ÷ successful requests; cores used = CPU seconds ÷ wall seconds. "
             "Machine busy is from /proc/stat, all cores, kernel time included.")
    L.append("")
    L.append("| configuration | what | wall s | server CPU ms/req | postgres CPU ms/req | client CPU ms/req | "
             "server cores used (per process) | postgres cores | client cores | everything else, cores (largest) | "
             "machine busy (of all cores) | connections per process |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        name = "SQLite, 1 process" if r["kind"] == "sqlite" else f"PostgreSQL, {r['workers']} processes"
        rows = [("six-step loop actions", r.get("loop"))] + [
            (f"baseline {k}", r.get("baseline", {}).get(k)) for k in ("versioned", "returning")]
        for label, m in rows:
            if m:
                c = m["cpu_ms_per_request"]
                u = m["cpu"]
                pg = f"{c['postgres']:.2f}" if r["kind"] == "postgresql" else "–"
                pg_cores = f"{u['postgres'] / u['wall']:.2f}" if r["kind"] == "postgresql" else "–"
                per = " + ".join(f"{x / u['wall']:.2f}" for x in u["server_split"])
                other = f"{u['other'] / u['wall']:.2f}" + (
                    " (" + ", ".join(f"{cm} {x / u['wall']:.2f}" for cm, x in u["other_top"]) + ")"
                    if u["other"] / u["wall"] >= 0.05 else "")
                conns = " / ".join(str(x) for x in m.get("connections", {}).get("seen", [])) or "?"
                L.append(f"| {name} | {label} | {m['wall']:.1f} | {c['server']:.2f} | {pg} | {c['client']:.2f} | "
                         f"{u['server'] / u['wall']:.2f} ({per}) | {pg_cores} | {u['client'] / u['wall']:.2f} | "
                         f"{other} | {u['machine_busy']:.0%} | {conns} |")
    L.append("")

    idle = [(r["kind"], label, m["quiet"]["server_idle_cores"]) for r in results
            for label, m in [("loop", r.get("loop")), *((f"baseline {k}", v) for k, v in r.get("baseline", {}).items())]
            if m and m.get("quiet") and "server_idle_cores" in m["quiet"]]
    if idle:
        L.append("Server processes' own CPU in the idle second just before each window (background work, "
                 "schedulers): " + "; ".join(f"{k} {lbl} {x:.2f} cores" for k, lbl, x in idle) + ".")
        L.append("")
    L.append("CPU cost per action and the rate it would allow if these processes had the machine to themselves "
             "(an estimate, not a measurement: cores available ÷ CPU per request, where one uvicorn process can use "
             "at most one core):")
    L.append("")
    L.append("| configuration | what | CPU ms per request (server + postgres + client) | ceiling implied /s |")
    L.append("|---|---|---|---|")
    for r in results:
        name = "SQLite, 1 process" if r["kind"] == "sqlite" else f"PostgreSQL, {r['workers']} processes"
        rows = [("six-step loop actions", r.get("loop"))] + [
            (f"baseline {k}", r.get("baseline", {}).get(k)) for k in ("versioned", "returning")]
        for label, m in rows:
            if m and m["requests"]:
                c = m["cpu_ms_per_request"]
                pg = c["postgres"] if r["kind"] == "postgresql" else 0.0
                total = c["server"] + pg + c["client"]
                ceiling = min(info["nproc"] * 1000 / total, r["workers"] * 1000 / c["server"])
                L.append(f"| {name} | {label} | {total:.2f} ({c['server']:.2f} + {pg:.2f} + {c['client']:.2f}) | "
                         f"{f0(ceiling)} |")
    L.append("")
    for r in results:
        if r.get("banner"):
            L.append(f"`chuishao serve` ({r['kind']}) said on starting: " + " / ".join(f"“{b}”" for b in r["banner"]))
            L.append("")

    counted = [r for r in results if r.get("statements")]
    if counted:
        L.append("### SQL statements per action (warm, counted in-process on the same database, the request's "
                 "own statements only)")
        L.append("")
        L.append("| configuration | " + " | ".join(STEPS) + " | loop |")
        L.append("|---|" + "---|" * (len(STEPS) + 1))
        for r in counted:
            st = r["statements"]
            name = "SQLite" if r["kind"] == "sqlite" else "PostgreSQL"
            L.append(f"| {name} | " + " | ".join(str(len(st.get(s, []))) for s in STEPS)
                     + f" | {sum(len(v) for v in st.values())} |")
        L.append("")
        L.append("Statements of one `dispatch` (PostgreSQL if measured, else SQLite), BEGIN/COMMIT not counted:")
        L.append("")
        st = (next((r for r in counted if r["kind"] == "postgresql"), counted[0]))["statements"]
        L.append("```")
        L += [f"{i + 1:2d}. {s}" for i, s in enumerate(st.get("dispatch", []))]
        L.append("```")
        L.append("")
        for r in results:
            pc = (r.get("loop") or {}).get("pg_counters")
            n = (r.get("loop") or {}).get("requests")
            if pc and n:
                L.append(f"PostgreSQL's own counters for the bench database over the measured window (approximate, "
                         f"pg_stat_database), per action: {(pc['xact_commit'] + pc['xact_rollback']) / n:.1f} "
                         f"transactions, {pc['tup_inserted'] / n:.1f} rows inserted, {pc['tup_updated'] / n:.1f} "
                         f"updated, {pc['tup_fetched'] / n:.1f} fetched — the requests' own work and the API "
                         "processes' background work together.")
                L.append("")
        for r in counted:
            bg = r.get("background_sql") or {}
            if bg.get("total"):
                L.append(f"Meanwhile the app's own background tasks ({r['kind']}, in-process, not on any request's "
                         f"path) ran {bg['total']} statements in {bg['seconds']} s, most often:")
                L.append("")
                L += [f"- {n} × `{q}`" for q, n in bg["statements"].items()]
                L.append("")

    errs = [(r, label, m) for r in results
            for label, m in [("six-step loop", r.get("loop")),
                             *((f"baseline {k}", v) for k, v in r.get("baseline", {}).items())]
            if m and m["errors"]]
    L.append("### Errors")
    L.append("")
    for r in results:
        if r.get("failed"):
            L.append(f"- {r['kind']}: the run failed before it could be measured: `{r['failed']}`")
    if not errs and not any(r.get("failed") for r in results):
        L.append("None: every request in the measured windows answered 2xx with the expected state.")
    for r, label, m in errs:
        L.append(f"- {r['kind']}, {label}: {m['errors']} errors: "
                 + ", ".join(f"{k} ×{v}" for k, v in m["error_kinds"].items()))
        L += [f"  - `{s}`" for s in m["error_samples"][:4]]
        if label == "baseline versioned" and set(m["error_kinds"]) == {"bump 409"}:
            n = m["requests"] + m["errors"]
            L.append(f"  - a 409 here is two in-flight requests drawing the same row: the second one's "
                     f"`WHERE version = :v` finds the version moved. With {args.concurrency} in flight over 100,000 "
                     f"rows of the order of {n * (args.concurrency - 1) / 100_000:.1f} are expected in {n} requests; "
                     "it is the version gate working, not a fault.")
        for tb in m.get("tracebacks", [])[:1]:
            L.append("  - first traceback in the server log:")
            L.append("")
            L.append("    ```")
            L += ["    " + x for x in tb.splitlines()[-30:]]
            L.append("    ```")
    L.append("")
    L.append("Servers: " + "; ".join(f"`{r['serve_command']}`" for r in results if r.get("serve_command")) + "; "
             + "; ".join(f"`{r['baseline_command']}`" for r in results if r.get("baseline_command")) + ".")
    L.append("")
    return "\n".join(L)


# ---- main ------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="bench/loop.py",
        description="Six-step loops through the real HTTP API, SQLite (1 process) and PostgreSQL (2 processes), "
                    "beside a bare versioned-UPDATE endpoint on the same stack; results to bench/RESULTS.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--only", choices=("sqlite", "postgresql"), help="run one configuration only")
    p.add_argument("--loops", type=int, default=400, help="measured loops per configuration (6 actions each)")
    p.add_argument("--concurrency", type=int, default=32, help="loops in flight at once (= HTTP connections)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up loops, not measured; None means --concurrency")
    p.add_argument("--baseline-requests", type=int, default=8000, help="measured requests per baseline endpoint")
    p.add_argument("--max-seconds", type=float, default=60.0, help="stop starting new work after this long, per phase")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load generator: a lean asyncio HTTP/1.1 client, or httpx (~1.5 ms more CPU a request)")
    p.add_argument("--no-balance", dest="balance", action="store_false",
                   help="let the kernel split the connections over the worker processes as it likes (raw client)")
    p.add_argument("--quiet-wait", type=float, default=30.0,
                   help="before each measured window, wait up to this many seconds for other work on the machine "
                        "to stop (what was seen is reported)")
    p.add_argument("--pg-workers", type=int, default=2, help="uvicorn processes for PostgreSQL")
    p.add_argument("--pg-database", default="chuishao_bench", help="database created and dropped on 127.0.0.1:5432")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--no-sql-count", dest="sql_count", action="store_false",
                   help="skip counting SQL statements per action (in-process, after the HTTP run)")
    p.add_argument("--print-only", action="store_true",
                   help="print the results section instead of writing it into bench/RESULTS.md")
    p.add_argument("--json", type=Path, help="also write the raw figures to this file")
    p.add_argument("--from-json", type=Path, metavar="PATH",
                   help="measure nothing: write the results section again from a run saved with --json")
    p.add_argument("--keep", action="store_true", help="keep the temp dir, logs and PostgreSQL database")
    a = p.parse_args(argv)
    if a.warmup is None:
        a.warmup = a.concurrency
    for name in ("loops", "concurrency", "baseline_requests", "pg_workers"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", a.pg_database):
        p.error("--pg-database: lower-case letters, digits and _ only")
    return a


async def amain(args) -> int:
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    info = machine()
    log(f"machine: {info}")
    kinds = [args.only] if args.only else ["sqlite", "postgresql"]
    tmp = Path(tempfile.mkdtemp(prefix="chuishao-bench-"))
    results = []
    try:
        for kind in kinds:
            if kind == "postgresql" and info["postgresql"].startswith("unreachable"):
                log("postgresql: not reachable on 127.0.0.1:5432, skipped")
                continue
            try:
                results.append(await run_config(kind, args, tmp))
            except Exception as err:  # noqa: BLE001 - reported in the results; the other configuration still runs
                log(f"{kind}: FAILED: {err!r}")
                results.append({"kind": kind, "workers": 1 if kind == "sqlite" else args.pg_workers,
                                "failed": f"{type(err).__name__}: {str(err)[:1500]}"})
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    command = invocation("bench/loop.py")
    elapsed = time.perf_counter() - t0
    text = render(results, info, command, args, started, elapsed)
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "results": results, "command": command, "started": started.isoformat(),
            "elapsed": elapsed, "args": {k: getattr(args, k) for k in RENDER_ARGS}}, indent=1, ensure_ascii=False,
            default=str))
    return finish(text, args, results)


RENDER_ARGS = ("concurrency", "warmup", "client", "balance")


def finish(text: str, args, results: list[dict]) -> int:
    if args.print_only:
        print(text)
    else:
        write_section(SECTION, text)
        log(f"written to {RESULTS.relative_to(ROOT)} ({SECTION})")
    # the loop's errors fail the run; the baseline's are reported (its 409s are the version gate at work)
    errors = sum(r["loop"]["errors"] for r in results if r.get("loop"))
    return 1 if errors or not results or any(r.get("failed") for r in results) else 0


def rerender(args) -> int:
    """--from-json: write the section again from a run saved with --json (no measuring)."""
    saved = json.loads(args.from_json.read_text())
    a = argparse.Namespace(**{**vars(args), **saved["args"]})
    text = render(saved["results"], saved["machine"], saved["command"], a,
                  dt.datetime.fromisoformat(saved["started"]), saved["elapsed"])
    return finish(text, args, saved["results"])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        return rerender(args)
    return run_event_loop(amain(args))


if __name__ == "__main__":
    sys.exit(main())
