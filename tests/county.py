"""A small test county built through the admin API, and a client that acts as any of its users."""

import sys
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chuishao.models import metadata
from chuishao.models.notifications import Event

PASSWORD = "secret-pass-1"
CHUISHAO_CLI = (sys.executable, "-m", "chuishao.api.cli")  # the `chuishao` command of this interpreter

GRID_POLYGON = {"type": "Polygon", "coordinates": [[[112.00, 37.40], [112.10, 37.40], [112.10, 37.50],
                                                     [112.00, 37.50], [112.00, 37.40]]]}

UNITS = [
    {"code": "FC", "name": "凤城镇", "kind": "township", "parent": "WS"},
    {"code": "LHL", "name": "刘胡兰镇", "kind": "township", "parent": "WS"},
    {"code": "FC-G1", "name": "凤城镇东街网格", "kind": "grid", "parent": "FC", "polygon": GRID_POLYGON},
    {"code": "FC-G2", "name": "凤城镇西街网格", "kind": "grid", "parent": "FC"},
    {"code": "LHL-G1", "name": "刘胡兰村网格", "kind": "grid", "parent": "LHL"},
    {"code": "FC-ZFD", "name": "凤城镇综合行政执法队", "kind": "team", "parent": "FC"},
    {"code": "ZRZY", "name": "自然资源局", "kind": "department", "parent": "WS"},
    {"code": "STHJ", "name": "生态环境分局", "kind": "department", "parent": "WS"},
    {"code": "ZJJ", "name": "住房和城乡建设局", "kind": "department", "parent": "WS"},
    {"code": "SCJG", "name": "市场监督管理局", "kind": "department", "parent": "WS"},
]

CATALOG = [
    {"code": "LAND01", "name": "违法占地", "category": "国土/违法占地", "lead_unit": "ZRZY",
     "assist_units": ["ZJJ"], "enforcement": True},
    {"code": "ENV01", "name": "秸秆焚烧", "category": "环境/秸秆焚烧", "lead_unit": "STHJ"},
    {"code": "STALL01", "name": "占道经营", "category": "市容/占道经营", "devolved": True},
    {"code": "MKT01", "name": "食品摊贩", "category": "市场/食品安全", "lead_unit": "SCJG"},
]

LEAD_LIAISON = {"LAND01": "zrzy_liaison", "ENV01": "sthj_liaison", "MKT01": "scjg_liaison", "STALL01": "team_fc"}

# username: (role, unit, certificate_no, certificate_expires)
USERS = {
    "gw_fc1": ("grid_worker", "FC-G1", None, None),
    "gw_fc2": ("grid_worker", "FC-G2", None, None),
    "gw_lhl": ("grid_worker", "LHL-G1", None, None),
    "disp_fc": ("township_dispatcher", "FC", None, None),
    "liaison_fc": ("township_liaison", "FC", None, None),
    "disp_lhl": ("township_dispatcher", "LHL", None, None),
    "liaison_lhl": ("township_liaison", "LHL", None, None),
    "zrzy_liaison": ("department_liaison", "ZRZY", None, None),
    "zrzy_off1": ("department_officer", "ZRZY", "晋执-0001", "2028-12-31"),
    "zrzy_off2": ("department_officer", "ZRZY", "晋执-0002", "2027-06-30"),
    "zrzy_off3": ("department_officer", "ZRZY", "晋执-0003", "2026-11-01"),  # expired
    "sthj_liaison": ("department_liaison", "STHJ", None, None),
    "sthj_off": ("department_officer", "STHJ", None, None),
    "zjj_liaison": ("department_liaison", "ZJJ", None, None),
    "scjg_liaison": ("department_liaison", "SCJG", None, None),
    "team_fc": ("department_liaison", "FC-ZFD", None, None),
    "supervisor": ("county_supervisor", "WS", None, None),
}


class Api:
    """Acts as a named user: `api.as_("disp_fc").post(...)`. Logs in once per user."""

    def __init__(self, client: TestClient, admin_password: str, settings=None):
        self.client = client
        self.settings = settings
        self._tokens: dict[str, str] = {}
        self._passwords = {"admin": admin_password}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = self.client.post("/api/v1/auth/token",
                                 data={"username": username, "password": self._passwords.get(username, PASSWORD)})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    def as_(self, username: str) -> "As":
        return As(self, username)

    # the loop's steps, for tests that only need to get a case somewhere
    def report(self, who="gw_fc1", **fields) -> dict:
        body = {"title": "东街有人私搭乱建", "description": "东街 12 号院内新建砖房", **fields}
        r = self.as_(who).post("/api/v1/cases", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, who: str, case_id: int, action: str, body: dict | None = None, expect: int = 200, **kw):
        r = self.as_(who).post(f"/api/v1/cases/{case_id}/actions/{action}", json=body or {}, **kw)
        assert r.status_code == expect, f"{action} by {who}: {r.status_code} {r.text}"
        return r.json()

    def get(self, who: str, case_id: int) -> dict:
        r = self.as_(who).get(f"/api/v1/cases/{case_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def to_dispatched(self, category="LAND01", **fields) -> dict:
        case = self.report(**fields)
        self.act("disp_fc", case["id"], "accept", {"category": category})
        return self.act("disp_fc", case["id"], "dispatch")

    def to_handling(self, category="LAND01") -> dict:
        case = self.to_dispatched(category)
        return self.act(LEAD_LIAISON[category], case["id"], "check_in")

    def to_feedback(self) -> dict:
        case = self.to_handling()
        return self.act("zrzy_off1", case["id"], "feedback",
                        {"outcome": "resolved", "result": "已拆除违建", "officers": ["zrzy_off1", "zrzy_off2"]})


class As:
    def __init__(self, api: Api, username: str):
        self.api, self.username = api, username

    def _h(self, kw):
        headers = dict(kw.pop("headers", {}) or {})
        headers["Authorization"] = f"Bearer {self.api.token(self.username)}"
        return headers

    def _send(self, method, url, **kw):
        extra = dict(kw.get("headers") or {})
        r = getattr(self.api.client, method)(url, headers=self._h(kw), **kw)
        if r.status_code == 401 and "过期" in r.text:  # tests move the clock past the token's life: log in again
            self.api._tokens.pop(self.username, None)
            r = getattr(self.api.client, method)(url, headers=self._h({"headers": extra}), **kw)
        return r

    def get(self, url, **kw):
        return self._send("get", url, **kw)

    def post(self, url, **kw):
        return self._send("post", url, **kw)

    def put(self, url, **kw):
        return self._send("put", url, **kw)


def build_county(api: Api) -> None:
    admin = api.as_("admin")
    for unit in UNITS:
        r = admin.post("/api/v1/units", json=unit)
        assert r.status_code == 201, r.text
    for item in CATALOG:
        r = admin.post("/api/v1/catalog", json=item)
        assert r.status_code == 201, r.text
    for username, (role, unit, cert, expires) in USERS.items():
        body = {"username": username, "password": PASSWORD, "name": username, "role": role, "unit": unit}
        if cert:
            body |= {"certificate_no": cert, "certificate_expires": expires}
        r = admin.post("/api/v1/users", json=body)
        assert r.status_code == 201, r.text


# Signing in is not a change a refused request makes: the test clients sign in lazily (a session row per token)
# and refused sign-ins are counted on purpose (issue 10), so "changed nothing" looks at every other table.
SIGN_IN_TABLES = frozenset({"sessions", "throttle_counters"})


def settled(engine) -> None:
    """Wait (up to 5 s) until the app's in-process deliverer has fanned out every committed event: it runs after
    each commit, beside the next request, so a snapshot of every table taken at once may catch it half-way."""
    for _ in range(200):
        with engine.connect() as conn:
            if not conn.execute(select(func.count()).select_from(Event).where(Event.fanned_out_at.is_(None))
                                ).scalar_one():
                return
        time.sleep(0.025)
    raise AssertionError("events still waiting for fan-out")


def table_rows(engine) -> dict[str, list[tuple]]:
    """Every row of every table but the sign-in bookkeeping, in primary-key order: {table name: [row, ...]}."""
    with engine.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in metadata.sorted_tables if t.name not in SIGN_IN_TABLES}
