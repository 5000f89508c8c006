"""A unit no one whistled in the month is not ranked and not on the red or black list, however its older cases fared;
the appendix (口径说明) names it: "本月无吹哨，不参与排名" (docs/bulletin-definitions.md). The month is
tests/test_bulletin.py's November; in December 自然资源局 gets no whistle but finishes case E on time."""

import asyncio
import io

from openpyxl import load_workbook
from pypdf import PdfReader

from chuishao.flows.jobs import run_bulletin
from tests.test_bulletin import at, bulletin, card, november  # noqa: F401 (the fixture)


def appendix(data) -> str:
    return next(d["definition"] for d in data["definitions"] if d["term"] == "不参与排名")


def test_units_without_whistles_are_not_ranked_and_the_appendix_names_them(november, clock):  # noqa: F811
    api = november
    r = api.as_("admin").put("/api/v1/settings/scorecard", json={"list_min_whistles": 0})  # lists open to all
    assert r.status_code == 200, r.text
    clock.now = at("2027-01-04T09:00")
    december = bulletin(api, "2026-12", clock)
    zrzy = card(december, "ZRZY")
    assert zrzy["whistles"] == 0 and zrzy["on_time"]["num"] == 1  # E finished on time in December
    assert (zrzy["rank"], zrzy["score"]) == (None, None)
    assert all(x["rank"] is None for x in december["scorecard"])  # nobody was whistled in December
    assert december["red_list"] == [] and december["black_list"] == []
    assert {u["code"] for u in december["unranked"]} == {x["code"] for x in december["scorecard"]}
    assert appendix(december).startswith("本月无吹哨，不参与排名：") and "自然资源局" in appendix(december)

    november_data = bulletin(api, "2026-11", clock)
    assert [u["code"] for u in november_data["unranked"]] == ["FC-ZFD"]  # the township's team got no whistle
    assert "凤城镇综合行政执法队" in appendix(november_data) and "自然资源局" not in appendix(november_data)
    assert [x["code"] for x in november_data["scorecard"] if x["rank"]] == ["ZJJ", "ZRZY", "STHJ", "SCJG"]

    asyncio.run(run_bulletin("2026-12", clock(), api.settings))
    pdf = api.as_("supervisor").get("/api/v1/bulletins/2026-12.pdf")
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "本月无吹哨，不参与排名：" in text and "不参与排名（见附：口径说明）" in text
    html = api.as_("supervisor").get("/api/v1/bulletins/2026-12.html").text
    assert "本月无吹哨，不参与排名：" in html
    book = load_workbook(io.BytesIO(api.as_("supervisor").get("/api/v1/bulletins/2026-12.xlsx").content))
    terms = {row[0]: row[1] for row in book["口径说明"].iter_rows(values_only=True)}
    assert terms["不参与排名"].startswith("本月无吹哨，不参与排名：") and "自然资源局" in terms["不参与排名"]
