"""Honest operations for reports run by hand (issue 10): re-generating a published checkpoint or bulletin
replaces it and tells nobody again; a period that ended before the county had anything to report is refused
and changes nothing; an announcement never ends in a bare dash. Through the job functions on both databases,
and the CLI."""

import asyncio

import pytest

from chuishao.flows.bulletin import set_scorecard
from chuishao.flows.errors import Invalid
from chuishao.flows.jobs import bulletin_dir, run_bulletin, run_checkpoint
from chuishao.models.db import Database, make_sync_engine
from tests.county import table_rows
from tests.report_month import at, build_month, events
from tests.test_cli import chuishao
from tests.test_notifications import eventually, inbox


@pytest.fixture
def month(county, clock):
    build_month(county, clock)  # first case reported Monday 2 November 2026 08:30; the clock at 3 December
    return county


def test_rerunning_a_published_checkpoint_replaces_it_and_notifies_nobody_again(month, clock):
    api = month
    week = "2026-W48"
    first = asyncio.run(run_checkpoint(week, clock(), api.settings))
    liaisons = len(first["townships"]) + len(first["departments"])
    assert events(api.settings, "checkpoint") == liaisons and "已通知" in first["notice"]

    clock.now = at("2026-12-04T10:00")  # someone runs it again by hand the next day
    again = asyncio.run(run_checkpoint(week, clock(), api.settings))
    assert again["notice"] == "已重新生成，未再次通知 regenerated; nobody notified again"
    assert events(api.settings, "checkpoint") == liaisons  # nobody told twice
    stored = api.as_("supervisor").get(f"/api/v1/checkpoints/{week}").json()
    assert stored["generated_at"].startswith("2026-12-04T10:00") and stored["preview"] is False  # replaced

    clock.now = at("2026-12-07T09:00")  # Monday's scheduled run for the fresh week still announces it
    fresh = asyncio.run(run_checkpoint("2026-W49", clock(), api.settings))
    assert "已通知" in fresh["notice"] and events(api.settings, "checkpoint") == 2 * liaisons


def test_rerunning_a_published_bulletin_replaces_it_and_notifies_nobody_again(month, clock):
    api = month
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))  # 3 December: published
    assert events(api.settings, "bulletin") == 1

    clock.now = at("2026-12-10T09:00")
    again = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert again["notice"] == "已重新生成，未再次通知 regenerated; nobody notified again"
    assert events(api.settings, "bulletin") == 1
    stored = api.as_("supervisor").get("/api/v1/bulletins/2026-11").json()
    assert stored["generated_at"].startswith("2026-12-10T09:00") and stored["preview"] is False


def test_a_preview_then_the_real_run_then_a_rerun_announce_once(month, clock):
    api = month
    clock.now = at("2026-11-20T09:00")
    assert "未通知" in asyncio.run(run_bulletin("2026-11", clock(), api.settings))["notice"]
    clock.now = at("2026-12-01T09:00")
    published = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert published["notice"] == "已发布并通知 published and announced"
    clock.now = at("2026-12-02T09:00")
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert events(api.settings, "bulletin") == 1


@pytest.mark.parametrize("job,name", [(run_checkpoint, "2020-W53"), (run_checkpoint, "2026-W44"),
                                      (run_bulletin, "2020-01"), (run_bulletin, "2026-10")],
                         ids=["six-years-before", "week-before-the-first-case", "month-2020", "month-before"])
def test_a_period_that_ended_before_the_first_case_is_refused_and_changes_nothing(month, clock, job, name):
    api = month
    engine = make_sync_engine(api.settings.url)
    try:
        before = table_rows(engine)
        with pytest.raises(Invalid) as err:
            asyncio.run(job(name, clock(), api.settings))
        assert "没有可报告的内容" in err.value.zh and "2026-11-02" in err.value.zh
        assert "nothing to report" in err.value.en
        assert table_rows(engine) == before  # no record, no announcement
    finally:
        engine.dispose()
    assert not bulletin_dir(api.settings, name).exists()  # no files rendered either
    kind = "checkpoints" if "W" in name else "bulletins"
    assert api.as_("supervisor").get(f"/api/v1/{kind}/{name}").status_code == 404


def test_the_period_holding_the_first_case_is_reported(month, clock):
    api = month
    week = asyncio.run(run_checkpoint("2026-W45", clock(), api.settings))  # 2–8 November: the first case's week
    assert week["totals"]["new"] == 3  # ALPHA and BRAVO that Monday, CHARLIE on the Tuesday


def test_an_announcement_with_an_empty_red_list_has_no_bare_dash(month, clock):
    api = month
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))  # three cases: below every list's threshold
    assert data["red_list"] == []
    title = eventually(lambda: [n["title"] for n in inbox(api, "supervisor") if n["kind"] == "bulletin"])[0]
    assert title.endswith("已发布，本月无单位进入红榜") and "—" not in title and "红榜第一" not in title


def test_an_announcement_names_the_top_of_the_red_list(month, clock):
    api = month

    async def no_threshold():
        db = Database(api.settings.url)
        try:
            await set_scorecard(db, {}, 0)  # the admin lets every whistled unit onto the lists
        finally:
            await db.dispose()

    asyncio.run(no_threshold())
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    top = data["red_list"][0]["name"]
    title = eventually(lambda: [n["title"] for n in inbox(api, "supervisor") if n["kind"] == "bulletin"])[0]
    assert title.endswith(f"已发布：红榜第一 {top}")


def test_the_cli_says_a_rerun_notified_nobody_and_refuses_a_week_before_the_county(bootstrapped):
    # the county was set up on Monday 16 November 2026 09:00 and has no cases
    out = chuishao(bootstrapped, "checkpoint", "--week", "2026-W47", "--now", "2026-11-23T09:00:00+08:00")
    assert out.returncode == 0, out.stderr
    assert "已通知" in out.stdout and "未再次通知" not in out.stdout
    out = chuishao(bootstrapped, "checkpoint", "--week", "2026-W47", "--now", "2026-11-24T09:00:00+08:00")
    assert out.returncode == 0, out.stderr
    assert "已重新生成，未再次通知 regenerated; nobody notified again" in out.stdout
    for argv in (["checkpoint", "--week", "2020-W53"], ["checkpoint", "--week", "2026-W46"],
                 ["bulletin", "--month", "2020-01"]):
        out = chuishao(bootstrapped, *argv, "--now", "2026-11-24T09:00:00+08:00")
        assert out.returncode == 2 and out.stdout == "", argv
        assert out.stderr.count("\n") == 1 and "没有可报告的内容" in out.stderr and "2026-11-16" in out.stderr
