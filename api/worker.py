"""`chuishao worker` (scale-out): hold the schedules of the database (flows/scheduler.py), wait for the
Prefect server, register the deployments on a process work pool, and run a Prefect worker as a child that
never outlives this process.

Supervision (Linux): the Prefect worker runs in its own process group; this process is a child subreaper, so
flow-run processes the worker started in sessions of their own come back to it if the worker dies first.
SIGINT or SIGTERM is passed on to the worker's group; whatever still runs GRACE_SECONDS later gets SIGKILL.
If this process is killed outright, the worker gets SIGKILL from the kernel (PR_SET_PDEATHSIG, set by the
`python -m chuishao.api.worker --child-of PID -- CMD…` trampoline below before it execs the worker).

Settings read here: PREFECT_API_URL (required), CHUISHAO_WORKER_WAIT_SECONDS (how long to wait for the
Prefect server, default 120), PREFECT_LOGGING_LEVEL (the worker's and flow runs' log level, default WARNING
here: one line per problem instead of ~14,000 INFO lines a day).

Importing this module stays light (standard library only): the trampoline runs it before every worker start.
"""

import contextlib
import os
import signal
import sys
import time

WAIT_ENV = "CHUISHAO_WORKER_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 120.0
SAY_WAITING_EVERY = 5.0  # seconds between "waiting for the Prefect server" lines
GRACE_SECONDS = 10.0  # after passing a stop signal on, before SIGKILL
DEFAULT_LOG_LEVEL = "WARNING"
TICK = 0.2

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class WorkerExit(Exception):
    """Stop with `line` on stderr and exit status `status` (1: could not run; the reason is in the line)."""

    def __init__(self, zh: str, en: str, status: int = 1):
        super().__init__(f"错误 error: {zh} / {en}")
        self.status = status


def wait_seconds(environ=os.environ) -> float:
    """CHUISHAO_WORKER_WAIT_SECONDS as seconds ≥ 0 (unset: 120). Raises Invalid for anything else."""
    from chuishao.flows.errors import Invalid

    text = environ.get(WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise Invalid(f"{WAIT_ENV} 的值 {text!r} 无效，应为 0 到 86400 之间的秒数",
                      f"{WAIT_ENV}={text!r} is not a number of seconds between 0 and 86400", code="usage")
    return seconds


def prefect_url(environ=os.environ) -> str:
    """PREFECT_API_URL without a trailing slash. Raises Invalid when it is not set."""
    from chuishao.flows.errors import Invalid

    url = environ.get("PREFECT_API_URL", "").strip().rstrip("/")
    if not url:
        raise Invalid("请将 PREFECT_API_URL 设为 Prefect 服务的地址，如 http://127.0.0.1:4200/api",
                      "set PREFECT_API_URL to the Prefect server, e.g. http://127.0.0.1:4200/api")
    return url


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0


def _exec_child(argv: list[str]) -> None:
    """The trampoline: `--child-of PID -- CMD…`. Ask the kernel for SIGKILL when the parent dies, make sure
    the parent has not died already, then become CMD (the death signal survives exec)."""
    parent, cmd = int(argv[1]), argv[argv.index("--") + 1:]
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the wrapper died before the request above: nobody would stop us
        os._exit(1)
    os.execv(cmd[0], cmd)


def spawn(cmd: list[str], env: dict):
    """Start `cmd` in a new process group, killed by the kernel if this process dies (Linux)."""
    import subprocess

    trampoline = [sys.executable, "-m", "chuishao.api.worker", "--child-of", str(os.getpid()), "--", *cmd]
    return subprocess.Popen(trampoline, env=env, process_group=0)


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state letter) for every process, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
        table[int(name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> list[int]:
    """Every running (not zombie) descendant of `pid`."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for p, (parent, _) in table.items():
        children.setdefault(parent, []).append(p)
    found, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        if table[p][1] != "Z":
            found.append(p)
    return found


class Children:
    """The child `main` (a Popen from spawn()) and every process below it, reaped as they end (flow runs the
    worker left behind included: this process is their subreaper)."""

    def __init__(self, main):
        self.main = main
        self.main_status: int | None = None

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.main.pid:
                self.main_status = self.main.returncode = os.waitstatus_to_exitcode(status)

    def signal_all(self, sig: int) -> int:
        """Send `sig` to every descendant still running; returns how many there were."""
        pids = descendants(os.getpid())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    async def stop(self, sig: int | None, grace: float = GRACE_SECONDS) -> int:
        """Pass `sig` on to the main child's process group (None: it has ended already), give everything
        `grace` seconds to end, then SIGKILL what is left. Returns how many processes had to be killed."""
        import asyncio

        self.reap()
        if sig is not None and self.main_status is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.main.pid, sig)
        give_up = time.monotonic() + grace
        while time.monotonic() < give_up:
            self.reap()
            if not descendants(os.getpid()):
                return 0
            await asyncio.sleep(TICK)
        killed = 0
        while left := self.signal_all(signal.SIGKILL):
            killed = max(killed, left)
            await asyncio.sleep(TICK)
            self.reap()
        return killed


def become_subreaper() -> bool:
    """Orphaned descendants come to this process instead of init (Linux), so none escapes stop()."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


async def _wait_for_prefect(url: str, seconds: float, stop, say) -> str | None:
    """Poll GET {url}/health until it answers 200. Returns None when healthy (or `stop` was set), else the
    last reason it was not, once `seconds` have passed."""
    import asyncio

    import httpx

    give_up, next_line = time.monotonic() + seconds, 0.0
    async with httpx.AsyncClient() as client:
        while not stop.is_set():
            try:
                answer = await client.get(f"{url}/health", timeout=3)
                if answer.status_code == 200:
                    return None
                reason = f"HTTP {answer.status_code}"
            except httpx.ConnectError:
                reason = "cannot connect"
            except httpx.TimeoutException:
                reason = "no answer within 3 s"
            except httpx.HTTPError as err:
                reason = type(err).__name__
            now = time.monotonic()
            if now >= give_up:
                return reason
            if now >= next_line:
                say(f"• 等待 Prefect 服务 waiting for the Prefect server at {url} ({reason}); "
                    f"{give_up - now:.0f} s left ({WAIT_ENV})")
                next_line = now + SAY_WAITING_EVERY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(2.0, max(give_up - now, 0.1)))
    return None


async def register(say) -> str:
    """Create the process work pool (once) and apply every deployment to it; returns the pool's name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    from chuishao.flows.deployments import WORK_POOL, build_deployments

    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):  # registered by an earlier worker
            await client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
    for d in await build_deployments(work_pool=WORK_POOL):
        await d.apply(work_pool_name=WORK_POOL)
        say(f"• 已登记 deployment registered: {d.name}")
    return WORK_POOL


async def _until_stop(coro, stop):
    """Run `coro` unless `stop` is set first (then cancel it and return None)."""
    import asyncio

    task, stopping = asyncio.ensure_future(coro), asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    return None


async def _supervise(settings, url: str, wait: float, say) -> int:
    import asyncio

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from chuishao.flows import scheduler
    from chuishao.flows.clock import system_clock
    from chuishao.models.db import Database

    loop = asyncio.get_running_loop()
    stop, received = asyncio.Event(), []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: (received.append(s), stop.set()))
    become_subreaper()

    db = Database(settings.url, pool_size=1)
    me = scheduler.Holder("worker", prefect=url)
    shown = make_url(settings.url).render_as_string(hide_password=True)
    try:
        try:
            claim = await scheduler.claim(db, me, system_clock())
        except (SQLAlchemyError, OSError) as err:
            reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
            raise WorkerExit(f"无法连接数据库 {shown}：{reason}",
                             f"cannot reach the database {shown}: {reason}") from None
        if claim.taken_over:
            say(claim.line())
        say(f"• 调度租约 holding the schedules of {shown} (host {me.host}, pid {me.pid})")
        holding = asyncio.create_task(scheduler.hold(db, me, system_clock, say), name="lease")
        try:
            return await _run_worker(url, wait, stop, received, holding, say)
        finally:
            holding.cancel()
            await asyncio.wait([holding], timeout=1)
    finally:
        with contextlib.suppress(SQLAlchemyError, OSError):  # unreachable: the lease goes stale by itself
            await scheduler.release(db, me)
        await db.dispose()


async def _run_worker(url: str, wait: float, stop, received: list, holding, say) -> int:
    import asyncio

    from chuishao.flows.errors import DomainError

    reason = await _wait_for_prefect(url, wait, stop, say)
    if reason is not None:
        raise WorkerExit(f"Prefect 服务 {url} 在 {wait:.0f} 秒内未就绪（{reason}），请先启动 prefect server start，"
                         f"或调大 {WAIT_ENV}",
                         f"the Prefect server at {url} was not ready within {wait:.0f} s ({reason}); start "
                         f"`prefect server start` first, or raise {WAIT_ENV}")
    if stop.is_set():
        say("• 已停止 stopped before the Prefect worker started")
        return 0
    say(f"• Prefect 服务就绪 Prefect server ready at {url}; registering the deployments …")
    try:
        pool = await _until_stop(register(say), stop)
    except Exception as err:  # noqa: BLE001 - one line instead of Prefect's traceback; the reason is in it
        raise WorkerExit(f"无法在 Prefect 服务 {url} 登记定时任务：{err}",
                         f"cannot register the deployments with the Prefect server at {url}: "
                         f"{type(err).__name__}: {err}") from None
    if pool is None:
        say("• 已停止 stopped before the Prefect worker started")
        return 0
    say(f"• 启动 worker starting a Prefect worker on pool '{pool}' (log level {os.environ['PREFECT_LOGGING_LEVEL']}, "
        "PREFECT_LOGGING_LEVEL)")
    # the environment run() settled, log level included: the worker's flow runs inherit it
    children = Children(spawn([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
                                "--type", "process"], dict(os.environ)))
    while True:
        children.reap()
        if stop.is_set() or children.main_status is not None or holding.done():
            break
        await asyncio.sleep(TICK)
    sig = received[0] if received else signal.SIGTERM
    ended_by_itself = children.main_status
    killed = await children.stop(None if ended_by_itself is not None else sig)
    after = f"; {killed} process(es) killed after {GRACE_SECONDS:.0f} s" if killed else ""
    lost = holding.exception() if holding.done() and not holding.cancelled() else None
    if isinstance(lost, DomainError):  # another scheduler took this database over: ours must not run beside it
        raise WorkerExit(lost.zh, lost.en)
    if lost is not None:
        raise lost
    if ended_by_itself is not None:
        raise WorkerExit(f"Prefect worker 意外退出（退出码 {ended_by_itself}），见上方输出",
                         f"the Prefect worker exited by itself with status {ended_by_itself}; see its output above"
                         f"{after}")
    say(f"• 已停止 stopped: the Prefect worker and its flow runs ended after {signal.Signals(sig).name}{after}")
    return 0


def run(settings, url: str, wait: float, say=None) -> int:
    """`chuishao worker` for the Prefect server at `url` (prefect_url()), waiting up to `wait` seconds for it:
    returns the exit status (0 after a stop by SIGINT/SIGTERM). Raises SchedulerTaken (exit 2) when another
    scheduler holds this database; prints one line on stderr and returns 1 when it cannot run."""
    import asyncio

    say = say or (lambda line: print(line, flush=True))
    # before Prefect is first imported (registration below): its logging reads this once
    os.environ["PREFECT_LOGGING_LEVEL"] = os.environ.get("PREFECT_LOGGING_LEVEL") or DEFAULT_LOG_LEVEL
    try:
        return asyncio.run(_supervise(settings, url, wait, say))
    except WorkerExit as err:
        print(str(err), file=sys.stderr, flush=True)
        return err.status


if __name__ == "__main__" and "--child-of" in sys.argv:
    _exec_child(sys.argv[1:])
