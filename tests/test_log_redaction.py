"""Secrets never appear in logs (docs/access.md#secrets, issue 10): the real app under uvicorn, with uvicorn's own
logging, must not print a WebSocket `?token=` or an Open311 `?api_key=` in its access and error logs; and any record of
the process, whichever logger and handlers carry it, loses its credentials."""

import asyncio
import io
import logging
import logging.config
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from chuishao.api.logs import install, redact
from chuishao.models.config import Settings
from tests.test_notifications import eventually
from tests.test_scheduling import base_env, free_port

SECRET = "S3CRET-c2VjcmV0LXZhbHVl"


LAUNCHERS = {  # uvicorn with its own default logging set-up, and `chuishao serve` as operators run it
    "uvicorn": ["-m", "uvicorn", "--factory", "chuishao.api.app:create_app", "--host", "127.0.0.1",
                "--log-level", "info"],
    "chuishao serve": ["-m", "chuishao.api.cli", "serve"],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_the_served_apps_logs_never_show_a_token_or_an_api_key(tmp_path, sqlite_template, launcher):
    db = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, db)
    port = free_port()
    env = base_env(Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path / "data"),
                   CHUISHAO_SCHEDULER="worker")  # the scheduler is not what this test is about
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, *LAUNCHERS[launcher], "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def healthy():
        assert server.poll() is None, log_path.read_text()[-2000:]
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert eventually(healthy, seconds=20)

        async def socket():
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws?token={SECRET}") as ws:
                return await ws.recv()

        assert "unauthorized" in asyncio.run(socket())
        assert httpx.get(f"{base}/api/v1/ws?since=1&token={SECRET}").status_code in (400, 401, 403, 404)
        assert httpx.get(f"{base}/open311/v2/requests.json?api_key={SECRET}&status=open").status_code in (400, 401,
                                                                                                            403)
        assert httpx.get(f"{base}/open311/v2/requests.json", params={"api_key": SECRET},
                         headers={"Authorization": f"Bearer {SECRET}"}).status_code in (400, 401, 403)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(15)
    text = log_path.read_text()
    assert SECRET not in text
    if launcher == "uvicorn":  # uvicorn's default set-up logs the socket's handshake too
        assert '"WebSocket /api/v1/ws?token=[redacted]"' in text  # the path kept
    assert "GET /api/v1/ws?since=1&token=[redacted] HTTP/1.1" in text
    assert "GET /open311/v2/requests.json?api_key=[redacted]&status=open HTTP/1.1" in text


def test_every_record_loses_its_credentials_whichever_logger_and_handler_carry_it():
    install()
    out = io.StringIO()
    # a logging configuration applied after install (as uvicorn and Prefect do) changes nothing
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "handlers": {"mem": {"class": "logging.StreamHandler", "stream": out}},
        "loggers": {"some.library": {"handlers": ["mem"], "level": "INFO", "propagate": False}}})
    log = logging.getLogger("some.library.child")
    log.info("calling %s", httpx.URL(f"https://hooks.example/in?access_token={SECRET}&x=1"))
    log.info("headers %s", {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET})
    log.warning("connecting to postgresql://chuishao:%s@db.internal/chuishao", SECRET)
    log.info("form password=%s&username=%s, status %d", SECRET, "li", 200)
    try:
        raise ValueError(f"bad url https://a.example/?secret={SECRET}")
    except ValueError:
        log.exception("failed")
    text = out.getvalue()
    assert SECRET not in text
    for kept in ("https://hooks.example/in?access_token=[redacted]&x=1", "'Authorization': '[redacted]'",
                 "postgresql://chuishao:[redacted]@db.internal", "username=li, status 200", "ValueError: bad url"):
        assert kept in text


def test_lines_without_a_credential_word_pass_unchanged_and_look_alike_letters_are_still_caught():
    line = '127.0.0.1:45678 - "POST /api/v1/cases/12/actions/check_in HTTP/1.1" 200'
    assert redact(line) == line
    # the quick check before the patterns must not let through what re.I matches: a long s (ſ) is an "s"
    assert redact("GET /x?pa\u017fsword=abc123 HTTP/1.1") == "GET /x?pa\u017fsword=[redacted] HTTP/1.1"
    assert redact("GET /x?TOKEN=abc123") == "GET /x?TOKEN=[redacted]"
