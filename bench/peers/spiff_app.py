"""The six-step loop run by SpiffWorkflow 3 (a general BPMN engine), as bench/peers.py measures it.

The process is `loop.bpmn` beside this file: a user task per step (report, accept, dispatch, check_in,
feedback, verify) and an exclusive gateway after verify that sends a failed verification back to handling.
It is parsed once per process. Each case is one `BpmnWorkflow`, stored whole as the library serializes it
(`BpmnWorkflowSerializer.serialize_json`: task tree, data and the process spec) in `cases.state`.

Per request, one transaction (shape.py has the HTTP shape and the two writes):
- report: a new workflow, its ready `report` task completed with the body as data, serialized, inserted
  with its history row;
- an action: the row read, the workflow deserialized, the ready user task checked to be this action and
  completed with the body as data (accept also records the lead unit its category gives), the engine run
  to the next user task, serialized, versioned UPDATE and one history row.
The case's status is named by the user task it waits for (shape.WAITING_FOR), `closed` once the end is reached.

Run: `PEERS_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/peers_spiff PEERS_LEADS='{...}' \
      .venv/bin/uvicorn spiff_app:create_app --factory --app-dir bench/peers --workers 2`
after `shape.setup(url)`; bench/peers.py does both.
"""

from pathlib import Path

from fastapi import FastAPI
from shape import CLOSED, WAITING_FOR, Refused, answer, insert, lead_unit, load, make_app, write
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).with_name("loop.bpmn")
PROCESS = "case_loop"


def load_spec():
    """The parsed process (validated against the BPMN 2.0 schema)."""
    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(BPMN))
    return parser.get_spec(PROCESS)


SPEC = load_spec()
SERIALIZER = BpmnWorkflowSerializer()


def complete(workflow: BpmnWorkflow, action: str, data: dict) -> str:
    """Complete the ready user task named `action` with `data` and run the engine to the next user task.
    Answers the case's status now. Refused 409 when `action` is not the task the case waits for."""
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if task is None or task.task_spec.name != action:
        waiting = task.task_spec.name if task else "nothing (closed)"
        raise Refused(409, f"{action} is not allowed now: the case waits for {waiting}")
    task.set_data(**data)
    task.run()
    workflow.do_engine_steps()
    nxt = workflow.get_next_task(state=TaskState.READY, manual=True)
    return WAITING_FOR[nxt.task_spec.name] if nxt else CLOSED


async def report(pool, actor: str, body: dict):
    workflow = BpmnWorkflow(SPEC)
    workflow.do_engine_steps()
    status = complete(workflow, "report", body)
    state = SERIALIZER.serialize_json(workflow)
    async with pool.acquire() as conn, conn.transaction():
        case_id = await insert(conn, status, str(body.get("township", "")), state, actor, body)
    return answer(case_id, 1, status, None, 201)


async def act(pool, case_id: int, action: str, body: dict, actor: str, if_match: str | None):
    async with pool.acquire() as conn, conn.transaction():
        row = await load(conn, case_id, if_match)
        workflow = SERIALIZER.deserialize_json(row["state"])
        lead = row["lead_unit"]
        data = body
        if action == "accept":
            lead = lead_unit(str(body.get("category")), row["township"])
            data = {**body, "lead_unit": lead}
        status = complete(workflow, action, data)
        version = await write(conn, row, status, lead, SERIALIZER.serialize_json(workflow), actor, action, body)
    return answer(case_id, version, status, lead)


def create_app() -> FastAPI:
    return make_app("six-step loop on SpiffWorkflow", report, act)
