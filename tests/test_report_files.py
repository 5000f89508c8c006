"""A bulletin's files are where every process looks for them, and a record always has its files (issue 12).

- A relative CHUISHAO_DATA_DIR is one absolute directory, fixed where the command was started: a flow run that
  Prefect's process worker starts in a temporary working directory (with the worker's environment) writes the
  files into the same directory the API serves from.
- A bulletin is recorded only after all its files are written; when one cannot be written (a disk that is
  full, a directory that is not writable) nothing is recorded, the command says so in one line, and the files
  served before are byte for byte the same.
- A recorded bulletin whose files were deleted by hand answers 404 report_files_missing in the error shape,
  and the reports page says which files are missing.

Real processes (the `chuishao` command, a parent that starts it elsewhere as the worker does), both databases.
"""

import asyncio
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from chuishao.flows.jobs import bulletin_dir, run_bulletin
from chuishao.flows.reports import FILES
from chuishao.models.config import Settings
from tests.county import CHUISHAO_CLI
from tests.report_month import at, build_month
from tests.test_dashboard import as_page_user

MONTH = "2026-11"
REPO = Path(__file__).resolve().parent.parent
SERVED = ("html", "pdf", "xlsx")
FORGET = ("CHUISHAO_DATA_DIR", "CHUISHAO_DATABASE_URL")


@pytest.fixture
def month(county, clock):
    build_month(county, clock)  # November 2026 with a case in every list; the clock at 3 December 09:00
    return county


def chuishao_env(settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in FORGET}
    return {**env, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir),
            "PYTHONPATH": str(REPO), **extra}


def bulletin_cli(settings, now: str, prefix=(), preexec=None) -> subprocess.CompletedProcess:
    """`chuishao bulletin --month 2026-11 --now <now>` in its own process (--drill: the test county lives in
    late 2026, whatever the real date)."""
    return subprocess.run([*prefix, *CHUISHAO_CLI, "bulletin", "--month", MONTH, "--now", now,
                           "--drill"],
                          env=chuishao_env(settings), cwd=REPO, capture_output=True, text=True, timeout=300,
                          preexec_fn=preexec)


def files_of(settings) -> dict[str, bytes]:
    """Every file under the month's bulletin folder (charts included) by relative path, and what they hold."""
    folder = bulletin_dir(settings, MONTH)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(settings) -> list[str]:
    """Staging folders and temporary files a failed run would leave beside or in the published ones."""
    root = settings.data_dir / "bulletins"
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.name.startswith(".")] if root.exists() else []


# 1. one absolute data directory, whatever the working directory of the process that writes

def test_a_relative_data_dir_is_absolute_from_where_the_settings_were_loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir="county-data")
    monkeypatch.chdir("/")
    assert settings.data_dir == tmp_path / "county-data" and settings.data_dir.is_absolute()
    assert settings.url == f"sqlite:///{tmp_path / 'county-data' / 'chuishao.db'}"


WORKER = """
import os, shutil, subprocess, sys, tempfile
from chuishao.models.config import data_dir_line
print(data_dir_line(), flush=True)
# as Prefect's process worker runs a flow: this process's environment, a temporary working directory deleted after
work = tempfile.mkdtemp(suffix="prefect")
try:
    run = subprocess.run([sys.executable, "-m", "chuishao.api.cli", *sys.argv[1:]], cwd=work, env={**os.environ},
                         capture_output=True, text=True)
finally:
    shutil.rmtree(work)
print(run.stdout, run.stderr, flush=True)
sys.exit(run.returncode)
"""


def test_a_flow_run_started_in_a_temporary_directory_writes_where_the_api_reads(month, clock, db_url, tmp_path,
                                                                                 monkeypatch):
    """The operator starts the worker and the API in /srv/county with CHUISHAO_DATA_DIR=county-data; the
    worker's flow run works in a temporary directory. The bulletin it makes is downloadable from the API."""
    api = month
    operator = tmp_path / "county"
    data = operator / "county-data"
    data.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in FORGET}
    env.update(CHUISHAO_DATA_DIR="county-data", PYTHONPATH=str(REPO))
    if db_url.startswith("sqlite"):  # the default database: a SQLite file in the data directory
        with sqlite3.connect(make_path(db_url)) as src, sqlite3.connect(data / "chuishao.db") as dst:
            src.backup(dst)
    else:
        env["CHUISHAO_DATABASE_URL"] = db_url
    worker = subprocess.run([sys.executable, "-c", WORKER, "bulletin", "--month", MONTH, "--now",
                             at("2026-12-03T09:00").isoformat(), "--drill"], cwd=operator, env=env, capture_output=True,
                            text=True, timeout=300)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert worker.stdout.splitlines()[0] == f"• 数据目录 data dir: {data}"  # what `chuishao worker` prints
    assert str(data / "bulletins" / MONTH) in worker.stdout
    assert {FILES[f] for f in SERVED} <= set(files_of(Settings(data_dir=data)))

    monkeypatch.chdir(operator)  # an API process started beside it, with the same relative setting
    monkeypatch.setenv("CHUISHAO_DATA_DIR", "county-data")
    served = Settings(database_url=db_url if not db_url.startswith("sqlite") else None,
                      secret_key=api.settings.secret_key, argon2_time_cost=1, argon2_memory_kib=8192)
    monkeypatch.chdir("/")
    assert served.data_dir == data
    with TestClient(create_app(served, clock)) as client:
        from tests.conftest import ADMIN_PASSWORD
        from tests.county import Api

        supervisor = Api(client, ADMIN_PASSWORD, served).as_("supervisor")
        for fmt in SERVED:
            answer = supervisor.get(f"/api/v1/bulletins/{MONTH}.{fmt}")
            assert answer.status_code == 200, answer.text
            assert answer.content == (data / "bulletins" / MONTH / FILES[fmt]).read_bytes()


def make_path(sqlite_url: str) -> str:
    return sqlite_url.removeprefix("sqlite:///")


# 2. recorded only with all its files; a failed write changes nothing anyone reads

def disk_full(limit: int):
    """For a child process: files may not grow past `limit` bytes (EFBIG, as a full disk's ENOSPC, an OSError)."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def read_only(folder: Path):
    """The folder and its files not writable, even for root (the child runs without the capabilities that
    override file permissions)."""
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    if os.geteuid() == 0:
        return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
    return []


def too_small(settings) -> int:
    """A file size the JSON, XLSX and charts fit in but the HTML and the PDF (charts and the CJK font embedded)
    do not: rendering gets past the small files, then the disk is full."""
    sizes = {name: len(content) for name, content in files_of(settings).items()}
    big = (FILES["html"], FILES["pdf"])
    limit = max(v for k, v in sizes.items() if k not in big) + 16 * 1024
    assert limit < min(sizes[k] for k in big), sizes  # the test's premise
    return limit


def record(api) -> dict | None:
    answer = api.as_("supervisor").get(f"/api/v1/bulletins/{MONTH}")
    return answer.json() if answer.status_code == 200 else None


def assert_refused_in_one_line(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if not line.startswith("警告 warning: 演练")]  # --drill's
    assert len(lines) == 1 and "通报文件未能写入" in lines[0] and "nothing was recorded" in lines[0], run.stderr


def test_a_bulletin_that_does_not_fit_on_the_disk_is_not_recorded_nor_served(month, clock, tmp_path):
    api = month
    probe = Settings(data_dir=tmp_path / "probe", database_url=api.settings.url)
    asyncio.run(run_bulletin(MONTH, clock(), probe))  # the sizes of this month's files
    limit = too_small(probe)
    api.settings.data_dir.joinpath("bulletins").mkdir(parents=True, exist_ok=True)
    # a fresh database for the run: the probe's record is not the one under test
    asyncio.run(_forget(api.settings))

    run = bulletin_cli(api.settings, clock().isoformat(), preexec=disk_full(limit))
    assert_refused_in_one_line(run)
    assert record(api) is None
    supervisor = api.as_("supervisor")
    for fmt in SERVED:
        answer = supervisor.get(f"/api/v1/bulletins/{MONTH}.{fmt}")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", answer.text
    assert not bulletin_dir(api.settings, MONTH).exists() or files_of(api.settings) == {}
    assert leftovers(api.settings) == []


async def _forget(settings) -> None:
    from chuishao.models.db import Database
    from chuishao.models.reports import BulletinRecord

    db = Database(settings.url)
    try:
        async with db.transaction() as s:
            row = await s.get(BulletinRecord, MONTH)
            if row is not None:
                await s.delete(row)
    finally:
        await db.dispose()


@pytest.mark.parametrize("failure", ["disk-full", "read-only"])
def test_a_regeneration_that_cannot_write_leaves_the_published_bulletin_as_it_was(month, clock, failure):
    api = month
    asyncio.run(run_bulletin(MONTH, clock(), api.settings))  # published on 3 December
    before, recorded = files_of(api.settings), record(api)
    assert {FILES[f] for f in SERVED} <= set(before)

    later = at("2026-12-10T09:00").isoformat()
    if failure == "disk-full":
        run = bulletin_cli(api.settings, later, preexec=disk_full(too_small(api.settings)))
    else:
        run = bulletin_cli(api.settings, later, prefix=read_only(bulletin_dir(api.settings, MONTH)))
    assert_refused_in_one_line(run)
    assert files_of(api.settings) == before  # no file replaced, none half written
    assert record(api) == recorded  # the record still says 3 December
    assert leftovers(api.settings) == []

    for p in [bulletin_dir(api.settings, MONTH), *bulletin_dir(api.settings, MONTH).rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    again = bulletin_cli(api.settings, later)  # room again: the regeneration goes through
    assert again.returncode == 0, again.stderr
    assert record(api)["generated_at"].startswith("2026-12-10T09:00")
    assert files_of(api.settings)[FILES["html"]] != before[FILES["html"]]


# 3. a record whose files are gone says so

def test_a_bulletin_whose_files_were_deleted_answers_404_and_the_reports_page_says_so(month, clock):
    api = month
    asyncio.run(run_bulletin(MONTH, clock(), api.settings))
    folder = bulletin_dir(api.settings, MONTH)
    (folder / FILES["pdf"]).unlink()  # deleted by hand
    for who in ("supervisor", "disp_fc"):  # the county's file, and a township's own version drawn from it
        answer = api.as_(who).get(f"/api/v1/bulletins/{MONTH}.pdf")
        assert answer.status_code == 404, answer.text
        error = answer.json()["error"]
        assert error["code"] == "report_files_missing" and error["missing"] == ["pdf"]
        assert "已缺失" in error["message"] and f"chuishao bulletin --month {MONTH}" in error["message"]
    assert api.as_("supervisor").get(f"/api/v1/bulletins/{MONTH}.xlsx").status_code == 200  # the others are there

    as_page_user(api, "admin")
    page = api.client.get("/reports")
    assert page.status_code == 200 and "文件缺失：PDF。" in page.text
    shutil.rmtree(folder)  # the whole folder gone (another data directory)
    assert "文件缺失：网页版、PDF、Excel。" in api.client.get("/reports").text
    download = api.client.get(f"/reports/bulletins/{MONTH}.xlsx")
    assert download.status_code == 404 and "已缺失" in download.text


def test_files_without_a_record_are_not_served(month, clock, tmp_path):
    """Files a failed run left behind (written, then the record's transaction failed) are not a bulletin."""
    api = month
    asyncio.run(run_bulletin(MONTH, clock(), api.settings))
    asyncio.run(_forget(api.settings))
    answer = api.as_("supervisor").get(f"/api/v1/bulletins/{MONTH}.pdf")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert "尚未生成" in answer.json()["error"]["message"]


def test_a_staging_folder_left_by_a_dead_process_is_cleared_by_the_next_run(month, clock):
    api = month
    root = api.settings.data_dir / "bulletins"
    stale = root / f".{MONTH}.4242.deadbeef.staging"
    (stale / "charts").mkdir(parents=True)
    (stale / FILES["pdf"]).write_bytes(b"%PDF- half")
    old = 3 * 24 * 3600
    os.utime(stale, (os.path.getmtime(stale) - old,) * 2)
    fresh = root / f".{MONTH}.4243.cafebabe.staging"  # another process's, still rendering
    fresh.mkdir()
    asyncio.run(run_bulletin(MONTH, clock(), api.settings))
    assert not stale.exists() and fresh.exists()
