"""Notifications (docs/architecture.md#notifications): the outbox, inboxes, live sockets within scope, and external
channels against real local servers (an HTTP server for webhooks and SMS, an SMTP server for e-mail)."""

import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def eventually(check, seconds=10.0, every=0.05):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def allow_loopback(api):
    """The test's receivers listen on 127.0.0.1: the admin allows that range (refused by default)."""
    r = api.as_("admin").put("/api/v1/settings/egress", json={"allowed_ranges": ["127.0.0.0/8"]})
    assert r.status_code == 200, r.text


@contextmanager
def idle_county(db_url, tmp_path, clock, subscriber: str, hook_url: str):
    """The county whose API process never gets to delivering (delivery_delay one hour), `subscriber` taking
    webhooks at `hook_url`: what is sent, the scheduled redelivery job sends. Yields the Api."""
    from fastapi.testclient import TestClient

    from chuishao.api.app import create_app
    from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
    from tests.county import Api, build_county

    settings = bootstrap_settings(db_url, tmp_path, clock, delivery_delay=3600)
    with TestClient(create_app(settings, clock)) as client:
        api = Api(client, ADMIN_PASSWORD, settings)
        build_county(api)
        allow_loopback(api)
        api.as_(subscriber).put("/api/v1/me/channels/webhook", json={"address": hook_url})
        yield api


def inbox(api, who, unread=True):
    return api.as_(who).get("/api/v1/notifications", params={"unread": unread}).json()["items"]


class Receiver:
    """A real HTTP server on 127.0.0.1: answers `fail_first` requests with 503, then 200."""

    def __init__(self, fail_first=0):
        self.fail_first, self.requests = fail_first, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                status = 503 if len(outer.requests) <= outer.fail_first else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    servers = []

    def make(fail_first=0):
        servers.append(Receiver(fail_first))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_the_people_who_must_act_are_notified(county):
    api = county
    case = api.report()
    assert eventually(lambda: inbox(api, "disp_fc"))[0]["case_id"] == case["id"]  # a new report: the dispatcher
    assert inbox(api, "zrzy_liaison") == []
    api.act("disp_fc", case["id"], "accept", {"category": "LAND01"})
    api.act("disp_fc", case["id"], "dispatch")
    for who in ("zrzy_liaison", "zjj_liaison"):  # every whistled unit's liaison
        items = eventually(lambda w=who: inbox(api, w))
        assert "吹哨" in items[0]["title"] and case["code"] in items[0]["title"]
    assert inbox(api, "sthj_liaison") == []  # not whistled
    api.act("zrzy_liaison", case["id"], "check_in")
    api.act("zrzy_off1", case["id"], "feedback",
            {"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1", "zrzy_off2"]})
    api.act("liaison_fc", case["id"], "verify", {"passed": True, "satisfaction": "satisfied"})
    # the reporter hears that their own report is closed
    closed = eventually(lambda: [n for n in inbox(api, "gw_fc1") if "已结案" in n["title"]])
    assert closed and closed[0]["case_id"] == case["id"]
    # the actor is not notified of their own action
    assert not [n for n in inbox(api, "liaison_fc") if n["action"] == "verify"]


def test_disputes_reach_the_county_supervisor(county):
    api = county
    case = api.to_dispatched("ENV01")
    api.act("sthj_liaison", case["id"], "return", {"reason": "a"})
    api.act("disp_fc", case["id"], "escalate_dispute", {"reason": "b"})
    items = eventually(lambda: inbox(api, "supervisor"))
    assert items and items[0]["action"] == "escalate_dispute"


def test_unread_counts_and_mark_as_read(county):
    api = county
    for _ in range(3):
        api.report()
    me = api.as_("disp_fc")
    assert eventually(lambda: me.get("/api/v1/notifications/unread_count").json()["unread"] == 3)
    first = inbox(api, "disp_fc")[0]["id"]
    assert me.post("/api/v1/notifications/read", json={"ids": [first]}).json() == {"marked": 1}
    assert me.get("/api/v1/notifications/unread_count").json()["unread"] == 2
    # another user's notification cannot be marked through my account
    other = api.as_("liaison_fc").post("/api/v1/notifications/read", json={"ids": [first]})
    assert other.json() == {"marked": 0}
    assert me.post("/api/v1/notifications/read", json={"all": True}).json() == {"marked": 2}
    assert me.get("/api/v1/notifications/unread_count").json()["unread"] == 0
    assert me.post("/api/v1/notifications/read", json={}).status_code == 422


def test_webhook_failing_twice_then_succeeding_is_delivered_once_with_three_attempts(county, clock, receiver):
    api = county
    hook = receiver(fail_first=2)
    allow_loopback(api)
    r = api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook", json={"address": hook.url})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]  # made by the server, shown on the first save
    api.to_dispatched("LAND01")
    assert eventually(lambda: len(hook.requests) == 1)
    clock.advance(seconds=3)  # past the first backoff (2 s)
    assert eventually(lambda: len(hook.requests) == 2, seconds=10)
    clock.advance(seconds=5)  # past the second (4 s)
    assert eventually(lambda: len(hook.requests) == 3, seconds=10)
    clock.advance(seconds=60)
    time.sleep(2.5)
    assert len(hook.requests) == 3  # delivered: no more attempts

    ids = {h["X-Chuishao-Delivery"] for h, _ in hook.requests}
    assert len(ids) == 1  # the same delivery each time: the receiver applies it once
    headers, body = hook.requests[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Chuishao-Signature"] == expected
    assert "吹哨" in json.loads(body)["title"]
    deliveries = api.as_("admin").get("/api/v1/deliveries").json()
    assert [(d["state"], d["attempts"], [a["ok"] for a in d["history"]]) for d in deliveries] == [
        ("sent", 3, [False, False, True])]


def test_a_dead_webhook_is_given_up_and_shown_to_the_admin(county, clock):
    api = county
    allow_loopback(api)
    api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook", json={"address": "http://127.0.0.1:9/nothing"})
    api.to_dispatched("LAND01")
    def attempts():
        rows = api.as_("admin").get("/api/v1/deliveries").json()
        return rows[0]["attempts"] if rows else 0

    for n in range(1, 7):
        assert eventually(lambda n=n: attempts() >= n), n
        clock.advance(seconds=700)  # past any backoff
    failed = eventually(lambda: api.as_("admin").get("/api/v1/deliveries", params={"state": "failed"}).json())
    assert failed and failed[0]["attempts"] == 6 and failed[0]["last_error"]


def test_email_over_smtp_and_sms_through_an_http_gateway(tmp_path, db_url, clock, receiver):
    from aiosmtpd.controller import Controller
    from fastapi.testclient import TestClient

    from chuishao.api.app import create_app
    from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
    from tests.county import Api, build_county

    mails = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mails.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    gateway = receiver()
    try:
        settings = bootstrap_settings(db_url, tmp_path, clock, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                      sms_gateway_url=gateway.url, sms_gateway_key="k-123")
        with TestClient(create_app(settings, clock)) as client:
            api = Api(client, ADMIN_PASSWORD, settings)
            build_county(api)
            allow_loopback(api)
            assert api.as_("zrzy_liaison").put("/api/v1/me/channels/email",
                                               json={"address": "zrzy@example.org"}).status_code == 200
            assert api.as_("zrzy_liaison").put("/api/v1/me/channels/sms",
                                               json={"address": "13800000000"}).status_code == 200
            api.to_dispatched("LAND01")
            assert eventually(lambda: mails and gateway.requests)
    finally:
        smtp.stop()
    rcpt, content = mails[0]
    assert rcpt == ["zrzy@example.org"] and "Subject:" in content
    headers, body = gateway.requests[0]
    sms = json.loads(body)
    assert sms["phone"] == "13800000000" and sms["text"].startswith("【吹哨】") and "吹哨" in sms["text"]
    assert headers["Authorization"] == "Bearer k-123"


def _socket(api, who, since=None):
    url = f"/api/v1/ws?token={api.token(who)}" + (f"&since={since}" if since is not None else "")
    ws = api.client.websocket_connect(url)
    hello = ws.__enter__().receive_json()
    assert hello["type"] == "hello"
    return ws


def _until(ws, case_id, action):
    """Read events up to the marker (case_id, action); return the case ids seen on the way."""
    seen = []
    while True:
        e = ws.receive_json()
        seen.append(e["case_id"])
        if (e["case_id"], e["action"]) == (case_id, action):
            return seen


def test_sockets_see_only_events_in_their_scope(county):
    api = county
    zrzy, sthj, gw1 = _socket(api, "zrzy_liaison"), _socket(api, "sthj_liaison"), _socket(api, "gw_fc1")
    env = api.to_dispatched("ENV01")  # 生态环境分局's case, reported by gw_fc1
    other = api.report(who="gw_fc2")  # another grid worker's report
    api.act("disp_fc", other["id"], "accept", {"category": "ENV01"})
    land = api.to_dispatched("LAND01")  # 自然资源局's case, reported by gw_fc1
    api.act("sthj_liaison", env["id"], "check_in")
    # a department sees the cases whistled to it, from the whistle on, and nothing else
    assert set(_until(sthj, env["id"], "check_in")) == {env["id"]}
    assert set(_until(zrzy, land["id"], "dispatch")) == {land["id"]}
    # a grid worker sees their own reports only
    assert other["id"] not in _until(gw1, env["id"], "check_in")
    for ws in (zrzy, sthj, gw1):
        ws.__exit__(None, None, None)


def test_a_reconnecting_client_gets_what_it_missed(county):
    api = county
    ws = _socket(api, "disp_fc")
    first = api.report()
    e1 = ws.receive_json()
    ws.__exit__(None, None, None)
    api.act("disp_fc", first["id"], "accept", {"category": "ENV01"})
    second = api.report(who="gw_fc2")
    ws = _socket(api, "disp_fc", since=e1["id"])
    missed = [ws.receive_json(), ws.receive_json()]
    ws.__exit__(None, None, None)
    assert [(m["case_id"], m["action"], m["replay"]) for m in missed] == [
        (first["id"], "accept", True), (second["id"], "report", True)]


def test_a_socket_opened_after_unwatched_commits_hears_only_what_follows(county, db_url):
    """While no socket is open the live feed only keeps count of the newest event (SQLite, api/live.py) or hears
    nothing at all (PostgreSQL: no NOTIFY is sent, notifications/listener.py); a socket opened later is told the
    newest id in its hello and hears the next event, not the ones before it."""
    from sqlalchemy import text

    from chuishao.models.db import make_sync_engine

    api = county
    case = api.report()
    api.act("disp_fc", case["id"], "accept", {"category": "ENV01"})
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    engine.dispose()
    hub = api.client.app.state.live.hub
    deadline = time.monotonic() + 10
    while not db_url.startswith("postgresql") and hub.last_id < newest and time.monotonic() < deadline:
        # SQLite: the feed takes in commits in the app's loop
        time.sleep(0.05)
    with api.client.websocket_connect(f"/api/v1/ws?token={api.token('disp_fc')}") as ws:
        assert ws.receive_json()["last_event_id"] == newest
        later = api.report(who="gw_fc2")
        event = ws.receive_json()
    assert (event["case_id"], event["action"]) == (later["id"], "report") and event["id"] > newest


def test_socket_without_a_valid_token_is_refused(county):
    with county.client.websocket_connect("/api/v1/ws?token=nonsense") as ws:
        assert ws.receive_json()["error"]["code"] == "unauthorized"


def test_the_scheduled_redelivery_job_catches_up_when_no_process_delivered(tmp_path, db_url, clock, receiver):
    """The Prefect redelivery flow's plain function: fans out and delivers what an idle or dead API left."""
    import asyncio

    from chuishao.flows.jobs import run_redelivery

    hook = receiver()
    with idle_county(db_url, tmp_path, clock, "zrzy_liaison", hook.url) as api:
        settings = api.settings
        case = api.to_dispatched("LAND01")
        time.sleep(0.5)
        assert inbox(api, "zrzy_liaison") == [] and hook.requests == []
        result = asyncio.run(run_redelivery(clock(), settings))
        assert result["sent"] == 1 and result["fanned_out"] >= 3
        assert [n["case_id"] for n in inbox(api, "zrzy_liaison")] == [case["id"]]
        assert len(hook.requests) == 1
        again = asyncio.run(run_redelivery(clock(), settings))
        assert (again["fanned_out"], again["sent"]) == (0, 0) and len(hook.requests) == 1


def test_alerts_reach_the_department_the_township_and_on_escalation_the_county(county, clock):
    from datetime import timedelta

    from chuishao.flows.sweep import sweep

    api = county
    case = api.to_handling("ENV01")
    svc = api.client.app.state.services
    ws = _socket(api, "sthj_liaison")
    fired = api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, clock() + timedelta(days=14))
    assert [lvl for c, _, lvl in fired if c == case["id"]] == ["warning", "overdue", "escalated"]
    live = [ws.receive_json() for _ in range(3)]
    ws.__exit__(None, None, None)
    assert [(e["kind"], e["action"]) for e in live] == [("alert", "warning"), ("alert", "overdue"),
                                                        ("alert", "escalated")]

    def alerts(who):
        return [n["title"] for n in inbox(api, who) if n["kind"] == "alert"]

    assert eventually(lambda: len(alerts("sthj_liaison")) == 3)
    assert any("红灯超时" in t for t in alerts("sthj_liaison")) and len(alerts("liaison_fc")) == 3
    assert eventually(lambda: alerts("supervisor")) and ["升级督办" in t for t in alerts("supervisor")] == [True]
    assert alerts("zrzy_liaison") == []


def test_an_event_too_large_for_a_notification_still_reaches_the_socket(county, db_url):
    """PostgreSQL's NOTIFY carries the event itself (migration 0017) up to 8000 bytes; a larger one (a long
    headline, many units) is sent by id and read back. Both arrive whole, in order."""
    from sqlalchemy import select

    from chuishao.models.db import make_sync_engine
    from chuishao.models.notifications import Event

    api = county
    ws = _socket(api, "disp_fc")
    case = api.report()
    small = ws.receive_json()
    assert (small["case_id"], small["action"]) == (case["id"], "report")
    engine = make_sync_engine(db_url)
    try:
        with engine.begin() as conn:
            row = conn.execute(select(Event.__table__).where(Event.id == small["id"])).mappings().one()
            big = {**row, "payload": {**row["payload"], "note": "街" * 4000}}  # 12,000 bytes of UTF-8
            big.pop("id")
            conn.execute(Event.__table__.insert(), [big, {**big, "payload": row["payload"]}])
    finally:
        engine.dispose()
    first, second = ws.receive_json(), ws.receive_json()
    ws.__exit__(None, None, None)
    assert first["id"] < second["id"] and first["case_id"] == second["case_id"] == case["id"]
    assert first["payload"]["note"] == "街" * 4000 and "note" not in second["payload"]
    assert first["at"] == second["at"] == small["at"]
