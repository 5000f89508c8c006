"""The `chuishao` command line."""

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from models.config import get_settings


def _services():
    from api.app import build_services
    from flows.clock import system_clock

    return build_services(get_settings(), system_clock)


def _migrate() -> None:
    from models.migrate import upgrade

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
    """Run fn(services); a refused input is printed in the spec's words and the command exits 2."""
    from flows.errors import DomainError

    try:
        return asyncio.run(_with_services(fn))
    except DomainError as err:
        print(f"错误 error: {err.message}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_init(args) -> int:
    from flows.admin import bootstrap

    print("• 建表/迁移 migrating schema …", flush=True)
    _migrate()

    async def run(svc):
        return await bootstrap(svc.admin, county_code=args.county_code, county_name=args.county_name,
                               admin_password=args.admin_password, now=svc.clock())

    created = asyncio.run(_with_services(run))
    print("• 管理员 admin 已创建 created" if created else "• 管理员 admin 已存在 exists, left unchanged")
    return 0


def cmd_serve(args) -> int:
    import os

    import uvicorn

    settings = get_settings()
    print(f"• 数据目录 data dir: {settings.ensure_data_dir().resolve()}", flush=True)
    print("• 数据库迁移 migrating schema …", flush=True)
    _migrate()
    scheduler = os.environ.get("CHUISHAO_SCHEDULER", "embedded")
    if scheduler == "embedded" and args.workers == 1:
        from api import embedded

        asyncio.run(embedded.run(settings, args.host, args.port, log=lambda m: print(m, flush=True)))
        # The API has finished its requests and every commit is durable. Prefect's client leaves worker
        # threads behind that can hold the interpreter open; the scheduler's state is in its database.
        print("• 已停止 stopped", flush=True)
        sys.stderr.flush()
        os._exit(0)
    # scale-out: the API only; a Prefect server and `chuishao worker` run the schedules
    print(f"• 启动 API starting on http://{args.host}:{args.port} with {args.workers} process(es); "
          f"scheduler: {scheduler}", flush=True)
    # events are ~400 bytes: compressing each one for every socket costs more than it saves
    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level="info", ws_per_message_deflate=False)
    return 0


def cmd_worker(args) -> int:
    """Scale-out: register the deployments on a process work pool, then run a Prefect worker for it."""
    import os
    import subprocess

    async def register():
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists

        from flows.deployments import WORK_POOL, build_deployments

        async with get_client() as client:
            with contextlib.suppress(ObjectAlreadyExists):  # registered by an earlier worker
                await client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        for d in await build_deployments(work_pool=WORK_POOL):
            await d.apply(work_pool_name=WORK_POOL)
            print(f"• 已登记 deployment registered: {d.name}", flush=True)
        return WORK_POOL

    if not os.environ.get("PREFECT_API_URL"):
        print("错误 error: set PREFECT_API_URL to the Prefect server (e.g. http://127.0.0.1:4200/api)",
              file=sys.stderr)
        return 2
    pool = asyncio.run(register())
    print(f"• 启动 worker starting a Prefect worker on pool '{pool}'", flush=True)
    return subprocess.call([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"])


def cmd_demo(args) -> int:
    from api.demo import build_demo

    settings = get_settings()
    db_file = settings.data_dir / "chuishao.db"
    if args.reset and not settings.database_url and db_file.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    print("• 数据库迁移 migrating schema …", flush=True)
    _migrate()

    async def run(svc):
        return await build_demo(svc, seed=args.seed, months=args.months, log=lambda m: print("•", m, flush=True))

    print(_run(run))
    from flows.bulletin import previous_month
    from flows.checkpoint import previous_week
    from flows.clock import LOCAL_TZ, system_clock
    from flows.jobs import run_bulletin, run_checkpoint

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
    from flows.catalog_import import import_items

    async def run(svc):
        return await import_items(svc.admin, Path(args.file))

    created, skipped, problems = asyncio.run(_with_services(run))
    print(f"新增 created {created}，已存在跳过 skipped {skipped}，错误 errors {len(problems)}")
    for p in problems:
        print("  ", p, file=sys.stderr)
    return 1 if problems else 0


def cmd_audit_verify(args) -> int:
    from flows.audit import verify_chains

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
    from datetime import datetime

    from flows.sweep import sweep

    now = datetime.fromisoformat(args.now) if args.now else None
    if now is not None and now.tzinfo is None:
        print("错误 error: --now needs a timezone offset, e.g. 2026-12-01T10:00+08:00", file=sys.stderr)
        return 2

    async def run(svc):
        return await sweep(svc.db, svc.cases.calendar.current, now or svc.clock())

    result = asyncio.run(_with_services(run))
    counts = {}
    for _, _, level in result.fired:
        counts[level] = counts.get(level, 0) + 1
    print(f"预警扫描 sweep: fired {len(result)} alerts {counts}")
    return 0


def cmd_calendar_import(args) -> int:
    path = Path(args.file)

    async def run(svc):
        return await svc.cases.calendar.import_year(path.read_text(encoding="utf-8-sig"), path.name, svc.clock())

    out = _run(run)
    print(f"{out['year']} 年日历已导入 imported: {out['days']} days; recomputed {out['recomputed_clocks']} open clocks")
    return 0


def _parse_now(value):
    from datetime import datetime

    now = datetime.fromisoformat(value) if value else None
    if now is not None and now.tzinfo is None:
        raise SystemExit("错误 error: --now needs a timezone offset, e.g. 2026-12-01T09:00+08:00")
    return now


def cmd_checkpoint(args) -> int:
    import re

    from flows.jobs import run_checkpoint

    if not re.fullmatch(r"\d{4}-W(0[1-9]|[1-4]\d|5[0-3])", args.week):
        print("错误 error: --week must look like 2026-W47", file=sys.stderr)
        return 2
    from flows.clock import system_clock

    data = asyncio.run(run_checkpoint(args.week, _parse_now(args.now) or system_clock()))
    t = data["totals"]
    print(f"{args.week} 周检点已生成 checkpoint generated: 新增 {t['new']}，结案 {t['closed']}，在办 {t['open']}；"
          f"{len(data['townships'])} 个乡镇、{len(data['departments'])} 个部门已通知")
    return 0


def cmd_bulletin(args) -> int:
    import re

    from flows.jobs import bulletin_dir, run_bulletin

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print("错误 error: --month must look like 2026-11", file=sys.stderr)
        return 2
    from flows.clock import system_clock

    data = asyncio.run(run_bulletin(args.month, _parse_now(args.now) or system_clock()))
    print(f"{data['title']} 已生成 generated: {bulletin_dir(get_settings(), args.month).resolve()}")
    for r in data["red_list"]:
        print(f"  红榜 red: {r['rank']}. {r['name']} {r['score']}")
    for r in data["black_list"]:
        print(f"  黑榜 black: {r['rank']}. {r['name']} {r['score']} — {r['reason']}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chuishao", description="吹哨 — 乡镇吹哨、部门报到 case loop")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create the schema and the admin user")
    s.add_argument("--admin-password", required=True)
    s.add_argument("--county-code", default="WS")
    s.add_argument("--county-name", default="文水县")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("serve", help="run the service (API and web UI) in one process")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="scale-out: register the deployments and run a Prefect worker")
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("demo", help="load a realistic demo county with months of history")
    s.add_argument("--reset", action="store_true", help="start from an empty SQLite file")
    s.add_argument("--seed", type=int, default=2026)
    s.add_argument("--months", type=int, default=3)
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
    s.add_argument("file")
    s.set_defaults(fn=cmd_catalog_import)

    s = sub.add_parser("sweep", help="fire due deadline alerts once (the scheduled sweep, by hand)")
    s.add_argument("--now", help="logical now, ISO 8601 with offset (default: the clock)")
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("checkpoint", help="每周一检点: generate a week's checkpoint and notify the liaisons")
    s.add_argument("--week", required=True, help="ISO week, e.g. 2026-W47")
    s.add_argument("--now", help="logical now, ISO 8601 with offset (default: the clock)")
    s.set_defaults(fn=cmd_checkpoint)

    s = sub.add_parser("bulletin", help="每月一通报: generate a month's bulletin in every format")
    s.add_argument("--month", required=True, help="e.g. 2026-11")
    s.add_argument("--now", help="logical now, ISO 8601 with offset (default: the clock)")
    s.set_defaults(fn=cmd_bulletin)

    cal = sub.add_parser("calendar", help="the working calendar").add_subparsers(dest="sub", required=True)
    s = cal.add_parser("import", help="import a year's official schedule (CSV date,kind,name or JSON)")
    s.add_argument("file")
    s.set_defaults(fn=cmd_calendar_import)

    audit = sub.add_parser("audit", help="the tamper-evident timeline").add_subparsers(dest="sub", required=True)
    s = audit.add_parser("verify", help="re-check every hash chain; name the first broken entry")
    s.set_defaults(fn=cmd_audit_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.fn(args) or 0


if __name__ == "__main__":
    sys.exit(main())
