"""What the benchmark scripts share: their section of RESULTS.md, waiting for a quiet machine, the PostgreSQL
options, and (for loop.py and peers.py) the lean HTTP client, CPU accounting from /proc and server processes."""

import asyncio
import contextlib
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"
ROOT = Path(__file__).resolve().parent.parent


def write_section(section: str, text: str) -> None:
    """Replace only this script's `## name` section (others write theirs concurrently): re-read the file now."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the scripts in bench/.\n"
    lines = old.splitlines()
    start = next((i for i, x in enumerate(lines) if x.strip() == section), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = [""] + lines[end:] if end < len(lines) else []
        new = "\n".join(lines[:start] + text.rstrip("\n").splitlines() + tail) + "\n"
    RESULTS.write_text(new)


def publish(a, section: str, text: str, log=print) -> None:
    """Write the section into bench/RESULTS.md, or only print it with --no-write (`a.no_write`)."""
    if a.no_write:
        print(text)
    else:
        write_section(section, text)
        log(f"written to bench/{RESULTS.name} ({section})")


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def wait_for_quiet(limit: float, threshold: float = 0.15, log=print) -> dict:
    """Right before a timed sweep: wait (at most `limit` s) until less than `threshold` of all cores are busy over
    one second. Other sessions' runs on the same cores would otherwise skew the figure."""
    started, said = time.monotonic(), 0.0
    while True:
        b0, t0 = cpu_times()
        time.sleep(1.0)
        b1, t1 = cpu_times()
        busy = (b1 - b0) / max(1, t1 - t0)
        waited = time.monotonic() - started
        if busy < threshold or waited >= limit:
            if busy >= threshold:
                log(f"machine still {busy:.0%} busy after {waited:.0f} s; measuring anyway")
            return {"waited": waited, "busy": busy, "quiet": busy < threshold, "loadavg": os.getloadavg()[0]}
        if waited - said >= 10:
            said = waited
            log(f"waiting for a quiet machine ({busy:.0%} of all cores busy)")


def cpu_and_ram() -> tuple[str, str]:
    """The CPU model and total memory, for the machine line beside every figure."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else cpu
    ram = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB" if m else ram
    return cpu, ram


# ---- PostgreSQL --------------------------------------------------------------------------------------------
def add_pg_args(p, db: str) -> None:
    """The bench database's connection options (--db, dropped and created fresh unless --keep; --host, --port,
    --user), read back by `conninfo` and `admin`."""
    p.add_argument("--db", default=db, help="the bench database (dropped and created fresh)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--user", default="postgres")


def conninfo(a, dbname: str) -> str:
    """libpq connection string for the bench's server (`a`: parsed args with host, port, user)."""
    return f"host={a.host} port={a.port} user={a.user} dbname={dbname}"


def admin(a, *statements: str) -> None:
    """Run statements on the `postgres` database outside a transaction (CREATE/DROP DATABASE, ALTER DATABASE)."""
    import psycopg

    with psycopg.connect(conninfo(a, "postgres"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def server_settings(a, *names: str) -> tuple[str, dict[str, str]]:
    """(server_version, {setting: value}) of the bench's PostgreSQL server, for the figures' machine line."""
    import psycopg

    with psycopg.connect(conninfo(a, "postgres")) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        values = dict(conn.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                                   (list(names),)).fetchall())
    return version, values


# ---- loop.py and peers.py: HTTP load against server processes, with its CPU cost ----------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_event_loop(main):
    """Run the coroutine `main` on uvloop where it is installed (as the servers do), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _pgids(server_pgids: int | Iterable[int]) -> set[int]:
    return {server_pgids} if isinstance(server_pgids, int) else set(server_pgids)


# ---- measurement records --------------------------------------------------------------------------------
@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # ok requests, seconds
    errors: Counter = field(default_factory=Counter)  # (step, status) -> count
    samples: list[str] = field(default_factory=list)  # first few error descriptions
    loops_done: int = 0
    loops_failed: int = 0

    def ok(self, step: str, seconds: float) -> None:
        self.latencies[step].append(seconds)

    def error(self, step: str, status: str, detail: str) -> None:
        self.errors[(step, status)] += 1
        if len(self.samples) < 8:
            self.samples.append(f"{step}: {status} {detail[:400]}")

    @property
    def all_latencies(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]

    @property
    def n_ok(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] * 1000


# ---- CPU accounting from /proc ---------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """pid -> (comm, process group, user+system CPU seconds) for every visible process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            raw = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        ticks = int(rest[11]) + int(rest[12])  # utime + stime
        if comm == "postgres":
            # + cutime + cstime: the postmaster's reaped children, i.e. backends that ended between two snapshots
            # (a pool that opens and closes connections under load); without it their CPU fell in "everything else"
            ticks += int(rest[13]) + int(rest[14])
            if OUR_DATABASE:
                comm = _postgres_role(d)
        out[int(d)] = (comm, int(rest[2]), ticks / TICK)
    return out


OUR_DATABASE: list[str] = []  # set while a configuration runs: backends of other databases are someone else's


def _postgres_role(pid: str) -> str:
    """'postgres' for the server's own processes and our database's backends, 'postgres:DB' for others'."""
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return "postgres"
    # a client backend's title: "postgres: 15/main: USER DATABASE HOST(PORT) STATE"
    if len(parts) >= 5 and parts[0] == "postgres:" and "(" in parts[4] and parts[3] not in OUR_DATABASE:
        return f"postgres:{parts[3]}"
    return "postgres"


def _machine_cpu() -> tuple[float, float, float]:
    """(busy, stolen, total) jiffies since boot, all cores; guest time is already inside user time."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle, steal = f[3] + f[4], f[7]
    return sum(f) - idle - steal, steal, sum(f)


@dataclass
class CpuSnap:
    procs: dict[int, tuple[str, int, float]]
    machine: tuple[float, float]
    client: float
    wall: float

    @classmethod
    def take(cls) -> "CpuSnap":
        return cls(_proc_stats(), _machine_cpu(), time.process_time(), time.perf_counter())


def cpu_delta(a: CpuSnap, b: CpuSnap, server_pgids: int | Iterable[int]) -> dict:
    """CPU seconds between two snapshots: the server's process group(s), PostgreSQL (its own processes and the
    backends of the databases in OUR_DATABASE), this process (the client) and everything else."""
    groups = _pgids(server_pgids)

    def used(select) -> float:
        total = 0.0
        for pid, (comm, pgid, cpu) in b.procs.items():
            if select(comm, pgid):
                before = a.procs.get(pid)
                total += cpu - (before[2] if before and before[0] == comm else 0.0)
        return total

    wall = b.wall - a.wall
    busy = b.machine[0] - a.machine[0]
    steal = b.machine[1] - a.machine[1]
    total = b.machine[2] - a.machine[2]
    split = sorted((b.procs[pid][2] - a.procs[pid][2] for pid in b.procs
                    if b.procs[pid][1] in groups and pid in a.procs), reverse=True)
    me = os.getpgrp()
    others: Counter = Counter()
    for pid, (comm, pgid, cpu) in b.procs.items():
        if pgid not in groups and pgid != me and comm != "postgres":
            before = a.procs.get(pid)
            others[comm] += cpu - (before[2] if before and before[0] == comm else 0.0)
    # A backend that ended inside the window is counted by the postmaster's reaped-children total (see _proc_stats)
    # with its whole life: take off what it had used by the window's start (known from `a`). What then remains of
    # ended backends is theirs whichever database they served: on the quiet machine the windows wait for, ours.
    ended_before = sum(cpu for pid, (comm, _pgid, cpu) in a.procs.items()
                       if comm.startswith("postgres") and (pid not in b.procs or b.procs[pid][0] != comm))
    server, postgres, client = (used(lambda comm, pgid: pgid in groups),
                                used(lambda comm, pgid: comm == "postgres") - ended_before, b.client - a.client)
    return {
        "wall": wall,
        # everything else: busy time from /proc/stat less ours; this catches short-lived processes and kernel work
        # that no process snapshot sees, which the named list below misses
        "other": max(0.0, busy / TICK - server - postgres - client),
        "other_top": [(c, round(x, 2)) for c, x in others.most_common(3) if x >= 0.05],
        "server": server,
        "server_split": [round(x, 2) for x in split if x >= 0.05],  # CPU s per server process (workers)
        "postgres": postgres,
        "client": client,
        "machine_busy": busy / total if total else float("nan"),
        "machine_steal": steal / total if total else float("nan"),
    }


def _tcp_table() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state hex, inode) of every IPv4/IPv6 TCP socket."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines()[1:]:
                f = line.split()
                out.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16), f[3], int(f[9])))
    return out


def _socket_inodes(pid: int) -> set[int]:
    out = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    out.add(int(target[8:-1]))
    return out


def serving_processes(pgid: int, port: int) -> list[int]:
    """The processes of a server's group that accept on `port`: the workers (or the one process)."""
    listening = {ino for lp, _rp, st, ino in _tcp_table() if lp == port and st == "0A"}
    members = [pid for pid, (_c, g, _cpu) in _proc_stats().items() if g == pgid]
    owners = [pid for pid in members if _socket_inodes(pid) & listening]
    workers = [pid for pid in owners if pid != pgid]
    return sorted(workers or owners)


def connection_split(server: "Server") -> list[int]:
    """Established connections held by each of the server's worker processes, most first."""
    workers = serving_processes(server.pgid, server.port)
    inodes = {ino for lp, _rp, st, ino in _tcp_table() if lp == server.port and st == "01"}
    return sorted((len(_socket_inodes(pid) & inodes) for pid in workers), reverse=True)


def connection_owner(server_port: int, client_port: int, workers: list[int]) -> int | None:
    """Which worker accepted the connection whose client side is `client_port`."""
    inodes = {ino for lp, rp, st, ino in _tcp_table() if lp == server_port and rp == client_port and st == "01"}
    return next((pid for pid in workers if _socket_inodes(pid) & inodes), None)


async def await_quiet(limit: float, server_pgids: int | Iterable[int], threshold: float = 0.15) -> dict:
    """Wait (at most `limit` s) until the machine is idle apart from us: less than `threshold` of all cores
    busy over one second. Other sessions' test runs on the same 2 cores would otherwise skew the figures.
    Answers {waited, busy, server_idle_cores (what the server's own groups used meanwhile), quiet}."""
    groups = _pgids(server_pgids)
    started, said = time.monotonic(), -10.0
    while True:
        a, pa = _machine_cpu(), _proc_stats()
        await asyncio.sleep(1.0)
        b, pb = _machine_cpu(), _proc_stats()
        busy = (b[0] - a[0]) / max(1, b[2] - a[2])
        waited = time.monotonic() - started
        idle_server = sum(cpu - pa[pid][2] for pid, (_c, g, cpu) in pb.items() if g in groups and pid in pa)
        seen = {"waited": round(waited, 1), "busy": round(busy, 3), "server_idle_cores": round(idle_server, 3)}
        if busy < threshold:
            return {**seen, "quiet": True}
        if waited >= limit:
            log(f"  machine still {busy:.0%} busy with other work after {waited:.0f} s; measuring anyway")
            return {**seen, "quiet": False}
        if waited - said >= 10:
            said = waited
            top = max(((cpu - pa[pid][2], comm) for pid, (comm, _g, cpu) in pb.items() if pid in pa),
                      default=(0, "?"))
            log(f"  machine {busy:.0%} busy with other work (mostly {top[1]!r}); waiting up to {limit:.0f} s")


# ---- server processes -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess in its own process group, its output in a log file; always stopped. `health` is
    the path answering 200 once it serves."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path, port: int, health: str = "/healthz"):
        self.name, self.argv, self.env, self.log, self.port, self.health = name, argv, env, log, port, health
        self.proc: subprocess.Popen | None = None
        self.paused = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._fh = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self._fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    async def wait_healthy(self, timeout: float = 180.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base, timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail(self.log)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(self.health)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f} s:\n{tail(self.log)}")

    @property
    def pgid(self) -> int:
        return self.proc.pid  # start_new_session: the child leads its own group

    def pause(self) -> None:
        """SIGSTOP the whole group: while another system is measured, this one's idle background work (pollers,
        timers) must not run on the same cores. Its connections stay open; `resume` or `stop` wakes it."""
        if self.proc is not None and not self.paused:
            os.killpg(self.pgid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.proc is not None and self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGCONT)
            self.paused = False

    def stop(self, grace: float = 15.0) -> dict:
        """SIGTERM to the group, SIGKILL after `grace` seconds. Answers how long it took and whether it was forced."""
        if self.proc is None:
            return {}
        self.resume()  # a stopped process would not act on SIGTERM
        t0, forced = time.perf_counter(), False
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                forced = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        took = time.perf_counter() - t0
        with contextlib.suppress(ProcessLookupError):  # worker processes left behind by a dead supervisor
            os.killpg(self.pgid, signal.SIGKILL)
        self._fh.close()
        self.proc = None
        if forced:
            log(f"  {self.name} did not exit within {grace:.0f} s of SIGTERM: killed")
        return {"seconds": round(took, 2), "forced": forced}


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def tracebacks(path: Path, limit: int = 2) -> list[str]:
    """The first few tracebacks in a server log."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    out = []
    for m in re.finditer(r"Traceback \(most recent call last\):\n(?:[ \t].*\n|\n)*.*", text):
        out.append(m.group(0).strip())
        if len(out) >= limit:
            break
    return out



class TransportError(Exception):
    """The raw client's connection failed or the answer was not HTTP/1.1 as expected."""


def client_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.HTTPError, TransportError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError)


@dataclass
class RawResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)


class RawClient:
    """A lean HTTP/1.1 keep-alive client on asyncio streams: JSON POSTs only, Content-Length or chunked answers.

    The load generator shares the machine's cores with the servers; httpx costs about 1.5 ms of CPU per
    request here, which at the target rates (docs/operations.md#performance-targets) would take most of a core from
    the servers. This client does the same requests for about a tenth of that. `--client httpx` uses httpx instead.

    `connect_balanced` opens its pool so that every server worker process holds the same number of the
    connections (see `--balance`). A request on a kept-alive connection that the server closed meanwhile
    is sent again once on a new connection, as any HTTP client does; nothing else is retried."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []
        self.split: dict[int, int] = {}  # worker pid -> connections, after connect_balanced

    async def __aenter__(self) -> "RawClient":
        return self

    async def __aexit__(self, *exc) -> None:
        for w in self._all:
            w.close()
        self._idle.clear()
        self._all.clear()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._all.append(writer)
        return reader, writer

    async def connect_balanced(self, n: int, workers: list[int], attempts: int = 400) -> dict[int, int]:
        """Open n connections, as many held by each worker process (±1), closing any held before.
        Answers {pid: connections}."""
        await self.__aexit__()
        want = {pid: n // len(workers) + (1 if i < n % len(workers) else 0) for i, pid in enumerate(workers)}
        got: dict[int, list] = {pid: [] for pid in workers}
        extra = []
        for _ in range(attempts):
            if all(len(got[p]) >= want[p] for p in workers):
                break
            conn = await self._open()
            await self._send(conn, "GET", "/healthz", None, {})  # now accepted by some worker
            pid = connection_owner(self.port, conn[1].get_extra_info("sockname")[1], workers)
            (got[pid] if pid in got and len(got[pid]) < want[pid] else extra).append(conn)
        for _reader, writer in extra:
            writer.close()
            self._all.remove(writer)
        self._idle = [c for conns in got.values() for c in conns]
        self.split = {pid: len(c) for pid, c in got.items()}
        return self.split

    async def post(self, path: str, json: dict | None = None, headers: dict | None = None) -> RawResponse:
        return await asyncio.wait_for(self._request("POST", path, json, headers or {}), self.timeout)

    async def _request(self, method: str, path: str, body_obj, headers: dict) -> RawResponse:
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._open()
        try:
            return await self._send(conn, method, path, body_obj, headers)
        except (asyncio.IncompleteReadError, ConnectionError) as err:
            if not reused or (isinstance(err, asyncio.IncompleteReadError) and err.partial):
                raise
        return await self._send(await self._open(), method, path, body_obj, headers)  # the server closed it idle

    async def _send(self, conn, method: str, path: str, body_obj, headers: dict) -> RawResponse:
        reader, writer = conn
        body = b"" if body_obj is None else json_dumps(body_obj)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if body_obj is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in headers.items()]
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            raw_head = await reader.readuntil(b"\r\n\r\n")
            lines = raw_head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise TransportError(f"bad status line {lines[0]!r}")
            fields = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
            if "content-length" in fields:
                content = await reader.readexactly(int(fields["content-length"]))
            elif fields.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    chunks.append(await reader.readexactly(size + 2))
                    if size == 0:
                        break
                content = b"".join(c[:-2] for c in chunks)
            else:
                raise TransportError("answer without Content-Length or chunked encoding")
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append(conn)
        return RawResponse(int(parts[1]), content)


def json_dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()




def summarise(rec: Recorder, wall: float, cpu: dict) -> dict:
    lat = rec.all_latencies
    n = rec.n_ok
    return {
        "requests": n, "wall": wall, "rate": n / wall if wall else 0.0, "p50": pct(lat, .5), "p99": pct(lat, .99),
        "max": max(lat) * 1000 if lat else float("nan"),
        "errors": rec.n_errors, "error_kinds": {f"{s} {st}": k for (s, st), k in sorted(rec.errors.items())},
        "error_samples": rec.samples, "cpu": cpu,
        "cpu_ms_per_request": {k: cpu[k] * 1000 / n if n else float("nan")
                               for k in ("server", "postgres", "client")},
    }



def invocation(script: str) -> str:
    """The command line that ran this benchmark, as RESULTS.md quotes it: `.venv/bin/python bench/x.py --args`."""
    return f".venv/bin/python {script}" + ("" if len(sys.argv) < 2 else " " + shlex.join(sys.argv[1:]))
