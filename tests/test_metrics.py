"""GET /metrics (api/metrics.py, docs/operations.md#metrics): what an operator's Prometheus reads — actions by name
and result, their latency, the outbox backlog as the database holds it, failing deliveries, the sweep and its
alerts, live clients — who may read it, and that `chuishao serve --workers 2` answers the sum over both
processes. The Grafana dashboard in docs/ only asks for metrics that are there."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.jobs import run_sweep
from chuishao.models.db import sync_url
from chuishao.notifications.channels import channels_from
from chuishao.notifications.dispatcher import deliver_due
from chuishao.notifications.fanout import fan_out
from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
from tests.county import CHUISHAO_CLI, PASSWORD, Api
from tests.test_notifications import idle_county

ROOT = Path(__file__).parent.parent
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


def scrape_text(api, client=("127.0.0.1", 40000), **kw) -> httpx.Response:
    """GET /metrics as Prometheus on this host would (from 127.0.0.1, allowed by default), or from `client`:
    another client address on the running app's event loop."""
    other = TestClient(api.client.app, client=client)
    other.portal = api.client.portal  # the app's connections belong to the loop its lifespan runs on
    return other.get("/metrics", **kw)


def samples(body: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} from the text format, by prometheus_client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def scrape(api) -> dict[tuple, float]:
    r = scrape_text(api)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def value(figures, name, **labels) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def db_rows(settings, sql: str) -> list[tuple]:
    engine = create_engine(sync_url(settings.url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


# ---- actions ------------------------------------------------------------------------------------------------
def test_an_action_through_http_moves_its_counter_and_its_latency_histogram(county):
    api = county
    case = api.report(township="FC", grid="FC-G1")
    before = scrape(api)
    api.act("disp_fc", case["id"], "accept", {"category": "LAND01"})
    after = scrape(api)
    ok = {"action": "accept", "result": "ok"}
    assert value(after, "chuishao_actions_total", **ok) == value(before, "chuishao_actions_total", **ok) + 1
    count = "chuishao_action_duration_seconds_count"
    assert value(after, count, action="accept") == value(before, count, action="accept") + 1
    assert value(after, "chuishao_action_duration_seconds_sum", action="accept") > \
        value(before, "chuishao_action_duration_seconds_sum", action="accept")
    # the whole observation lands in the +Inf bucket, and in every bucket from its latency up
    inf = "chuishao_action_duration_seconds_bucket"
    assert value(after, inf, action="accept", le="+Inf") == value(before, inf, action="accept", le="+Inf") + 1
    assert ("process_cpu_seconds_total", ()) in after  # the library's process metrics are there too


def test_refused_actions_count_under_their_class_and_unknown_names_under_one_label(county):
    api = county
    case = api.report(township="FC", grid="FC-G1")
    before = scrape(api)
    api.act("liaison_fc", case["id"], "accept", {"category": "LAND01"}, expect=422)  # not their role
    api.act("zrzy_liaison", case["id"], "accept", {"category": "LAND01"}, expect=403)  # not their case
    api.act("disp_fc", case["id"], "accept", {"category": "LAND01"}, expect=409, headers={"If-Match": "7"})
    api.act("disp_fc", 999999, "accept", {"category": "LAND01"}, expect=404)
    api.act("disp_fc", case["id"], "no_such_action", expect=404)
    after = scrape(api)
    for result, n in (("not_allowed", 1), ("forbidden", 1), ("conflict", 1), ("not_found", 1)):
        delta = value(after, "chuishao_actions_total", action="accept", result=result) - \
            value(before, "chuishao_actions_total", action="accept", result=result)
        assert delta == n, result
    assert value(after, "chuishao_actions_total", action="accept", result="ok") == \
        value(before, "chuishao_actions_total", action="accept", result="ok")
    assert value(after, "chuishao_actions_total", action="unknown", result="not_found") == \
        value(before, "chuishao_actions_total", action="unknown", result="not_found") + 1
    assert not any("no_such_action" in str(key) for key in after)


def test_a_web_form_action_counts_as_the_api_does(county):
    api = county
    case = api.report(township="FC", grid="FC-G1")
    before = scrape(api)
    web = api.client
    token = re.search(r'name="csrftoken" value="([^"]+)"', web.get("/").text).group(1)
    r = web.post("/", data={"username": "disp_fc", "password": PASSWORD, "csrftoken": token}, follow_redirects=False)
    assert r.status_code == 303, r.text  # signed in through the page's form
    r = api.client.post(f"/cases/{case['id']}/actions/accept", follow_redirects=False,
                        data={"csrftoken": token, "version": str(case["version"]), "category": "LAND01"})
    assert r.status_code == 303, r.text
    r = api.client.post(f"/cases/{case['id']}/actions/accept", follow_redirects=False,
                        data={"csrftoken": token, "version": str(case["version"]), "category": "LAND01"})
    assert r.status_code in (409, 422)  # the same form again: stale, or no longer allowed
    after = scrape(api)
    assert value(after, "chuishao_actions_total", action="accept", result="ok") == \
        value(before, "chuishao_actions_total", action="accept", result="ok") + 1
    refused = sum(value(after, "chuishao_actions_total", action="accept", result=r) -
                  value(before, "chuishao_actions_total", action="accept", result=r)
                  for r in ("conflict", "not_allowed"))
    assert refused == 1


# ---- the outbox, deliveries, the sweep ------------------------------------------------------------------------
def test_outbox_backlog_and_failing_deliveries_match_the_database(db_url, tmp_path, clock):
    dead = "http://127.0.0.1:9/hook"  # nothing listens on the discard port: every attempt fails
    with idle_county(db_url, tmp_path, clock, "zrzy_liaison", dead) as api:
        case = api.to_dispatched()  # report, accept, dispatch: events the idle process never fans out
        clock.advance(minutes=5)
        figures = scrape(api)
        (pending, oldest), = db_rows(api.settings, "SELECT count(*), min(at) FROM events WHERE fanned_out_at IS NULL")
        assert pending >= 3
        assert value(figures, "chuishao_outbox_backlog", stage="fan_out") == pending
        assert value(figures, "chuishao_outbox_oldest_age_seconds", stage="fan_out") == 5 * 60
        assert value(figures, "chuishao_outbox_backlog", stage="delivery") == 0

        svc = api.client.app.state.services
        api.client.portal.call(fan_out, svc.db, clock())
        api.client.portal.call(deliver_due, svc.db, channels_from(api.settings), clock())  # refused: retried later
        figures = scrape(api)
        (undelivered,), = db_rows(api.settings, "SELECT count(*) FROM deliveries WHERE state = 'pending'")
        assert undelivered >= 1  # the department liaison's webhook for the whistle
        assert value(figures, "chuishao_outbox_backlog", stage="fan_out") == 0
        assert value(figures, "chuishao_outbox_backlog", stage="delivery") == undelivered
        assert value(figures, "chuishao_deliveries_failing", channel="webhook", state="retrying") == undelivered
        assert value(figures, "chuishao_deliveries_failing", channel="email", state="failed") == 0

        engine = create_engine(sync_url(api.settings.url))
        with engine.begin() as conn:
            conn.execute(text("UPDATE deliveries SET state = 'failed'"))
        engine.dispose()
        figures = scrape(api)
        assert value(figures, "chuishao_deliveries_failing", channel="webhook", state="failed") == undelivered
        assert value(figures, "chuishao_deliveries_failing", channel="webhook", state="retrying") == 0
        assert value(figures, "chuishao_outbox_backlog", stage="delivery") == 0
        assert case["status"] == "dispatched"


def test_sweep_runs_and_the_alerts_they_fire_by_level(county, clock):
    api = county
    clock.now = at("2026-11-16T09:00")
    api.to_handling("ENV01")
    before = scrape(api)
    assert value(before, "chuishao_sweep_duration_seconds_count") == 0
    fired = run_sweep_job(api, at("2026-11-20T16:10"))  # 80 % of the handling limit: a warning
    run_sweep_job(api, at("2026-11-20T16:20"))  # nothing more
    figures = scrape(api)
    assert value(figures, "chuishao_sweep_duration_seconds_count") == 2
    assert value(figures, "chuishao_sweep_duration_seconds_sum") >= value(figures,
                                                                           "chuishao_sweep_last_duration_seconds") > 0
    assert value(figures, "chuishao_sweep_last_fired") == 0
    assert value(figures, "chuishao_sweep_last_run_timestamp_seconds") == at("2026-11-20T16:20").timestamp()
    by_level = dict(db_rows(api.settings, "SELECT level, count(*) FROM alerts GROUP BY level"))
    assert by_level.get("warning", 0) == len(fired) >= 1
    for level in ("warning", "overdue", "escalated"):
        assert value(figures, "chuishao_alerts_fired_total", level=level) == by_level.get(level, 0)


def run_sweep_job(api, now):
    """The scheduled job itself (flows/jobs.run_sweep), which records its run for /metrics."""
    return api.client.portal.call(run_sweep, now, api.settings)


def test_websocket_clients_connected(county):
    api = county
    before = value(scrape(api), "chuishao_websocket_clients")
    with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert value(scrape(api), "chuishao_websocket_clients") == before + 1
    deadline = time.monotonic() + 10
    while value(scrape(api), "chuishao_websocket_clients") != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert value(scrape(api), "chuishao_websocket_clients") == before


# ---- who may read it -----------------------------------------------------------------------------------------
def test_metrics_refuse_a_caller_from_elsewhere_without_the_token(api):
    app = api.client.app
    settings = app.state.services.settings
    r = scrape_text(api, client=("203.0.113.7", 5000))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "metrics_forbidden" and "指标" in r.json()["error"]["message"]
    assert "chuishao_" not in r.text
    assert scrape_text(api, client=("127.0.0.1", 5000)).status_code == 200  # loopback: allowed by default
    assert scrape_text(api, client=("::1", 5000)).status_code == 200
    try:
        settings.metrics_token = "metrics-token-0123456789"
        assert scrape_text(api, client=("203.0.113.7", 5000),
                           headers={"Authorization": "Bearer metrics-token-0123456789"}).status_code == 200
        assert scrape_text(api, client=("203.0.113.7", 5000),
                           headers={"Authorization": "Bearer metrics-token-wrong"}).status_code == 403
        assert scrape_text(api, client=("203.0.113.7", 5000),
                           headers={"Authorization": f"Bearer {api.token('admin')}"}).status_code == 403
        settings.metrics_allow = "10.0.0.0/8"  # the county's monitoring network only; loopback no longer
        assert scrape_text(api, client=("10.20.30.40", 5000)).status_code == 200
        assert scrape_text(api, client=("127.0.0.1", 5000)).status_code == 403
    finally:
        settings.metrics_token, settings.metrics_allow = None, "127.0.0.1/32,::1/128"


# ---- the dashboard ---------------------------------------------------------------------------------------------
def _exprs(node) -> list[str]:
    if isinstance(node, dict):
        return ([node["expr"]] if isinstance(node.get("expr"), str) else []) + \
            [e for v in node.values() for e in _exprs(v)]
    return [e for v in node for e in _exprs(v)] if isinstance(node, list) else []


PROMQL_WORDS = {"sum", "rate", "irate", "increase", "by", "without", "histogram_quantile", "le", "max", "min",
                "avg", "count", "time", "on", "ignoring", "and", "or", "unless", "topk", "clamp_min", "delta",
                "deriv", "abs", "offset", "bool", "vector", "scalar", "label_replace", "sort_desc", "sort"}


def test_every_dashboard_expression_names_a_metric_that_metrics_exposes(county):
    api = county
    api.report(township="FC", grid="FC-G1")
    exposed = {name for name, _ in scrape(api)}
    board = json.loads(DASHBOARD.read_text())
    assert any(i.get("name") == "DS_PROMETHEUS" for i in board["__inputs"])
    exprs = _exprs(board["panels"])
    assert len(exprs) >= 8
    for panel in board["panels"]:
        if panel.get("type") != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    named = set()
    for expr in exprs:
        bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expr)  # label matchers, strings, ranges
        names = {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare) if w not in PROMQL_WORDS}
        names -= {w for w in names if re.fullmatch(r"[a-z]+", w) and w in {"action", "result", "stage", "channel",
                                                                            "state", "level", "instance", "job"}}
        assert names, expr
        assert names <= exposed, (expr, names - exposed)
        named |= names
    families = {"chuishao_actions_total", "chuishao_action_duration_seconds_bucket", "chuishao_outbox_backlog",
                "chuishao_outbox_oldest_age_seconds", "chuishao_deliveries_failing", "chuishao_alerts_fired_total",
                "chuishao_websocket_clients"}
    assert families <= named
    assert any(n.startswith("chuishao_sweep_") for n in named)


# ---- two processes ---------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _per_process_counts(path: Path) -> dict[int, float]:
    """pid → how many actions that process counted, from its own file (prometheus_client's multiprocess files)."""
    from prometheus_client.multiprocess import MultiProcessCollector

    out = {}
    for f in path.glob("counter_*.db"):
        total = 0.0
        for metric in MultiProcessCollector._read_metrics([str(f)]).values():
            total += sum(s.value for s in metric.samples if s.name == "chuishao_actions_total")
        out[int(f.stem.rsplit("_", 1)[-1])] = total
    return out


def test_two_worker_processes_answer_the_sum_of_both(sqlite_template, tmp_path, clock):
    db = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, db)
    settings = bootstrap_settings(f"sqlite:///{db}", tmp_path, clock)
    metrics_dir = settings.data_dir / "metrics" / socket.gethostname()
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")  # emptied at start
    env = {**os.environ, "CHUISHAO_DATA_DIR": str(settings.data_dir), "CHUISHAO_DATABASE_URL": settings.url,
           "CHUISHAO_SECRET_KEY": settings.secret_key, "CHUISHAO_SCHEDULER": "worker",
           "CHUISHAO_ARGON2_TIME_COST": "1", "CHUISHAO_ARGON2_MEMORY_KIB": "8192", "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*CHUISHAO_CLI, "serve", "--port", str(port), "--workers", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        with httpx.Client(base_url=base) as c:
            token = Api(c, ADMIN_PASSWORD, settings).token("admin")
        sent = 0
        # each on a new connection, until both processes have counted some (whichever accepts a connection
        # serves it; both do within a few tries)
        while sent < 400 and sum(n > 0 for n in _per_process_counts(metrics_dir).values()) < 2:
            for _ in range(5):
                r = httpx.post(f"{base}/api/v1/cases/999999/actions/accept", json={},
                               headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 404, r.text
                sent += 1
        per_process = _per_process_counts(metrics_dir)
        assert sum(n > 0 for n in per_process.values()) == 2, per_process
        assert 999999 not in per_process
        for _ in range(6):  # every answer, whichever process gives it, is the sum over both
            figures = samples(httpx.get(f"{base}/metrics").text)
            assert value(figures, "chuishao_actions_total", action="accept", result="not_found") == sent
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
