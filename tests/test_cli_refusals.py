"""Every refusal of the command line is one line on stderr, Chinese then English, and exit status 2 — whatever
the command and whatever refused it (the parser, a converter, the domain layer, a file). A job's `--now`
may not lie in the future unless the run is declared a drill."""

import re
from datetime import timedelta

import pytest

from chuishao.api import cli
from chuishao.flows.clock import system_clock
from chuishao.models.config import get_settings


def cli_runner(settings, tmp_path, monkeypatch, capsys):
    """chuishao in this process against the test database: run(*argv) -> (exit status, stdout, stderr)."""
    monkeypatch.setenv("CHUISHAO_DATABASE_URL", settings.url)
    monkeypatch.setenv("CHUISHAO_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHUISHAO_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CHUISHAO_ARGON2_MEMORY_KIB", "8192")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "numbers.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "no-columns.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "latin1.csv").write_bytes("code,name\nX,caf\xe9\n".encode("latin-1"))
    (tmp_path / "calendar.csv").write_text("day,what\nsoon,holiday\n", encoding="utf-8")

    def run(*argv: str):
        capsys.readouterr()
        get_settings.cache_clear()  # the environment as it is now
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def run_cli(bootstrapped, tmp_path, monkeypatch, capsys):
    yield cli_runner(bootstrapped, tmp_path, monkeypatch, capsys)
    get_settings.cache_clear()


def _later(hours: float) -> str:
    return (system_clock() + timedelta(hours=hours)).isoformat(timespec="minutes")


BAD = [
    # the parser and its converters
    ("no command", []),
    ("unknown command", ["frobnicate"]),
    ("missing option", ["init"]),
    ("unknown option", ["sweep", "--later"]),
    ("option without its value", ["sweep", "--now"]),
    ("port not a number", ["serve", "--port", "eighty"]),
    ("port out of range", ["serve", "--port", "70000"]),
    ("no workers", ["serve", "--workers", "0"]),
    ("months not a number", ["demo", "--months", "three"]),
    ("time not a time", ["sweep", "--now", "tomorrow"]),
    ("time without an offset", ["sweep", "--now", "2026-11-20T09:00"]),
    ("time not a time for a checkpoint", ["checkpoint", "--week", "2026-W47", "--now", "noon"]),
    ("user without a sub-command", ["user"]),
    ("worker without a Prefect server", ["worker"]),
    # files
    ("missing file", ["catalog", "import", "nope.csv"]),
    ("a directory", ["calendar", "import", "."]),
    ("not UTF-8", ["catalog", "import", "latin1.csv"]),
    ("broken JSON", ["catalog", "import", "bad.json"]),
    ("JSON of numbers", ["catalog", "import", "numbers.json"]),
    ("CSV without the columns", ["catalog", "import", "no-columns.csv"]),
    ("calendar in another shape", ["calendar", "import", "calendar.csv"]),
    # the domain layer's refusals
    ("user password too short", ["user", "add", "--username", "u1", "--password", "x", "--role", "admin",
                                 "--unit", "WS"]),
    ("user in an unknown unit", ["user", "add", "--username", "u1", "--password", "Lantern-42-quietly",
                                 "--role", "admin", "--unit", "NOPE"]),
    ("unknown role", ["user", "add", "--username", "u1", "--password", "Lantern-42-quietly", "--role", "king",
                      "--unit", "WS"]),
    ("bad certificate date", ["user", "add", "--username", "u1", "--password", "Lantern-42-quietly",
                              "--role", "admin", "--unit", "WS", "--certificate-expires", "someday"]),
    ("bad month", ["bulletin", "--month", "2026-13"]),
    ("bad week", ["checkpoint", "--week", "2026-47"]),
]


@pytest.mark.parametrize("argv", [argv for _, argv in BAD], ids=[name for name, _ in BAD])
def test_each_refusal_is_one_line_in_both_languages_and_exit_2(run_cli, argv):
    code, _, err = run_cli(*argv)
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("错误 error: ") and " / " in line, line
    zh, en = line.removeprefix("错误 error: ").split(" / ", 1)
    assert re.search(r"[\u4e00-\u9fff]", zh), line  # Chinese first
    assert re.search(r"[a-z]{3}", en) and not re.search(r"[\u4e00-\u9fff]", en.split(":")[0]), line  # then English


@pytest.mark.parametrize("password", ["x", "password"])
def test_init_refuses_a_weak_admin_password_in_one_line_and_creates_nothing(settings, tmp_path, monkeypatch, capsys,
                                                                            password):
    """`init` takes the password policy of flows.admin (the same check as the API and the admin pages)."""
    from tests.test_demo import snapshot

    run = cli_runner(settings, tmp_path, monkeypatch, capsys)
    try:
        code, _, err = run("init", "--admin-password", password)
    finally:
        get_settings.cache_clear()
    assert code == 2 and err.startswith("错误 error: ") and err.count("\n") == 1 and "Traceback" not in err
    db = snapshot(settings)
    assert db["units"] == [] and db["users"] == []


def test_a_job_on_a_database_never_initialised_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CHUISHAO_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("CHUISHAO_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert cli.main(["sweep"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chuishao init" in err
    assert not (tmp_path / "empty" / "chuishao.db").exists()  # looking did not create an empty database


@pytest.mark.parametrize("argv", [["sweep"], ["checkpoint", "--week", "2026-W47"], ["bulletin", "--month", "2026-10"]],
                         ids=["sweep", "checkpoint", "bulletin"])
def test_a_future_now_is_refused_and_writes_nothing(run_cli, bootstrapped, argv):
    from tests.test_demo import snapshot

    before = snapshot(bootstrapped)
    code, out, err = run_cli(*argv, "--now", _later(30))
    assert code == 2 and out == ""
    assert "--drill" in err and "later than the real time" in err and err.count("\n") == 1
    after = snapshot(bootstrapped)
    assert (len(after["units"]), len(after["users"]), len(after["cases"])) == (
        len(before["units"]), len(before["users"]), len(before["cases"]))


def test_a_drill_runs_at_a_future_now_and_warns(run_cli):
    code, out, err = run_cli("sweep", "--now", _later(30), "--drill")
    assert code == 0, err
    assert "sweep: 0 alerts fired" in out
    assert err.startswith("警告 warning: 演练") and err.count("\n") == 1 and "copy of the database" in err


def test_now_within_clock_skew_and_in_the_past_are_accepted(run_cli):
    assert run_cli("sweep", "--now", _later(0.5 / 60))[0] == 0  # 30 s ahead: another machine's clock
    code, out, err = run_cli("sweep", "--now", _later(-24 * 7))
    assert code == 0 and err == "" and "fired" in out


@pytest.mark.parametrize("password", ["x", "password"])
def test_init_checks_the_password_before_touching_the_database(tmp_path, monkeypatch, capsys, password):
    """A refused password: no progress line, no database file created, let alone migrated."""
    from tests.conftest import test_settings

    db = tmp_path / "fresh.db"
    run = cli_runner(test_settings(f"sqlite:///{db}", tmp_path), tmp_path, monkeypatch, capsys)
    try:
        code, out, err = run("init", "--admin-password", password)
    finally:
        get_settings.cache_clear()
    assert code == 2 and out == "" and err.count("\n") == 1 and "密码" in err
    assert not db.exists()


@pytest.mark.parametrize("how", ["stdin", "file", "environment"])
def test_init_takes_the_password_from_stdin_a_file_or_the_environment(tmp_path, monkeypatch, capsys, how):
    """Kept out of `ps`: `--admin-password-file -` (standard input), `--admin-password-file FILE`, or
    CHUISHAO_ADMIN_PASSWORD; the admin then has that password."""
    import io

    from argon2 import PasswordHasher

    from tests.conftest import test_settings
    from tests.test_demo import snapshot

    secret = "Lantern-42-quietly"
    settings = test_settings(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    run = cli_runner(settings, tmp_path, monkeypatch, capsys)
    argv = ["init"]
    if how == "stdin":
        monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
        argv += ["--admin-password-file", "-"]
    elif how == "file":
        (tmp_path / "pw.txt").write_text(secret + "\n", encoding="utf-8")
        argv += ["--admin-password-file", str(tmp_path / "pw.txt")]
    else:
        monkeypatch.setenv("CHUISHAO_ADMIN_PASSWORD", secret)
    try:
        code, out, err = run(*argv)
    finally:
        get_settings.cache_clear()
    assert code == 0 and err == "", err
    [admin] = snapshot(settings)["users"]
    assert PasswordHasher().verify(admin.password_hash, secret)


def test_init_without_any_password_is_one_line(tmp_path, monkeypatch, capsys):
    from tests.conftest import test_settings

    db = tmp_path / "fresh.db"
    monkeypatch.delenv("CHUISHAO_ADMIN_PASSWORD", raising=False)
    run = cli_runner(test_settings(f"sqlite:///{db}", tmp_path), tmp_path, monkeypatch, capsys)
    try:
        code, out, err = run("init")
    finally:
        get_settings.cache_clear()
    assert code == 2 and out == "" and err.count("\n") == 1 and "CHUISHAO_ADMIN_PASSWORD" in err
    assert not db.exists()


def test_sweep_says_what_it_fired_in_chinese_then_english(run_cli):
    code, out, err = run_cli("sweep", "--now", _later(-1))
    assert code == 0 and err == ""
    assert out == "预警扫描：触发 0 条预警 / sweep: 0 alerts fired\n"


def test_the_sweep_summary_spells_out_each_level():
    assert cli.sweep_summary(["overdue", "warning", "warning"]) == (
        "预警扫描：触发 3 条预警（黄灯预警 2 条，红灯超时 1 条） / sweep: 3 alerts fired (2 warning, 1 overdue)")
    assert cli.sweep_summary(["escalated"]) == (
        "预警扫描：触发 1 条预警（升级督办 1 条） / sweep: 1 alert fired (1 escalated)")
