"""Who reads what in a bulletin and a checkpoint (docs/access.md#scope: a grid worker never sees other people's
cases in a bulletin or checkpoint; township and department staff see their own lists), in every format: JSON, HTML,
PDF (its extracted text), XLSX (every cell), the chart images, the REST API and the web pages.

The month is tests/report_month.py: ALPHA (凤城镇 → 生态环境分局, overdue), BRAVO (刘胡兰镇 → 自然资源局 with
住建局 assisting, overdue and supervised), CHARLIE (凤城镇 → 市场监督管理局, a typical good case)."""

import asyncio
import io
import json
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from chuishao.flows.jobs import run_bulletin, run_checkpoint
from tests.report_month import TITLES, at, build_month
from tests.test_dashboard import as_page_user

ALL = {"alpha", "bravo", "charlie"}
# who: the cases they may open (Actor.sees), so the cases their bulletin lists
READERS = {
    "supervisor": ALL,
    "disp_fc": {"alpha", "charlie"},  # 凤城镇's cases
    "liaison_lhl": {"bravo"},  # 刘胡兰镇's
    "sthj_liaison": {"alpha"},  # whistled to 生态环境分局
    "zjj_liaison": {"bravo"},  # 住建局 assists BRAVO: whistled to it too
    "team_fc": set(),  # 凤城镇's own team: nothing whistled to it
}
FORMATS = ("json", "html", "pdf", "xlsx")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def as_text(fmt: str, response) -> str:
    """What a reader of the answer sees, as one string: the JSON, the page, the PDF's text, every XLSX cell."""
    assert response.status_code == 200, response.text
    if fmt == "json":
        return json.dumps(response.json(), ensure_ascii=False)
    if fmt == "html":
        assert response.headers["content-type"].startswith("text/html")
        return response.text
    if fmt == "pdf":
        assert response.headers["content-type"] == "application/pdf"
        return squash("".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages))
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                     if v is not None)


def bulletin_texts(api, who: str, month: str = "2026-11") -> dict[str, str]:
    client = api.as_(who)
    return {fmt: as_text(fmt, client.get(f"/api/v1/bulletins/{month}" + ("" if fmt == "json" else f".{fmt}")))
            for fmt in FORMATS}


def listed(text: str) -> set[str]:
    return {key for key, title in TITLES.items() if squash(title) in squash(text)}


@pytest.fixture
def november(county, clock):
    ids = build_month(county, clock)
    asyncio.run(run_bulletin("2026-11", clock(), county.settings))
    return county, ids


def test_each_reader_sees_only_the_cases_they_may_open_in_every_format(november):
    api, _ = november
    for who, sees in READERS.items():
        texts = bulletin_texts(api, who)
        for fmt, text in texts.items():
            assert listed(text) == sees, (who, fmt)
            assert "凤城镇" in text and "刘胡兰镇" in text and "生态环境分局" in text, (who, fmt)  # the figures
    assert listed(json.dumps(api.as_("admin").get("/api/v1/bulletins/2026-11").json(), ensure_ascii=False)) == ALL


def test_a_units_version_keeps_the_countys_figures_and_says_whose_cases_it_lists(november):
    api, _ = november
    county = api.as_("supervisor").get("/api/v1/bulletins/2026-11").json()
    mine = api.as_("disp_fc").get("/api/v1/bulletins/2026-11").json()
    for key in ("overview", "by_source", "hotspots", "by_township", "by_department", "scorecard", "red_list",
                "black_list", "definitions"):
        assert mine[key] == county[key], key
    assert "scope" not in county
    assert mine["scope"]["unit"] == "凤城镇"
    for fmt, text in bulletin_texts(api, "disp_fc").items():
        assert squash("本版为凤城镇版") in squash(text), fmt
    department = api.as_("sthj_liaison").get("/api/v1/bulletins/2026-11").json()
    assert department["scope"]["unit"] == "生态环境分局"
    assert [c["title"] for c in department["overdue_cases"]] == [TITLES["alpha"]]


def test_a_regenerated_bulletin_is_what_a_unit_reads_next(november, clock):
    api, _ = november
    first = as_text("pdf", api.as_("disp_fc").get("/api/v1/bulletins/2026-11.pdf"))
    assert "生成时间：2026年12月3日09:00" in first
    clock.now = at("2026-12-04T10:30")
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    again = as_text("pdf", api.as_("disp_fc").get("/api/v1/bulletins/2026-11.pdf"))
    assert "生成时间：2026年12月4日10:30" in again and listed(again) == {"alpha", "charlie"}


def test_grid_workers_read_no_bulletin_in_any_format(november):
    api, _ = november
    worker = api.as_("gw_fc1")  # reported ALPHA and CHARLIE; still no county document
    for url in ("/api/v1/bulletins/2026-11", "/api/v1/bulletins/2026-11.html", "/api/v1/bulletins/2026-11.pdf",
                "/api/v1/bulletins/2026-11.xlsx", "/api/v1/bulletins/2026-11/charts/scorecard.png"):
        r = worker.get(url)
        assert r.status_code == 403, url
        assert "网格员" in r.json()["error"]["message"]
    chart = api.as_("disp_fc").get("/api/v1/bulletins/2026-11/charts/scorecard.png")
    assert chart.status_code == 200 and chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    as_page_user(api, "gw_fc1")
    for url in ("/reports/bulletins/2026-11", "/reports/bulletins/2026-11.pdf", "/reports/bulletins/2026-11.xlsx"):
        assert api.client.get(url).status_code == 403, url


def test_the_web_pages_and_downloads_are_scoped_like_the_api(november):
    api, _ = november
    for who in ("supervisor", "disp_fc", "zjj_liaison"):
        as_page_user(api, who)
        page = api.client.get("/reports/bulletins/2026-11")
        assert listed(as_text("html", page)) == READERS[who], who
        assert 'href="/reports"' in page.text  # the bar to go back
        for fmt in ("pdf", "xlsx"):
            download = api.client.get(f"/reports/bulletins/2026-11.{fmt}")
            assert listed(as_text(fmt, download)) == READERS[who], (who, fmt)
            assert f"chuishao-bulletin-2026-11.{fmt}" in download.headers["content-disposition"]


def test_checkpoint_totals_are_the_callers_own(november, clock):
    api, _ = november
    week = "2026-W45"  # 2–8 November: ALPHA, BRAVO and CHARLIE reported; CHARLIE closed
    asyncio.run(run_checkpoint(week, clock(), api.settings))
    want = {
        "supervisor": ("全县", {"cases": 3, "new": 3, "accepted": 3, "closed": 1, "open": 2}),
        "disp_fc": ("凤城镇", {"cases": 2, "new": 2, "accepted": 2, "closed": 1, "open": 1}),
        "liaison_lhl": ("刘胡兰镇", {"cases": 1, "new": 1, "accepted": 1, "closed": 0, "open": 1}),
        "sthj_liaison": ("生态环境分局", {"cases": 1, "new": 1, "closed": 0, "open": 1}),
        "zjj_liaison": ("住房和城乡建设局", {"cases": 1, "new": 1, "closed": 0, "open": 1}),
    }
    for who, (name, totals) in want.items():
        data = api.as_(who).get(f"/api/v1/checkpoints/{week}").json()
        assert data["totals"] == totals, who
        html = api.as_(who).get(f"/api/v1/checkpoints/{week}.html").text
        assert f"{name}合计" in html, who
        assert f'本周新增 <span class="n">{totals["new"]}</span> 件' in html, who
        assert f'在办 <span class="n">{totals["open"]}</span> 件' in html, who
        as_page_user(api, who)
        page = api.client.get(f"/reports/checkpoints/{week}").text
        assert f"{name}合计" in page and f"本周新增 {totals['new']} 件" in page, who
        assert f"本周结案 {totals['closed']} 件" in page and f"在办 {totals['open']} 件" in page, who
    assert api.as_("gw_fc1").get(f"/api/v1/checkpoints/{week}").status_code == 403
