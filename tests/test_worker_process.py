"""`chuishao worker` as an operator runs it, against a real `prefect server start`: started before the server it
waits, then runs the sweep; stopping it (SIGTERM, SIGINT) stops everything it started; killing it outright
takes the Prefect worker along; its logs are quiet unless PREFECT_LOGGING_LEVEL says otherwise."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import httpx
import pytest

from tests.conftest import bootstrap_settings
from tests.county import CHUISHAO_CLI

MARK = "CHUISHAO_TEST_MARK"  # in the environment of everything a wrapper starts, inherited by its flow runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked(mark: str) -> dict[int, str]:
    """pid → command line of every running (not zombie) process whose environment carries `mark`."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if f"{MARK}={mark}".encode() not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                found[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
    return found


def base_env(tmp_path) -> dict:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHUISHAO_"))},
            "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "false"}


class PrefectServer:
    """One `prefect server start` (SQLite state) for this module, started when a test first asks for it."""

    def __init__(self, tmp_path):
        self.tmp_path, self.port, self.proc = tmp_path, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        if self.proc is not None:
            return
        self.log = open(self.tmp_path / "prefect-server.log", "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                      "--port", str(self.port)], env=base_env(self.tmp_path), stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def completed_runs(self) -> int:
        body = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
        try:
            return httpx.post(f"{self.url}/flow_runs/count", json=body, timeout=5).json()
        except httpx.HTTPError:
            return 0

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


@pytest.fixture(scope="module")
def prefect(tmp_path_factory):
    server = PrefectServer(tmp_path_factory.mktemp("prefect"))
    yield server
    server.close()


@pytest.fixture
def worker_env(tmp_path, sqlite_template, prefect, clock):
    """A county database of its own, and the environment of a worker for `prefect`'s server: a fresh MARK."""
    import shutil

    shutil.copy(sqlite_template, tmp_path / "chuishao.db")
    settings = bootstrap_settings(f"sqlite:///{tmp_path / 'chuishao.db'}", tmp_path, clock)
    return {**base_env(prefect.tmp_path), "CHUISHAO_DATABASE_URL": settings.url,
            "CHUISHAO_DATA_DIR": str(settings.data_dir), "PREFECT_API_URL": prefect.url,
            "CHUISHAO_SWEEP_INTERVAL_SECONDS": "2", "PREFECT_WORKER_QUERY_SECONDS": "2",
            "CHUISHAO_WORKER_WAIT_SECONDS": "300", MARK: uuid.uuid4().hex}


def start_worker(env: dict, log_path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - the child writes it; closed when the test's tmp dir goes
    return subprocess.Popen([*CHUISHAO_CLI, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until(what: str, done, proc: subprocess.Popen, log_path, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        assert proc.poll() is None, f"the wrapper exited ({proc.returncode}) before {what}:\n" \
                                    f"{log_path.read_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"not {what} within {seconds} s:\n{log_path.read_text()[-3000:]}")


def wait_gone(mark: str, seconds: float, which=lambda cmd: True) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while (left := {p: c for p, c in marked(mark).items() if which(c)}) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def wait_for_runs(worker: subprocess.Popen, prefect: PrefectServer, log_path, runs: int) -> None:
    """Until the wrapper has started the Prefect worker and `runs` flow runs (in all) have completed."""
    prefect.start()
    wait_until("running the Prefect worker", lambda: "starting a Prefect worker" in log_path.read_text(), worker,
               log_path)
    wait_until(f"{runs} completed flow runs", lambda: prefect.completed_runs() >= runs, worker, log_path)


def kill_marked(mark: str) -> None:
    for pid in marked(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def cleaned_up(worker: subprocess.Popen, mark: str):
    """Whatever a test leaves running (it failed half-way) is killed."""
    try:
        yield
    finally:
        if worker.poll() is None:
            worker.kill()
        kill_marked(mark)


def stop_with(worker: subprocess.Popen, sig: int, mark: str) -> tuple[int, dict]:
    """Send `sig` to the wrapper: its exit status, and what of its processes still runs right after it ended."""
    worker.send_signal(sig)
    return worker.wait(60), marked(mark)


def test_a_worker_started_first_waits_for_the_server_and_its_stop_leaves_nothing(worker_env, prefect, tmp_path):
    log_path = tmp_path / "worker.log"
    mark = worker_env[MARK]
    worker = start_worker(worker_env, log_path)
    with cleaned_up(worker, mark):
        wait_until("waiting", lambda: log_path.read_text().count("waiting for the Prefect server") >= 2, worker,
                   log_path)
        wait_for_runs(worker, prefect, log_path, prefect.completed_runs() + 3)  # it waited instead of failing
        assert any("prefect worker start" in c for c in marked(mark).values())
        status, left = stop_with(worker, signal.SIGTERM, mark)
    out = log_path.read_text()
    assert status == 0, out[-3000:]
    assert left == {}, left  # the Prefect worker and every flow run it started have ended
    assert out.splitlines()[-1].startswith("• 已停止 stopped: the Prefect worker and its flow runs ended after SIGTERM")
    waiting = [line for line in out.splitlines() if "waiting for the Prefect server" in line]
    assert all(line.startswith("• 等待 Prefect 服务") for line in waiting), waiting  # one clear line each time
    assert "Traceback" not in out
    # quiet by default: no INFO line from the Prefect worker or its flow runs however many runs went by
    assert not re.search(r"\|\s*INFO\s*\|", out), out[-3000:]


def test_a_worker_killed_outright_takes_its_prefect_worker_along(worker_env, prefect, tmp_path):
    log_path = tmp_path / "worker.log"
    mark = worker_env[MARK]
    runs = prefect.completed_runs() + 2
    worker = start_worker(worker_env, log_path)
    with cleaned_up(worker, mark):
        wait_for_runs(worker, prefect, log_path, runs)
        prefect_worker = [p for p, c in marked(mark).items() if "prefect worker start" in c]
        assert len(prefect_worker) == 1, marked(mark)
        worker.kill()  # SIGKILL: no chance to pass anything on
        worker.wait(30)
        # the kernel stops the Prefect worker; a flow run it had begun finishes its run and ends by itself
        still_polling = wait_gone(mark, 60, lambda cmd: "prefect worker start" in cmd)
        still_running = wait_gone(mark, 300)
    assert still_polling == {}, still_polling
    assert still_running == {}, still_running


def test_the_operator_may_ask_for_info_logs_and_stop_with_ctrl_c(worker_env, prefect, tmp_path):
    log_path = tmp_path / "worker.log"
    mark = worker_env[MARK]
    runs = prefect.completed_runs() + 1
    worker = start_worker({**worker_env, "PREFECT_LOGGING_LEVEL": "INFO"}, log_path)
    with cleaned_up(worker, mark):
        wait_for_runs(worker, prefect, log_path, runs)
        status, left = stop_with(worker, signal.SIGINT, mark)
    out = log_path.read_text()
    assert status == 0 and left == {}, (left, out[-3000:])
    assert "log level INFO" in out and re.search(r"\|\s*INFO\s*\|", out), out[-3000:]
    assert out.splitlines()[-1].startswith("• 已停止 stopped: the Prefect worker and its flow runs ended after SIGINT")


def test_a_worker_gives_up_waiting_in_one_line(worker_env, tmp_path):
    env = {**worker_env, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api", "CHUISHAO_WORKER_WAIT_SECONDS": "3"}
    result = subprocess.run([*CHUISHAO_CLI, "worker"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误 error: Prefect 服务"), result.stderr
    assert "was not ready within 3 s" in lines[0] and "CHUISHAO_WORKER_WAIT_SECONDS" in lines[0]
    assert "waiting for the Prefect server" in result.stdout
    assert marked(worker_env[MARK]) == {}


def test_what_does_not_end_within_the_grace_period_is_killed(tmp_path):
    """The supervision itself: the child stops on SIGTERM as the Prefect worker does, but a process it started in
    a session of its own (as Prefect starts flow runs) ignores it; orphaned, it comes back to the supervisor (a
    subreaper), which kills it once the grace period is over."""
    mark = uuid.uuid4().hex
    (tmp_path / "stubborn.py").write_text(textwrap.dedent("""
        import signal, subprocess, sys, time
        if sys.argv[1:] == ["parent"]:
            subprocess.Popen([sys.executable, __file__], start_new_session=True)
        else:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(600)
    """))
    supervisor = textwrap.dedent(f"""
        import asyncio, os, signal, sys, time
        from chuishao.api.worker import Children, become_subreaper, descendants, spawn
        become_subreaper()
        children = Children(spawn([sys.executable, {str(tmp_path / "stubborn.py")!r}, "parent"], None))
        while len(descendants(os.getpid())) < 2:
            time.sleep(0.1)
        time.sleep(1)  # the grandchild has set its SIGTERM aside
        print("killed", asyncio.run(children.stop(signal.SIGTERM, grace=2)), "main", children.main_status)
    """)
    env = {**os.environ, MARK: mark}
    result = subprocess.run([sys.executable, "-c", supervisor], env=env, capture_output=True, text=True, timeout=120)
    left = marked(mark)
    kill_marked(mark)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["killed", "1", "main", str(-signal.SIGTERM)], result.stdout
    assert left == {}, left
