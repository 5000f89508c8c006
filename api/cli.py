"""The `chuishao` command line.

Every refusal, whatever the command, is one line on stderr — `错误 error: <Chinese> / <English>` — and exit
status 2: a malformed argument (the parser and the `type=` converters below), a refusal of the domain layer
(flows.errors.DomainError) or of the command itself. `main` is the one place that prints them."""

import argparse
import asyncio
import contextlib
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

from chuishao.flows.errors import DomainError, Invalid
from chuishao.models.config import data_dir_line, get_settings

# how far a logical `--now` may run ahead of this machine's clock before it counts as the future (clock skew)
NOW_SKEW = timedelta(seconds=60)


class _Parser(argparse.ArgumentParser):
    """argparse, but its complaints become our one-line refusal instead of a usage block."""

    def error(self, message: str):
        raise Invalid(*_argparse_words(message), code="usage")


# argparse's own sentences (Python 3.11), in the two languages
_ARGPARSE = (
    (r"the following arguments are required: (.+)", "缺少必需的参数 {0}", "missing required argument(s): {0}"),
    (r"unrecognized arguments: (.+)", "无法识别的参数 {0}", "unrecognized argument(s): {0}"),
    (r"argument (\S+): invalid choice: '?([^']*)'? \(choose from (.+)\)", "参数 {0} 的值 {1} 无效，可选 {2}",
     "argument {0}: invalid choice {1} (choose from {2})"),
    (r"argument (\S+): expected one argument", "参数 {0} 需要一个值", "argument {0} needs a value"),
    (r"argument (\S+): invalid \S+ value: (.+)", "参数 {0} 的值 {1} 无效", "argument {0}: invalid value {1}"),
    (r"argument (\S+): (.+) / (.+)", "参数 {0}：{1}", "argument {0}: {2}"),  # our converters' words
    (r"ambiguous option: (.+)", "选项不明确：{0}", "ambiguous option: {0}"),
)


def _argparse_words(message: str) -> tuple[str, str]:
    for pattern, zh, en in _ARGPARSE:
        if m := re.fullmatch(pattern, message):
            return zh.format(*m.groups()), en.format(*m.groups())
    return f"命令行有误：{message}", f"invalid command line: {message}"


def _bad(zh: str, en: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{zh} / {en}")


def _int_in(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high]."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            span = f"{low}–{high}" if high is not None else f"≥ {low}"
            en = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise _bad(f"须为 {span} 的整数，收到 {text!r}", f"expected an integer {en}, got {text!r}")
        return value

    return convert


def _aware_time(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with a UTC offset, e.g. 2026-12-01T10:00+08:00."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(f"时间 {text!r} 无法识别，应如 2026-12-01T10:00+08:00",
                   f"cannot read {text!r} as a time; use ISO 8601 like 2026-12-01T10:00+08:00") from None
    if value.tzinfo is None:
        raise _bad(f"时间 {text!r} 须带时区，如 2026-12-01T10:00+08:00",
                   f"{text!r} needs a UTC offset, e.g. 2026-12-01T10:00+08:00")
    return value


def _readable_file(text: str) -> Path:
    """An argparse type: an existing file this process can read as UTF-8 text."""
    path = Path(text)
    try:
        path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _bad(f"找不到文件 {text}", f"no such file: {text}") from None
    except IsADirectoryError:
        raise _bad(f"{text} 是目录，不是文件", f"{text} is a directory, not a file") from None
    except PermissionError:
        raise _bad(f"无权读取文件 {text}", f"permission denied reading {text}") from None
    except UnicodeDecodeError:
        raise _bad(f"文件 {text} 不是 UTF-8 文本", f"{text} is not UTF-8 text") from None
    except OSError as err:
        raise _bad(f"无法读取文件 {text}（{err.strerror}）", f"cannot read {text} ({err.strerror})") from None
    return path


def _check_now(args) -> None:
    """A job's logical `--now` may not lie in the future: what a job writes then (alerts, escalations,
    notices, a month's bulletin) would announce events that have not happened, for good. `--drill` allows
    it, for rehearsals on a copy of the database, and says so on stderr."""
    now = getattr(args, "now", None)
    if now is None:
        return
    from chuishao.flows.clock import LOCAL_TZ, system_clock

    real = system_clock()
    if now <= real + NOW_SKEW:
        return
    shown, actual = f"{now.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}", f"{real.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"
    if not getattr(args, "drill", False):
        raise Invalid(f"--now {shown} 晚于当前时间 {actual}，会写入尚未发生的预警和通知；"
                      "演练请在数据库副本上加 --drill",
                      f"--now {shown} is later than the real time {actual} and would record events that have "
                      "not happened; for a drill on a copy of the database add --drill", code="future_now")
    print(f"警告 warning: 演练：以未来时间 {shown} 运行，写入的内容不可撤销，请只在数据库副本上演练 / "
          f"drill: running at the future time {shown}; what it writes is permanent, use a copy of the database",
          file=sys.stderr, flush=True)


def _services():
    from chuishao.api.app import build_services
    from chuishao.flows.clock import system_clock

    return build_services(get_settings(), system_clock)


def _require_schema() -> None:
    """Refuse to run a command on a database that `chuishao init` has not set up or brought up to date:
    raises Invalid naming the database and the command that fixes it."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from chuishao.models.db import make_sync_engine
    from chuishao.models.migrate import alembic_config

    url = get_settings().url
    shown = make_url(url).render_as_string(hide_password=True)
    no_schema = Invalid(f"数据库 {shown} 尚未初始化，请先运行 chuishao init",
                        f"the database {shown} has no schema yet; run `chuishao init` first", code="no_schema")
    file = make_url(url).database if make_url(url).get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).is_file():  # connecting would create an empty file
        raise no_schema
    engine = make_sync_engine(url)
    try:
        with engine.connect() as conn:
            versions = (set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
                        if inspect(conn).has_table("alembic_version") else set())
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        raise Invalid(f"无法打开数据库 {shown}：{reason}", f"cannot open the database {shown}: {reason}") from None
    finally:
        engine.dispose()
    if not versions:
        raise no_schema
    if versions != set(ScriptDirectory.from_config(alembic_config(url)).get_heads()):
        raise Invalid(f"数据库 {shown} 的结构不是最新版本，请先运行 chuishao init 升级",
                      f"the database {shown} has an older schema; run `chuishao init` to upgrade it",
                      code="old_schema")


def _migrate() -> None:
    from chuishao.models.migrate import upgrade

    settings = get_settings()
    settings.ensure_data_dir()
    upgrade(settings.url)


async def _with_services(fn):
    svc = _services()
    await svc.cases.calendar.load(svc.clock())
    try:
        return await fn(svc)
    finally:
        await svc.db.dispose()


def _run(fn):
    """Run fn(services) in a fresh event loop; a refusal it raises is reported by `main`."""
    return asyncio.run(_with_services(fn))


def _admin_password(args) -> str:
    """The password for `init`: --admin-password, else --admin-password-file (`-`: standard input), else
    $CHUISHAO_ADMIN_PASSWORD; only the first line of a file counts. Raises Invalid when none is given."""
    import os

    if args.admin_password is not None:
        return args.admin_password
    if args.admin_password_file is not None:
        try:
            text = (sys.stdin.read() if args.admin_password_file == "-"
                    else Path(args.admin_password_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise Invalid(f"无法读取密码文件 {args.admin_password_file}",
                          f"cannot read the password file {args.admin_password_file} ({err.__class__.__name__})",
                          code="usage") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    if os.environ.get("CHUISHAO_ADMIN_PASSWORD"):
        return os.environ["CHUISHAO_ADMIN_PASSWORD"]
    raise Invalid("缺少管理员密码：请用 --admin-password、--admin-password-file 或 CHUISHAO_ADMIN_PASSWORD 给出",
                  "missing the admin password: give --admin-password, --admin-password-file or "
                  "CHUISHAO_ADMIN_PASSWORD", code="usage")


def cmd_init(args) -> int:
    from chuishao.flows.admin import ADMIN_NAME, bootstrap, check_password

    password = _admin_password(args)
    # the policy first (as bootstrap checks it): a refused password leaves no database and no progress line
    check_password(password, "admin", [ADMIN_NAME, args.county_name])
    print("• 建表/迁移 migrating schema …", flush=True)
    _migrate()

    async def run(svc):
        return await bootstrap(svc.admin, county_code=args.county_code, county_name=args.county_name,
                               admin_password=password, now=svc.clock())

    created = asyncio.run(_with_services(run))
    print("• 管理员 admin 已创建 created" if created else "• 管理员 admin 已存在 exists, left unchanged")
    return 0


def cmd_serve(args) -> int:
    """Exit 1 with one line when the port cannot be listened on; 2 for a scheduler mode that is unknown or
    cannot work (embedded with --workers > 1), or a database whose schedules another scheduler holds; 0 after
    a stop (SIGINT or SIGTERM) at any point, with a line saying so and nothing else."""
    import errno
    import os

    import uvicorn

    from chuishao.api.server import api_config, listening_socket
    from chuishao.flows.scheduler import MODE_ENV, scheduler_mode

    mode = scheduler_mode(os.environ.get(MODE_ENV))
    if mode == "embedded" and args.workers > 1:
        unset = "（未设置时默认 embedded）" if not os.environ.get(MODE_ENV) else ""
        raise Invalid(f"chuishao serve --workers {args.workers} 不能内置调度{unset}：每个进程都会各自调度。请为 API 设 "
                      f"{MODE_ENV}=worker，并另行运行 prefect server start 和 chuishao worker；或只用一个进程",
                      f"`chuishao serve --workers {args.workers}` cannot run the schedules embedded"
                      f"{' (the default when ' + MODE_ENV + ' is unset)' if unset else ''}: each process would "
                      f"schedule on its own. Set {MODE_ENV}=worker for the API and run `prefect server start` and "
                      "`chuishao worker` beside it, or serve with one process", code="usage")
    settings = get_settings()
    try:  # first, so that a port in use is said at once, in one line
        sock = listening_socket(args.host, args.port)
    except OSError as err:
        taken = err.errno == errno.EADDRINUSE
        print(f"错误 error: 无法在 {args.host}:{args.port} 上监听："
              f"{'端口已被占用，请换一个 --port 或先停止占用它的程序' if taken else err.strerror} / "
              f"cannot listen on {args.host}:{args.port}: "
              f"{'the port is already in use; choose another --port or stop what uses it' if taken else err.strerror}",
              file=sys.stderr)
        return 1
    try:
        print(f"• 数据目录 data dir: {settings.ensure_data_dir().resolve()}", flush=True)
        print("• 数据库迁移 migrating schema …", flush=True)
        _migrate()
        if mode == "embedded":
            from chuishao.api import embedded

            asyncio.run(embedded.run(settings, sock, log=lambda m: print(m, flush=True)))
    except KeyboardInterrupt:  # Ctrl-C before the service's own handlers were in place: nothing to drain
        pass
    except DomainError as err:  # the schedules are (or were meanwhile) held by another scheduler
        print(f"错误 error: {err.message}", file=sys.stderr, flush=True)
        os._exit(2)  # as below: Prefect's threads may hold the interpreter open
    if mode == "embedded":
        # The API has finished its requests and every commit is durable. Prefect's client leaves worker
        # threads behind that can hold the interpreter open; the scheduler's state is in its database.
        print("• 已停止 stopped", flush=True)
        sys.stderr.flush()
        os._exit(0)
    # scale-out: the API only; a Prefect server and `chuishao worker` run the schedules
    print(f"• 启动 API starting on http://{args.host}:{args.port} with {args.workers} process(es); "
          f"scheduler: {mode} (本进程不运行定时任务 this process runs no schedules)", flush=True)
    print(_scheduler_holder(settings), flush=True)
    config = api_config("chuishao.api.app:create_app", settings, factory=True, workers=args.workers)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it drained for
        if args.workers > 1:
            from uvicorn.supervisors import Multiprocess

            from chuishao.api.metrics import share_across_processes

            share_across_processes(settings)  # /metrics sums every process's counters (docs/operations.md#metrics)
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    print("• 已停止 stopped", flush=True)
    return 0


def _scheduler_holder(settings) -> str:
    """One line: which scheduler runs this database's schedules now, or a warning that none does."""
    from chuishao.flows.clock import system_clock
    from chuishao.flows.scheduler import current, describe
    from chuishao.models.db import Database

    async def read():
        db = Database(settings.url, pool_size=1)
        try:
            return await current(db, system_clock())
        finally:
            await db.dispose()

    found = asyncio.run(read())
    if found is None:
        return ("警告 warning: 目前没有调度器持有本数据库的定时任务，预警、检点和通报要等 chuishao worker 启动后"
                "才会运行 / "
                "no scheduler holds this database's schedules now: alerts, checkpoints and bulletins wait until "
                "`chuishao worker` runs")
    zh, en = describe(*found)
    return f"• 定时任务由 {zh} 运行 / the schedules are run by {en}"


def cmd_worker(args) -> int:
    """Scale-out: hold the schedules of the database, wait for the Prefect server, register the deployments
    and run a Prefect worker that stops with this command (api/worker.py)."""
    import os

    from chuishao.api import worker
    from chuishao.flows.scheduler import MODE_ENV, scheduler_mode

    scheduler_mode(os.environ.get(MODE_ENV))  # a typo is refused here too: compose may set it on every service
    url, wait = worker.prefect_url(), worker.wait_seconds()
    _require_schema()
    settings = get_settings()
    print(data_dir_line(settings), flush=True)  # absolute: the flow runs write here, the API serves from it
    return worker.run(settings, url, wait)


def cmd_demo(args) -> int:
    """Load the demo county, or keep the one already loaded (`--reset` reloads it into a new SQLite file)."""
    from chuishao.flows.demo.builder import build_demo, demo_loaded

    settings = get_settings()
    db_file = settings.data_dir / "chuishao.db"
    if args.reset and not settings.database_url and db_file.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    print("• 数据库迁移 migrating schema …", flush=True)
    _migrate()
    if not args.reset and _run(demo_loaded):
        print("• 演示数据已装入，沿用 the demo county is already loaded: reusing it (reload: --reset)", flush=True)
        return 0

    async def run(svc):
        return await build_demo(svc, seed=args.seed, months=args.months, log=lambda m: print("•", m, flush=True))

    print(_run(run))
    from chuishao.flows.bulletin import previous_month
    from chuishao.flows.checkpoint import previous_week
    from chuishao.flows.clock import LOCAL_TZ, system_clock
    from chuishao.flows.jobs import run_bulletin, run_checkpoint

    now = system_clock()
    month = previous_month(f"{now.astimezone(LOCAL_TZ):%Y-%m}")
    for m in (previous_month(month), month):
        print(f"• 生成月度通报 bulletin {m} …", flush=True)
        asyncio.run(run_bulletin(m, now))
    print(f"• 生成周检点 checkpoint {previous_week(now)} …", flush=True)
    asyncio.run(run_checkpoint(previous_week(now), now))
    return 0


def cmd_user_add(args) -> int:
    body = {"username": args.username, "password": args.password, "name": args.name or args.username,
            "role": args.role, "unit": args.unit}
    if args.certificate_no:
        body["certificate_no"] = args.certificate_no
    if args.certificate_expires:
        body["certificate_expires"] = args.certificate_expires

    async def run(svc):
        return await svc.admin.create_user(body, svc.clock())

    user = _run(run)
    print(f"用户 {user['username']} ({user['role']} @ {user['unit']}) 已创建 created")
    return 0


def cmd_catalog_import(args) -> int:
    from chuishao.flows.catalog_import import import_items

    async def run(svc):
        return await import_items(svc.admin, args.file)

    created, skipped, problems = asyncio.run(_with_services(run))
    print(f"新增 created {created}，已存在跳过 skipped {skipped}，错误 errors {len(problems)}")
    for p in problems:
        print("  ", p, file=sys.stderr)
    return 1 if problems else 0


def cmd_audit_verify(args) -> int:
    from chuishao.flows.audit import verify_chains

    async def run(svc):
        return await verify_chains(svc.db)

    report = asyncio.run(_with_services(run))
    if report.ok:
        print(f"全过程记录完整 timeline intact: {report.cases} cases, {report.entries} entries")
        return 0
    b = report.first_break
    print(f"发现篡改 TAMPERED: case {b.case_id} entry seq {b.seq} (row id {b.entry_id}): {b.reason}")
    return 1


def cmd_sweep(args) -> int:
    from chuishao.flows.sweep import SCHEDULED_WORKERS, sweep

    async def run(svc):
        return await sweep(svc.db, svc.cases.calendar.current, args.now or svc.clock(), workers=SCHEDULED_WORKERS)

    result = asyncio.run(_with_services(run))
    print(sweep_summary([level for _, _, level in result.fired]))
    return 0


def sweep_summary(levels: list[str]) -> str:
    """One line, Chinese then English: `预警扫描：触发 3 条预警（黄灯预警 2 条，红灯超时 1 条） / sweep: 3 alerts
    fired (2 warning, 1 overdue)`, the levels in escalation order."""
    from chuishao.flows.clocks import LEVEL_LABELS, LEVELS

    counts = [(level, levels.count(level)) for level in LEVELS if level in levels]
    zh = "，".join(f"{LEVEL_LABELS[level]} {n} 条" for level, n in counts)
    en = ", ".join(f"{n} {level}" for level, n in counts)
    noun = "alert" if len(levels) == 1 else "alerts"
    return (f"预警扫描：触发 {len(levels)} 条预警{f'（{zh}）' if zh else ''} / "
            f"sweep: {len(levels)} {noun} fired{f' ({en})' if en else ''}")


def cmd_calendar_import(args) -> int:
    path = Path(args.file)

    async def run(svc):
        return await svc.cases.calendar.import_year(path.read_text(encoding="utf-8-sig"), path.name, svc.clock())

    out = _run(run)
    print(f"{out['year']} 年日历已导入 imported: {out['days']} days; recomputed {out['recomputed_clocks']} open clocks")
    return 0


def _parse_now(value: datetime | None) -> datetime | None:
    """The `--now` value: parsed by the parser (`_aware_time`) and checked by `_check_now` already."""
    return value


def _add_now(s: argparse.ArgumentParser) -> None:
    s.add_argument("--now", type=_aware_time, help="logical now, ISO 8601 with offset (default: the clock); "
                                                   "not later than the real time unless --drill")
    s.add_argument("--drill", action="store_true",
                   help="allow a --now in the future: a drill on a copy of the database (what it writes stays)")


def cmd_checkpoint(args) -> int:
    from chuishao.flows.jobs import run_checkpoint
    from chuishao.flows.periods import parse_week

    week = parse_week(args.week)  # Invalid (one line, exit 2) for a week that does not exist
    from chuishao.flows.clock import system_clock

    data = asyncio.run(run_checkpoint(week, _parse_now(args.now) or system_clock()))
    t = data["totals"]
    print(f"{week} 周检点已生成 checkpoint generated: 新增 {t['new']}，结案 {t['closed']}，在办 {t['open']}；"
          f"{data['notice']}")
    return 0


def cmd_bulletin(args) -> int:
    from chuishao.flows.jobs import bulletin_dir, run_bulletin
    from chuishao.flows.periods import parse_month

    month = parse_month(args.month)  # Invalid (one line, exit 2) for a month that does not exist
    from chuishao.flows.clock import system_clock

    data = asyncio.run(run_bulletin(month, _parse_now(args.now) or system_clock()))
    print(f"{data['title']} {data['notice']}: {bulletin_dir(get_settings(), month).resolve()}")
    for r in data["red_list"]:
        print(f"  红榜 red: {r['rank']}. {r['name']} {r['score']}")
    for r in data["black_list"]:
        print(f"  黑榜 black: {r['rank']}. {r['name']} {r['score']} — {r['reason']}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="chuishao", description="吹哨 — 乡镇吹哨、部门报到 case loop")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create the schema and the admin user",
                       epilog="The admin password: --admin-password (visible to other users in `ps`), or "
                              "--admin-password-file FILE (its first line; `-` reads standard input), or the "
                              "environment variable CHUISHAO_ADMIN_PASSWORD.")
    pw = s.add_mutually_exclusive_group()
    pw.add_argument("--admin-password", help="the admin's password (see below for ways that keep it out of `ps`)")
    pw.add_argument("--admin-password-file", metavar="FILE", help="read the password from FILE's first line; "
                                                                  "`-`: standard input")
    s.add_argument("--county-code", default="WS")
    s.add_argument("--county-name", default="文水县")
    s.set_defaults(fn=cmd_init)

    from chuishao.api.worker import DEFAULT_LOG_LEVEL, DEFAULT_WAIT_SECONDS, GRACE_SECONDS, WAIT_ENV
    from chuishao.flows.scheduler import DEFAULT_MODE, MODE_ENV, MODES

    s = sub.add_parser("serve", help="run the service (API and web UI) in one process",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"{MODE_ENV} (default {DEFAULT_MODE}):\n" + "\n".join(
                           f"  {k:9} {en}" for k, (_, en) in MODES.items())
                       + "\nOne scheduler per database: a second one is refused, naming the one that runs.")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_int_in(1, 65535), default=8000)
    s.add_argument("--workers", type=_int_in(1, 64), default=1,
                   help=f"API processes; more than 1 needs {MODE_ENV}=worker and `chuishao worker`")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="scale-out: register the deployments and run a Prefect worker",
                       epilog=f"Reads PREFECT_API_URL (the Prefect server, required; waits up to {WAIT_ENV} seconds, "
                              f"default {DEFAULT_WAIT_SECONDS:.0f}, for it to be healthy) and the CHUISHAO_* "
                              f"database settings. Logs of the Prefect worker and its flow runs: level "
                              f"PREFECT_LOGGING_LEVEL, default {DEFAULT_LOG_LEVEL} (INFO: a line per run). SIGINT or "
                              f"SIGTERM stops the worker and its flow runs (SIGKILL after {GRACE_SECONDS:.0f} s).")
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("demo", help="load a realistic demo county with months of history (kept if loaded)")
    s.add_argument("--reset", action="store_true", help="reload it into an empty SQLite file")
    s.add_argument("--seed", type=_int_in(0), default=2026)
    s.add_argument("--months", type=_int_in(1, 24), default=3)
    s.set_defaults(fn=cmd_demo)

    user = sub.add_parser("user", help="users").add_subparsers(dest="sub", required=True)
    s = user.add_parser("add", help="add a user")
    s.add_argument("--username", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--name")
    s.add_argument("--role", required=True)
    s.add_argument("--unit", required=True)
    s.add_argument("--certificate-no")
    s.add_argument("--certificate-expires", help="YYYY-MM-DD")
    s.set_defaults(fn=cmd_user_add)

    cat = sub.add_parser("catalog", help="the whistle-item catalog").add_subparsers(dest="sub", required=True)
    s = cat.add_parser("import", help="import catalog items from CSV or JSON")
    s.add_argument("file", type=_readable_file)
    s.set_defaults(fn=cmd_catalog_import)

    s = sub.add_parser("sweep", help="fire due deadline alerts once (the scheduled sweep, by hand)")
    _add_now(s)
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("checkpoint", help="每周一检点: generate a week's checkpoint and notify the liaisons")
    s.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    _add_now(s)
    s.set_defaults(fn=cmd_checkpoint)

    s = sub.add_parser("bulletin", help="每月一通报: generate a month's bulletin in every format")
    s.add_argument("--month", required=True, help="e.g. 2026-11")
    _add_now(s)
    s.set_defaults(fn=cmd_bulletin)

    cal = sub.add_parser("calendar", help="the working calendar").add_subparsers(dest="sub", required=True)
    s = cal.add_parser("import", help="import a year's official schedule (CSV date,kind,name or JSON)")
    s.add_argument("file", type=_readable_file)
    s.set_defaults(fn=cmd_calendar_import)

    audit = sub.add_parser("audit", help="the tamper-evident timeline").add_subparsers(dest="sub", required=True)
    s = audit.add_parser("verify", help="re-check every hash chain; name the first broken entry")
    s.set_defaults(fn=cmd_audit_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 on success; 2 with one line on stderr for any refusal; 130 when interrupted."""
    try:
        args = parser().parse_args(argv)
        _check_now(args)
        if args.fn not in (cmd_init, cmd_serve, cmd_demo, cmd_worker):  # these four migrate the schema
            _require_schema()
        return args.fn(args) or 0
    except DomainError as err:
        print(f"错误 error: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the transaction in flight rolled back; nothing to show but that
        print("• 已停止 stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
