"""chuishao side by side with two general designs on the same six-step loop (issue 13).

Three systems, each behind the same HTTP shape (`POST /api/v1/cases`, `POST /api/v1/cases/{id}/actions/{action}`
with a JSON body and `If-Match`), each with 2 server processes and its own fresh database on the same
PostgreSQL server (127.0.0.1:5432):
  - chuishao as shipped: `chuishao serve --workers 2` with CHUISHAO_SCHEDULER=worker (the API only: with more
    than one process serve requires it; no `chuishao worker` runs, so no alerts fire meanwhile);
  - SpiffWorkflow 3: bench/peers/spiff_app.py runs the loop as the BPMN process bench/peers/loop.bpmn (a user
    task per step, a gateway sending a failed verification back to handling); per step it loads the
    serialized workflow from a row, completes the ready user task with the body as data, serializes, and
    writes a versioned UPDATE and one history row, in one transaction;
  - one Prefect flow run per step: bench/peers/prefect_app.py calls a Prefect 3 flow for every request,
    against a real `prefect server start` on its own PostgreSQL database; the flow does the step's update.

The load is bench/loop.py's: the same county, the same loops (report → accept → dispatch → check_in →
feedback → verify, each loop one case taken through its six steps by the users a county would use), the
same lean HTTP client (bench/common.py's RawClient, connections balanced over the 2 processes), the same
concurrency. After a warm-up, the systems are measured in alternating rounds (chuishao, Spiff, Prefect,
chuishao, …) so the machine's noise falls on all alike; while one is measured the other two are paused
(SIGSTOP of their process groups) and the script first waits for a quiet machine. Prefect, at about one
loop a second, runs fewer loops per round. CPU is read from /proc: the system's server processes (for
Prefect the API processes and the Prefect server), the PostgreSQL backends of its database(s) and
PostgreSQL's own processes, and this load generator apart. Results go to bench/RESULTS.md (## peers).

    .venv/bin/pip install -e '.[bench]'          # SpiffWorkflow
    .venv/bin/python bench/peers.py
    .venv/bin/python bench/peers.py --loops 200 --concurrency 16 --rounds 2 --prefect-loops 16 --no-write
"""

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers"
sys.path.insert(0, str(PEERS))

import shape  # noqa: E402 - bench/peers/shape.py: the peer apps' tables
from common import (  # noqa: E402
    OUR_DATABASE,
    CpuSnap,
    RawClient,
    Recorder,
    Server,
    add_pg_args,
    admin,
    await_quiet,
    conninfo,
    cpu_and_ram,
    cpu_delta,
    free_port,
    invocation,  # noqa: E402
    log,
    pct,
    publish,
    run_event_loop,
    server_settings,
    serving_processes,
    tail,
    tracebacks,
)
from loop import (  # noqa: E402 - the county and the loops bench/loop.py drives
    ADMIN_PASSWORD,
    CATALOG,
    STEPS,
    Loops,
    banner,
    build_county,
    http_client,
    login_all,
    service_env,
    users,
)

SECTION = "## peers"
BIN = Path(sys.executable).parent
SYSTEMS = ("chuishao", "spiff", "prefect")
LABEL = {"chuishao": "chuishao", "spiff": "SpiffWorkflow (BPMN)", "prefect": "Prefect, a flow run per step"}
# issue 13: chuishao >= 2x Spiff's loops/s at <= 1/2 its CPU per loop, and >= 100x the flow-per-step design
TARGET_SPIFF_RATE, TARGET_SPIFF_CPU, TARGET_PREFECT_RATE = 2.0, 0.5, 100.0
PACKAGES = ("chuishao", "SpiffWorkflow", "prefect", "fastapi", "uvicorn", "asyncpg", "SQLAlchemy")


class System:
    """One system under test: its servers (the API last), its databases, the tokens its loops send."""

    def __init__(self, name: str, databases: list[str]):
        self.name, self.databases = name, databases
        self.servers: list[Server] = []
        self.tokens: dict[str, str] = {}
        self.client: RawClient | None = None
        self.windows: list[dict] = []
        self.banner: list[str] = []
        self.flow_runs: dict[str, int] = {}

    @property
    def api(self) -> Server:
        return self.servers[-1]

    @property
    def pgids(self) -> list[int]:
        return [s.pgid for s in self.servers]

    def pause(self) -> None:
        for s in self.servers:
            s.pause()

    def resume(self) -> None:
        for s in self.servers:
            s.resume()


def clean_env(**extra: str) -> dict:
    """This environment less any CHUISHAO_/PREFECT_ settings of the caller's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUISHAO_", "PREFECT_"))}
    env.update(DO_NOT_TRACK="1", PYTHONUNBUFFERED="1", **extra)
    return env


def pg_url(a, db: str, driver: str = "postgresql") -> str:
    return f"{driver}://{a.user}@{a.host}:{a.port}/{db}"


def fresh_database(a, db: str) -> None:
    admin(a, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"')


def uvicorn_argv(module: str, port: int, workers: int) -> list[str]:
    return [str(BIN / "uvicorn"), f"{module}:create_app", "--factory", "--app-dir", str(PEERS), "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers)]


async def start(system: System, server: Server) -> None:
    system.servers.append(server)
    server.start()
    await server.wait_healthy()
    log(f"  {server.name} healthy on :{server.port}")


async def setup_chuishao(a, tmp: Path) -> System:
    db = f"{a.db}_chuishao"
    system = System("chuishao", [db])
    fresh_database(a, db)
    data_dir = tmp / "chuishao" / "data"
    data_dir.mkdir(parents=True)
    env = service_env(data_dir, pg_url(a, db)) | {"CHUISHAO_SCHEDULER": "worker"}
    subprocess.run([str(BIN / "chuishao"), "init", "--admin-password", ADMIN_PASSWORD], cwd=ROOT, env=env,
                   check=True, timeout=180, stdout=subprocess.DEVNULL)
    port = free_port()
    argv = [str(BIN / "chuishao"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(a.workers)]
    await start(system, Server("chuishao", argv, env, tmp / "chuishao" / "serve.log", port))
    system.banner = banner(system.api.log)
    async with http_client(system.api.base, a.concurrency) as c:
        await build_county(c)
        system.tokens = await login_all(c)
    return system


def peer_env(a, db: str, **extra: str) -> dict:
    leads = {item["code"]: item.get("lead_unit") for item in CATALOG}
    return clean_env(PEERS_DATABASE_URL=pg_url(a, db), PEERS_LEADS=json.dumps(leads), **extra)


async def setup_spiff(a, tmp: Path) -> System:
    db = f"{a.db}_spiff"
    system = System("spiff", [db])
    fresh_database(a, db)
    shape.setup(pg_url(a, db))
    (tmp / "spiff").mkdir()
    port = free_port()
    await start(system, Server("SpiffWorkflow app", uvicorn_argv("spiff_app", port, a.workers), peer_env(a, db),
                               tmp / "spiff" / "app.log", port))
    system.tokens = {u[0]: u[0] for u in users()}  # the peers take the bearer's text as the actor's name
    return system


async def setup_prefect(a, tmp: Path) -> System:
    db, server_db = f"{a.db}_prefect", f"{a.db}_prefect_server"
    system = System("prefect", [db, server_db])
    for name in system.databases:
        fresh_database(a, name)
    shape.setup(pg_url(a, db))
    home = tmp / "prefect" / "home"
    home.mkdir(parents=True)
    port = free_port()
    # as docker-compose.yml runs it: PostgreSQL, no UI, no telemetry, warnings only in its log
    env = clean_env(PREFECT_HOME=str(home), PREFECT_API_DATABASE_CONNECTION_URL=pg_url(a, server_db,
                                                                                       "postgresql+asyncpg"),
                    PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false",
                    PREFECT_SERVER_LOGGING_LEVEL="WARNING")
    await start(system, Server("Prefect server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                                  "--port", str(port)], env, tmp / "prefect" / "server.log", port,
                               health="/api/health"))
    api = f"http://127.0.0.1:{port}/api"
    port = free_port()
    await start(system, Server("Prefect app", uvicorn_argv("prefect_app", port, a.workers),
                               peer_env(a, db, PREFECT_HOME=str(home), PREFECT_API_URL=api),
                               tmp / "prefect" / "app.log", port))
    system.tokens = {u[0]: u[0] for u in users()}
    return system


SETUP = {"chuishao": setup_chuishao, "spiff": setup_spiff, "prefect": setup_prefect}


def flow_runs(a, server_db: str) -> dict[str, int]:
    """{flow name and final state: runs} as the Prefect server recorded them: one per step taken."""
    import psycopg

    with psycopg.connect(conninfo(a, server_db)) as conn:
        rows = conn.execute("SELECT f.name, r.state_type, count(*) FROM flow_run r JOIN flow f ON f.id = r.flow_id "
                            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return {f"{name} {state}": n for name, state, n in rows}


# ---- measuring -------------------------------------------------------------------------------------------
def loops_for(a, system: System) -> int:
    return a.prefect_loops if system.name == "prefect" else a.loops


async def window(a, system: System, others: list[System], loops: int, seed: int, quiet_wait: float) -> dict:
    """Measure `loops` loops of one system with the others paused; answers the window's figures."""
    for s in others:
        s.pause()
    system.resume()
    OUR_DATABASE[:] = system.databases
    quiet = await await_quiet(quiet_wait, system.pgids)
    workers = serving_processes(system.api.pgid, system.api.port)
    split = await system.client.connect_balanced(a.concurrency, workers) if len(workers) > 1 else {}
    rec = Recorder()
    before = CpuSnap.take()
    wall = await Loops(system.client, system.tokens, seed).run(rec, loops, a.concurrency, a.max_seconds)
    after = CpuSnap.take()
    return {"rec": rec, "wall": wall, "cpu": cpu_delta(before, after, system.pgids), "quiet": quiet,
            "split": sorted(split.values(), reverse=True)}


def figures(w: dict) -> dict:
    """The JSON-able figures of a window (or of several pooled: see pool())."""
    rec: Recorder = w["rec"]
    cpu, n, loops = w["cpu"], rec.n_ok, rec.loops_done
    return {
        "loops": loops, "loops_failed": rec.loops_failed, "actions": n, "wall": w["wall"],
        "loops_per_s": loops / w["wall"] if w["wall"] else 0.0, "actions_per_s": n / w["wall"] if w["wall"] else 0.0,
        "p50": pct(rec.all_latencies, .5), "p99": pct(rec.all_latencies, .99),
        "steps": {s: [pct(rec.latencies[s], .5), pct(rec.latencies[s], .99)] for s in STEPS},
        "errors": rec.n_errors, "error_kinds": {f"{s} {st}": k for (s, st), k in sorted(rec.errors.items())},
        "error_samples": rec.samples,
        "cpu": {k: cpu[k] for k in ("server", "postgres", "client", "other", "machine_busy")},
        "other_top": cpu.get("other_top", []), "server_split": cpu.get("server_split", []),
        "cpu_ms_per_loop": {k: cpu[k] * 1000 / loops if loops else float("nan")
                            for k in ("server", "postgres", "client")},
        "quiet": w.get("quiet"), "connections": w.get("split"),
    }


def pool(windows: list[dict]) -> dict:
    """Several windows of one system as one: loops, walls and CPU added, latencies pooled."""
    rec = Recorder()
    for w in windows:
        for step, xs in w["rec"].latencies.items():
            rec.latencies[step] += xs
        rec.errors.update(w["rec"].errors)
        rec.samples += w["rec"].samples[:8 - len(rec.samples)]
        rec.loops_done += w["rec"].loops_done
        rec.loops_failed += w["rec"].loops_failed
    cpu = {k: sum(w["cpu"][k] for w in windows) for k in ("server", "postgres", "client", "other")}
    cpu["machine_busy"] = sum(w["cpu"]["machine_busy"] * w["wall"] for w in windows) / max(
        1e-9, sum(w["wall"] for w in windows))
    return figures({"rec": rec, "wall": sum(w["wall"] for w in windows), "cpu": cpu})


async def run(a, tmp: Path) -> dict:
    systems: list[System] = []
    try:
        for name in a.systems:
            log(f"{name}: setting up")
            systems.append(await SETUP[name](a, tmp))
            systems[-1].pause()
        for s in systems:
            s.client = RawClient("127.0.0.1", s.api.port)
        for s in systems:
            warm = a.prefect_warmup if s.name == "prefect" else a.warmup
            w = await window(a, s, [o for o in systems if o is not s], warm, a.seed, 5.0)
            log(f"{s.name}: warm-up {w['rec'].loops_done} loops, {w['rec'].n_errors} errors")
            if w["rec"].n_errors:
                raise RuntimeError(f"{s.name}: warm-up failed: {w['rec'].samples[:3]}")
        for r in range(a.rounds):
            for s in systems:
                w = await window(a, s, [o for o in systems if o is not s], loops_for(a, s), a.seed + 1 + r,
                                 a.quiet_wait)
                f = figures(w)
                s.windows.append(w)
                log(f"round {r + 1} {s.name}: {f['loops']} loops in {f['wall']:.1f} s = {f['loops_per_s']:.2f} "
                    f"loops/s, {f['actions_per_s']:.0f} actions/s, p50 {f['p50']:.0f} ms, p99 {f['p99']:.0f} ms, "
                    f"CPU {sum(f['cpu_ms_per_loop'][k] for k in ('server', 'postgres')):.1f} ms/loop, "
                    f"errors {f['errors']}")
        prefect = next((s for s in systems if s.name == "prefect"), None)
        if prefect:
            prefect.flow_runs = flow_runs(a, prefect.databases[1])
    finally:
        for s in systems:
            if s.client:
                await s.client.__aexit__()
            for server in reversed(s.servers):
                server.stop()
        if not a.keep:
            with contextlib.suppress(Exception):
                dbs = [f"{a.db}_{x}" for x in ("chuishao", "spiff", "prefect", "prefect_server")]
                admin(a, *(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in dbs))
    return {s.name: {"rounds": [figures(w) for w in s.windows], "total": pool(s.windows), "banner": s.banner,
                     "flow_runs": s.flow_runs,
                     "tracebacks": [t for srv in s.servers for t in tracebacks(srv.log, 1)],
                     "commands": [shlex.join([Path(srv.argv[0]).name, *srv.argv[1:]]).replace(str(PEERS), "bench/peers")
                                  for srv in s.servers]}
            for s in systems}


# ---- the report ------------------------------------------------------------------------------------------
def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = "not installed"
    git = ["git", "-C", str(ROOT)]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out["commit"] = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                       timeout=10).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "api", "flows", "models", "notifications"],
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        out["dirty"] = len([x for x in dirty if x.strip()])
    return out


def machine(a) -> dict:
    cpu, ram = cpu_and_ram()
    pg, settings = server_settings(a, "fsync", "synchronous_commit", "shared_buffers", "max_connections")
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "postgresql": pg, "pg_settings": settings,
            "kernel": platform.release(), "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if x != x else f"{x:,.{digits}f}"


def ratio(x: float, y: float) -> float:
    return x / y if y and x == x and y == y else float("nan")


def cpu_per_loop(f: dict) -> float:
    return f["cpu_ms_per_loop"]["server"] + f["cpu_ms_per_loop"]["postgres"]


def render(res: dict, info: dict, a, command: str, started: dt.datetime, elapsed: float) -> str:
    v = info["versions"]
    L = [SECTION, ""]
    L.append(f"Measured {started:%Y-%m-%d %H:%M %Z} (run took {elapsed:.0f} s) by `bench/peers.py`, issue 13.")
    L.append("")
    L.append(f"- Machine: {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM, Linux {info['kernel']}, load "
             f"average at start {info['load']}; PostgreSQL {info['postgresql']} ("
             + ", ".join(f"{k}={x}" for k, x in sorted(info["pg_settings"].items())) + ").")
    dirty = (f", with {v['dirty']} uncommitted change(s) under api/ flows/ models/ notifications/ — another "
             "engineer's work in progress" if v.get("dirty") else "")
    L.append(f"- Versions: chuishao {v['chuishao']} (commit {v.get('commit', '?')}{dirty}); SpiffWorkflow "
             f"{v['SpiffWorkflow']}; Prefect {v['prefect']} (server and client); FastAPI {v['fastapi']}, uvicorn "
             f"{v['uvicorn']}, asyncpg {v['asyncpg']}, SQLAlchemy {v['SQLAlchemy']}; Python {v['python']}.")
    L.append(f"- Command: `{command}`")
    L.append(f"- Load: bench/loop.py's six-step loop (report → accept → dispatch → check_in → feedback → verify, a "
             f"fresh case each, `If-Match` sent) and county, through the same lean HTTP/1.1 client "
             f"(bench/common.py RawClient, keep-alive, connections balanced over the {a.workers} processes), "
             f"{a.concurrency} loops in flight; {a.rounds} round(s) alternating "
             + ", ".join(LABEL[s] for s in a.systems) + f"; per round {a.loops} loops ({a.prefect_loops} for "
             f"Prefect), after a warm-up. Latency is client-side, per action.")
    L.append("- Each system has its own fresh database on the same PostgreSQL server and "
             f"{a.workers} server processes (uvicorn, uvloop + httptools, access log on). While one is measured "
             "the others' process groups are paused (SIGSTOP), and the script waits for the machine to be "
             "quiet (< 15 % of all cores busy) first. **The load generator shares the 2 cores**: its CPU is "
             "listed apart; rates are lower bounds on what the servers alone would do.")
    L.append("- CPU per loop = CPU seconds from /proc over the measured windows ÷ loops completed: the system's "
             "server processes (for Prefect the API processes and the Prefect server) plus PostgreSQL (its own "
             "processes and the backends of the system's database(s)).")
    L.append("")

    t = {s: res[s]["total"] for s in res}
    if {"chuishao", "spiff", "prefect"} <= set(t):
        c, s, p = t["chuishao"], t["spiff"], t["prefect"]
        checks = [
            ("loops/s: chuishao ÷ SpiffWorkflow", ratio(c["loops_per_s"], s["loops_per_s"]), f"≥ {TARGET_SPIFF_RATE:g}",
             ratio(c["loops_per_s"], s["loops_per_s"]) >= TARGET_SPIFF_RATE),
            ("CPU per loop: chuishao ÷ SpiffWorkflow", ratio(cpu_per_loop(c), cpu_per_loop(s)),
             f"≤ {TARGET_SPIFF_CPU:g}", ratio(cpu_per_loop(c), cpu_per_loop(s)) <= TARGET_SPIFF_CPU),
            ("loops/s: chuishao ÷ a Prefect flow run per step", ratio(c["loops_per_s"], p["loops_per_s"]),
             f"≥ {TARGET_PREFECT_RATE:g}", ratio(c["loops_per_s"], p["loops_per_s"]) >= TARGET_PREFECT_RATE),
            ("CPU per loop: chuishao ÷ a Prefect flow run per step", ratio(cpu_per_loop(c), cpu_per_loop(p)),
             "(no target)", None),
        ]
        L += ["### Against issue 13", "", "| ratio | measured | target | |", "|---|---|---|---|"]
        for name, x, target, ok in checks:
            L.append(f"| {name} | {fmt(x, 2)} | {target} | {'' if ok is None else 'met' if ok else 'not met'} |")
        L.append("")
        budget = cpu_per_loop(s) * TARGET_SPIFF_CPU
        if cpu_per_loop(c) > budget:
            L.append(f"To meet the CPU target chuishao may use at most {fmt(budget)} ms of server + PostgreSQL CPU "
                     f"per loop ({fmt(budget / len(STEPS), 2)} ms per action) on this machine; it used "
                     f"{fmt(cpu_per_loop(c))} ms, {fmt(ratio(cpu_per_loop(c), budget))}× that. Where its CPU goes "
                     "per action is in `## loop` (statements per action, the profile).")
            L.append("")

    L += ["### Side by side (all rounds pooled)", "",
          "| system | loops | loops/s | actions/s | p50 ms | p99 ms | CPU ms per loop (server + PostgreSQL) | "
          "per action | client CPU ms per loop | machine busy | errors |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in res:
        f = t[name]
        m = f["cpu_ms_per_loop"]
        L.append(f"| {LABEL[name]} | {f['loops']} | {fmt(f['loops_per_s'], 2)} | {fmt(f['actions_per_s'])} | "
                 f"{fmt(f['p50'])} | {fmt(f['p99'])} | **{fmt(cpu_per_loop(f))}** ({fmt(m['server'])} + "
                 f"{fmt(m['postgres'])}) | {fmt(cpu_per_loop(f) / 6, 2)} | {fmt(m['client'], 2)} | "
                 f"{f['cpu']['machine_busy']:.0%} | {f['errors']} |")
    L.append("")
    L += ["### Per action, p50 / p99 ms (client-side, all rounds)", "",
          "| system | " + " | ".join(STEPS) + " |", "|---|" + "---|" * len(STEPS)]
    for name in res:
        L.append(f"| {LABEL[name]} | " + " | ".join(f"{fmt(x)} / {fmt(y)}" for x, y in
                                                  (t[name]["steps"][s] for s in STEPS)) + " |")
    L.append("")
    L += ["### Rounds", "",
          "| round | system | loops | wall s | loops/s | CPU ms per loop | server cores (per process) | "
          "PostgreSQL cores | everything else, cores (largest) | quiet before (waited s) | connections |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in range(a.rounds):
        for name in res:
            rounds = res[name]["rounds"]
            if r >= len(rounds):
                continue
            f = rounds[r]
            wall = f["wall"] or float("nan")
            q = f.get("quiet") or {}
            others = ", ".join(f"{c_} {x / wall:.2f}" for c_, x in f["other_top"])
            L.append(f"| {r + 1} | {LABEL[name]} | {f['loops']} | {fmt(wall)} | {fmt(f['loops_per_s'], 2)} | "
                     f"{fmt(cpu_per_loop(f))} | {fmt(f['cpu']['server'] / wall, 2)} ("
                     + " + ".join(f"{x / wall:.2f}" for x in f["server_split"]) + f") | "
                     f"{fmt(f['cpu']['postgres'] / wall, 2)} | {fmt(f['cpu']['other'] / wall, 2)}"
                     f"{f' ({others})' if others else ''} | {'yes' if q.get('quiet') else 'no'} "
                     f"({q.get('waited', 0):.0f}) | {' / '.join(map(str, f['connections'] or [])) or '–'} |")
    L.append("")
    L += ["### What each system does per step", ""]
    L.append("- **chuishao**: the shipped action path — token verification and the user's scope, the case "
             "aggregate's rules, working-time clocks started and stopped, the hash-chained timeline entry, "
             "the outbox event (and the API process's own fan-out after commit), all in one transaction per "
             "action.")
    L.append("- **SpiffWorkflow**: `bench/peers/loop.bpmn` parsed once per process; per step the row is read, the "
             "whole serialized workflow (task tree, data and process spec, `BpmnWorkflowSerializer` JSON) "
             "deserialized, the ready user task checked to be the action and completed with the body as data, "
             "the engine run to the next user task, the workflow serialized again, a versioned UPDATE and one "
             "history row — one transaction through asyncpg (`bench/peers/spiff_app.py`, `shape.py`). "
             "No authentication (the bearer's text is taken as the actor), no clocks, no outbox.")
    L.append("- **Prefect, a flow run per step**: every request calls a Prefect flow in its own event loop; the "
             "flow run is created on the Prefect server, its states and logs sent there, and inside it the same "
             "one-transaction update as above with a plain transition table (`bench/peers/prefect_app.py`). "
             "The Prefect server's CPU (and its database's) is counted with the system's."
             + (" Flow runs the Prefect server recorded over the whole run (warm-up included): "
                + ", ".join(f"{k} ×{n}" for k, n in res["prefect"]["flow_runs"].items()) + "."
                if res.get("prefect", {}).get("flow_runs") else ""))
    L.append("")
    L += ["### Errors", ""]
    errs = [(n, res[n]["total"]) for n in res if res[n]["total"]["errors"]]
    if not errs:
        L.append("None: every request in the measured windows answered as expected.")
    for name, f in errs:
        L.append(f"- {LABEL[name]}: {f['errors']} errors: " + ", ".join(f"{k} ×{x}" for k, x in
                                                                       f["error_kinds"].items()))
        L += [f"  - `{x}`" for x in f["error_samples"][:4]]
    for name in res:
        for tb in res[name]["tracebacks"][:1]:
            L += [f"- first traceback in a {LABEL[name]} server log:", "", "  ```"]
            L += ["  " + x for x in tb.splitlines()[-20:]]
            L += ["  ```"]
    L.append("")
    L.append("Servers: " + "; ".join(f"`{c_}`" for n in res for c_ in res[n]["commands"]) + ".")
    if res.get("chuishao", {}).get("banner"):
        L.append("")
        L.append("`chuishao serve` said on starting: " + " / ".join(f"“{x}”" for x in res["chuishao"]["banner"]))
    L.append("")
    return "\n".join(L)


# ---- main ------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="bench/peers.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="chuishao, SpiffWorkflow (the loop as BPMN) and one Prefect flow run per step, side by side "
                    "on the same six-step loop, client and PostgreSQL; results to bench/RESULTS.md (## peers).")
    p.add_argument("--loops", type=int, default=200, help="measured loops per round, chuishao and SpiffWorkflow")
    p.add_argument("--prefect-loops", type=int, default=16, help="measured loops per round, Prefect (~1 loop/s)")
    p.add_argument("--concurrency", type=int, default=16, help="loops in flight at once (= HTTP connections)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (each system once a round)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up loops (not measured); None: --concurrency")
    p.add_argument("--prefect-warmup", type=int, default=4, help="warm-up loops for Prefect")
    p.add_argument("--workers", type=int, default=2, help="server processes per system")
    p.add_argument("--systems", default=",".join(SYSTEMS),
                   help="which systems, comma-separated, in the order each round measures them")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before each measured window wait up to this many seconds for a quiet machine")
    p.add_argument("--max-seconds", type=float, default=120.0, help="stop starting new loops after this long")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs) and the databases")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    p.add_argument("--from-json", type=Path, metavar="PATH", help="measure nothing: render a run saved with --json")
    add_pg_args(p, "peers_bench")
    a = p.parse_args(argv)
    a.systems = [x.strip() for x in a.systems.split(",") if x.strip()]
    if not a.systems or set(a.systems) - set(SYSTEMS) or len(set(a.systems)) != len(a.systems):
        p.error(f"--systems: some of {', '.join(SYSTEMS)}, each once")
    if a.warmup is None:
        a.warmup = a.concurrency
    for name in ("loops", "prefect_loops", "concurrency", "rounds", "workers"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not a.db.replace("_", "").isalnum() or not a.db.islower():
        p.error("--db: lower-case letters, digits and _ only (it prefixes the systems' databases)")
    return a


RENDER_ARGS = ("loops", "prefect_loops", "concurrency", "rounds", "workers", "systems")


async def amain(a) -> int:
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    info = machine(a) | {"versions": versions()}
    log(f"machine: {info}")
    if info["versions"]["SpiffWorkflow"] == "not installed" and "spiff" in a.systems:
        log("SpiffWorkflow is not installed: .venv/bin/pip install -e '.[bench]'")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="chuishao-peers-"))
    try:
        res = await run(a, tmp)
    except BaseException:
        for log_file in sorted(tmp.rglob("*.log")):
            log(f"--- {log_file.relative_to(tmp)} (last lines)\n{tail(log_file, 15)}")
        raise
    finally:
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    command = invocation("bench/peers.py")
    elapsed = time.perf_counter() - t0
    if a.json:
        a.json.write_text(json.dumps({"results": res, "machine": info, "command": command, "started":
                                      started.isoformat(), "elapsed": elapsed,
                                      "args": {k: getattr(a, k) for k in RENDER_ARGS}}, indent=1, ensure_ascii=False))
    return finish(a, res, info, command, started, elapsed)


def finish(a, res: dict, info: dict, command: str, started: dt.datetime, elapsed: float) -> int:
    publish(a, SECTION, render(res, info, a, command, started, elapsed), log)
    return 1 if any(res[n]["total"]["errors"] for n in res) else 0


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.from_json:
        saved = json.loads(a.from_json.read_text())
        for k, x in saved["args"].items():
            setattr(a, k, x)
        return finish(a, saved["results"], saved["machine"], saved["command"],
                      dt.datetime.fromisoformat(saved["started"]), saved["elapsed"])
    return run_event_loop(amain(a))


if __name__ == "__main__":
    sys.exit(main())
