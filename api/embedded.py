"""Embedded mode (`chuishao serve`): our API, a Prefect server and the served deployments in one process
and one event loop, the Prefect state under the data directory. Prefect's temporary server never runs schedules;
its own server app under uvicorn beside ours does."""

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import signal
import socket
from pathlib import Path

import httpx
import uvicorn

from chuishao.api.server import api_config, listening_socket
from chuishao.models.config import Settings

PREFECT_LOGGING = """\
# written by `chuishao serve` at every start: Prefect's own logs (its server, the scheduler and the flow runs,
# which read this file through PREFECT_LOGGING_CONFIG_PATH) go to one file, the console keeps ours
version: 1
disable_existing_loggers: False
formatters:
  standard:
    (): prefect.logging.formatters.PrefectFormatter
    format: "%(asctime)s | %(process)d | %(levelname)-7s | %(name)s - %(message)s"
    flow_run_fmt: "%(asctime)s | %(process)d | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s"
    task_run_fmt: "%(asctime)s | %(process)d | %(levelname)-7s | Task run %(task_run_name)r - %(message)s"
  plain:
    format: "%(levelname)s %(name)s: %(message)s"
handlers:
  file:
    class: logging.handlers.RotatingFileHandler
    filename: "{log_file}"
    maxBytes: {max_bytes}
    backupCount: {backups}
    encoding: utf-8
    delay: true
    formatter: standard
  console:
    class: logging.StreamHandler
    stream: ext://sys.stderr
    formatter: plain
  api:
    class: prefect.logging.handlers.APILogHandler
  worker_api:
    class: prefect.logging.handlers.WorkerAPILogHandler
loggers:
  prefect:
    level: "${{PREFECT_LOGGING_LEVEL}}"
    handlers: [file]
    propagate: false
  prefect.extra:
    level: "${{PREFECT_LOGGING_LEVEL}}"
    handlers: [api, file]
    propagate: false
  prefect.flow_runs:
    level: NOTSET
    handlers: [api]
  prefect.task_runs:
    level: NOTSET
    handlers: [api]
  prefect.workers:
    level: NOTSET
    handlers: [worker_api]
  prefect.server:
    level: "${{PREFECT_SERVER_LOGGING_LEVEL}}"
  prefect._internal:
    level: "${{PREFECT_INTERNAL_LOGGING_LEVEL}}"
  {http_logger}:
    level: INFO
    handlers: [file]
    propagate: false
root:
  level: WARNING
  handlers: [console]
"""
PREFECT_HTTP_LOGGER = "chuishao.prefect_http"  # the embedded Prefect server's request and error lines
# prefect.log rolls over at LOG_MAX_BYTES to prefect.log.1 … prefect.log.<LOG_BACKUPS>, the oldest dropped
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5


def log_file(data_dir: Path) -> Path:
    """Where `chuishao serve` writes Prefect's logs (its server's access log, the scheduler, flow runs); rotated
    at LOG_MAX_BYTES, keeping LOG_BACKUPS older files beside it."""
    return (data_dir / "logs" / "prefect.log").resolve()


def configure_prefect(data_dir: Path, port: int) -> str:
    """Prefect reads its settings from the environment when first imported: call this before that.
    Returns the Prefect API URL."""
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    logs = log_file(data_dir)
    logs.parent.mkdir(parents=True, exist_ok=True)
    logging_config = home / "chuishao-logging.yml"
    logging_config.write_text(PREFECT_LOGGING.format(log_file=str(logs).replace("$", "$$"),
                                                     http_logger=PREFECT_HTTP_LOGGER, max_bytes=LOG_MAX_BYTES,
                                                     backups=LOG_BACKUPS), encoding="utf-8")
    url = f"http://127.0.0.1:{port}/api"
    os.environ.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_CONFIG_PATH": str(logging_config),
        "PREFECT_UI_ENABLED": "false",
    })
    return url


# True in everything the embedded Prefect server runs (tasks and callbacks inherit it from its serving task)
_IN_PREFECT_SERVER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_prefect_server", default=False)


class _PrefectLinesToFile(logging.Filter):
    """On uvicorn's loggers, which both servers of this process share: the Prefect server's lines (its access
    log, start-up, shutdown, errors) go to Prefect's log file instead of the console."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _IN_PREFECT_SERVER.get():
            if not _is_csrf_probe(record):
                logging.getLogger(PREFECT_HTTP_LOGGER).handle(record)
            return False
        return True


def _is_csrf_probe(record: logging.LogRecord) -> bool:
    """Prefect's client asks its server for a CSRF token before its first request; with CSRF protection off
    (Prefect's default) the server answers 422. Expected, harmless, and most of the log's lines."""
    args = record.args  # uvicorn's access line: (client, method, path, HTTP version, status)
    return (record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5
            and str(args[2]).startswith("/api/csrf-token") and args[4] == 422)


async def _serve_prefect(server: uvicorn.Server, sock: socket.socket) -> None:
    _IN_PREFECT_SERVER.set(True)
    await server.serve(sockets=[sock])


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `run()`, which owns the process's shutdown."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def _hold_signals(stop: asyncio.Event) -> None:
    """Prefect's runner installs a SIGTERM handler that calls sys.exit() wherever the loop happens to be —
    inside an action's transaction, as likely as not — and it does so whenever its start-up gets there.
    Keep ours in place: SIGINT and SIGTERM set `stop`, and the process drains and stops."""
    loop = asyncio.get_running_loop()
    while True:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if getattr(signal.getsignal(sig), "__name__", "") != "_sighandler_noop":  # asyncio's own
                loop.add_signal_handler(sig, stop.set)
        await asyncio.sleep(0.5)


async def _wait_healthy(url: str, seconds: float = 120) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds * 4)):
            try:
                if (await client.get(f"{url}/health", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"Prefect server at {url} did not become healthy")


async def _announce(server, app, host: str, port: int, log) -> None:
    """Once the API answers: where the web UI is and, for the demo county, who to sign in as."""
    from chuishao.api.web.auth import DEMO_LOGINS_KEY
    from chuishao.flows.settings import read_setting
    from chuishao.models.vocabulary import ROLE_LABELS

    while not server.started:
        await asyncio.sleep(0.1)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    log(f"• 就绪 ready — 在浏览器中打开 open the web UI: http://{shown}:{port}/   (API docs: /docs)")
    try:
        demo = await read_setting(app.state.services.db, DEMO_LOGINS_KEY)
    except Exception:  # noqa: BLE001 - a hint, never a reason to stop serving
        demo = None
    if demo:
        log(f"• 演示账号 demo logins (password {demo['password']}):")
        for role, names in demo["logins"]:
            log(f"    {ROLE_LABELS.get(role, role)} {role}: {', '.join(names)}")
    await asyncio.Event().wait()  # stay until cancelled with the other tasks


def quiet_thread_calls_cancelled(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """The event loop's exception handler while `chuishao serve` runs embedded: a call a thread made into the loop
    (anyio's `from_thread.run`, as the Prefect server's start-up does) that was cancelled because the service is
    stopping ends its task with concurrent.futures.CancelledError, which tells the waiting thread; asyncio would
    print it as an unhandled exception during shutdown. Anything else goes to the default handler."""
    if isinstance(context.get("exception"), concurrent.futures.CancelledError):
        return
    loop.default_exception_handler(context)


async def run(settings: Settings, api_socket: socket.socket, log=print) -> None:
    """Serve until SIGINT or SIGTERM, then drain: the API finishes its requests in flight, then the scheduler
    and its server stop. `api_socket`: the API's listening socket (api.server.listening_socket). Raises
    flows.scheduler.SchedulerTaken when another scheduler holds the database's schedules (at start or later)."""
    from chuishao.flows import scheduler
    from chuishao.flows.clock import system_clock
    from chuishao.models.db import Database

    # a Ctrl-C during the Prefect server's start-up cancels its calls from threads: no traceback for those
    asyncio.get_running_loop().set_exception_handler(quiet_thread_calls_cancelled)

    # one scheduler per database: refused (SchedulerTaken) before anything starts when another one runs
    lease_db, me = Database(settings.url, pool_size=1), scheduler.Holder("embedded")
    try:
        claim = await scheduler.claim(lease_db, me, system_clock())
    except BaseException:
        await lease_db.dispose()
        raise
    if claim.taken_over:
        log(claim.line())
    log(f"• 调度 scheduler: embedded — {scheduler.MODES['embedded'][0]} / {scheduler.MODES['embedded'][1]}")
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_hold_signals(stop), name="signals"),  # from the first moment: a quiet Ctrl-C
             asyncio.create_task(scheduler.hold(lease_db, me, system_clock, log), name="lease")]
    prefect_socket = listening_socket("127.0.0.1", int(os.environ.get("CHUISHAO_PREFECT_PORT") or 0))
    prefect_port = prefect_socket.getsockname()[1]
    prefect_url = configure_prefect(settings.data_dir, prefect_port)

    from prefect import aserve
    from prefect.server.api.server import create_app as prefect_app

    from chuishao.api.app import create_app
    from chuishao.flows.deployments import build_deployments

    log(f"• 启动调度服务 starting the Prefect server on 127.0.0.1:{prefect_port} (state in "
        f"{settings.data_dir / 'prefect'}; its log: {log_file(settings.data_dir)}) …")
    prefect_server = _Server(uvicorn.Config(prefect_app(), log_config=None, lifespan="on",
                                            timeout_graceful_shutdown=5))
    app = create_app(settings)
    api_server = _Server(api_config(app, settings, timeout_graceful_shutdown=15))  # configures uvicorn's logging
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(_PrefectLinesToFile())
    prefect = asyncio.create_task(_serve_prefect(prefect_server, prefect_socket), name="prefect-server")
    tasks.append(prefect)
    api = runner = None

    async def start() -> None:
        nonlocal api, runner
        await _wait_healthy(prefect_url)
        log("• 调度服务就绪 Prefect server ready; registering the scheduled deployments …")
        deployments = await build_deployments()
        runner = asyncio.create_task(aserve(*deployments, print_starting_message=False), name="runner")
        tasks.append(runner)
        log(f"• 已登记 scheduled: {', '.join(d.name for d in deployments)}")
        host, port = api_socket.getsockname()[:2]
        log(f"• 启动 API starting on http://{host}:{port}  (docs: /docs, health: /healthz)")
        api = asyncio.create_task(api_server.serve(sockets=[api_socket]), name="api")
        tasks.append(api)
        tasks.append(asyncio.create_task(_announce(api_server, app, host, port, log), name="announce"))

    starting = asyncio.create_task(start(), name="start")
    stopping = asyncio.create_task(stop.wait())
    watch = {starting, stopping}
    try:
        while True:  # any task ending ends the service; `start` ends by design, adding the tasks it began
            done, _ = await asyncio.wait(watch | set(tasks), return_when=asyncio.FIRST_COMPLETED)
            if starting in done and not starting.cancelled() and starting.exception() is None:
                watch.discard(starting)
                done.discard(starting)
            if done:
                break
        for t in done:
            if t is not stopping and not t.cancelled() and t.exception():
                raise t.exception()
        log("• 正在停止 stopping: finishing requests in flight …")
    finally:
        # the API first, letting requests in flight finish; then the scheduler and its server
        api_server.should_exit = True
        if api is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(api), timeout=20)
        starting.cancel()
        if runner is not None:  # the scheduler stops asking its server for runs
            runner.cancel()
            await asyncio.wait([runner], timeout=5)
        prefect_server.should_exit = True  # and the server drains (it cancels its streams after 5 s)
        await asyncio.wait([prefect], timeout=10)
        for t in (stopping, *tasks):
            t.cancel()
        await asyncio.wait([starting, *tasks], timeout=5)
        with contextlib.suppress(Exception):  # unreachable: the lease goes stale by itself
            await scheduler.release(lease_db, me)
        await lease_db.dispose()
