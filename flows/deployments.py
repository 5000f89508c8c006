"""Prefect flows and their deployments (SPEC §9). Importing this module has no side effects: Prefect's
runner and workers import it in a child process for every run.

Schedules are cron in Asia/Shanghai. `CHUISHAO_SWEEP_INTERVAL_SECONDS` replaces the sweep's one-minute
cron with a short interval (tests, demos).
"""

import os
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.flows import EntrypointType
from prefect.runtime import flow_run
from prefect.schedules import Cron, Interval

from flows import jobs
from flows.clock import LOCAL_TZ
from flows.periods import NothingToReport

TZ = "Asia/Shanghai"
WORK_POOL = "chuishao"


def logical_now(now: str | None) -> datetime:
    """The run's scheduled time, not the wall clock: a minute schedule may fire a little early or late."""
    if now:
        return datetime.fromisoformat(now)
    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(scheduled.isoformat())


@flow(name="deadline-sweep", description="预警扫描：黄灯、红灯、升级督办，每级只发一次")
async def deadline_sweep(now: str | None = None) -> int:
    at = logical_now(now)
    result = await jobs.run_sweep(at)
    get_run_logger().info("sweep at %s fired %d alerts", at.isoformat(), len(result))
    return len(result)


@flow(name="notification-redelivery", description="补发：扇出未处理的事件，重试到期的外部投递")
async def notification_redelivery(now: str | None = None) -> dict:
    at = logical_now(now)
    result = await jobs.run_redelivery(at)
    get_run_logger().info("redelivery at %s: %s", at.isoformat(), result)
    return result


@flow(name="weekly-checkpoint", description="每周一检点：上一自然周的检点清单，通知各联络员")
async def weekly_checkpoint(week: str | None = None, now: str | None = None) -> str:
    from flows.checkpoint import previous_week

    at = logical_now(now)
    week = week or previous_week(at)
    try:
        data = await jobs.run_checkpoint(week, at)
    except NothingToReport as why:  # a county set up after the week ended: nothing to report, not a failure
        get_run_logger().info("checkpoint %s skipped: %s", week, why.en)
        return week
    get_run_logger().info("checkpoint %s at %s: %s", week, at.isoformat(), (data or {}).get("notice", "generated"))
    return week


@flow(name="monthly-bulletin", description="每月一通报：上月部门考核排名、红黑榜，全部格式")
async def monthly_bulletin(month: str | None = None, now: str | None = None) -> str:
    from flows.bulletin import previous_month

    at = logical_now(now)
    month = month or previous_month(f"{at.astimezone(LOCAL_TZ):%Y-%m}")
    try:
        data = await jobs.run_bulletin(month, at)
    except NothingToReport as why:
        get_run_logger().info("bulletin %s skipped: %s", month, why.en)
        return month
    get_run_logger().info("bulletin %s at %s: %s", month, at.isoformat(), (data or {}).get("notice", "generated"))
    return month


def report_schedule(cron: str):
    seconds = os.environ.get("CHUISHAO_REPORT_INTERVAL_SECONDS")
    return Interval(int(seconds), timezone=TZ) if seconds else Cron(cron, timezone=TZ)


def sweep_schedule():
    seconds = os.environ.get("CHUISHAO_SWEEP_INTERVAL_SECONDS")
    if seconds:
        return Interval(int(seconds), timezone=TZ)
    return Cron("* * * * *", timezone=TZ)


async def build_deployments(work_pool: str | None = None) -> list:
    """Every scheduled job as a deployment: served in-process (embedded) or run by workers (scale-out)."""
    return [
        await deadline_sweep.ato_deployment(
            name="deadline-sweep", schedule=sweep_schedule(), work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        await weekly_checkpoint.ato_deployment(
            name="weekly-checkpoint", schedule=report_schedule("0 9 * * 1"), work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        await monthly_bulletin.ato_deployment(
            name="monthly-bulletin", schedule=report_schedule("0 9 1 * *"), work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        await notification_redelivery.ato_deployment(
            name="notification-redelivery", schedule=Cron("* * * * *", timezone=TZ), work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ]
