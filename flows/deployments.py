"""Prefect flows and their deployments (docs/architecture.md#time-driven-work). Importing this module has no
side effects: Prefect's runner and workers import it in a child process for every run.

Schedules are cron in Asia/Shanghai. `CHUISHAO_SWEEP_INTERVAL_SECONDS` replaces the sweep's one-minute
cron with a short interval (tests, demos).

Time: a run's scheduled time only names the period a report covers; what a run writes (alerts, deliveries,
reports) is stamped with the wall clock when it is written, so a run that catches up after an outage, or
starts a second early, records when things really happened. A `now` parameter (a run started by hand)
fixes both.

Catch-up: every deployment runs one flow run at a time (Prefect's deployment concurrency limit). The sweep
and the redelivery take everything due whenever they run, so after an outage the first late run does the
work and the others are cancelled before a process is started for them (CANCEL_NEW); a report names its
own period, so late report runs wait their turn (ENQUEUE) and each period is still generated once. A run
left Pending or Running by a scheduler that died would hold its deployment's only slot: a scheduler starting
up puts such runs back on the schedule (build_deployments).
"""

import logging
import os
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.flows import EntrypointType
from prefect.runtime import flow_run
from prefect.schedules import Cron, Interval

from chuishao.flows import jobs
from chuishao.flows.clock import LOCAL_TZ, Clock, system_clock
from chuishao.flows.periods import NothingToReport
from chuishao.flows.sweep import clock_of

TZ = "Asia/Shanghai"
WORK_POOL = "chuishao"
log = logging.getLogger(__name__)
# a second run of the sweep or the redelivery while one runs would only find what the first is doing
LATEST_ONLY = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
# each report run covers its own period: a late one waits for the slot instead of being dropped
EACH_IN_TURN = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def scheduled_time(now: str | None) -> datetime:
    """The moment this run stands for: `now` when given (aware ISO 8601), else the time the run was scheduled
    for (its first scheduled time, kept when Prefect reschedules it for a concurrency slot). Names a report's
    period; never used as a write time."""
    if now:
        return datetime.fromisoformat(now)
    return datetime.fromisoformat(flow_run.scheduled_start_time.isoformat())


def run_clock(now: str | None) -> Clock:
    """The clock a run stamps what it writes with: the wall clock (flows.clock.system_clock), or a clock
    stopped at `now` for a run started by hand at a chosen time."""
    return clock_of(datetime.fromisoformat(now)) if now else system_clock


def _local(t: datetime) -> str:
    return f"{t.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M:%S}"


@flow(name="deadline-sweep", description="预警扫描：黄灯、红灯、升级督办，每级只发一次")
async def deadline_sweep(now: str | None = None) -> int:
    clock = run_clock(now)
    result = await jobs.run_sweep(clock)
    get_run_logger().info("sweep (scheduled %s) at %s fired %d alerts", _local(scheduled_time(now)),
                          _local(clock()), len(result))
    return len(result)


@flow(name="notification-redelivery", description="补发：扇出未处理的事件，重试到期的外部投递")
async def notification_redelivery(now: str | None = None) -> dict:
    clock = run_clock(now)
    result = await jobs.run_redelivery(clock)
    get_run_logger().info("redelivery (scheduled %s) at %s: %s", _local(scheduled_time(now)), _local(clock()),
                          result)
    return result


@flow(name="weekly-checkpoint", description="每周一检点：上一自然周的检点清单，通知各联络员")
async def weekly_checkpoint(week: str | None = None, now: str | None = None) -> str:
    from chuishao.flows.checkpoint import previous_week

    week = week or previous_week(scheduled_time(now))  # a late run still covers the week it was due for
    at = run_clock(now)()
    try:
        data = await jobs.run_checkpoint(week, at)
    except NothingToReport as why:  # a county set up after the week ended: nothing to report, not a failure
        get_run_logger().info("checkpoint %s skipped: %s", week, why.en)
        return week
    get_run_logger().info("checkpoint %s at %s: %s", week, _local(at), (data or {}).get("notice", "generated"))
    return week


@flow(name="monthly-bulletin", description="每月一通报：上月部门考核排名、红黑榜，全部格式")
async def monthly_bulletin(month: str | None = None, now: str | None = None) -> str:
    from chuishao.flows.bulletin import previous_month

    month = month or previous_month(f"{scheduled_time(now).astimezone(LOCAL_TZ):%Y-%m}")
    at = run_clock(now)()
    try:
        data = await jobs.run_bulletin(month, at)
    except NothingToReport as why:
        get_run_logger().info("bulletin %s skipped: %s", month, why.en)
        return month
    get_run_logger().info("bulletin %s at %s: %s", month, _local(at), (data or {}).get("notice", "generated"))
    return month


def report_schedule(cron: str):
    seconds = os.environ.get("CHUISHAO_REPORT_INTERVAL_SECONDS")
    return Interval(int(seconds), timezone=TZ) if seconds else Cron(cron, timezone=TZ)


def sweep_schedule():
    seconds = os.environ.get("CHUISHAO_SWEEP_INTERVAL_SECONDS")
    if seconds:
        return Interval(int(seconds), timezone=TZ)
    return Cron("* * * * *", timezone=TZ)


async def reschedule_stranded_runs(names: list[str]) -> int:
    """Put back on the schedule the runs of these deployments still Pending or Running (and cancel those still
    Cancelling): called as a scheduler starts, when they can only be what a scheduler that died left behind (one
    scheduler per database). Each gives back its deployment concurrency slot, and a report run still covers its
    own period when it runs again (its first scheduled time is kept). Left alone, such a run would hold its
    one-at-a-time deployment's only slot, and every later run would be cancelled until the slot's lease ran out
    (about 5 minutes), or for ever once the Prefect server has restarted (it keeps leases in memory). Returns how
    many runs were rescheduled or cancelled. Needs the Prefect API; raises what its client raises."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import AwaitingRetry, Cancelled

    why = "调度进程在此运行结束前已退出 the scheduler running this flow run stopped before it ended"
    active = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active))),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)))
        for run in runs:
            cancelling = run.state is not None and run.state.type == StateType.CANCELLING
            await client.set_flow_run_state(run.id, Cancelled(message=why) if cancelling else AwaitingRetry(
                scheduled_time=datetime.now(UTC), message=why))
    return len(runs)


async def build_deployments(work_pool: str | None = None) -> list:
    """Every scheduled job as a deployment: served in-process (embedded) or run by workers (scale-out), each
    limited to one run at a time (see the module's note on catch-up). Called as a scheduler starts, with the
    Prefect server up: it first reschedules what a scheduler that died left running (reschedule_stranded_runs),
    which would otherwise hold a deployment's only slot; a failure to do so is logged, not raised."""
    jobs_ = [(deadline_sweep, sweep_schedule(), LATEST_ONLY),
             (weekly_checkpoint, report_schedule("0 9 * * 1"), EACH_IN_TURN),
             (monthly_bulletin, report_schedule("0 9 1 * *"), EACH_IN_TURN),
             (notification_redelivery, Cron("* * * * *", timezone=TZ), LATEST_ONLY)]
    try:
        if stranded := await reschedule_stranded_runs([job.name for job, _, _ in jobs_]):
            log.warning("rescheduled %d flow runs a stopped scheduler left unfinished", stranded)
    except Exception as err:  # noqa: BLE001 - starting the schedules matters more than this clean-up
        log.warning("could not check for flow runs a stopped scheduler left running: %s", err)
    return [await job.ato_deployment(name=job.name, schedule=schedule, concurrency_limit=limit,
                                     work_pool_name=work_pool, entrypoint_type=EntrypointType.MODULE_PATH)
            for job, schedule, limit in jobs_]

