"""GET /metrics: operations figures in Prometheus' text format (docs/operations.md#metrics), for a Prometheus
server and the Grafana dashboard in docs/grafana-dashboard.json.

Two kinds of figure:
- per process, kept by prometheus_client: actions by name and result, action latency, WebSocket clients. With
  several API processes (`chuishao serve --workers N`) every process writes them into files of
  PROMETHEUS_MULTIPROC_DIR (`share_across_processes`), and whichever process answers a scrape sums them all;
- exact whichever process asks, read from the database at scrape time (flows/metrics.py): the outbox backlog
  and its oldest age, failing deliveries by channel, alerts fired by level, the sweep's runs and duration.

Access (`allowed`): from the addresses in CHUISHAO_METRICS_ALLOW (loopback by default), or from anywhere with
`Authorization: Bearer <CHUISHAO_METRICS_TOKEN>`; anyone else gets 403.
"""

import contextlib
import hmac
import ipaddress
import os
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from chuishao.flows.errors import Conflict, DomainError, Forbidden, Invalid, NotAllowed, NotFound, Unauthorized
from chuishao.flows.lifecycle import BY_ACTION
from chuishao.flows.metrics import ALERT_LEVELS, Figures, read_figures
from chuishao.models.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# whether this process's metrics live in PROMETHEUS_MULTIPROC_DIR: decided by prometheus_client when it was first
# imported, so asked of it rather than of the environment now
MULTIPROCESS = values.ValueClass is not values.MutexValue

ACTIONS = Counter("chuishao_actions", "Case actions (transition table) by action and result: ok, or the refusal's "
                  "class (not_allowed, invalid, conflict, not_found, forbidden, unauthorized, refused, error)",
                  ["action", "result"])
# an action takes ~5–100 ms (docs/operations.md#performance-targets: p99 < 100 ms)
ACTION_SECONDS = Histogram("chuishao_action_duration_seconds", "Case action latency in the API process, seconds",
                           ["action"], buckets=(.0025, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .15, .25,
                                                .5, 1.0, 2.5))
WS_CLIENTS = Gauge("chuishao_websocket_clients", "Signed-in live-feed WebSocket clients connected",
                   multiprocess_mode="livesum")

# refusal class by error type, most specific first
_RESULTS = ((NotAllowed, "not_allowed"), (Conflict, "conflict"), (Invalid, "invalid"), (NotFound, "not_found"),
            (Forbidden, "forbidden"), (Unauthorized, "unauthorized"), (DomainError, "refused"))


def result_of(exc: BaseException) -> str:
    """The `result` label of a refused action: the class of its domain error, or "error" for anything else."""
    return next((name for kind, name in _RESULTS if isinstance(exc, kind)), "error")


@contextlib.contextmanager
def action_observed(action: str) -> Iterator[None]:
    """Count one action (`chuishao_actions_total`) and time it (`chuishao_action_duration_seconds`) around the
    service call; a name outside the transition table counts as "unknown" (no label per caller's typo)."""
    name = action if action in BY_ACTION else "unknown"
    started, result = time.perf_counter(), "error"
    try:
        yield
        result = "ok"
    except BaseException as exc:
        result = result_of(exc)
        raise
    finally:
        ACTIONS.labels(name, result).inc()
        ACTION_SECONDS.labels(name).observe(time.perf_counter() - started)


# ---- several processes ----------------------------------------------------------------------------------------
def multiprocess_dir(settings: Settings) -> Path:
    """Where this host's API processes keep their metric files: PROMETHEUS_MULTIPROC_DIR when the operator set
    it, else <data dir>/metrics/<host name> (the data directory may be shared by containers, whose process ids
    repeat: one directory per host keeps their files apart)."""
    given = os.environ.get(MULTIPROC_ENV)
    return Path(given) if given else settings.data_dir / "metrics" / socket.gethostname()


def share_across_processes(settings: Settings) -> Path:
    """Before the API processes start: point them at `multiprocess_dir` (through the environment they inherit)
    and empty it of an earlier run's files, so counters start from 0 with the server. Returns the directory."""
    path = multiprocess_dir(settings)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bury_dead(path: str) -> None:
    """A process that died (a worker restarted) leaves its live gauges' files behind: drop them, so the WebSocket
    clients it held are not counted. Its counters stay: a total never goes down."""
    for f in Path(path).glob("gauge_live*_*.db"):
        pid = f.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), path)


# ---- the scrape -----------------------------------------------------------------------------------------------
class _Fixed(Collector):
    def __init__(self, families: list):
        self.families = families

    def collect(self):
        return self.families


def _db_families(f: Figures) -> list:
    backlog = GaugeMetricFamily("chuishao_outbox_backlog", "Outbox rows not yet delivered: events not fanned out "
                                "(stage fan_out), external deliveries not yet sent (stage delivery)", labels=["stage"])
    oldest = GaugeMetricFamily("chuishao_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox row, "
                               "seconds (0 when none waits)", labels=["stage"])
    for stage, n, age in (("fan_out", f.events_pending, f.events_oldest_age),
                          ("delivery", f.deliveries_pending, f.deliveries_oldest_age)):
        backlog.add_metric([stage], n)
        oldest.add_metric([stage], age)
    failing = GaugeMetricFamily("chuishao_deliveries_failing", "External deliveries failing, by channel: retrying "
                                "(failed at least once, will retry) and failed (given up)", labels=["channel", "state"])
    for state, by_channel in (("retrying", f.retrying), ("failed", f.failed)):
        for channel, n in sorted(by_channel.items()):
            failing.add_metric([channel, state], n)
    alerts = CounterMetricFamily("chuishao_alerts_fired", "Deadline alerts fired by the sweep, by level",
                                 labels=["level"])
    for level in ALERT_LEVELS:
        alerts.add_metric([level], f.alerts.get(level, 0))
    sweep = f.sweep
    runs = SummaryMetricFamily("chuishao_sweep_duration_seconds", "Deadline sweep runs and their total duration, "
                               "seconds", count_value=sweep.get("runs", 0), sum_value=sweep.get("seconds_total", 0.0))
    last = GaugeMetricFamily("chuishao_sweep_last_duration_seconds", "The last sweep's duration, seconds",
                             value=sweep.get("last_seconds", 0.0))
    fired = GaugeMetricFamily("chuishao_sweep_last_fired", "Alerts the last sweep fired",
                              value=sweep.get("last_fired", 0))
    at = GaugeMetricFamily("chuishao_sweep_last_run_timestamp_seconds", "When the last sweep ran (Unix time; 0: never)",
                           value=_unix(sweep.get("last_at")))
    return [backlog, oldest, failing, alerts, runs, last, fired, at]


def _unix(iso: str | None) -> float:
    return datetime.fromisoformat(iso).timestamp() if iso else 0.0


def _registry(figures: Figures) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    path = os.environ.get(MULTIPROC_ENV)
    if MULTIPROCESS and path:
        _bury_dead(path)
        MultiProcessCollector(registry, path)  # every API process's counters, histograms and gauges, summed
        ProcessCollector(registry=registry)  # process_*: the process that answers this scrape
        PlatformCollector(registry=registry)
    else:
        registry.register(_Fixed(list(REGISTRY.collect())))  # this process's, with process_* and python_*
    registry.register(_Fixed(_db_families(figures)))
    return registry


def allowed(request: Request, settings: Settings) -> bool:
    """Whether the caller may read /metrics: its address (after a trusted proxy's X-Forwarded-For, as uvicorn
    resolves it) in CHUISHAO_METRICS_ALLOW, or the bearer token CHUISHAO_METRICS_TOKEN when one is set."""
    token = settings.metrics_token
    given = request.headers.get("authorization", "")
    if token and given[:7].lower() == "bearer " and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    nets = [ipaddress.ip_network(n.strip(), strict=False) for n in settings.metrics_allow.split(",") if n.strip()]
    return any(address in net for net in nets)


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    svc = request.app.state.services
    if not allowed(request, svc.settings):
        raise Forbidden("无权读取运行指标：仅允许本机或配置的地址，或携带指标令牌访问",
                        "metrics are readable from allowed addresses or with the metrics token only",
                        code="metrics_forbidden")
    figures = await read_figures(svc.db, svc.clock())
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(_registry(figures)), media_type=content_type)
