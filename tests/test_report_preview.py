"""A bulletin or checkpoint generated before its period has ended is a preview (flows/jobs.py): stored and
readable, labelled 预览 on every format and in the list, announced to nobody, never over a published one, and
replaced by the real one the run after the period ends. Same through the job functions and the CLI."""

import asyncio
import io

import pytest
from pypdf import PdfReader

from chuishao.flows.errors import Conflict
from chuishao.flows.jobs import run_bulletin, run_checkpoint
from tests.report_month import at, build_month, events
from tests.test_cli import chuishao
from tests.test_dashboard import as_page_user
from tests.test_report_scope import as_text, bulletin_texts


def pdf_pages(response) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages]


@pytest.fixture
def month(county, clock):
    build_month(county, clock)  # leaves the clock at 3 December
    return county


def test_a_bulletin_of_a_month_in_progress_is_a_labelled_preview_that_the_real_one_replaces(month, clock):
    api = month
    clock.now = at("2026-11-20T15:00")
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert data["preview"] is True and "预览" in data["title"]
    assert events(api.settings, "bulletin") == 0  # nobody is told it was published
    for who in ("supervisor", "disp_fc"):  # the county's stored files and a township's own version
        for fmt, text in bulletin_texts(api, who).items():
            assert "预览" in text and "未结束" in text, (who, fmt)
    pages = pdf_pages(api.as_("supervisor").get("/api/v1/bulletins/2026-11.pdf"))
    assert len(pages) > 1 and all("预览" in page for page in pages)  # every printed page says so
    assert api.as_("supervisor").get("/api/v1/bulletins/2026-11").json()["preview"] is True
    as_page_user(api, "disp_fc")
    listing = api.client.get("/reports").text
    assert "预览·本月未结束" in listing
    assert "预览" in api.client.get("/reports/bulletins/2026-11").text

    clock.now = at("2026-12-01T09:00")  # the scheduled run after the month
    final = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert final["preview"] is False and "预览" not in final["title"]
    assert events(api.settings, "bulletin") == 1
    for who in ("supervisor", "disp_fc"):
        for fmt, text in bulletin_texts(api, who).items():
            assert "预览" not in text, (who, fmt)
    assert "预览·本月未结束" not in api.client.get("/reports").text


def test_a_preview_never_replaces_a_published_bulletin(month, clock):
    api = month
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))  # 3 December: published
    clock.now = at("2026-11-25T09:00")  # someone runs it again with a logical time inside the month
    with pytest.raises(Conflict) as err:
        asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert "已正式发布" in err.value.zh
    assert events(api.settings, "bulletin") == 1
    assert api.as_("supervisor").get("/api/v1/bulletins/2026-11").json()["preview"] is False
    pdf = as_text("pdf", api.as_("supervisor").get("/api/v1/bulletins/2026-11.pdf"))
    assert "预览" not in pdf  # the published files were not touched


def test_a_checkpoint_of_a_week_in_progress_is_a_labelled_preview(month, clock):
    api = month
    week = "2026-W49"  # 30 November – 6 December; the clock is at Thursday 3 December
    data = asyncio.run(run_checkpoint(week, clock(), api.settings))
    assert data["preview"] is True
    assert events(api.settings, "checkpoint") == 0
    assert api.as_("disp_fc").get(f"/api/v1/checkpoints/{week}").json()["preview"] is True
    html = api.as_("disp_fc").get(f"/api/v1/checkpoints/{week}.html").text
    assert "预览（本周未结束）" in html
    as_page_user(api, "disp_fc")
    assert "预览（本周未结束）" in api.client.get(f"/reports/checkpoints/{week}").text
    assert "预览·本周未结束" in api.client.get("/reports").text

    clock.now = at("2026-12-07T09:00")  # Monday's scheduled run
    final = asyncio.run(run_checkpoint(week, clock(), api.settings))
    assert final["preview"] is False
    assert events(api.settings, "checkpoint") == len(final["townships"]) + len(final["departments"])
    assert "预览" not in api.client.get(f"/reports/checkpoints/{week}").text
    assert "预览" not in api.as_("disp_fc").get(f"/api/v1/checkpoints/{week}.html").text
    clock.now = at("2026-12-04T09:00")
    with pytest.raises(Conflict):
        asyncio.run(run_checkpoint(week, clock(), api.settings))


def test_the_cli_says_it_made_a_preview(bootstrapped):
    out = chuishao(bootstrapped, "checkpoint", "--week", "2026-W47", "--now", "2026-11-18T09:00:00+08:00")
    assert out.returncode == 0, out.stderr
    assert "预览" in out.stdout and "未通知" in out.stdout
    out = chuishao(bootstrapped, "bulletin", "--month", "2026-11", "--now", "2026-11-20T09:00:00+08:00")
    assert out.returncode == 0, out.stderr
    assert "预览" in out.stdout and "未通知" in out.stdout
