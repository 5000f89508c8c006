"""CPU the API layer itself (FastAPI/Starlette, our middlewares, auth, the answer's encoding) puts on one case
action and one report, without the service: `svc.cases.act` and `svc.cases.report` are replaced by stubs that
answer a fixed case view, and the ASGI app is called directly (no HTTP client, no server). CPU is
time.process_time() over N requests, best of R rounds (the machine is shared: the best round is the least
disturbed). Beside them: GET /healthz's route with its database read stubbed out too (the bare stack), and the
stubs alone.

    .venv/bin/python bench/api_overhead.py                 # 3000 requests a round, 5 rounds
    .venv/bin/python bench/api_overhead.py -n 5000 -r 7 --profile /tmp/api.prof
"""

import argparse
import asyncio
import contextlib
import cProfile
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chuishao.api.app import create_app  # noqa: E402
from chuishao.flows.access import Actor  # noqa: E402
from chuishao.flows.clock import LOCAL_TZ, FixedClock  # noqa: E402
from chuishao.models.config import Settings  # noqa: E402
from chuishao.models.migrate import upgrade  # noqa: E402

VIEW = {
    "id": 42, "code": "CS20261116000042", "title": "东街有人私搭乱建", "description": "东街 12 号院内新建砖房",
    "category": "LAND01", "township": "FC", "grid": "FC01", "address": None, "lat": None, "lon": None,
    "urgency": "normal", "source": "grid", "status": "handling", "status_label": "处置中", "step": 4,
    "version": 4, "lead_unit": "ZRZY",
    "whistles": [{"unit": "ZRZY", "unit_name": "自然资源局", "role": "lead", "state": "checked_in", "active": True,
                  "arbitrated": False, "round": 1, "dispatched_at": "2026-11-16T09:00:00+08:00",
                  "checked_in_at": "2026-11-16T09:00:00+08:00", "returned_at": None, "return_reason": None}],
    "deadline": "2026-11-23T09:00:00+08:00", "alert": "none", "alert_label": "正常", "provisional": False,
    "time_left_minutes": 2400, "outcome": None, "suspended_from": None, "merged_into": None, "return_count": 0,
    "rework_count": 0, "pending_extension": None, "reporter_id": 7, "created_at": "2026-11-16T09:00:00+08:00",
    "updated_at": "2026-11-16T09:00:00+08:00", "closed_at": None, "allowed_actions": ["feedback", "urge"],
    "predicted_closure": {"median_at": None, "p80_at": None, "samples": 0, "window_days": 90},
}


class Null:
    """A stand-in for a database read: /healthz's `SELECT 1`, and the calendar watcher's version check (which
    finds the version it has, so reads nothing more)."""

    def __init__(self, version: int):
        self.version = version

    async def execute(self, *a, **k):
        return None

    async def get(self, *a, **k):
        return SimpleNamespace(value={"v": self.version})


async def call(app, method: str, path: str, headers: list, body: bytes = b"") -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"b"), *headers, (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {}}
    sent = False
    status, chunks = 0, []

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="chuishao-api-overhead-"))
    url = f"sqlite:///{tmp / 'b.db'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="bench-secret-of-at-least-thirty-two-b")
    clock = FixedClock(datetime(2026, 11, 16, 9, 0, tzinfo=LOCAL_TZ))
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        svc = app.state.services

        async def act(case_id, action, actor, raw, now, if_match=None, session_id=None):
            return dict(VIEW)

        async def report(actor, raw, now, client_key=None, session_id=None, **k):
            return dict(VIEW)

        @contextlib.asynccontextmanager
        async def read():
            yield Null(svc.cases.calendar.version)

        await app.state.live.stop()  # its loops read the database; nothing here needs them
        svc.cases.act, svc.cases.report, svc.db.read = act, report, read
        who = Actor(7, "gw_fc1", "grid_worker", 3, "FC01", 2)
        token = svc.tokens.issue(who, clock(), None)
        auth = [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")]
        act_body = json.dumps({"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1"]}).encode()
        report_body = json.dumps({"title": "东街有人私搭乱建", "description": "东街 12 号院内新建砖房"}).encode()
        cases = {
            "action": ("POST", "/api/v1/cases/42/actions/feedback", [*auth, (b"if-match", b"4")], act_body, 200),
            "report": ("POST", "/api/v1/cases", auth, report_body, 201),
            "healthz": ("GET", "/healthz", [], b"", 200),
        }
        for name, (method, path, headers, body, want) in cases.items():
            status, out = await call(app, method, path, headers, body)
            assert status == want, (name, status, out)
            if name != "healthz":
                assert json.loads(out)["code"] == VIEW["code"], out
        best = {}
        prof = cProfile.Profile() if args.profile else None
        for name, (method, path, headers, body, _) in [*cases.items(), ("stub", (None,) * 5)]:
            rounds = []
            for _ in range(args.rounds):
                t = time.process_time()
                if name == "stub":
                    for _ in range(args.n):
                        await act(42, "feedback", who, {}, clock(), None, None)
                else:
                    if prof and name == "action":
                        prof.enable()
                    for _ in range(args.n):
                        await call(app, method, path, headers, body)
                    if prof and name == "action":
                        prof.disable()
                rounds.append((time.process_time() - t) / args.n)
            best[name] = min(rounds)
        if prof:
            prof.dump_stats(args.profile)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=3000, help="requests a round")
    p.add_argument("-r", "--rounds", type=int, default=5)
    p.add_argument("--profile", help="write a cProfile of the action requests to this file")
    args = p.parse_args()
    best = asyncio.run(run(args))
    for name, cpu in best.items():
        print(f"{name:8s} {1e6 * cpu:8.1f} µs CPU a request (best of {args.rounds} rounds of {args.n})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
