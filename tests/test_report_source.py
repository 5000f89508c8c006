"""Who may say where a report came from (上报来源): the bulletin counts cases by source, so a grid worker's report is
always 网格上报 and 平台接入 belongs to the Open311 channel. SQLite and PostgreSQL (the `county` fixture)."""

import pytest


def _cases(county) -> int:
    return county.as_("supervisor").get("/api/v1/cases", params={"page_size": 1}).json()["total"]


@pytest.mark.parametrize("who,source", [("gw_fc1", "hotline"), ("gw_fc1", "county"), ("disp_fc", "open311")])
def test_a_source_the_role_may_not_declare_is_refused_and_nothing_is_created(county, who, source):
    before = _cases(county)
    r = county.as_(who).post("/api/v1/cases", json={"title": "东街占道经营", "source": source})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "source_not_allowed" and err["field"] == "source" and "上报的来源只能是" in err["message"]
    assert _cases(county) == before


def test_the_sources_each_role_may_declare_are_kept(county):
    grid = county.as_("gw_fc1").post("/api/v1/cases", json={"title": "东街占道经营", "source": "grid"})
    hotline = county.as_("disp_fc").post("/api/v1/cases", json={"title": "12345 转来：噪音扰民", "source": "hotline"})
    default = county.as_("gw_fc1").post("/api/v1/cases", json={"title": "路灯不亮"})
    assert [r.status_code for r in (grid, hotline, default)] == [201, 201, 201]
    assert [r.json()["source"] for r in (grid, hotline, default)] == ["grid", "hotline", "grid"]
