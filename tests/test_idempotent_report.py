"""A phone that kept a report offline sends it again when the network returns: with the same
Idempotency-Key it gets the same case back, never a second one; the same photo resent is kept once."""

from sqlalchemy import func, select

from tests.county import PASSWORD

PHOTO = b"\x89PNG\r\n\x1a\n" + b"a photo of the site" * 50


def _count_cases(api) -> int:
    return api.as_("supervisor").get("/api/v1/cases").json()["total"]


def test_a_resent_report_with_the_same_key_returns_the_first_case(county):
    api = county
    body = {"title": "东街井盖缺失", "description": "人行道井盖丢失，行人易跌落"}
    first = api.as_("gw_fc1").post("/api/v1/cases", json=body, headers={"Idempotency-Key": "draft-7f3a"})
    again = api.as_("gw_fc1").post("/api/v1/cases", json=body, headers={"Idempotency-Key": "draft-7f3a"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert _count_cases(api) == 1
    trail = api.as_("gw_fc1").get(f"/api/v1/cases/{first.json()['id']}/timeline").json()
    assert [e["action"] for e in trail] == ["report"]

    # the key is the reporter's own: another worker's draft with the same key is another report
    other = api.as_("gw_fc2").post("/api/v1/cases", json=body, headers={"Idempotency-Key": "draft-7f3a"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    # no key: every post is a new report, as before
    assert api.as_("gw_fc1").post("/api/v1/cases", json=body).status_code == 201
    assert _count_cases(api) == 3


def test_a_bad_key_is_refused_and_writes_nothing(county):
    api = county
    r = api.as_("gw_fc1").post("/api/v1/cases", json={"title": "x"},
                               headers={"Idempotency-Key": "has spaces / slashes"})
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()
    assert _count_cases(api) == 0


def test_the_same_photo_resent_by_the_same_person_is_kept_once(county, settings):
    api = county
    case = api.report()
    url = f"/api/v1/cases/{case['id']}/attachments"
    one = api.as_("gw_fc1").post(url, files={"file": ("现场.png", PHOTO, "image/png")})
    two = api.as_("gw_fc1").post(url, files={"file": ("现场.png", PHOTO, "image/png")})
    assert one.status_code == 201 and two.status_code in (200, 201)
    assert two.json()["id"] == one.json()["id"] and two.json()["replayed"] is True
    assert len(api.as_("gw_fc1").get(url).json()) == 1
    trail = api.as_("gw_fc1").get(f"/api/v1/cases/{case['id']}/timeline").json()
    assert [e["action"] for e in trail] == ["report", "attach"]


def test_concurrent_resends_make_one_case(county, bootstrapped):
    """Two copies of the same draft arriving at once: the unique index lets one insert, the other replays."""
    import asyncio

    from chuishao.api.app import build_services
    from chuishao.flows.access import Actor
    from chuishao.flows.clock import system_clock
    from chuishao.models.cases import Case

    svc = build_services(bootstrapped, system_clock)
    me = county.as_("gw_fc1").get("/api/v1/me").json()

    async def run():
        async with svc.db.read() as s:
            from chuishao.models.org import User
            user = (await s.execute(select(User).where(User.username == me["username"]))).scalar_one()
            unit = await svc.cases.units.get(s, user.unit_id)
        who = Actor(user.id, user.username, user.role, unit.id, unit.code, svc.cases.units.township_of(unit))
        now = system_clock()
        results = await asyncio.gather(*[svc.cases.report(who, {"title": "同时到达的草稿"}, now, client_key="k-1")
                                         for _ in range(4)])
        async with svc.db.read() as s:
            n = (await s.execute(select(func.count()).select_from(Case).where(Case.client_key == "k-1"))).scalar_one()
        await svc.db.dispose()
        return results, n

    results, n = asyncio.run(run())
    assert n == 1
    assert len({r["id"] for r in results}) == 1


def test_reports_refused_for_an_ended_session_use_up_no_case_number(county):
    """A signed-out phone that keeps sending its report is refused (401) each time; the next report that is
    accepted takes the next case number, so the county's numbering shows no gap for the refusals."""
    api = county
    first = api.report()
    r = api.client.post("/api/v1/auth/token", data={"username": "gw_fc2", "password": PASSWORD})
    token = r.json()["access_token"]
    assert api.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    for _ in range(3):
        r = api.client.post("/api/v1/cases", json={"title": "西街积水", "description": "退出登录后重发"},
                            headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    assert api.report()["id"] == first["id"] + 1
