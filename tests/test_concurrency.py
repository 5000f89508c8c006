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


def _held_at_the_write(settings, case_ids, *requests):
    """Hold the case rows locked from a third connection, send the requests (post, url, body) from threads, wait
    until every one is blocked on a row lock (each has read, none has written), then let go; return the
    responses in order."""
    u = make_url(settings.url)
    conninfo = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo, autocommit=True) as watcher:
        holder.execute("SELECT id FROM cases WHERE id = ANY(%s) FOR UPDATE", (list(case_ids),))
        with ThreadPoolExecutor(len(requests)) as pool:
            futures = [pool.submit(post, url, json=body) for post, url, body in requests]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                (waiting,) = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (u.database,)).fetchone()
                if waiting >= len(requests):
                    break
                time.sleep(0.02)
            assert waiting >= len(requests), "every request should be waiting at its write"
            holder.rollback()
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
    r1, r2 = _held_at_the_write(settings, [case["id"]],
                                (api.as_("sthj_liaison").post, f"/api/v1/cases/{case['id']}/actions/check_in", {}),
                                (api.as_("sthj_liaison").post, f"/api/v1/cases/{case['id']}/actions/return",
                                 {"reason": "职责不符"}))
    assert sorted([r1.status_code, r2.status_code]) == [200, 409], (r1.text, r2.text)
    loser = r1 if r1.status_code == 409 else r2
    assert loser.json()["error"]["code"] == "version_conflict"
    after = api.get("supervisor", case["id"])
    assert after["version"] == 4
    assert len(_timeline(api, case["id"])) == 4


def test_postgres_cross_merge_leaves_one_case_open(county, settings):
    """合并 A→B and B→A at the same moment: each merge reads the other case still open, so without a lock on
    the master case both would commit and leave two merged cases pointing at each other, with no open case for
    the event. Both requests are held at their write (both rows locked from a third connection), then let go:
    exactly one merge is applied, the other is refused with 409, and the master case is still open."""
    if not settings.url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite's writes are serialised)")
    api = county
    a, b = api.report(), api.report()
    api.token("disp_fc")
    r1, r2 = _held_at_the_write(settings, [a["id"], b["id"]],
                                (api.as_("disp_fc").post, f"/api/v1/cases/{a['id']}/actions/merge", {"into": b["id"]}),
                                (api.as_("disp_fc").post, f"/api/v1/cases/{b['id']}/actions/merge", {"into": a["id"]}))
    assert sorted([r1.status_code, r2.status_code]) == [200, 409], (r1.text, r2.text)
    loser = r1 if r1.status_code == 409 else r2
    assert loser.json()["error"]["code"] == "version_conflict"
    states = sorted(api.get("supervisor", c["id"])["status"] for c in (a, b))
    assert states == ["merged", "reported"]
    merged = a if r1.status_code == 200 else b
    assert [e["action"] for e in _timeline(api, merged["id"])][-1] == "merge"
