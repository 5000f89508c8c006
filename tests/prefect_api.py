"""The Prefect server seen from a test, through its REST API and /proc: the runs of a deployment as an operator's
dashboard shows them, and the processes a worker left."""

import os
from datetime import datetime
from pathlib import Path

import httpx


class PrefectRuns:
    """The Prefect server's REST API, read the way an operator's dashboard would."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=10)

    def healthy(self) -> bool:
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def deployment_id(self, name: str) -> str:
        found = self.http.post("/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}).json()
        assert found, f"deployment {name} is not registered"
        return found[0]["id"]

    def runs(self, deployment: str) -> list[dict]:
        return self.http.post("/flow_runs/filter", json={
            "deployments": {"id": {"any_": [self.deployment_id(deployment)]}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 200}).json()

    def late_runs(self, deployment: str, before: datetime) -> list[dict]:
        return [r for r in self.runs(deployment) if datetime.fromisoformat(r["expected_start_time"]) < before]

    def backfill(self, deployment: str, scheduled: datetime) -> str:
        """A run the scheduler would have created at `scheduled` and no worker took: late from the start."""
        run = self.http.post(f"/deployments/{self.deployment_id(deployment)}/create_flow_run", json={
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": scheduled.isoformat()}}})
        assert run.status_code == 201, run.text
        return run.json()["id"]


def processes_with(marker: str) -> list[int]:
    """The processes whose environment holds `marker` ("NAME=value"): a worker and the flow runs it started,
    each in a session of its own."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in (Path("/proc") / entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry))
            except OSError:  # ended meanwhile, or not ours to read
                continue
    return found
