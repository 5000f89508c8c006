"""Embedded mode (`chuishao serve`): our API, a Prefect server and the served deployments in one process
and one event loop, the Prefect state under the data directory. STACK-NOTES: Prefect's temporary server
never runs schedules, its own server app under uvicorn beside ours does."""

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

import httpx
import uvicorn

from models.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure_prefect(data_dir: Path, port: int) -> str:
    """Prefect reads its settings from the environment when first imported: call this before that."""
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    os.environ.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_UI_ENABLED": "false",
    })
    return url


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
    from api.web.auth import DEMO_LOGINS_KEY
    from flows.settings import read_setting
    from models.vocabulary import ROLE_LABELS

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


async def run(settings: Settings, host: str, port: int, log=print) -> None:
    prefect_port = int(os.environ.get("CHUISHAO_PREFECT_PORT") or free_port())
    prefect_url = configure_prefect(settings.data_dir, prefect_port)

    from prefect import aserve
    from prefect.server.api.server import create_app as prefect_app

    from api.app import create_app
    from flows.deployments import build_deployments

    log(f"• 启动调度服务 starting the Prefect server on 127.0.0.1:{prefect_port} (state in "
        f"{settings.data_dir / 'prefect'}) …")
    prefect_server = _Server(uvicorn.Config(prefect_app(), host="127.0.0.1", port=prefect_port,
                                            log_level="warning", lifespan="on", access_log=False))
    app = create_app(settings)
    api_server = _Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                        ws_per_message_deflate=False, timeout_graceful_shutdown=15))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(prefect_server.serve(), name="prefect-server")]
    api = runner = None
    try:
        await _wait_healthy(prefect_url)
        log("• 调度服务就绪 Prefect server ready; registering the scheduled deployments …")
        deployments = await build_deployments()
        runner = asyncio.create_task(aserve(*deployments, print_starting_message=False), name="runner")
        tasks.append(runner)
        tasks.append(asyncio.create_task(_hold_signals(stop), name="signals"))
        log(f"• 已登记 scheduled: {', '.join(d.name for d in deployments)}")
        log(f"• 启动 API starting on http://{host}:{port}  (docs: /docs, health: /healthz)")
        api = asyncio.create_task(api_server.serve(), name="api")
        tasks.append(api)
        tasks.append(asyncio.create_task(_announce(api_server, app, host, port, log), name="announce"))
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
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
        prefect_server.should_exit = True
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=5)
