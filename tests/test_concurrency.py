"""Two conflicting actions on one case: exactly one is applied (docs/architecture.md#concurrency)."""

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _race(api, *calls):
    """Send the calls at the same moment from separate threads; return the responses in order."""
    for who, *_ in calls:
        api.token(who)  # log in first so the race is only the actions
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(api.as_(who).post, f"/api/v1/cases/{cid}/actions/{action}", json=body)
                   for who, cid, action, body in calls]
        return [f.result() for f in futures]


def _timeline(api, case_id):
    return api.as_("supervisor").get(f"/api/v1/cases/{case_id}/timeline").json()


@pytest.mark.parametrize("rounds", [8])
def test_check_in_against_return_exactly_one_wins(county, rounds):
    api = county
    for _ in range(rounds):
        case = api.to_dispatched("ENV01")
        r1, r2 = _race(api, ("sthj_liaison", case["id"], "check_in", {}),
                       ("sthj_liaison", case["id"], "return", {"reason": "不归本部门"}))
        outcomes = sorted([r1.status_code, r2.status_code])
        assert outcomes[0] == 200 and outcomes[1] in (409, 422), (r1.text, r2.text)
        after = api.get("supervisor", case["id"])
        winner = "check_in" if r1.status_code == 200 else "return"
        assert after["status"] == ("handling" if winner == "check_in" else "returned")
        assert after["version"] == 4  # report, accept, dispatch, and exactly one more
        assert [e["action"] for e in _timeline(api, case["id"])][-1] == winner


def test_two_check_ins_exactly_one_wins(county):
    api = county
    case = api.to_dispatched("ENV01")
    responses = _race(api, *[("sthj_liaison", case["id"], "check_in", {})] * 2)
    assert sorted(r.status_code for r in responses)[0] == 200
    assert sum(r.status_code == 200 for r in responses) == 1
    assert [e["action"] for e in _timeline(api, case["id"])].count("check_in") == 1


def test_postgres_race_with_both_transactions_inside_at_once(county, settings):
    """Hold the case row locked from a third connection so both actions have read the same version
    before either can write; then let go. One commits, the other is refused with 409."""
    if not settings.url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL")
    api = county
    case = api.to_dispatched("ENV01")
    for who in ("sthj_liaison", "disp_fc"):
        api.token(who)
    u = make_url(settings.url)
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as watcher:
        holder.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case["id"],))
        with ThreadPoolExecutor(2) as pool:
            f1 = pool.submit(api.as_("sthj_liaison").post, f"/api/v1/cases/{case['id']}/actions/check_in", json={})
            f2 = pool.submit(api.as_("sthj_liaison").post, f"/api/v1/cases/{case['id']}/actions/return",
                             json={"reason": "职责不符"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # both requests are now blocked on the row lock
                (waiting,) = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (u.database,)).fetchone()
                if waiting >= 2:
                    break
                time.sleep(0.02)
            assert waiting >= 2, "both actions should be waiting on the case row"
            holder.rollback()
            r1, r2 = f1.result(), f2.result()
    assert sorted([r1.status_code, r2.status_code]) == [200, 409], (r1.text, r2.text)
    loser = r1 if r1.status_code == 409 else r2
    assert loser.json()["error"]["code"] == "version_conflict"
    after = api.get("supervisor", case["id"])
    assert after["version"] == 4
    assert len(_timeline(api, case["id"])) == 4
