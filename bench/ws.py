"""Live WebSocket fan-out across two API processes on PostgreSQL.

The target (docs/operations.md#performance-targets): "an action's event reaches 1,000 clients connected across 2
API processes, p99 < 150 ms". The baseline beside it (measured on the same kind of machine, same page): 1,000
clients connected in under 1 s; one broadcast reached the last client in 49–88 ms.

What this script does, all on 127.0.0.1 and bounded in time:
  1. creates a fresh PostgreSQL database (dropped at the end), runs `chuishao init`, and starts TWO API
     processes, `chuishao serve --port A` and `chuishao serve --port B` (one process each,
     CHUISHAO_SCHEDULER=worker), which share live events through LISTEN/NOTIFY;
  2. builds the small test county over HTTP (tests/county.py) and reports the cases it will act on;
  3. connects N WebSocket clients (default 1,000), half to A and half to B, as users who may see every
     event of those cases (the county supervisor and the 凤城镇 township dispatcher, alternately; a token is
     shared by many connections), from separate client processes running asyncio + `websockets`, and
     waits until every client has its {"type": "hello"};
  4. performs actions through the HTTP API one at a time (accept, then dispatch, case after case), through
     A and B in turn; after each one it waits until every client has received the matching event
     (matched by case_id and action) or a timeout passes, then goes on;
  5. reports, over every (client, action) pair, the delay from the moment the HTTP action returned (the
     commit is done by then) to the moment the client received the event — and from the moment the
     request was sent — as p50/p99/max, the clients that missed an event, the connect time, the same
     figures split by the process the client is on, and the CPU each party used; writes them to
     bench/RESULTS.md under "## ws" (only that section is replaced).

The load generator (the clients and this driver) runs on the same machine as both servers and
PostgreSQL, and competes with them for its cores; the results say so. So does anything else running on
the machine: the driver waits (bounded) for it to calm down before connecting and before each action, and
reports, per action, the CPU that other work took while the event was being delivered. Clocks: every
timestamp is CLOCK_MONOTONIC, which is one clock for all processes of the machine.

    .venv/bin/python bench/ws.py                    # 1,000 clients, 20 actions
    .venv/bin/python bench/ws.py --clients 200 --actions 6 --no-write
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

from common import write_section  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## ws"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
ADMIN_PASSWORD = "bench-admin-pass-1"
TARGET_P99_MS = 150.0
QUIET_SHARE = 0.10  # an action is "quiet" if other work used less than this share of the machine meanwhile
nan = float("nan")
WATCHERS = ("supervisor", "disp_fc")  # both see every event of a 凤城镇 case
REPORTER = "gw_fc1"
ACTOR = "disp_fc"


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- the client processes ---------------------------------------------------------------------------------
# Protocol on stdin/stdout, one JSON object a line:
#   parent → {"cmd": "connect", "clients": [[index, url], ...], "timeout": s}
#   worker → {"type": "connected", "t0": ns, "hello": {index: ns}, "failed": {index: reason}}
#   worker → {"type": "complete", "key": [case_id, action]}   when all its connected clients have that event
#   parent → {"cmd": "report"}
#   worker → {"type": "report", "recv": [[index, case_id, action, ns], ...], "closed": {index: reason}}


async def client_worker() -> None:
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def emit(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    emit({"type": "loaded", "pid": os.getpid()})
    cfg = json.loads(await reader.readline())
    clients: list[tuple[int, str]] = [tuple(c) for c in cfg["clients"]]
    compression = "deflate" if cfg.get("deflate", True) else None
    hello: dict[int, int] = {}
    failed: dict[int, str] = {}
    closed: dict[int, str] = {}
    recv: list[tuple[int, int, str, int]] = []
    counts: dict[tuple[int, str], int] = defaultdict(int)
    all_hello = asyncio.Event()
    t0 = now_ns()

    async def one(index: int, url: str) -> None:
        try:
            async with connect(url, compression=compression, ping_interval=None, close_timeout=2,
                               open_timeout=cfg["timeout"], max_queue=None) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), cfg["timeout"]))
                if first.get("type") != "hello":
                    raise RuntimeError(f"first message {first!r}")
                hello[index] = now_ns()
                if len(hello) + len(failed) == len(clients):
                    all_hello.set()
                while True:  # cancelled by the parent's "report"
                    raw = await ws.recv()
                    t = now_ns()
                    msg = json.loads(raw)
                    if msg.get("type") == "event":
                        key = (msg["case_id"], msg["action"])
                        recv.append((index, key[0], key[1], t))
                        counts[key] += 1
                        if counts[key] == len(hello):
                            emit({"type": "complete", "key": list(key)})
        except asyncio.CancelledError:
            return
        except Exception as err:  # noqa: BLE001 - every failure is counted and reported
            reason = f"{type(err).__name__}: {err}"[:200]
            if index in hello:
                closed[index] = reason
            else:
                failed[index] = reason
                if len(hello) + len(failed) == len(clients):
                    all_hello.set()

    tasks = [asyncio.create_task(one(i, url)) for i, url in clients]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_hello.wait(), cfg["timeout"])
    emit({"type": "connected", "t0": t0, "hello": hello, "failed": failed})
    while True:
        line = await reader.readline()
        if not line or json.loads(line).get("cmd") == "report":
            break
    emit({"type": "report", "recv": recv, "closed": closed})
    for t in tasks:
        t.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)


class Worker:
    """The parent's handle on one client process."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.pid = proc.pid
        self.messages: asyncio.Queue = asyncio.Queue()
        self.completed: dict[tuple[int, str], asyncio.Event] = defaultdict(asyncio.Event)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                await self.messages.put({"type": "eof"})
                return
            msg = json.loads(line)
            if msg["type"] == "complete":
                self.completed[tuple(msg["key"])].set()
            else:
                await self.messages.put(msg)

    async def expect(self, kind: str, timeout: float) -> dict:
        msg = await asyncio.wait_for(self.messages.get(), timeout)
        if msg["type"] != kind:
            raise RuntimeError(f"client process {self.pid}: expected {kind}, got {msg['type']}")
        return msg

    def send(self, obj: dict) -> None:
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)
        self._reader.cancel()


# ---- processes, database, machine ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chuishao() -> list[str]:
    exe = BIN / "chuishao"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "chuishao.api.cli"]


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True,
                         connect_timeout=5) as conn:
        conn.execute(sql)


def pg_version() -> str:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


class Server:
    def __init__(self, name: str, port: int, env: dict, log_path: Path):
        self.name, self.port, self.env, self.log_path = name, port, env, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._fh = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([*chuishao(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=self._fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    async def wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base, timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server {self.name} exited with {self.proc.returncode}:\n{tail(self.log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server {self.name} not healthy after {timeout:.0f} s:\n{tail(self.log_path)}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._fh.close()
        self.proc = None


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, in ns resolution (/proc/…/schedstat), else from its ticks."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL backends serving our database (their process titles name it)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if cmd.startswith("postgres:") and f" {database} " in cmd:
                    out.append(int(d))
    return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


async def wait_for_quiet(limit: float, threshold: float = 0.2, window: float = 1.0, say: bool = True) -> float:
    """Wait at most `limit` s until the machine is less than `threshold` busy; return the last busy share."""
    deadline = time.monotonic() + limit
    told = False
    while True:
        a = machine_ticks()
        await asyncio.sleep(window)
        b = machine_ticks()
        busy = (b[0] - a[0]) / max(1, b[1] - a[1])
        if busy < threshold or time.monotonic() >= deadline:
            if busy >= threshold and say:
                log(f"  machine still {busy:.0%} busy with other work; measuring anyway")
            return busy
        if not told and say:
            log(f"  machine {busy:.0%} busy with other work; waiting up to {limit:.0f} s for it to calm down")
            told = True


class Load:
    """CPU used by the machine and by our own processes between two snapshots."""

    def __init__(self, pids: dict[str, list[int]]):
        self.pids = pids
        self.cpu = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
        self.ticks = machine_ticks()
        self.t = time.monotonic()

    def since(self, before: "Load") -> dict:
        tck = os.sysconf("SC_CLK_TCK")
        cpu = {k: self.cpu[k] - before.cpu[k] for k in self.cpu}
        busy_s = (self.ticks[0] - before.ticks[0]) / tck
        total_s = (self.ticks[1] - before.ticks[1]) / tck
        return {"cpu_s": cpu, "seconds": self.t - before.t, "busy": busy_s / total_s if total_s else nan,
                "other_s": max(0.0, busy_s - sum(cpu.values()))}


def machine() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    try:
        pg = pg_version()
    except Exception as err:  # noqa: BLE001
        pg = f"? ({err})"
    import websockets

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "python": platform.python_version(),
            "postgres": pg, "kernel": platform.release(), "websockets": websockets.__version__}


# ---- figures ----------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(ns: float) -> float:
    return ns / 1e6


def fmt(v: float) -> str:
    return "–" if v != v else f"{v:.1f}"


# ---- the run ----------------------------------------------------------------------------------------------
async def run(args) -> dict:
    import httpx

    sys.path.insert(0, str(ROOT))
    with warnings.catch_warnings():  # tests/county.py imports FastAPI's TestClient, which warns about httpx
        warnings.simplefilter("ignore")
        from tests.county import Api, build_county

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.clients + 512
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, 4096)), hard))  # children inherit it

    info = machine()
    started = dt.datetime.now().astimezone()
    database = f"chuishao_bench_ws_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="chuishao-bench-ws-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHUISHAO_", "PREFECT_"))}
    env.update(CHUISHAO_DATABASE_URL=f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
               CHUISHAO_DATA_DIR=str(tmp / "data"), CHUISHAO_SCHEDULER="worker",
               CHUISHAO_ARGON2_TIME_COST="1", CHUISHAO_ARGON2_MEMORY_KIB="8192",
               CHUISHAO_SECRET_KEY=secrets.token_urlsafe(48), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PYTHONUNBUFFERED="1",
               # the 1,000 clients are two users on one address; a county's are hundreds of people on many
               # addresses, so the per-user and per-address socket caps are lifted for the measurement
               CHUISHAO_MAX_SOCKETS_PER_USER=str(args.clients),
               CHUISHAO_MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS=str(args.clients))
    servers = [Server("A", args.port_a or free_port(), env, tmp / "a.log"),
               Server("B", args.port_b or free_port(), env, tmp / "b.log")]
    workers: list[Worker] = []
    created_db = False
    try:
        log(f"• database {database}")
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{database}"')
        created_db = True
        log("• chuishao init")
        out = subprocess.run([*chuishao(), "init", "--admin-password", ADMIN_PASSWORD], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            raise RuntimeError(f"chuishao init failed:\n{out.stdout}\n{out.stderr}")
        for s in servers:
            log(f"• chuishao serve --port {s.port}  (process {s.name})")
            s.start()
        await asyncio.gather(*(s.wait_healthy(args.start_timeout) for s in servers))

        log("• test county over HTTP")
        n_cases = (args.actions + args.warmup + 1) // 2

        def setup() -> tuple[dict[str, str], list[int]]:
            with httpx.Client(base_url=servers[0].base, timeout=30) as c:
                api = Api(c, ADMIN_PASSWORD)
                build_county(api)
                tokens = {u: api.token(u) for u in (*WATCHERS, ACTOR)}
                cases = [api.report(REPORTER, title=f"压测 {i}")["id"] for i in range(n_cases)]
                return tokens, cases

        tokens, cases = await asyncio.to_thread(setup)

        # clients: i → process A if even, B if odd; → client process (i // 2) % K; token alternates by pairs
        k = max(1, args.client_procs)
        plan = [(i, servers[i % 2], WATCHERS[(i // 2) % len(WATCHERS)], (i // 2) % k) for i in range(args.clients)]
        server_of = {i: s.name for i, s, _u, _w in plan}
        user_of = {i: u for i, _s, u, _w in plan}
        log(f"• {k} client process(es)")
        for _ in range(k):
            argv = [sys.executable, str(Path(__file__).resolve()), "--client-worker"]
            if args.no_uvloop:
                argv.append("--no-uvloop")
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE, cwd=ROOT, limit=1 << 26)
            workers.append(Worker(proc))
        for w in workers:
            await w.expect("loaded", 30)

        busy_before = await wait_for_quiet(args.quiet_wait)
        log(f"• connecting {args.clients} clients ({args.clients // 2 + args.clients % 2} to A, "
            f"{args.clients // 2} to B)")
        for wi, w in enumerate(workers):
            mine = [[i, f"ws://127.0.0.1:{s.port}/api/v1/ws?token={tokens[u]}"] for i, s, u, ww in plan if ww == wi]
            w.send({"cmd": "connect", "clients": mine, "timeout": args.connect_timeout, "deflate": not args.no_deflate})
        connected = [await w.expect("connected", args.connect_timeout + 15) for w in workers]
        t_go = min(c["t0"] for c in connected)
        hello = {int(i): t for c in connected for i, t in c["hello"].items()}
        failed = {int(i): r for c in connected for i, r in c["failed"].items()}
        connect = {"all": ms(max(hello.values()) - t_go) if hello else float("nan")}
        for name in ("A", "B"):
            ts = [t for i, t in hello.items() if server_of[i] == name]
            connect[name] = ms(max(ts) - t_go) if ts else float("nan")
        log(f"  {len(hello)} hello, {len(failed)} failed, all connected in {connect['all']:.0f} ms")
        await asyncio.sleep(args.settle)

        # the actions, one at a time
        acts = []
        for j in range(args.warmup + args.actions):
            case = cases[j // 2]
            action = "accept" if j % 2 == 0 else "dispatch"
            via = servers[(j // 2 + j) % 2]  # A B B A A B …: each action kind goes through both processes
            acts.append({"n": j, "case_id": case, "action": action, "via": via.name, "warmup": j < args.warmup})
        pids = {"A": [servers[0].proc.pid], "B": [servers[1].proc.pid], "clients": [w.pid for w in workers],
                "driver": [os.getpid()], "postgres": postgres_backends(database)}
        async with httpx.AsyncClient(base_url=servers[0].base, timeout=30) as ca, \
                httpx.AsyncClient(base_url=servers[1].base, timeout=30) as cb:
            http = {"A": ca, "B": cb}
            for c in http.values():  # warm keep-alive connections: no TCP connect on the measured path
                await c.get("/healthz")
            headers = {"Authorization": f"Bearer {tokens[ACTOR]}"}
            for a in acts:
                body = {"category": "LAND01"} if a["action"] == "accept" else {}
                if args.quiet_each > 0:
                    a["busy_before"] = await wait_for_quiet(args.quiet_each, window=0.5, say=False)
                before = Load(pids)
                a["sent"] = now_ns()
                r = await http[a["via"]].post(f"/api/v1/cases/{a['case_id']}/actions/{a['action']}", json=body,
                                              headers=headers)
                a["returned"] = now_ns()
                a["status"] = r.status_code
                if r.status_code != 200:
                    log(f"  action {a['n']} {a['action']} → {r.status_code} {r.text[:200]}")
                    continue
                key = (a["case_id"], a["action"])
                waits = [asyncio.create_task(w.completed[key].wait()) for w in workers]
                done, pending = await asyncio.wait(waits, timeout=args.event_timeout)
                a["load"] = Load(pids).since(before)
                for p in pending:
                    p.cancel()
                a["complete"] = not pending
                if pending:
                    log(f"  action {a['n']} {a['action']} case {a['case_id']}: not every client had it after "
                        f"{args.event_timeout:.0f} s")
                await asyncio.sleep(args.gap)

        for w in workers:
            w.send({"cmd": "report"})
        reports = [await w.expect("report", 60) for w in workers]
        first: dict[tuple[int, int, str], int] = {}
        for rep in reports:
            for i, case_id, action, t in rep["recv"]:
                first.setdefault((i, case_id, action), t)
        closed = {int(i): r for rep in reports for i, r in rep["closed"].items()}

        # per (client, action) pairs
        measured = [a for a in acts if not a["warmup"] and a.get("status") == 200]
        pairs = []  # (client, server, same_process, delay_from_return_ns, delay_from_send_ns, action n)
        missed = []
        for a in measured:
            for i in hello:
                t = first.get((i, a["case_id"], a["action"]))
                if t is None:
                    missed.append((i, a["n"]))
                    continue
                pairs.append((i, server_of[i], server_of[i] == a["via"], t - a["returned"], t - a["sent"], a["n"]))

        def stats(sel) -> dict:
            d_ret = [ms(p[3]) for p in pairs if sel(p)]
            d_snd = [ms(p[4]) for p in pairs if sel(p)]
            return {"pairs": len(d_ret), "p50": pct(d_ret, 50), "p99": pct(d_ret, 99), "max": max(d_ret, default=nan),
                    "min": min(d_ret, default=nan), "send_p50": pct(d_snd, 50), "send_p99": pct(d_snd, 99),
                    "send_max": max(d_snd, default=nan)}

        groups = {"all": stats(lambda p: True), "A": stats(lambda p: p[1] == "A"), "B": stats(lambda p: p[1] == "B"),
                  "same": stats(lambda p: p[2]), "other": stats(lambda p: not p[2])}
        for name in ("A", "B"):
            groups[name]["clients"] = sum(1 for i in hello if server_of[i] == name)
            groups[name]["missed_pairs"] = sum(1 for i, _n in missed if server_of[i] == name)
            groups[name]["missed_clients"] = len({i for i, _n in missed if server_of[i] == name})
        groups["all"]["clients"] = len(hello)
        groups["all"]["missed_pairs"] = len(missed)
        groups["all"]["missed_clients"] = len({i for i, _n in missed})
        per_action = []
        for a in measured:
            ds = [first[(i, a["case_id"], a["action"])] - a["returned"] for i in hello
                  if (i, a["case_id"], a["action"]) in first]
            per_action.append({"n": a["n"], "action": a["action"], "case_id": a["case_id"], "via": a["via"],
                               "http_ms": ms(a["returned"] - a["sent"]), "got": len(ds),
                               "first_ms": ms(min(ds)) if ds else nan, "p50_ms": pct([ms(x) for x in ds], 50),
                               "last_ms": ms(max(ds)) if ds else nan})
        for a, pa_ in zip(measured, per_action, strict=True):
            load = a["load"]
            pa_.update(window_s=load["seconds"], busy=load["busy"], other_s=load["other_s"],
                       ours_s=sum(load["cpu_s"].values()), busy_before=a.get("busy_before", nan),
                       quiet=load["other_s"] < QUIET_SHARE * load["seconds"] * (os.cpu_count() or 1))
        window = sum(a["load"]["seconds"] for a in measured)
        cpu = {k_: sum(a["load"]["cpu_s"][k_] for a in measured) for k_ in pids}
        other = sum(a["load"]["other_s"] for a in measured)
        quiet_actions = {(p_["case_id"], p_["action"]) for p_ in per_action if p_["quiet"]}
        quiet_n = {a["n"] for a in measured if (a["case_id"], a["action"]) in quiet_actions}
        groups["quiet"] = stats(lambda p: p[5] in quiet_n)
        groups["quiet"]["actions"] = len(quiet_n)
        result = {
            "machine": info, "started": started.isoformat(timespec="seconds"), "database": database,
            "ports": {s.name: s.port for s in servers}, "clients": args.clients, "client_procs": k,
            "uvloop": not args.no_uvloop, "deflate": not args.no_deflate, "watchers": list(WATCHERS),
            "users": {u: sum(1 for i in hello if user_of[i] == u) for u in WATCHERS},
            "hello": len(hello), "failed": len(failed), "failed_examples": list(failed.values())[:3],
            "closed": len(closed), "closed_examples": list(closed.values())[:3],
            "connect_ms": connect, "actions": len(measured), "warmup": args.warmup,
            "errors": [f"{a['action']} → {a.get('status')}" for a in acts if a.get("status") != 200],
            "groups": groups, "per_action": per_action, "window_s": window, "cpu_s": cpu, "other_cpu_s": other,
            "busy_before": busy_before, "quiet_each": args.quiet_each,
            "http_ms": {"p50": pct([p["http_ms"] for p in per_action], 50),
                        "max": max((p["http_ms"] for p in per_action), default=nan)},
        }
        return result
    finally:
        for w in workers:
            await w.close()
        for s in servers:
            s.stop()
        if created_db and not args.keep_db:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if args.keep_logs:
            log(f"• logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- report -----------------------------------------------------------------------------------------------
def render(r: dict, command: str) -> str:
    m = r["machine"]
    g = r["groups"]
    met = g["all"]["p99"] < TARGET_P99_MS and g["all"]["missed_pairs"] == 0 and r["failed"] == 0 and not r["errors"]
    ncpu = m["nproc"] or 1
    lines = [
        SECTION, "",
        "Live WebSocket fan-out across two API processes on PostgreSQL (docs/operations.md#performance-targets: "
        "an action's event reaches 1,000 clients connected across 2 API processes, p99 < 150 ms). Baseline on "
        "this kind of machine (docs/operations.md#performance-targets): 1,000 clients connected in under 1 s; one "
        "broadcast reached the last client in 49–88 ms.", "",
        f"- date: {r['started']}",
        f"- machine: nproc {m['nproc']}, {m['cpu']}, {m['ram']} RAM, Linux {m['kernel']}, Python {m['python']}, "
        f"PostgreSQL {m['postgres']}, websockets {m['websockets']}",
        f"- command: `{command}`",
        f"- setup: fresh database, `chuishao init`, two `chuishao serve --port …` processes (A and B, one "
        f"process each, CHUISHAO_SCHEDULER=worker) sharing events through LISTEN/NOTIFY; the test county "
        f"(tests/county.py) built over HTTP. {r['hello']:,} clients connected ({g['A']['clients']} to A, "
        f"{g['B']['clients']} to B) as {' and '.join(f'{u} ({n})' for u, n in r['users'].items())}, from "
        f"{r['client_procs']} client process(es) (asyncio + websockets"
        f"{', uvloop' if r['uvloop'] else ''}, permessage-deflate {'on' if r['deflate'] else 'off'}).",
        f"- measured: {r['actions']} actions through the HTTP API one at a time (accept, then dispatch, on "
        f"{(r['actions'] + 1) // 2} cases; through A and B in turn), after {r['warmup']} warm-up action(s) not "
        "counted; after each action the driver waits until every client has the matching event (case_id and "
        "action). Delay = client received − HTTP action returned (the commit is done by then); \"from sent\" "
        "= client received − request sent. All timestamps CLOCK_MONOTONIC, one clock for all processes.",
        "- **the load generator (the 1,000 clients and the driver) runs on the same "
        f"{m['nproc']}-core machine** as both API processes and PostgreSQL, so the clients' own receive work "
        "is inside every figure.", "",
        f"**target p99 < 150 ms: {'met' if met else 'not met'}** — p99 {fmt(g['all']['p99'])} ms over "
        f"{g['all']['pairs']:,} (client, action) pairs; {g['all']['missed_pairs']} missed "
        f"({g['all']['missed_clients']} clients missed an event).", "",
        "| clients on | clients | pairs | missed pairs (clients) | p50 ms | p99 ms | max ms | min ms "
        "| from sent: p50 / p99 / max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in (("all", "both"), ("A", "process A"), ("B", "process B")):
        s = g[key]
        lines.append(f"| {label} | {s['clients']:,} | {s['pairs']:,} | {s['missed_pairs']} ({s['missed_clients']}) "
                     f"| {fmt(s['p50'])} | {fmt(s['p99'])} | {fmt(s['max'])} | {fmt(s['min'])} "
                     f"| {fmt(s['send_p50'])} / {fmt(s['send_p99'])} / {fmt(s['send_max'])} |")
    for key, label in (("same", "the process that took the action"), ("other", "the other process")):
        s = g[key]
        lines.append(f"| {label} | | {s['pairs']:,} | | {fmt(s['p50'])} | {fmt(s['p99'])} | {fmt(s['max'])} "
                     f"| {fmt(s['min'])} | {fmt(s['send_p50'])} / {fmt(s['send_p99'])} / {fmt(s['send_max'])} |")
    c = r["connect_ms"]
    pa = r["per_action"]
    lasts = [p["last_ms"] for p in pa]
    firsts = [p["first_ms"] for p in pa]
    lines += [
        "",
        f"- connect: {r['hello']:,} of {r['clients']:,} clients had their hello {fmt(c['all'])} ms after the "
        f"start (A's last {fmt(c['A'])} ms, B's last {fmt(c['B'])} ms); {r['failed']} failed to connect"
        + (f" (e.g. {r['failed_examples'][0]})" if r["failed_examples"] else "")
        + f"; {r['closed']} closed during the run" + (f" (e.g. {r['closed_examples'][0]})" if r["closed_examples"]
                                                       else "")
        + f"; the machine was {r['busy_before']:.0%} busy just before connecting.",
        f"- per action: first client {fmt(pct(firsts, 50))} ms (median over actions), last client "
        f"{fmt(pct(lasts, 50))} ms median, {fmt(max(lasts, default=nan))} ms worst; the HTTP action "
        f"itself took {fmt(r['http_ms']['p50'])} ms median, {fmt(r['http_ms']['max'])} ms max.",
        f"- CPU while events were delivered (the {r['actions']} windows from request sent to last client, "
        f"{r['window_s']:.2f} s in all, {ncpu} cores = {r['window_s'] * ncpu:.2f} core-s): process A "
        f"{r['cpu_s']['A']:.2f} s, process B {r['cpu_s']['B']:.2f} s, client processes {r['cpu_s']['clients']:.2f} s, "
        f"driver {r['cpu_s']['driver']:.2f} s, PostgreSQL backends of this database {r['cpu_s']['postgres']:.2f} s; "
        f"**other work on the machine** (other benchmarks, PostgreSQL's own processes) {r['other_cpu_s']:.2f} core-s "
        f"({r['other_cpu_s'] / max(1e-9, r['window_s'] * ncpu):.0%} of the machine). Per action and process: "
        f"{1000 * r['cpu_s']['A'] / max(1, r['actions']):.1f} ms CPU on A, "
        f"{1000 * r['cpu_s']['B'] / max(1, r['actions']):.1f} ms on B for about {g['A']['clients']} sockets each "
        f"({1e6 * (r['cpu_s']['A'] + r['cpu_s']['B']) / max(1, g['all']['pairs']):.0f} µs per socket and event, the "
        f"action's own request, transaction, NOTIFY fetch and outbox delivery included); "
        f"the clients {1e6 * r['cpu_s']['clients'] / max(1, g['all']['pairs']):.0f} µs per received event.",
        f"- quiet actions only (other work under {QUIET_SHARE:.0%} of the machine while the event was delivered): "
        f"{g['quiet']['actions']} of {r['actions']}, p50 {fmt(g['quiet']['p50'])} ms, p99 {fmt(g['quiet']['p99'])} ms, "
        f"max {fmt(g['quiet']['max'])} ms — shown to separate this system's cost from the neighbours'; the target "
        "line above is judged on all actions."
        + (f" Before each action the driver waited (at most {r['quiet_each']:.0f} s) for the machine to calm down."
           if r["quiet_each"] > 0 else ""),
    ]
    if r["errors"]:
        lines.append(f"- HTTP errors: {', '.join(r['errors'])}")
    lines += ["", "<details><summary>per action</summary>", "",
              "| # | action | case | via | HTTP ms | clients | first ms | p50 ms | last ms | machine busy "
              "| other work core-s |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in pa:
        lines.append(f"| {p['n']} | {p['action']} | {p['case_id']} | {p['via']} | {fmt(p['http_ms'])} | {p['got']} "
                     f"| {fmt(p['first_ms'])} | {fmt(p['p50_ms'])} | {fmt(p['last_ms'])} | {p['busy']:.0%} "
                     f"| {p['other_s']:.2f} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Writes bench/RESULTS.md (## ws) unless --no-write.")
    p.add_argument("--clients", type=int, default=1000, help="WebSocket clients, split evenly over A and B")
    p.add_argument("--actions", type=int, default=20, help="measured actions, one at a time")
    p.add_argument("--warmup", type=int, default=2, help="actions before the measured ones, not counted")
    p.add_argument("--client-procs", type=int, default=2, help="client processes holding the sockets")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop in the client processes")
    p.add_argument("--no-deflate", action="store_true", help="clients do not offer permessage-deflate")
    p.add_argument("--event-timeout", type=float, default=10.0, help="s to wait for every client to have an event")
    p.add_argument("--gap", type=float, default=0.2, help="s of rest between actions")
    p.add_argument("--settle", type=float, default=1.0, help="s of rest between connecting and the first action")
    p.add_argument("--connect-timeout", type=float, default=60.0)
    p.add_argument("--start-timeout", type=float, default=120.0, help="s for each server to become healthy")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="wait at most this long for other work on the machine to calm down before connecting")
    p.add_argument("--quiet-each", type=float, default=5.0,
                   help="before each action, wait at most this long for the machine to be under 20%% busy (0: never)")
    p.add_argument("--deadline", type=float, default=900.0, help="give up after this many s in all")
    p.add_argument("--port-a", type=int, default=0)
    p.add_argument("--port-b", type=int, default=0)
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--keep-logs", action="store_true", help="keep the servers' logs (their path is printed)")
    p.add_argument("--json", type=Path, help="also write the raw figures here")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing RESULTS.md")
    p.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.client_worker:
        if not args.no_uvloop:
            with contextlib.suppress(ImportError):
                import uvloop

                uvloop.install()
        asyncio.run(client_worker())
        return 0

    if args.clients < 2 or args.actions < 1:
        p.error("need at least 2 clients and 1 action")
    command = shlex.join([".venv/bin/python", "bench/ws.py", *sys.argv[1:]])
    try:
        result = asyncio.run(asyncio.wait_for(run(args), args.deadline))
    except TimeoutError:
        log(f"gave up after {args.deadline:.0f} s")
        return 2
    text = render(result, command)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    if args.no_write:
        print(text)
    else:
        write_section(SECTION, text)
        log(f"• written to {RESULTS} ({SECTION})")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
