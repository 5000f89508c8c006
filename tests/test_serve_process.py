"""`chuishao serve` as an operator runs it, in a real process: a port in use is one line and exit 1; Ctrl-C
stops it quietly, during start-up or after; the console shows our own lines, Prefect's go to a file."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.county import CHUISHAO_CLI

ROOT = Path(__file__).parent.parent
# Prefect's server access log, its loggers' lines (`12:00:00.000 | WARNING | prefect.server…`), its warnings
PREFECT_LINE = re.compile(r'"(GET|POST|PUT|PATCH|DELETE) /api/(?!v1/)|csrf-token|\| prefect\.|prefect\.server'
                          r"|Periodic flush")


@pytest.fixture
def serve_env(sqlite_template, tmp_path):
    db = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, db)
    return {**os.environ, "CHUISHAO_DATA_DIR": str(tmp_path / "data"), "CHUISHAO_DATABASE_URL": f"sqlite:///{db}",
            "CHUISHAO_SECRET_KEY": "test-secret-of-at-least-thirty-two-bytes", "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env, port: int) -> subprocess.Popen:
    return subprocess.Popen([*CHUISHAO_CLI, "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen, sig=signal.SIGINT) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # never leave a server behind
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def test_a_port_in_use_is_one_line_and_exit_1(serve_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.monotonic()
        proc = _serve(serve_env, port)
        try:
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 1
    assert time.monotonic() - began < 15
    assert out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("错误 error: ") and str(port) in err and "in use" in err


def test_ctrl_c_after_start_stops_quietly_and_prefect_logs_to_a_file(serve_env):
    port = _free_port()
    proc = _serve(serve_env, port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        time.sleep(3)  # the scheduler registers its deployments and polls its server meanwhile
    finally:
        code, out, err = _stop(proc)
    assert code == 0, (out, err)
    assert "Traceback" not in out + err and err.strip() == "", err
    lines = out.splitlines()
    assert lines[-1] == "• 已停止 stopped"
    assert not [line for line in lines if PREFECT_LINE.search(line)], out
    assert any('"GET /healthz' in line for line in lines)  # our own access log stays
    log = Path(serve_env["CHUISHAO_DATA_DIR"]).resolve() / "logs" / "prefect.log"
    assert str(log) in out  # the banner says where Prefect's lines went
    text = log.read_text(encoding="utf-8")
    assert "/api/health" in text
    assert "csrf-token" not in text  # Prefect client's expected 422, once per client: not worth a line


def test_ctrl_c_during_start_up_stops_quietly(serve_env):
    proc = _serve(serve_env, _free_port())
    try:
        line = proc.stdout.readline()
        while line and "启动调度服务" not in line:  # the Prefect server is starting
            line = proc.stdout.readline()
    finally:
        code, out, err = _stop(proc)
    assert code == 0, (out, err)
    assert "Traceback" not in out + err and err.strip() == "", err
    assert out.splitlines()[-1] == "• 已停止 stopped"


def test_prefects_log_file_rotates(tmp_path):
    """The handler `chuishao serve` gives Prefect's log (api.embedded.PREFECT_LOGGING), built as logging would:
    past LOG_MAX_BYTES the file rolls over instead of growing for ever."""
    import logging.config

    import yaml

    from chuishao.api.embedded import LOG_BACKUPS, LOG_MAX_BYTES, PREFECT_HTTP_LOGGER, PREFECT_LOGGING

    log = tmp_path / "prefect.log"
    config = yaml.safe_load(PREFECT_LOGGING.format(log_file=log, http_logger=PREFECT_HTTP_LOGGER,
                                                   max_bytes=LOG_MAX_BYTES, backups=LOG_BACKUPS))
    spec = {k: v for k, v in config["handlers"]["file"].items() if k != "formatter"}
    handler = logging.config.DictConfigurator(config).configure_handler(spec)
    line = "x" * 1000
    try:
        for _ in range(LOG_MAX_BYTES // 1000 + 100):
            handler.emit(logging.LogRecord("prefect", logging.INFO, __file__, 0, line, None, None))
    finally:
        handler.close()
    assert (tmp_path / "prefect.log.1").stat().st_size <= LOG_MAX_BYTES
    assert 0 < log.stat().st_size < LOG_MAX_BYTES
