"""What the two peer apps of bench/peers.py share: chuishao's HTTP shape for the six-step loop, their tables,
and the one versioned write per step.

HTTP, as chuishao's API answers it (so bench/loop.py's `Loops` drives all three unchanged):
- `POST /api/v1/cases` with the report's JSON body → 201 `{"id", "version", "status", "lead_unit"}`;
- `POST /api/v1/cases/{id}/actions/{action}` with a JSON body and `If-Match: <version>` → 200, same shape;
  404 for no such case, 409 when the action is not the case's next step or the version moved meanwhile;
- `GET /healthz`.
The actor is the bearer token's text as it stands (the bench passes user names; nothing is verified, where
chuishao verifies a signed token and the user's scope). Bodies are taken as JSON objects, not validated.

Storage (PostgreSQL through asyncpg, a pool of up to 10 connections per process): `cases (id, status, version,
township, lead_unit, state)` — `state` is whatever the app keeps of a case (SpiffWorkflow: the serialized
workflow) — and `history`, one row per step. Every step is one transaction: read the row, decide, versioned
`UPDATE … WHERE id = $ AND version = $v`, one `INSERT INTO history`.

Settings from the environment: PEERS_DATABASE_URL (a libpq URL), PEERS_LEADS (JSON: catalog code → lead unit
code, null where the township's own team leads).
"""

import contextlib
import json
import os
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SCHEMA = """
DROP TABLE IF EXISTS history;
DROP TABLE IF EXISTS cases;
CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    township TEXT NOT NULL,
    lead_unit TEXT,
    state TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE history (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id),
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    body JSONB NOT NULL
);
CREATE INDEX history_case ON history (case_id);
"""

# the status a case shows while this step is the one it waits for
WAITING_FOR = {"accept": "reported", "dispatch": "accepted", "check_in": "dispatched", "feedback": "handling",
               "verify": "feedback"}
CLOSED = "closed"


def setup(url: str) -> None:
    """(Re)create the two tables in the database at `url` (synchronous; before the servers start)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)


class Refused(Exception):
    """A step the app will not take: `status` is the HTTP status to answer (404, 409)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


_LEADS: dict[str, str | None] = json.loads(os.environ.get("PEERS_LEADS", "{}"))


def lead_unit(category: str, township: str) -> str:
    """The unit that leads a case of this catalog code: the item's department, else the township's team."""
    if category not in _LEADS:
        raise Refused(409, f"unknown category {category!r}")
    return _LEADS[category] or f"{township}-ZFD"


def answer(case_id: int, version: int, status: str, lead: str | None, code: int = 200) -> JSONResponse:
    return JSONResponse({"id": case_id, "version": version, "status": status, "lead_unit": lead}, status_code=code)


async def load(conn, case_id: int, if_match: str | None) -> asyncpg.Record:
    """The case row (id, status, version, township, lead_unit, state). Refused 404 / 409 (If-Match not its
    version)."""
    row = await conn.fetchrow("SELECT id, status, version, township, lead_unit, state FROM cases WHERE id = $1",
                              case_id)
    if row is None:
        raise Refused(404, f"no case {case_id}")
    if if_match is not None and if_match.strip('"') != str(row["version"]):
        raise Refused(409, f"case {case_id} is at version {row['version']}, not {if_match}")
    return row


async def insert(conn, status: str, township: str, state: str, actor: str, body: dict) -> int:
    """A new case at version 1 and its first history row; answers its id."""
    case_id = await conn.fetchval("INSERT INTO cases (status, version, township, state) VALUES ($1, 1, $2, $3) "
                                  "RETURNING id", status, township, state)
    await conn.execute("INSERT INTO history (case_id, actor, action, from_status, to_status, body) "
                       "VALUES ($1, $2, 'report', NULL, $3, $4::jsonb)", case_id, actor, status, json.dumps(body))
    return case_id


async def write(conn, row: asyncpg.Record, status: str, lead: str | None, state: str, actor: str, action: str,
                body: dict) -> int:
    """The versioned UPDATE of a loaded row and its history row; answers the new version. Refused 409 when the
    version moved since `load`."""
    done = await conn.execute("UPDATE cases SET status = $1, version = version + 1, lead_unit = $2, state = $3, "
                              "updated_at = now() WHERE id = $4 AND version = $5",
                              status, lead, state, row["id"], row["version"])
    if done != "UPDATE 1":
        raise Refused(409, f"case {row['id']} moved on meanwhile")
    await conn.execute("INSERT INTO history (case_id, actor, action, from_status, to_status, body) "
                       "VALUES ($1, $2, $3, $4, $5, $6::jsonb)", row["id"], actor, action, row["status"], status,
                       json.dumps(body))
    return row["version"] + 1


Report = Callable[[asyncpg.Pool, str, dict], Awaitable[JSONResponse]]
Act = Callable[[asyncpg.Pool, int, str, dict, str, str | None], Awaitable[JSONResponse]]


def make_app(title: str, report: Report, act: Act) -> FastAPI:
    """The HTTP shape above around an app's `report(pool, actor, body)` and `act(pool, case_id, action, body,
    actor, if_match)`; a `Refused` they raise becomes its status with `{"error": message}`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await asyncpg.create_pool(os.environ["PEERS_DATABASE_URL"], min_size=1, max_size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(title=title, lifespan=lifespan)

    def actor(request: Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ") or "anonymous"

    async def run(call: Awaitable[JSONResponse]) -> JSONResponse:
        try:
            return await call
        except Refused as err:
            return JSONResponse({"error": err.message}, status_code=err.status)

    @app.get("/healthz")
    async def healthz():
        async with app.state.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        return {"status": "ok"}

    @app.post("/api/v1/cases")
    async def post_case(request: Request):
        return await run(report(app.state.pool, actor(request), await request.json()))

    @app.post("/api/v1/cases/{case_id}/actions/{action}")
    async def post_action(case_id: int, action: str, request: Request):
        return await run(act(app.state.pool, case_id, action, await request.json(), actor(request),
                             request.headers.get("if-match")))

    return app
