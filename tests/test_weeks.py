"""Week and month names (flows/periods.py): a week exists only if 1 <= week <= the ISO week of 28 December
(2025 has 52 weeks, 2026 has 53); months are 01–12 of 2000–2099. Every way in — the REST API, the web pages,
the job functions and the CLI — refuses a period that does not exist the same way: 422 / one line, exit 2."""

import asyncio
from datetime import date

import pytest

from chuishao.flows.errors import Invalid
from chuishao.flows.jobs import run_bulletin, run_checkpoint
from chuishao.flows.periods import parse_month, parse_week, weeks_in
from tests.report_month import at
from tests.test_cli import chuishao
from tests.test_dashboard import as_page_user


def test_the_last_iso_week_of_a_year_is_the_week_of_28_december():
    def has_week_53(year):  # Python's own ISO calendar, a second opinion
        try:
            date.fromisocalendar(year, 53, 1)
            return True
        except ValueError:
            return False

    for year in range(2000, 2100):
        weeks = 53 if has_week_53(year) else 52
        assert weeks_in(year) == weeks, year
        assert parse_week(f"{year}-W{weeks:02d}") == f"{year}-W{weeks:02d}"
    assert (weeks_in(2025), weeks_in(2026)) == (52, 53)


@pytest.mark.parametrize("name", ["2025-W53", "2026-W54", "2026-W00", "2027-W53", "2026-W99"])
def test_weeks_that_do_not_exist_are_refused_with_the_reason(name):
    with pytest.raises(Invalid) as err:
        parse_week(name)
    assert "不存在" in err.value.zh and "does not exist" in err.value.en


@pytest.mark.parametrize("name", ["2026-47", "2026W47", "2026-W7", "26-W47", "２０２６-W47", "2026-W47x", "",
                                  "1899-W10", "2100-W01"])
def test_malformed_or_far_weeks_are_refused(name):
    with pytest.raises(Invalid):
        parse_week(name)


@pytest.mark.parametrize("name", ["2026-13", "2026-00", "2026-1", "2026/11", "1999-12", "2100-01", "２０２６-11"])
def test_months_that_do_not_exist_are_refused(name):
    with pytest.raises(Invalid):
        parse_month(name)
    assert parse_month("2026-11") == "2026-11"


def test_the_api_and_the_pages_say_the_week_does_not_exist(county):
    api = county
    r = api.as_("supervisor").get("/api/v1/checkpoints/2025-W53")
    assert r.status_code == 422 and "2025-W53 这一周不存在" in r.json()["error"]["message"]
    assert api.as_("supervisor").get("/api/v1/checkpoints/2025-W53.html").status_code == 422
    assert api.as_("supervisor").get("/api/v1/checkpoints/2026-W53").status_code == 404  # exists, not generated
    r = api.as_("supervisor").get("/api/v1/bulletins/2026-13.pdf")
    assert r.status_code == 422 and "不存在" in r.json()["error"]["message"]
    assert api.as_("supervisor").get("/api/v1/bulletins/2026-13/charts/scorecard.png").status_code == 422
    as_page_user(api, "supervisor")
    assert api.client.get("/reports/checkpoints/2025-W53").status_code == 422
    assert api.client.get("/reports/bulletins/2026-13").status_code == 422


def test_the_jobs_refuse_periods_that_do_not_exist_or_have_not_begun(county, clock):
    settings = county.settings
    clock.now = at("2026-12-03T09:00")
    for job, name in ((run_checkpoint, "2025-W53"), (run_bulletin, "2026-13"), (run_checkpoint, "2026-W50"),
                      (run_bulletin, "2027-01")):
        with pytest.raises(Invalid):
            asyncio.run(job(name, clock(), settings))


def test_the_cli_gives_one_line_and_exit_2(bootstrapped):
    for args, said in ((("checkpoint", "--week", "2025-W53"), "2025-W53 这一周不存在"),
                       (("bulletin", "--month", "2026-13"), "2026-13 这个月份不存在"),
                       (("checkpoint", "--week", "2026-W47", "--now", "2026-11-01T09:00:00+08:00"), "尚未开始")):
        out = chuishao(bootstrapped, *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and said in out.stderr and "Traceback" not in out.stderr, out.stderr
