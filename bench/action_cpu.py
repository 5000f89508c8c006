"""CPU per action inside the API process, without the network or a client: the six-step loop driven through
the ASGI app in-process (httpx's ASGITransport), the county of tests/county.py, sequential loops, CPU read with
time.process_time() around each request. It isolates the cost a request puts on the API process (FastAPI,
auth, the service, the ORM/driver, the view) from the machine's noise; PostgreSQL's own CPU is not in it (see
bench/loop.py for the whole picture). `--profile FILE` writes a cProfile of the measured loops.

    .venv/bin/python bench/action_cpu.py                       # SQLite, 200 loops
    .venv/bin/python bench/action_cpu.py --db postgresql --loops 300 --profile /tmp/act.prof
"""

import argparse
import asyncio
import cProfile
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chuishao.api.app import create_app  # noqa: E402
from chuishao.flows.admin import AdminService, Passwords, bootstrap  # noqa: E402
from chuishao.flows.clock import LOCAL_TZ, FixedClock  # noqa: E402
from chuishao.flows.units import UnitDirectory  # noqa: E402
from chuishao.models import compiled  # noqa: E402
from chuishao.models.config import Settings  # noqa: E402
from chuishao.models.db import Database  # noqa: E402
from chuishao.models.migrate import upgrade  # noqa: E402
from tests.county import CATALOG, PASSWORD, UNITS, USERS  # noqa: E402

PG_DATABASE = f"chuishao_action_cpu_{os.getpid()}"  # per run: two runs at once must not drop each other's
STEPS = ("report", "accept", "dispatch", "check_in", "feedback", "verify")
ADMIN_PASSWORD = "admin-pass-123"


def database_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    return f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}"


def drop_database() -> None:
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')


async def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="chuishao-action-cpu-"))
    url = database_url(args.db, tmp)
    upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="bench-secret-of-at-least-thirty-two-b",
                        argon2_time_cost=1, argon2_memory_kib=8192)
    clock = FixedClock(datetime(2026, 11, 16, 9, 0, tzinfo=LOCAL_TZ))
    db = Database(settings.url)
    await bootstrap(AdminService(db, UnitDirectory(), Passwords(1, 8192)), county_code="WS", county_name="文水县",
                    admin_password=ADMIN_PASSWORD, now=clock())
    await db.dispose()
    app = create_app(settings, clock)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://b") as c:
        async def token(user, password):
            r = await c.post("/api/v1/auth/token", data={"username": user, "password": password})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin = await token("admin", ADMIN_PASSWORD)
        for path, rows in (("/api/v1/units", UNITS), ("/api/v1/catalog", CATALOG)):
            for row in rows:
                assert (await c.post(path, json=row, headers=admin)).status_code == 201
        for name, (role, unit, cert, expires) in USERS.items():
            body = {"username": name, "password": PASSWORD, "name": name, "role": role, "unit": unit}
            if cert:
                body |= {"certificate_no": cert, "certificate_expires": expires}
            assert (await c.post("/api/v1/users", json=body, headers=admin)).status_code == 201
        h = {u: await token(u, PASSWORD) for u in ("gw_fc1", "disp_fc", "zrzy_liaison", "zrzy_off1",
                                                   "liaison_fc")}
        cpu = {s: [] for s in STEPS}
        current = {"step": None}

        def counted(_statement):
            if current["step"] is not None:
                statements[current["step"]] += 1

        # SQLAlchemy's executions, and the action path's own on the driver connection (models/compiled.py)
        event.listen(Engine, "before_cursor_execute", lambda *a, **kw: counted(a[2]))
        compiled.OBSERVERS.append(counted)

        async def step(name, who, path, body):
            current["step"] = name
            t = time.process_time()
            r = await c.post(path, json=body, headers=h[who])
            cpu[name].append(time.process_time() - t)
            current["step"] = None
            assert r.status_code in (200, 201), f"{name}: {r.status_code} {r.text}"
            return r.json()

        async def loop():
            case = await step("report", "gw_fc1", "/api/v1/cases",
                              {"title": "东街有人私搭乱建", "description": "东街 12 号院内新建砖房"})
            act = f"/api/v1/cases/{case['id']}/actions/"
            await step("accept", "disp_fc", act + "accept", {"category": "LAND01"})
            await step("dispatch", "disp_fc", act + "dispatch", {})
            await step("check_in", "zrzy_liaison", act + "check_in", {})
            await step("feedback", "zrzy_off1", act + "feedback",
                       {"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1", "zrzy_off2"]})
            await step("verify", "liaison_fc", act + "verify",
                       {"passed": True, "satisfaction": "satisfied", "rating": 5})

        statements = {s: 0 for s in STEPS}
        for _ in range(args.warmup):
            await loop()
        cpu = {s: [] for s in STEPS}
        statements = {s: 0 for s in STEPS}
        prof = cProfile.Profile() if args.profile else None
        if prof:
            prof.enable()
        wall = time.perf_counter()
        for _ in range(args.loops):
            await loop()
        wall = time.perf_counter() - wall
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
    return {"cpu": cpu, "wall": wall, "statements": statements}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--loops", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--profile", help="write a cProfile of the measured loops to this file")
    args = p.parse_args()
    try:
        out = asyncio.run(run(args))
    finally:
        if args.db == "postgresql":
            drop_database()
    total = [sum(x) for x in zip(*out["cpu"].values(), strict=True)]
    n = args.loops * len(STEPS)
    print(f"{args.db}: {args.loops} loops, {n} actions, wall {out['wall']:.2f} s "
          f"({n / out['wall']:.0f} actions/s sequential, in-process)")
    print(f"API-process CPU per action: mean {1000 * sum(total) / n:.2f} ms")
    for s in STEPS:
        xs = out["cpu"][s]
        print(f"  {s:9s} mean {1000 * statistics.mean(xs):6.2f} ms   median {1000 * statistics.median(xs):6.2f} ms"
              f"   statements {out['statements'][s] / args.loops:.1f} (BEGIN/COMMIT included; the request's own)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
