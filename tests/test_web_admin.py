"""The admin pages without a browser: each form's checks, what it saves, and who may post it (SQLite only; the
browser tests in tests/ui/test_admin.py cover the pages as people use them)."""

import re
import shutil

import pytest
from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from chuishao.api.web.admin import duration_words, limit_rows
from chuishao.flows import bulletin
from chuishao.flows.admin import weak_password
from chuishao.flows.errors import Invalid
from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
from tests.county import PASSWORD, Api, build_county


class Browserish:
    """A TestClient that signs in through the login form and posts forms with the CSRF token, as a browser does."""

    def __init__(self, client: TestClient):
        self.c = client

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.c.cookies.clear()
        self.c.get("/")
        r = self.c.post("/", data={"username": username, "password": password, "csrftoken": self.token()},
                        follow_redirects=False)
        assert r.status_code == 303, r.text

    def token(self) -> str:
        return self.c.cookies.get("csrftoken") or ""

    def get(self, url: str):
        return self.c.get(url, follow_redirects=False)

    def post(self, url: str, data: dict | None = None, files=None):
        return self.c.post(url, data={**(data or {}), "csrftoken": self.token()}, files=files,
                           follow_redirects=False)


@pytest.fixture
def site(tmp_path, sqlite_template, clock):
    path = tmp_path / "chuishao.db"
    shutil.copy(sqlite_template, path)
    settings = bootstrap_settings(f"sqlite:///{path}", tmp_path, clock)
    app = create_app(settings, clock)
    with TestClient(app) as c:
        api = Api(c, ADMIN_PASSWORD, settings)
        build_county(api)
        web = Browserish(c)
        web.login("admin", ADMIN_PASSWORD)
        yield web, api, app


def call(web: Browserish, fn, *args):
    """Run a service coroutine on the app's own event loop (its database connections live there)."""
    return web.c.portal.call(fn, *args)


def beside(html: str, field: str) -> str:
    """The error message shown beside one field (`<p class="field-error" id="e-<field>">`)."""
    m = re.search(rf'id="e-{re.escape(field)}"><span class="visually-hidden">错误：</span>([^<]*)</p>', html)
    return m.group(1) if m else ""


# ---- pure helpers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("password", "refused"), [
    ("short", "至少 8 位"),
    ("password", "常见"),
    ("aaaaaaaaaa", "同一两个字符"),
    ("abababab", "同一两个字符"),
    ("abcdefghi", "连续"),
    ("98765432", "连续"),
    ("20261116", "全是数字"),
    ("zrzy_off9-pass", "用户名"),
    ("Tudi-2026-zhifa", None),
    ("secret-pass-1", None),
])
def test_weak_passwords_are_refused_with_a_reason(password, refused):
    reason = weak_password(password, "zrzy_off9")
    assert (reason is None) if refused is None else (refused in reason)


def test_limits_read_as_people_say_them_with_the_defaults_filled_in():
    assert duration_words("2h", "normal") == "2 工作小时"
    assert duration_words("1d", "normal") == "1 工作日"
    assert duration_words("30m", "urgent") == "30 分钟"
    assert duration_words("1d", "urgent") == "1 天"
    rows = {r["clock"]: r for r in limit_rows({"handle": {"normal": "3d"}}, None)}
    assert (rows["accept"]["normal_text"], rows["accept"]["urgent_text"]) == ("2 工作小时", "30 分钟")
    assert (rows["handle"]["normal_text"], rows["handle"]["normal_set"]) == ("3 工作日", True)
    assert (rows["handle"]["urgent_text"], rows["handle"]["urgent_set"]) == ("24 小时", False)
    over = {r["clock"]: r for r in limit_rows({"handle": {"normal": "1d"}}, {"handle": {"normal": "3d"}})}
    assert over["handle"]["normal"] == "1d"  # the township's override wins over the item


# ---- pages ------------------------------------------------------------------------------------------------
def test_overview_counts_what_the_admin_keeps(site):
    web, api, _ = site
    html = web.get("/admin").text
    assert re.search(r'<div class="n">11</div><div class="l">单位</div>', html)  # county + 10 units
    assert re.search(r'<div class="n">18</div><div class="l">在用账号', html)  # admin + 17
    assert re.search(r'<div class="n">4</div><div class="l">清单事项', html)
    assert "投递失败的外部通知" in html


def test_the_scorecard_form_saves_what_the_bulletin_reads_and_refuses_bad_weights(site):
    web, api, app = site
    weights = {"check_in": "40", "on_time": "30", "closure": "10", "returns": "5", "rework": "5",
               "satisfaction": "5", "rating": "5"}
    r = web.post("/admin/scorecard", {**weights, "list_min_whistles": "3"})
    assert r.status_code == 303 and "done=scorecard" in r.headers["location"]
    kept = call(web, bulletin.scorecard_settings, app.state.services.db)
    assert kept["weights"]["check_in"] == 40 and kept["list_min_whistles"] == 3
    assert 'value="40"' in web.get("/admin/scorecard").text

    zeros = web.post("/admin/scorecard", {**{k: "0" for k in weights}, "list_min_whistles": "3"})
    assert zeros.status_code == 422 and "权重不能全为 0" in zeros.text
    bad = web.post("/admin/scorecard", {**weights, "on_time": "101", "list_min_whistles": "-1"})
    assert bad.status_code == 422
    assert beside(bad.text, "on_time") == "按期办结率须为 0–100 之间的整数"
    assert "红黑榜最少接哨数须为 0–10000 之间的整数" in beside(bad.text, "list_min_whistles")
    assert call(web, bulletin.scorecard_settings, app.state.services.db) == kept  # nothing changed

    rest = api.as_("admin").put("/api/v1/settings/scorecard", json={"weights": {"rating": 0}})
    assert rest.status_code == 200 and rest.json()["weights"]["rating"] == 0 and rest.json()["list_min_whistles"] == 5


def test_units_form_builds_a_grid_and_refuses_a_misplaced_unit(site):
    web, api, _ = site
    polygon = '{"type": "Polygon", "coordinates": [[[112.2, 37.4], [112.3, 37.4], [112.3, 37.5], [112.2, 37.4]]]}'
    r = web.post("/admin/units", {"name": "凤城镇北街网格", "code": "FC-G3", "kind": "grid", "parent": "FC",
                                  "polygon": polygon})
    assert r.status_code == 303
    units = {u["code"]: u for u in api.as_("admin").get("/api/v1/units").json()}
    assert units["FC-G3"]["parent"] == "FC" and units["FC-G3"]["polygon"]["type"] == "Polygon"

    bad = web.post("/admin/units", {"name": "执法队", "code": "FC-G1", "kind": "team", "parent": "WS",
                                    "polygon": "{not json"})
    assert bad.status_code == 422
    assert "已被「凤城镇东街网格」使用" in beside(bad.text, "code")
    assert beside(bad.text, "parent") == "乡镇综合行政执法队的上级须为乡镇/街道"
    assert beside(bad.text, "polygon") == "只有网格可以填写范围，请清空"
    assert len(api.as_("admin").get("/api/v1/units").json()) == len(units)


def test_catalog_form_creates_an_item_with_its_limits_and_explains_a_bad_limit(site):
    web, api, _ = site
    bad = web.post("/admin/catalog", {"code": "NOISE01", "name": "噪声扰民", "category": "环境/噪声",
                                      "limit_handle_normal": "5 days", "assist_units": "ZJJ"})
    assert bad.status_code == 422
    assert beside(bad.text, "lead_unit") == "非赋权乡镇的事项须指定主办单位"
    assert "30m、2h、1d" in beside(bad.text, "limit_handle_normal")
    r = web.post("/admin/catalog", {"code": "NOISE01", "name": "噪声扰民", "category": "环境/噪声",
                                    "lead_unit": "STHJ", "assist_units": "ZJJ", "enforcement": "1",
                                    "limit_handle_normal": "3D", "limit_accept_urgent": "15m"})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/catalog/NOISE01/townships")
    item = next(i for i in api.as_("admin").get("/api/v1/catalog").json() if i["code"] == "NOISE01")
    assert (item["lead_unit"], item["assist_units"], item["enforcement"], item["devolved"]) == (
        "STHJ", ["ZJJ"], True, False)
    assert item["limits"] == {"handle": {"normal": "3d"}, "accept": {"urgent": "15m"}}
    page = web.get("/admin/catalog?q=NOISE").text
    assert "办理 3 工作日 / 紧急 24 小时" in page and "受理 2 工作小时 / 紧急 15 分钟" in page


def test_an_api_key_is_shown_once_works_on_open311_and_stops_working_when_revoked(site):
    web, api, _ = site
    r = web.post("/admin/api-keys", {"name": "hotline-12345", "unit": "WS", "townships": ["FC", "LHL"],
                                     "source": "hotline"})
    assert r.status_code == 201 and "请立即复制，此后不再显示" in r.text
    key = re.search(r'id="issued-key"[^>]*>(o311_[^<]+)</p>', r.text).group(1)
    listing = web.get("/admin/api-keys").text
    assert key not in listing and "hotline-12345" in listing and "凤城镇、刘胡兰镇" in listing
    assert api.client.get(f"/open311/v2/requests.json?api_key={key}").status_code == 200

    dup = web.post("/admin/api-keys", {"name": "hotline-12345", "unit": "WS", "townships": "FC",
                                       "source": "hotline"})
    assert dup.status_code == 422 and "已有名为 hotline-12345 的密钥" in beside(dup.text, "name")
    assert web.post("/admin/api-keys", {"name": "x y", "unit": "WS", "source": "hotline"}).status_code == 422

    revoked = web.post("/admin/api-keys/hotline-12345/revoke")
    assert revoked.status_code == 303
    assert "已停用" in web.get("/admin/api-keys").text
    assert api.client.get(f"/open311/v2/requests.json?api_key={key}").status_code == 403


def test_importing_a_year_makes_it_official_and_hours_are_checked(site):
    web, api, _ = site
    assert "暂定" in web.get("/admin/calendar?year=2027").text
    csv = "date,kind,name\n2027-10-01,holiday,国庆节\n2027-10-09,workday,国庆节调休\n".encode()
    r = web.post("/admin/calendar/import?year=2027", files={"schedule": ("2027.csv", csv, "text/csv")})
    assert r.status_code == 303 and "year=2027" in r.headers["location"]
    page = web.get("/admin/calendar?year=2027").text
    assert 'class="tag tag-warn">暂定' not in page
    assert re.search(r'data-date="2027-10-09" data-kind="workday"', page)

    two_years = b"date,kind\n2027-10-01,holiday\n2028-10-01,holiday\n"
    bad = web.post("/admin/calendar/import", files={"schedule": ("x.csv", two_years, "text/csv")})
    assert bad.status_code == 422 and "一次只能导入一个年度" in beside(bad.text, "schedule")
    empty = web.post("/admin/calendar/import", files={"schedule": ("", b"", "text/csv")})
    assert empty.status_code == 422 and "请选择" in beside(empty.text, "schedule")

    hours = web.post("/admin/calendar/hours", {"start0": "09:00", "end0": "12:00", "start1": "11:00",
                                                "end1": "17:00"})
    assert hours.status_code == 422 and "上一个时段结束之后" in hours.text
    ok = web.post("/admin/calendar/hours", {"start0": "08:30", "end0": "12:00", "start1": "14:00", "end1": "17:30"})
    assert ok.status_code == 303
    assert api.as_("admin").get("/api/v1/calendar/2026").json()["hours"] == [["08:30", "12:00"], ["14:00", "17:30"]]


def test_editing_a_user_keeps_roles_and_units_consistent_and_the_last_admin_stays(site):
    web, api, app = site
    page = web.get("/admin/users?unit=ZRZY").text
    assert re.search(r"zrzy_off3.*?已过期", page, re.S)  # expired 2026-11-01; today is 2026-11-16

    r = web.post("/admin/users/zrzy_off3/edit", {"name": "zrzy_off3", "role": "department_officer", "unit": "ZRZY",
                                                 "certificate_no": "晋执-0003", "certificate_expires": "2029-12-31"})
    assert r.status_code == 303
    user = next(u for u in api.as_("admin").get("/api/v1/users").json() if u["username"] == "zrzy_off3")
    assert user["certificate_expires"] == "2029-12-31"

    bad = web.post("/admin/users/zrzy_off3/edit", {"name": "zrzy_off3", "role": "grid_worker", "unit": "ZRZY"})
    assert bad.status_code == 422 and "网格员须属于网格" in beside(bad.text, "unit")

    own = web.post("/admin/users/admin/active", {"active": "0"})
    assert own.status_code == 422 and "不能停用自己正在使用的账号" in own.text
    with pytest.raises(Invalid, match="最后一个管理员"):
        call(web, app.state.services.admin.set_active, "admin", False, app.state.services.clock())
    assert web.get("/admin/users/nobody/edit").status_code == 404


ADMIN_FORMS = ["/admin/units", "/admin/users", "/admin/users/gw_fc1/edit", "/admin/users/gw_fc1/active",
               "/admin/catalog", "/admin/catalog/LAND01/townships", "/admin/calendar/days", "/admin/calendar/hours",
               "/admin/api-keys", "/admin/api-keys/x/revoke", "/admin/scorecard"]


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_no_one_but_the_admin_may_post_an_admin_form(site, path):
    web, api, _ = site
    web.login("supervisor")
    r = web.post(path, {"active": "0", "name": "x"})
    assert r.status_code == 403 and "仅管理员可访问此页面" in r.text
    assert next(u for u in api.as_("admin").get("/api/v1/users").json() if u["username"] == "gw_fc1")["active"]


def test_a_value_that_is_not_one_of_the_choices_is_refused_beside_its_field(site):
    """A forged or stale select (a role, unit or township no longer offered) is a 422, never a crash."""
    web, api, app = site
    users_before = len(api.as_("admin").get("/api/v1/users").json())
    r = web.post("/admin/users", {"username": "x_new", "password": "Tq7-hard-to-guess-9", "name": "x",
                                  "role": "superuser", "unit": "NOWHERE"})
    assert r.status_code == 422
    assert "请从列表中选择" in beside(r.text, "role") and "请从列表中选择" in beside(r.text, "unit")
    r = web.post("/admin/users/zrzy_off1/edit", {"name": "zrzy_off1", "role": "superuser", "unit": "ZRZY"})
    assert r.status_code == 422 and "请从列表中选择" in beside(r.text, "role")
    r = web.post("/admin/catalog/LAND01/townships", {"township": "NOPE", "lead_unit": "X", "assist_mode": "inherit"})
    assert r.status_code == 422 and "请从列表中选择" in beside(r.text, "township")
    assert len(api.as_("admin").get("/api/v1/users").json()) == users_before
