"""Dates the product stores or filters by lie within FIRST_DAY … LAST_DAY (2000-01-01 … 2099-12-31,
flows/calendar.py); outside it every route answers a clear refusal and writes nothing (issue 10:
`PUT /calendar/days/0` wrote 1970-01-01)."""

import pytest
from sqlalchemy import func, select

from chuishao.flows.calendar import FIRST_DAY, LAST_DAY
from chuishao.models.clocks import CalendarDay, CalendarYear
from tests.conftest import ADMIN_PASSWORD
from tests.test_open311 import O311, refused
from tests.test_web_admin import Browserish

OUT = ["1970-01-01", "1999-12-31", "2100-01-01", "9999-12-31"]


def calendar_rows(o311: O311) -> tuple[int, int]:
    with o311.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(CalendarDay)).scalar_one(),
                conn.execute(select(func.count()).select_from(CalendarYear)).scalar_one())


def body_of(r) -> dict:
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert set(err) >= {"code", "message"} and " / " in err["message"], err
    return err


# (method, url, json body) with an out-of-range date; each must answer 422 naming the range
ROUTES = [
    *[("put", f"/api/v1/calendar/days/{d}", {"kind": "holiday"}) for d in OUT],
    *[("post", "/api/v1/calendar/import", {"holidays": [d]}) for d in OUT],
    *[("post", "/api/v1/calendar/import", [{"date": d, "kind": "workday"}]) for d in OUT],
    *[("post", "/api/v1/users", {"username": "gw_new", "password": "Zq7#mLp2vX", "name": "王五",
                                 "role": "department_officer", "unit": "ZRZY", "certificate_no": "ZF0099",
                                 "certificate_expires": d}) for d in OUT],
    *[("patch", "/api/v1/users/zrzy_off1", {"certificate_expires": d}) for d in OUT],
]


@pytest.mark.parametrize("method,url,body", ROUTES)
def test_out_of_range_dates_are_refused_and_change_nothing(county, method, url, body):
    o311 = O311(county)
    before = calendar_rows(o311), county.as_("admin").get("/api/v1/users").json()
    r = county.client.request(method, url, json=body,
                              headers={"Authorization": f"Bearer {county.token('admin')}"})
    err = body_of(r)
    assert err["code"] == "date_out_of_range", err
    assert f"须在 {FIRST_DAY} 至 {LAST_DAY} 之间" in err["message"], err
    assert (calendar_rows(o311), county.as_("admin").get("/api/v1/users").json()) == before


@pytest.mark.parametrize("day", ["0", "1", "20261117", "2026-13-01", "2026-02-30", "-1", "2026-1-1", "２０２６-01-01"])
def test_a_day_that_is_not_an_iso_date_is_refused(county, day):
    o311 = O311(county)
    before = calendar_rows(o311)
    r = county.as_("admin").put(f"/api/v1/calendar/days/{day}", json={"kind": "holiday"})
    assert body_of(r)["code"] == "bad_date"
    assert "YYYY-MM-DD" in r.json()["error"]["message"]
    assert calendar_rows(o311) == before


def test_the_range_ends_are_inside(county):
    admin = county.as_("admin")
    for d in (str(FIRST_DAY), str(LAST_DAY)):
        r = admin.put(f"/api/v1/calendar/days/{d}", json={"kind": "workday"})
        assert r.status_code == 200, r.text
    for year, status in ((FIRST_DAY.year, 200), (LAST_DAY.year, 200), (1999, 422), (2100, 422), (0, 422)):
        assert county.as_("disp_fc").get(f"/api/v1/calendar/{year}").status_code == status, year


def test_open311_times_outside_the_range_are_refused(county):
    o = O311(county)
    rid = o.create()
    for when in ("1970-01-01T00:00:00Z", "2100-01-01T00:00:00+08:00"):
        r = o.post("servicerequestupdates", {"service_request_id": rid, "update_id": "u-" + when[:4],
                                             "status": "OPEN", "updated_datetime": when, "description": "补充"})
        assert "2000-01-01" in refused(r, 400)
        r = o.get("requests", start_date=when)
        assert "2000-01-01" in refused(r, 400)
    kept = county.as_("disp_fc").get(f"/api/v1/cases/{rid}/open311").json()
    assert kept["updates"] == []


def test_the_admin_calendar_page_refuses_a_day_outside_the_range(county):
    web = Browserish(county.client)
    web.login("admin", ADMIN_PASSWORD)
    o311 = O311(county)
    before = calendar_rows(o311)
    r = web.post("/admin/calendar/days", {"day": "2100-01-01", "kind": "holiday", "name": ""})
    assert r.status_code == 422 and f"日期须在 {FIRST_DAY} 至 {LAST_DAY} 之间" in r.text
    assert calendar_rows(o311) == before
