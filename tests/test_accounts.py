"""Accounts (issue 10): deactivating a user, changing their role or unit, or resetting their password ends their
sessions at once — REST tokens, the web session cookie and open WebSockets, in this API process and in
others — and so does signing out; the admin actions for it; case-insensitively unique usernames; the
password policy at every entry point; at most `max_sockets_per_user` sockets per user."""

import threading
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from chuishao.api.web.session import SESSION_COOKIE
from chuishao.flows.admin import AdminService, Passwords, bootstrap, password_problem
from chuishao.flows.demo.county import DEMO_PASSWORD
from chuishao.flows.errors import Invalid
from chuishao.flows.units import UnitDirectory
from chuishao.models.db import Database, make_sync_engine
from chuishao.models.migrate import upgrade
from tests.conftest import ADMIN_PASSWORD, START, bootstrap_settings
from tests.county import PASSWORD, Api, table_rows
from tests.test_web_admin import Browserish
from tests.test_webhook_secrets import blank_db  # noqa: F401  (an empty database of each kind)

NEW_PASSWORD = "Tudi-2026-zhifa"


def staff(api: Api) -> Api:
    """Two departments and two of their people, beside the admin."""
    admin = api.as_("admin")
    for code, name in (("ZRZY", "自然资源局"), ("STHJ", "生态环境分局")):
        assert admin.post("/api/v1/units", json={"code": code, "name": name, "kind": "department",
                                                 "parent": "WS"}).status_code == 201
    for username, role, unit in (("zrzy_off1", "department_officer", "ZRZY"),
                                 ("sthj_liaison", "department_liaison", "STHJ")):
        r = admin.post("/api/v1/users", json={"username": username, "password": PASSWORD, "name": username,
                                              "role": role, "unit": unit})
        assert r.status_code == 201, r.text
    return api


@pytest.fixture
def site(db_url, tmp_path, clock):
    """One API process whose session watch would only come round after a minute: whatever closes a socket
    sooner was done at once by the action itself."""
    settings = bootstrap_settings(db_url, tmp_path, clock, session_recheck_seconds=60)
    with TestClient(create_app(settings, clock)) as c:
        yield staff(Api(c, ADMIN_PASSWORD, settings))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def receive_within(ws, seconds: float = 10.0) -> dict:
    """The socket's next message, or fail after `seconds` (the test client's receive has no timeout)."""
    got: list = []
    reader = threading.Thread(target=lambda: got.append(ws.receive()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert got, f"nothing arrived on the socket within {seconds} s"
    return got[0]


def socket(client: TestClient, token: str):
    ws = client.websocket_connect(f"/api/v1/ws?token={token}")
    assert ws.__enter__().receive_json()["type"] == "hello"
    return ws


def ended(ws) -> tuple[dict, int]:
    """(the error frame, the close code) of a socket the server closes."""
    import json

    frame = receive_within(ws)
    close = receive_within(ws)
    assert close["type"] == "websocket.close", close
    ws.__exit__(None, None, None)
    return json.loads(frame["text"]), close["code"]


def web_session(api: Api, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; the session cookie's token."""
    Browserish(api.client).login(username, password)
    return api.client.cookies.get(SESSION_COOKIE)


def page_with(api: Api, cookie: str, path: str = "/inbox"):
    api.client.cookies.set(SESSION_COOKIE, cookie)
    try:
        return api.client.get(path, follow_redirects=False)
    finally:
        api.client.cookies.delete(SESSION_COOKIE)


def signed_out(api: Api, token: str, cookie: str) -> None:
    r = api.client.get("/api/v1/me", headers=bearer(token))
    assert r.status_code == 401 and "重新登录" in r.json()["error"]["message"], r.text
    r = page_with(api, cookie)
    assert r.status_code == 303 and r.headers["location"].startswith("/?next="), r.text


# ---- revocation ---------------------------------------------------------------------------------------------
def test_deactivating_a_user_ends_their_token_web_session_and_socket_at_once(site):
    api = site
    token = api.token("zrzy_off1")
    cookie = web_session(api, "zrzy_off1")
    assert page_with(api, cookie).status_code == 200
    ws = socket(api.client, token)

    r = api.as_("admin").post("/api/v1/users/zrzy_off1/deactivate")
    assert r.status_code == 200 and r.json()["active"] is False

    frame, code = ended(ws)  # long before the minute-long watch: the action closed it
    assert code == 4401 and "重新登录" in frame["error"]["message"]
    signed_out(api, token, cookie)
    assert api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": PASSWORD}) \
        .status_code == 401
    assert api.as_("sthj_liaison").get("/api/v1/me").status_code == 200  # nobody else's session ended

    r = api.as_("admin").post("/api/v1/users/zrzy_off1/reactivate")
    assert r.status_code == 200 and r.json()["active"] is True
    assert api.client.get("/api/v1/me", headers=bearer(token)).status_code == 401  # ended sessions stay ended
    fresh = api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": PASSWORD})
    assert api.client.get("/api/v1/me", headers=bearer(fresh.json()["access_token"])).status_code == 200


@pytest.mark.parametrize(("change", "new_password"), [
    (lambda admin: admin.patch("/api/v1/users/zrzy_off1", json={"role": "department_liaison"}), PASSWORD),
    (lambda admin: admin.patch("/api/v1/users/zrzy_off1", json={"unit": "STHJ"}), PASSWORD),
    (lambda admin: admin.post("/api/v1/users/zrzy_off1/password", json={"password": NEW_PASSWORD}), NEW_PASSWORD),
], ids=["role", "unit", "password"])
def test_a_new_role_unit_or_password_ends_the_users_sessions(site, change, new_password):
    api = site
    token, cookie = api.token("zrzy_off1"), web_session(api, "zrzy_off1")
    ws = socket(api.client, token)
    r = change(Patcher(api.as_("admin")))
    assert r.status_code == 200, r.text
    assert ended(ws)[1] == 4401
    signed_out(api, token, cookie)
    fresh = api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": new_password})
    assert fresh.status_code == 200, fresh.text
    me = api.client.get("/api/v1/me", headers=bearer(fresh.json()["access_token"])).json()
    assert (me["role"], me["unit"]) == (r.json()["role"], r.json()["unit"])  # the new token carries the change


def test_other_changes_keep_the_session(site):
    api = site
    token = api.token("zrzy_off1")
    r = Patcher(api.as_("admin")).patch("/api/v1/users/zrzy_off1", json={"name": "赵执法", "phone": "13800000000",
                                                                         "role": "department_officer"})
    assert r.status_code == 200 and r.json()["name"] == "赵执法"
    assert api.client.get("/api/v1/me", headers=bearer(token)).status_code == 200


class Patcher:
    """`As` with PATCH (tests/county.py's client sends GET, POST and PUT)."""

    def __init__(self, who):
        self.who = who

    def __getattr__(self, name):
        return getattr(self.who, name)

    def patch(self, url, **kw):
        return self.who._send("patch", url, **kw)


def test_sessions_ended_in_one_api_process_close_sockets_in_another_within_a_second(db_url, tmp_path, clock):
    """Two API processes on one database (as in the PostgreSQL scale-out): the admin acts through A, the user's
    socket is held by B, whose watch re-checks its sockets' sessions every `session_recheck_seconds`."""
    settings = bootstrap_settings(db_url, tmp_path, clock, session_recheck_seconds=1.0)
    with TestClient(create_app(settings, clock)) as a, TestClient(create_app(settings, clock)) as b:
        api = staff(Api(a, ADMIN_PASSWORD, settings))
        token = api.token("zrzy_off1")
        ws = socket(b, token)
        began = time.monotonic()
        assert api.as_("admin").post("/api/v1/users/zrzy_off1/deactivate").status_code == 200
        assert ended(ws)[1] == 4401
        print(f"closed in the other process after {time.monotonic() - began:.2f} s")  # a figure, not a test
        assert b.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_signing_out_ends_the_token_and_its_sockets_on_rest_and_on_the_web(site):
    api = site
    token = api.token("zrzy_off1")
    other = api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": PASSWORD})
    other = other.json()["access_token"]  # the same person on another device
    ws = socket(api.client, token)
    r = api.client.post("/api/v1/auth/logout", headers=bearer(token))
    assert r.status_code == 204
    assert ended(ws)[1] == 4401
    assert api.client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert api.client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 401
    assert api.client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # only that session ended

    web = Browserish(api.client)
    web.login("zrzy_off1")
    cookie = api.client.cookies.get(SESSION_COOKIE)
    ws = socket(api.client, cookie)
    r = web.post("/logout")
    assert r.status_code == 303 and not api.client.cookies.get(SESSION_COOKIE)
    assert ended(ws)[1] == 4401
    assert page_with(api, cookie).status_code == 303  # a copy of the cookie no longer works
    assert api.client.get("/api/v1/me", headers=bearer(cookie)).status_code == 401


# ---- admin actions ----------------------------------------------------------------------------------------
def test_account_actions_are_for_admins_and_keep_an_active_admin(site):
    api = site
    admin = Patcher(api.as_("admin"))
    for path in ("/api/v1/users/sthj_liaison/deactivate", "/api/v1/users/sthj_liaison/reactivate"):
        assert api.as_("zrzy_off1").post(path).status_code == 403
    assert api.as_("zrzy_off1").post("/api/v1/users/sthj_liaison/password",
                                     json={"password": NEW_PASSWORD}).status_code == 403
    assert api.as_("sthj_liaison").get("/api/v1/me").status_code == 200  # none of it ended anything

    r = admin.post("/api/v1/users/admin/deactivate")
    assert r.status_code == 422 and "自己" in r.json()["error"]["message"]
    r = admin.patch("/api/v1/users/admin", json={"role": "county_supervisor"})
    assert r.status_code == 422 and "自己" in r.json()["error"]["message"]
    assert admin.post("/api/v1/users/nobody/deactivate").status_code == 404
    assert admin.post("/api/v1/users/nobody/password", json={"password": NEW_PASSWORD}).status_code == 404
    assert admin.post("/api/v1/users/..%2F/deactivate").status_code in (404, 422)
    assert admin.get("/api/v1/me").status_code == 200

    r = admin.post("/api/v1/users", json={"username": "admin2", "password": NEW_PASSWORD, "name": "二号管理员",
                                          "role": "admin", "unit": "WS"})
    assert r.status_code == 201
    second = api.client.post("/api/v1/auth/token", data={"username": "admin2", "password": NEW_PASSWORD})
    second = bearer(second.json()["access_token"])
    assert api.client.post("/api/v1/users/admin/deactivate", headers=second).status_code == 200
    r = api.client.post("/api/v1/users/admin2/deactivate", headers=second)  # the last active admin
    assert r.status_code == 422 and r.json()["error"]["code"] in ("self", "last_admin")


# ---- usernames --------------------------------------------------------------------------------------------
def test_usernames_are_unique_whatever_their_letter_case_and_sign_in_ignores_it(site):
    api = site
    admin = api.as_("admin")
    for name in ("ZRZY_OFF1", "Zrzy_Off1", "ADMIN"):
        r = admin.post("/api/v1/users", json={"username": name, "password": NEW_PASSWORD, "name": "重名",
                                              "role": "department_officer", "unit": "ZRZY"})
        assert r.status_code == 409, r.text
        assert "已被使用" in r.json()["error"]["message"] and "大小写" in r.json()["error"]["message"]
    users = admin.get("/api/v1/users").json()
    assert sorted(u["username"] for u in users) == ["admin", "sthj_liaison", "zrzy_off1"]
    r = api.client.post("/api/v1/auth/token", data={"username": "ZRZY_OFF1", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["username"] == "zrzy_off1"  # one account, any letter case

    web = Browserish(api.client)
    web.login("admin", ADMIN_PASSWORD)
    r = web.post("/admin/users", {"username": "Zrzy_off1", "password": NEW_PASSWORD, "name": "重名",
                                  "role": "department_officer", "unit": "ZRZY"})
    assert r.status_code == 422 and "已有用户 zrzy_off1" in r.text


def test_the_upgrade_stops_on_usernames_that_differ_only_by_case_and_keeps_them(blank_db):  # noqa: F811
    upgrade(blank_db, "0008")
    engine = make_sync_engine(blank_db)
    insert = sa.text("INSERT INTO users (id, username, password_hash, name, role, unit_id, active, created_at) "
                     "VALUES (:i, :u, 'x', 'n', 'admin', 1, true, '2026-11-01 00:00:00')")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO units (id, code, name, kind, created_at) "
                                 "VALUES (1, 'WS', '文水县', 'county', '2026-11-01 00:00:00')"))
            for i, name in ((1, "admin"), (2, "Admin"), (3, "zhang")):
                conn.execute(insert, {"i": i, "u": name})
        with pytest.raises(Exception, match=r"Admin \(id 2\)") as refused:
            upgrade(blank_db)
        assert "admin (id 1)" in str(refused.value) and "zhang" not in str(refused.value)
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT username FROM users ORDER BY id")).scalars().all() == \
                ["admin", "Admin", "zhang"]
            conn.execute(sa.text("UPDATE users SET username = 'admin_old' WHERE id = 2"))
        upgrade(blank_db)  # the operator renamed one: the upgrade goes through
        with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
            conn.execute(insert, {"i": 4, "u": "ZHANG"})
    finally:
        engine.dispose()


# ---- password policy ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("password", "why"), [
    ("password", "常见"),
    (" " * 8, "重复"),
    (DEMO_PASSWORD, "演示密码"),
    ("1qaz2wsx3edc", "常见"),
    ("qwertyuiop", "常见"),
    ("19900101ab", "日期"),
    ("abcabcabcabc", "重复"),
    ("zrzy_off9-pass", "用户名"),
    ("short", "至少 8 位"),
    ("x" * 129, "最多 128 位"),
])
def test_the_password_policy_says_why(password, why):
    zh, en = password_problem(password, "zrzy_off9")
    assert why in zh and en


def test_every_entry_point_refuses_weak_passwords_and_creates_nothing(site, db_url, tmp_path, clock):
    api = site
    admin = api.as_("admin")
    for weak in ("password", " " * 8, DEMO_PASSWORD):
        r = admin.post("/api/v1/users", json={"username": "new_one", "password": weak, "name": "新人",
                                              "role": "department_officer", "unit": "ZRZY"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password", r.text
        r = admin.post("/api/v1/users/zrzy_off1/password", json={"password": weak})
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password", r.text
    assert "new_one" not in {u["username"] for u in admin.get("/api/v1/users").json()}
    assert api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": PASSWORD}) \
        .status_code == 200  # the old password still works: nothing was reset

    web = Browserish(api.client)
    web.login("admin", ADMIN_PASSWORD)
    r = web.post("/admin/users/zrzy_off1/password", {"new_password": "password"})
    assert r.status_code == 422 and "常见" in r.text
    r = web.post("/admin/users/zrzy_off1/password", {"new_password": NEW_PASSWORD})
    assert r.status_code == 303 and "done=password" in r.headers["location"]
    assert api.client.post("/api/v1/auth/token", data={"username": "zrzy_off1", "password": NEW_PASSWORD}) \
        .status_code == 200

    # `chuishao init` (and the demo) go through bootstrap: a weak admin password leaves an empty database
    import asyncio

    async def init(url: str, password: str):
        db = Database(url)
        try:
            return await bootstrap(AdminService(db, UnitDirectory(), Passwords(1, 8192)), county_code="XX",
                                   county_name="某县", admin_password=password, now=START)
        finally:
            await db.dispose()

    path = tmp_path / "fresh.db"
    upgrade(f"sqlite:///{path}")
    with pytest.raises(Invalid, match="常见"):
        asyncio.run(init(f"sqlite:///{path}", "password"))
    engine = make_sync_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM units")).scalar() == 0
    finally:
        engine.dispose()


# ---- sockets per user ---------------------------------------------------------------------------------------
def test_a_user_may_hold_only_so_many_sockets(db_url, tmp_path, clock):
    settings = bootstrap_settings(db_url, tmp_path, clock, max_sockets_per_user=3)
    with TestClient(create_app(settings, clock)) as c:
        api = staff(Api(c, ADMIN_PASSWORD, settings))
        token = api.token("zrzy_off1")
        held = [socket(c, token) for _ in range(3)]
        with c.websocket_connect(f"/api/v1/ws?token={token}") as extra:
            error = extra.receive_json()["error"]
            assert error["code"] == "too_many_sockets" and "最多同时打开 3 个" in error["message"]
            assert extra.receive()["code"] == 4429
        other = socket(c, api.token("sthj_liaison"))  # someone else is not affected
        held.pop().__exit__(None, None, None)
        live, uid = c.app.state.live, c.get("/api/v1/users/zrzy_off1", headers=bearer(api.token("admin"))).json()["id"]
        deadline = time.monotonic() + 10
        while len(live.sockets.get(uid, ())) >= 3 and time.monotonic() < deadline:  # the server sees the close
            time.sleep(0.02)
        again = socket(c, token)  # a closed socket frees its place
        for ws in (*held, other, again):
            ws.__exit__(None, None, None)


def test_a_signed_out_token_can_neither_act_nor_report_and_changes_nothing(county):
    """The action and report routes check the session inside their own transaction (issue 13): a token whose
    session has ended is refused there with 401 before anything is written — also when the report repeats an
    idempotency key the person used before."""
    api = county
    case = api.report(who="gw_fc1", title="东街乱堆放")
    token = api.token("disp_fc")
    keyed = api.client.post("/api/v1/cases", headers=bearer(api.token("gw_fc1")) | {"Idempotency-Key": "k-1"},
                            json={"title": "西街占道", "description": "早市摊位"})
    assert keyed.status_code == 201, keyed.text
    gw = api.token("gw_fc1")
    assert api.client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert api.client.post("/api/v1/auth/logout", headers=bearer(gw)).status_code == 204
    engine = make_sync_engine(api.settings.url)
    try:
        before = table_rows(engine)
        r = api.client.post(f"/api/v1/cases/{case['id']}/actions/accept", headers=bearer(token),
                            json={"category": "LAND01"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
        r = api.client.post("/api/v1/cases", headers=bearer(gw), json={"title": "北街占道", "description": "夜市"})
        assert r.status_code == 401, r.text
        r = api.client.post("/api/v1/cases", headers=bearer(gw) | {"Idempotency-Key": "k-1"},
                            json={"title": "西街占道", "description": "早市摊位"})
        assert r.status_code == 401, r.text  # not the earlier case, replayed
        assert table_rows(engine) == before
    finally:
        engine.dispose()
