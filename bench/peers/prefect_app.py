"""The six-step loop as one Prefect 3 flow run per step, as bench/peers.py measures it.

Each HTTP request (shape.py: same paths, bodies and answers as chuishao's API) calls a Prefect flow in the
request's own event loop — `case-report` or `case-step` — so every step is a real flow run recorded by the
Prefect server at PREFECT_API_URL (its own PostgreSQL database): the run is created, its parameters stored,
its states (Pending → Running → Completed or Failed) and log lines sent, as Prefect does for any flow call.
Inside the run the step's database work is the same one transaction as the SpiffWorkflow app's: read the
row, check the step against a plain transition table, versioned UPDATE, one history row. `cases.state`
holds the case's data as JSON.

Run: `PREFECT_API_URL=http://127.0.0.1:4200/api PEERS_DATABASE_URL=postgresql://.../peers_prefect \
      PEERS_LEADS='{...}' .venv/bin/uvicorn prefect_app:create_app --factory --app-dir bench/peers --workers 2`
after `shape.setup(url)` and `prefect server start`; bench/peers.py does all three.
"""

import json

from fastapi import FastAPI
from prefect import flow
from shape import CLOSED, Refused, answer, insert, lead_unit, load, make_app, write

# action -> (the status it starts from, the status it leads to); verify leads back to handling when not passed
TRANSITIONS = {"accept": ("reported", "accepted"), "dispatch": ("accepted", "dispatched"),
               "check_in": ("dispatched", "handling"), "feedback": ("handling", "feedback"),
               "verify": ("feedback", CLOSED)}

_POOL = []  # the app's asyncpg pool, for the flows (their parameters must be plain data)


@flow(name="case-report")
async def report_flow(actor: str, body: dict) -> int:
    """Insert the reported case; answers its id."""
    async with _POOL[0].acquire() as conn, conn.transaction():
        return await insert(conn, "reported", str(body.get("township", "")), json.dumps(body), actor, body)


@flow(name="case-step")
async def step_flow(case_id: int, action: str, body: dict, actor: str, if_match: str | None) -> dict:
    """Take one step of a case; answers {version, status, lead_unit}. Raises Refused (the run fails)."""
    async with _POOL[0].acquire() as conn, conn.transaction():
        row = await load(conn, case_id, if_match)
        if action not in TRANSITIONS or TRANSITIONS[action][0] != row["status"]:
            raise Refused(409, f"{action} is not allowed in status {row['status']}")
        status = TRANSITIONS[action][1]
        if action == "verify" and not body.get("passed"):
            status = "handling"
        lead = lead_unit(str(body.get("category")), row["township"]) if action == "accept" else row["lead_unit"]
        data = {**json.loads(row["state"]), **body, "lead_unit": lead}
        version = await write(conn, row, status, lead, json.dumps(data), actor, action, body)
    return {"version": version, "status": status, "lead_unit": lead}


async def report(pool, actor: str, body: dict):
    _POOL[:] = [pool]
    return answer(await report_flow(actor, body), 1, "reported", None, 201)


async def act(pool, case_id: int, action: str, body: dict, actor: str, if_match: str | None):
    _POOL[:] = [pool]
    done = await step_flow(case_id, action, body, actor, if_match)
    return answer(case_id, done["version"], done["status"], done["lead_unit"])


def create_app() -> FastAPI:
    return make_app("six-step loop, one Prefect flow run per step", report, act)
