"""A 12345 hotline's view: a thin Open311 GeoReport v2 client (plain httpx, reading the required XML format)
posts a request, the township and the departments work it through the six-step loop with the REST API, and
the client reads back where it is — `open`/`closed`, mySociety's extended status, the notes and the agency —
and follows the updates feed. Runs on SQLite and PostgreSQL.
"""

import time
import xml.etree.ElementTree as ET

import httpx
import pytest
from sqlalchemy import func, select

from chuishao.models.db import make_sync_engine
from chuishao.models.notifications import Event
from chuishao.models.open311 import InboundUpdate

ARRAYS = {"services", "attributes", "values", "service_requests", "errors", "endpoints", "formats",
          "service_request_updates"}


class Open311Error(Exception):
    def __init__(self, status: int, errors: list[dict]):
        super().__init__(f"{status}: {errors}")
        self.status, self.errors = status, errors


class Open311Client:
    """Speaks GeoReport v2 (and mySociety's servicerequestupdates) to any endpoint over an httpx.Client."""

    def __init__(self, http: httpx.Client, api_key: str, base: str = "/open311/v2", fmt: str = "xml"):
        self.http, self.api_key, self.base, self.fmt = http, api_key, base.rstrip("/"), fmt

    @staticmethod
    def _spark(el: ET.Element):
        if el.tag in ARRAYS:
            return [Open311Client._spark(c) for c in el]
        if len(el):
            return {c.tag: Open311Client._spark(c) for c in el}
        return el.text

    def _read(self, r: httpx.Response):
        doc = r.json() if self.fmt == "json" else self._spark(ET.fromstring(r.content))
        if r.status_code != 200:
            raise Open311Error(r.status_code, doc)
        return doc

    def _get(self, resource: str, **params):
        params = {k: v for k, v in params.items() if v is not None}
        return self._read(self.http.get(f"{self.base}/{resource}.{self.fmt}",
                                        params={"api_key": self.api_key, **params}))

    def _post(self, resource: str, fields: dict):
        form = {"api_key": self.api_key, **{k: str(v) for k, v in fields.items() if v is not None}}
        return self._read(self.http.post(f"{self.base}/{resource}.{self.fmt}", data=form))

    def services(self) -> list[dict]:
        return self._get("services")

    def submit(self, service_code: str, *, lat=None, long=None, address_string=None, description=None,
               attributes: dict | None = None, **requester) -> str:
        fields = {"service_code": service_code, "lat": lat, "long": long, "address_string": address_string,
                  "description": description, **requester}
        fields |= {f"attribute[{k}]": v for k, v in (attributes or {}).items()}
        (answer,) = self._post("requests", fields)
        return answer["service_request_id"]

    def request(self, service_request_id: str) -> dict:
        (request,) = self._get(f"requests/{service_request_id}")
        return request

    def requests(self, **filters) -> list[dict]:
        return self._get("requests", **filters)

    def from_token(self, token: str) -> str:
        (answer,) = self._get(f"tokens/{token}")
        return answer["service_request_id"]

    def updates(self, **dates) -> list[dict]:
        return self._get("servicerequestupdates", **dates)

    def send_update(self, service_request_id: str, update_id: str, status: str, description: str,
                    updated_datetime: str) -> str:
        (answer,) = self._post("servicerequestupdates", {
            "service_request_id": service_request_id, "update_id": update_id, "status": status,
            "description": description, "updated_datetime": updated_datetime})
        return answer["update_id"]


def status_of(client: Open311Client, rid: str) -> tuple[str, str]:
    r = client.request(rid)
    return r["status"], r["extended_attributes"]["status"]


@pytest.fixture
def hotline(county):
    admin = county.as_("admin")
    r = admin.post("/api/v1/units", json={"code": "RX12345", "name": "12345便民服务热线", "kind": "department",
                                          "parent": "WS"})
    assert r.status_code == 201, r.text
    r = admin.post("/api/v1/api-keys", json={"name": "12345热线", "unit": "RX12345", "townships": ["FC"],
                                             "source": "hotline"})
    assert r.status_code == 201, r.text
    return Open311Client(county.client, r.json()["key"])


def submit_burning(hotline: Open311Client) -> str:
    return hotline.submit("ENV01", lat=37.45, long=112.05, address_string="东街村北麦田",
                          description="东街村北有人焚烧秸秆，浓烟很大", first_name="四", last_name="李",
                          phone="13900139000", attributes={"urgency": "urgent"})


def test_a_request_followed_through_the_whole_loop_reads_closed_and_fixed(county, hotline, clock):
    api = county
    assert "ENV01" in {s["service_code"] for s in hotline.services()}
    rid = submit_burning(hotline)
    case_id = int(rid)
    seen = [status_of(hotline, rid)]

    clock.advance(minutes=10)
    api.act("disp_fc", case_id, "accept", {"note": "已电话核实"})
    seen.append(status_of(hotline, rid))
    api.act("disp_fc", case_id, "dispatch")
    seen.append(status_of(hotline, rid))
    assert hotline.request(rid)["agency_responsible"] == "生态环境分局"

    clock.advance(minutes=20)
    api.act("sthj_liaison", case_id, "check_in")
    seen.append(status_of(hotline, rid))
    assert hotline.request(rid)["expected_datetime"]

    clock.advance(hours=3)
    api.act("sthj_off", case_id, "feedback", {"outcome": "resolved", "result": "已扑灭明火，对焚烧者进行了教育"})
    seen.append(status_of(hotline, rid))
    assert "已扑灭明火" in hotline.request(rid)["status_notes"]

    clock.advance(hours=1)
    api.act("liaison_fc", case_id, "verify", {"passed": True, "note": "现场已无烟火", "satisfaction": "satisfied",
                                             "rating": 5})
    seen.append(status_of(hotline, rid))
    assert seen == [("open", "OPEN"), ("open", "INVESTIGATING"), ("open", "INTERNAL_REFERRAL"),
                    ("open", "IN_PROGRESS"), ("open", "ACTION_SCHEDULED"), ("closed", "FIXED")]

    done = hotline.request(rid)
    assert done["status_notes"] == ("核查通过，已结案（已解决）。办理结果：已扑灭明火，对焚烧者进行了教育。"
                                    "核查意见：现场已无烟火")
    assert done["agency_responsible"] == "生态环境分局"
    assert done["updated_datetime"] == api.get("liaison_fc", case_id)["closed_at"]
    assert "李" not in str(done) and "13900139000" not in str(done)
    # the hotline's closed list, its token (the case code it read out to the caller) and the updates feed
    assert [r["service_request_id"] for r in hotline.requests(status="closed")] == [rid]
    assert hotline.from_token(done["extended_attributes"]["code"]) == rid
    feed = [u for u in hotline.updates() if u["service_request_id"] == rid]
    assert [u["status"] for u in feed] == ["OPEN", "INVESTIGATING", "INTERNAL_REFERRAL", "IN_PROGRESS",
                                           "ACTION_SCHEDULED", "FIXED"]
    assert feed[-1]["description"] == done["status_notes"]
    # the JSON flavour of the same client reads the same thing
    as_json = Open311Client(hotline.http, hotline.api_key, fmt="json")
    assert as_json.request(rid)["extended_attributes"]["status"] == "FIXED"


def test_a_rejected_request_reads_not_councils_responsibility_with_the_reason(county, hotline):
    rid = submit_burning(hotline)
    county.act("disp_fc", int(rid), "reject", {"reason": "经核实为村民正常烧荒，已劝导"})
    r = hotline.request(rid)
    assert (r["status"], r["extended_attributes"]["status"]) == ("closed", "NOT_COUNCILS_RESPONSIBILITY")
    assert r["status_notes"] == "不予受理：经核实为村民正常烧荒，已劝导"
    assert r["agency_responsible"] == "凤城镇"


@pytest.mark.parametrize("outcome, extended, label", [
    ("not_resolvable", "NO_FURTHER_ACTION", "无法解决"),
    ("partially_resolved", "CLOSED", "部分解决"),
    ("transferred", "NOT_COUNCILS_RESPONSIBILITY", "已移送司法/公安"),
])
def test_each_verified_outcome_has_its_extended_status(county, hotline, outcome, extended, label):
    rid = submit_burning(hotline)
    case_id = int(rid)
    county.act("disp_fc", case_id, "accept")
    county.act("disp_fc", case_id, "dispatch")
    county.act("sthj_liaison", case_id, "check_in")
    county.act("sthj_off", case_id, "feedback", {"outcome": outcome, "result": "已处理"})
    county.act("liaison_fc", case_id, "verify", {"passed": True})
    r = hotline.request(rid)
    assert (r["status"], r["extended_attributes"]["status"]) == ("closed", extended)
    assert r["status_notes"] == f"核查通过，已结案（{label}）。办理结果：已处理"


def test_rework_return_suspension_and_duplicates_read_as_mysociety_says(county, hotline):
    api = county
    rid = submit_burning(hotline)
    case_id = int(rid)
    api.act("disp_fc", case_id, "accept")
    api.act("disp_fc", case_id, "dispatch")
    api.act("sthj_liaison", case_id, "return", {"reason": "应由乡镇执法队处理"})
    r = hotline.request(rid)
    assert (r["status"], r["extended_attributes"]["status"]) == ("open", "INTERNAL_REFERRAL")
    assert r["status_notes"] == "生态环境分局退回：应由乡镇执法队处理；待乡镇重新派遣"
    api.act("disp_fc", case_id, "dispatch", {"lead_unit": "STHJ"})
    api.act("sthj_liaison", case_id, "check_in")
    api.act("liaison_fc", case_id, "suspend", {"reason": "等待气象条件"})
    r = hotline.request(rid)
    assert (r["extended_attributes"]["status"], r["status_notes"]) == ("IN_PROGRESS", "已挂起（缓办）：等待气象条件")
    api.act("liaison_fc", case_id, "resume")
    api.act("sthj_off", case_id, "feedback", {"outcome": "resolved", "result": "已处理"})
    api.act("liaison_fc", case_id, "verify", {"passed": False, "note": "现场仍有余烬"})
    r = hotline.request(rid)
    assert (r["status"], r["extended_attributes"]["status"]) == ("open", "REOPEN")
    assert r["status_notes"] == "核查未通过，返工重新办理：现场仍有余烬"
    api.act("sthj_off", case_id, "feedback", {"outcome": "resolved", "result": "余烬已清理"})
    api.act("liaison_fc", case_id, "verify", {"passed": True})
    assert status_of(hotline, rid) == ("closed", "FIXED")
    statuses = [u["status"] for u in hotline.updates() if u["service_request_id"] == rid]
    assert statuses == ["OPEN", "INVESTIGATING", "INTERNAL_REFERRAL", "INTERNAL_REFERRAL", "INTERNAL_REFERRAL",
                        "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "ACTION_SCHEDULED", "REOPEN",
                        "ACTION_SCHEDULED", "FIXED"]

    first, second = submit_burning(hotline), submit_burning(hotline)
    api.act("disp_fc", int(second), "merge", {"into": int(first)})
    r = hotline.request(second)
    assert (r["status"], r["extended_attributes"]["status"]) == ("closed", "DUPLICATE")
    assert r["status_notes"] == f"与服务请求 {first} 重复，已合并办理"


def test_an_update_posted_twice_is_applied_once(county, hotline):
    rid = submit_burning(hotline)
    county.act("disp_fc", int(rid), "accept")
    sent = [hotline.send_update(rid, "12345-20261116-0001", "OPEN", "市民再次来电：烟更大了",
                                "2026-11-16T09:30:00+08:00") for _ in range(2)]
    assert sent[0] == sent[1]
    engine = make_sync_engine(county.settings.url)
    try:
        for _ in range(200):  # the township's people are told once, after the commit
            with engine.connect() as conn:
                if not conn.execute(select(func.count()).select_from(Event)
                                    .where(Event.fanned_out_at.is_(None))).scalar_one():
                    break
            time.sleep(0.025)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(InboundUpdate)).scalar_one() == 1
    finally:
        engine.dispose()
    inbox = county.as_("disp_fc").get("/api/v1/notifications").json()
    items = inbox["items"] if isinstance(inbox, dict) else inbox
    assert sum("12345热线 补充" in n["title"] for n in items) == 1
    case = county.get("disp_fc", int(rid))
    assert (case["status"], case["version"]) == ("accepted", 2)  # an update never moves the case
    with pytest.raises(Open311Error) as refused:
        hotline.send_update(rid, "12345-20261116-0002", "FINISHED", "?", "2026-11-16T09:30:00+08:00")
    assert refused.value.status == 400 and refused.value.errors[0]["code"] == "400"
