"""待办 (what waits for whom) and the 案件 list (flows/inbox.py), on SQLite and PostgreSQL."""

import re
from datetime import timedelta

from sqlalchemy import create_engine, text

from chuishao.flows import lifecycle as lc
from chuishao.flows.inbox import OPTIONAL_ACTIONS, WAITING, Filters, InboxService
from chuishao.flows.sweep import sweep
from chuishao.models.db import sync_url
from tests.county import USERS

LAND = {"outcome": "resolved", "result": "已拆除违建", "officers": ["zrzy_off1", "zrzy_off2"]}


def _svc(api):
    return api.client.app.state.services


def actor(api, who):
    svc = _svc(api)
    try:
        return svc.tokens.read(api.token(who), svc.clock())
    except Exception:  # the test moved the clock past the token's life: sign in again
        api._tokens.pop(who, None)
        return svc.tokens.read(api.token(who), svc.clock())


def inbox(api, who, page=1) -> dict:
    svc, who = _svc(api), actor(api, who)
    return api.client.portal.call(lambda: InboxService(svc.cases).waiting(who, svc.clock(), page=page))


def waits(api, who) -> dict[int, str]:
    """{case id: verb} of the user's inbox, in its order."""
    return {c["id"]: c["waiting"] for c in inbox(api, who)["items"]}


def listing(api, who, **filters) -> tuple[dict | None, dict]:
    svc, who, f = _svc(api), actor(api, who), Filters(**filters)
    return api.client.portal.call(lambda: InboxService(svc.cases).listing(who, svc.clock(), f))


def page_html(api, who, url):
    return api.client.get(url, headers={"Cookie": f"chuishao_session={api.token(who)}"}, follow_redirects=False)


def sql(api, statement, **params):
    engine = create_engine(sync_url(api.settings.url))
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def test_each_step_waits_for_the_right_people(county):
    api = county
    case = api.report()  # 凤城镇, reported
    cid = case["id"]
    assert waits(api, "disp_fc") == {cid: "待受理"}
    for other in ("disp_lhl", "liaison_fc", "zrzy_liaison", "supervisor"):
        assert cid not in waits(api, other), other

    api.act("disp_fc", cid, "accept", {"category": "LAND01"})
    assert waits(api, "disp_fc") == {cid: "待吹哨"}

    api.act("disp_fc", cid, "dispatch")  # lead 自然资源局, assisting 住建局
    assert cid not in waits(api, "disp_fc")
    assert waits(api, "zrzy_liaison") == {cid: "待报到"}
    assert waits(api, "zrzy_off1") == {cid: "待报到"}
    assert waits(api, "zjj_liaison") == {cid: "待报到"}
    assert cid not in waits(api, "sthj_liaison")  # another department's whistle is not theirs

    api.act("zrzy_liaison", cid, "check_in")  # the lead checks in: handling
    assert waits(api, "zrzy_liaison") == {cid: "待反馈"}
    assert waits(api, "zjj_liaison") == {cid: "待报到"}  # the assisting unit has still to check in
    api.act("zjj_liaison", cid, "check_in")
    assert cid not in waits(api, "zjj_liaison")  # assisting: nothing more waits for them

    api.act("zrzy_liaison", cid, "request_extension", {"working_days": 3, "reason": "需等待测绘结果"})
    assert waits(api, "liaison_fc") == {cid: "待审批延期"}
    assert cid not in waits(api, "liaison_lhl")
    api.act("liaison_fc", cid, "approve_extension", {})
    assert cid not in waits(api, "liaison_fc")

    api.act("zrzy_off1", cid, "feedback", LAND)
    assert waits(api, "liaison_fc") == {cid: "待核查"}
    assert cid not in waits(api, "zrzy_liaison")

    api.act("liaison_fc", cid, "verify", {"passed": True})
    for who in USERS:
        if USERS[who][0] != "grid_worker":
            assert cid not in waits(api, who), who


def test_returns_disputes_and_suspensions(county):
    api = county
    case = api.to_dispatched("LAND01")
    cid = case["id"]
    api.act("zrzy_liaison", cid, "return", {"reason": "不属于本部门职责"})
    assert waits(api, "disp_fc") == {cid: "待重新吹哨"}
    assert cid not in waits(api, "zrzy_liaison")
    api.act("disp_fc", cid, "dispatch")
    api.act("zrzy_liaison", cid, "return", {"reason": "仍不属于本部门职责"})  # the second return: disputed
    assert waits(api, "supervisor") == {cid: "待裁定"}
    # whistled to 自然资源局 twice: one case in its list, and in the county's list filtered by the unit
    assert listing(api, "zrzy_liaison")[0]["total"] == 1
    assert listing(api, "supervisor", unit="ZRZY")[0]["total"] == 1
    assert cid not in waits(api, "disp_fc")
    assert cid not in waits(api, "zrzy_liaison")

    other = api.to_handling("ENV01")
    api.act("liaison_fc", other["id"], "suspend", {"reason": "等待天气好转"})
    assert waits(api, "liaison_fc") == {other["id"]: "待恢复"}
    assert other["id"] not in waits(api, "sthj_liaison")  # a suspended case waits for nobody in the department


def test_soonest_deadline_first_overdue_first_none_last(county, clock):
    api = county
    a = api.report(title="甲")  # 09:00 + 2 working hours: 11:00
    clock.advance(minutes=30)
    b = api.report(title="乙")  # 11:30
    c = api.report(title="丙", urgency="urgent")  # 30 minutes, wall clock: 10:00
    d = api.report(title="丁")
    sql(api, "UPDATE cases SET deadline = NULL WHERE id = :id", id=d["id"])  # a case whose clock is not running
    clock.advance(minutes=45)  # 10:15: 丙 is overdue
    listed = inbox(api, "disp_fc")
    assert [x["id"] for x in listed["items"]] == [c["id"], a["id"], b["id"], d["id"]]
    assert [x["overdue"] for x in listed["items"]] == [True, False, False, False]

    # the page shows them in that order, the count in the tab title, the time left as people say it
    r = page_html(api, "disp_fc", "/inbox")
    assert r.status_code == 200
    html = r.text
    assert "<title>待办 (4)" in html
    cells = html[html.index('class="cells ib-cells"'):html.index('class="table-wrap ib-table"')]
    assert re.findall(r"<div class=\"title\">(?:<span[^>]*>紧急</span> )?(\S)</div>", cells) == ["丙", "甲", "乙", "丁"]
    assert "超期 15 分钟" in cells  # the urgent case counts wall-clock minutes
    assert "剩余 45 个工作分钟" in cells


def test_paging_keeps_the_order_and_a_page_past_the_end_shows_the_last(county, clock):
    api = county
    ids = []
    for i in range(53):
        ids.append(api.report(title=f"案件{i}")["id"])
        clock.advance(minutes=1)
    first, second = inbox(api, "disp_fc"), inbox(api, "disp_fc", page=2)
    assert first["total"] == 53 and len(first["items"]) == 50
    assert [x["id"] for x in first["items"] + second["items"]] == ids  # earlier report, earlier deadline
    assert inbox(api, "disp_fc", page=9)["page"] == 2


def test_never_another_townships_or_units_cases(county):
    api = county
    fc = api.report(who="gw_fc1")
    lhl = api.report(who="gw_lhl")
    env = api.to_dispatched("ENV01")  # 生态环境分局
    assert set(waits(api, "disp_lhl")) == {lhl["id"]}
    assert set(waits(api, "disp_fc")) == {fc["id"]}
    assert set(waits(api, "sthj_off")) == {env["id"]}
    assert waits(api, "zrzy_liaison") == {} and waits(api, "admin") == {}
    result, errors = listing(api, "zrzy_liaison")
    assert errors == {} and result["total"] == 0
    result, _ = listing(api, "disp_lhl")
    assert {c["id"] for c in result["items"]} == {lhl["id"]}
    # a township's staff cannot widen their scope with a filter: the choice is not offered, and is refused
    result, errors = listing(api, "disp_lhl", township="FC")
    assert result is None and "township" in errors


def test_case_list_filters_and_refuses_bad_values_with_a_message(county, clock):
    api = county
    a = api.report(title="东街垃圾堆放")
    b = api.to_dispatched("ENV01")
    c = api.report(who="gw_lhl", title="刘胡兰村秸秆焚烧")
    clock.advance(days=3)  # every clock is more than a working day overdue; the sweep fires its levels
    svc = _svc(api)
    api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, clock())

    def ids(who="supervisor", **f):
        result, errors = listing(api, who, **f)
        assert errors == {}, errors
        return [x["id"] for x in result["items"]]

    assert ids() == [c["id"], b["id"], a["id"]]  # newest first
    assert ids(township="LHL") == [c["id"]]
    assert ids(unit="STHJ") == [b["id"]]
    assert ids(status="dispatched") == [b["id"]]
    assert set(ids(status="open")) == {a["id"], b["id"], c["id"]}
    assert ids(q="秸秆") == [c["id"]]
    assert ids(q=a["code"]) == [a["id"]]
    assert set(ids(alert="escalated")) == {a["id"], b["id"], c["id"]}  # past every deadline by over a working day
    assert ids(alert="none") == []

    for field, value in (("status", "nonsense"), ("township", "NOPE"), ("unit", "FC"), ("alert", "red"),
                         ("q", "长" * 101), ("page", "-1"), ("page", "²")):
        result, errors = listing(api, "supervisor", **{field: value})
        assert result is None and errors, (field, value)
    r = page_html(api, "supervisor", "/cases?township=NOPE&alert=overdue")
    assert r.status_code == 422
    assert "乡镇不正确，请从列表中选择" in r.text and 'name="alert"' in r.text  # the form, with the message
    r = page_html(api, "supervisor", "/cases?page=abc")
    assert r.status_code == 422 and "页码不正确" in r.text


def test_pages_answer_for_every_role(county):
    api = county
    api.report()
    for who, (role, *_rest) in USERS.items():
        if role == "grid_worker":
            r = page_html(api, who, "/inbox")
            assert r.status_code == 303 and r.headers["location"] == "/mine"
            continue
        assert page_html(api, who, "/inbox").status_code == 200, who
        assert page_html(api, who, "/cases").status_code == 200, who
    r = page_html(api, "admin", "/inbox")
    assert "管理员没有待办事项" in r.text and 'href="/admin"' in r.text


def _drift_check(api, open_ids):
    """For every user and open case: listed in the inbox exactly when the transition table lets them do
    something about it beyond urge/supervise/suspend; and a listed case's expected actions are allowed now."""
    for who, (role, *_rest) in [*USERS.items(), ("admin", ("admin",))]:
        if role == "grid_worker":
            continue
        rows = {c["id"]: c for c in inbox(api, who)["items"]}
        for cid in open_ids:
            r = api.as_(who).get(f"/api/v1/cases/{cid}")
            allowed = set(r.json()["allowed_actions"]) if r.status_code == 200 else set()
            if cid in rows:
                assert set(rows[cid]["waiting_actions"]) & allowed, (who, cid, rows[cid]["waiting"], allowed)
            elif allowed - OPTIONAL_ACTIONS:
                raise AssertionError(f"{who} may {allowed} on case {cid} ({r.json()['status']}) but it is not "
                                     "in their inbox: update WAITING in flows/inbox.py")


def test_the_waiting_table_agrees_with_the_transition_table(county, clock):
    api = county
    assert set(WAITING) >= {"township_dispatcher", "township_liaison", "department_liaison", "department_officer",
                            "county_supervisor", "admin"}
    for waits_ in WAITING.values():  # every action named exists in lifecycle.TRANSITIONS
        for w in waits_:
            assert set(w.actions) <= set(lc.BY_ACTION) and w.states <= lc.OPEN_STATES
    cases = [
        api.report(),  # reported
        api.report(who="gw_lhl"),  # reported, the other township
        api.to_dispatched("LAND01"),  # dispatched: lead and assisting unit
        api.to_dispatched("STALL01"),  # dispatched to the township's own team
        api.to_handling("ENV01"),
        api.to_feedback(),
    ]
    accepted = api.report()
    api.act("disp_fc", accepted["id"], "accept", {"category": "MKT01"})
    handling = api.to_handling("LAND01")  # the assisting 住建局 has not checked in
    api.act("zrzy_liaison", handling["id"], "request_extension", {"working_days": 2, "reason": "需补充材料"})
    returned = api.to_dispatched("LAND01")
    api.act("zrzy_liaison", returned["id"], "return", {"reason": "职责不符"})
    disputed = api.to_dispatched("ENV01")
    api.act("sthj_liaison", disputed["id"], "return", {"reason": "职责不符"})
    api.act("disp_fc", disputed["id"], "escalate_dispute", {"reason": "双方有争议"})
    suspended = api.to_handling("MKT01")
    api.act("liaison_fc", suspended["id"], "suspend", {"reason": "当事人外出"})
    open_ids = [c["id"] for c in cases] + [x["id"] for x in (accepted, handling, returned, disputed, suspended)]
    _drift_check(api, open_ids)

    # a week later every clock is far past its deadline: the supervisor's 督办 list fills up
    clock.advance(days=7)
    svc = _svc(api)
    api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, clock() + timedelta(seconds=1))
    escalated = {cid for cid in open_ids if api.get("supervisor", cid)["alert"] == "escalated"}
    assert escalated and escalated <= set(waits(api, "supervisor"))
    _drift_check(api, open_ids)
