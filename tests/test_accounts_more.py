"""Issue 10, accounts (second round): passwords built on pinyin names, places and phrases are refused; a
username is one account whatever its letter case (sign-in, the admin's user pages, officers named on
feedback); a stranger's wrong guesses from elsewhere do not lock the owner out, while one address's guesses
and a large attack from many addresses still do. SQLite and PostgreSQL where a database is involved."""

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from chuishao.flows.admin import password_problem
from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
from tests.county import PASSWORD, Api
from tests.test_login_throttle import login, too_many

PLACES = ["文水县", "凤城镇", "刘胡兰镇", "凤城镇东街网格"]  # the test county's units (tests/county.py)


# ---- 1. pinyin passwords --------------------------------------------------------------------------------
@pytest.mark.parametrize("password", [
    "zhangwei123", "zhangsan123", "wangxiaoming", "woaiwojia888", "woshizhongguoren", "liwei1990",
    "liuhulan123", "wenshui2026", "wenshuixian2026", "fengchengzhen",
])
def test_passwords_built_on_pinyin_names_places_or_phrases_are_refused_saying_so(password):
    zh, en = password_problem(password, "zrzy_off9", ["赵六", *PLACES])
    assert "拼音姓名、地名或常用语" in zh and "pinyin" in en


@pytest.mark.parametrize("password", ["admin-pass-123", "secret-pass-1", "Tudi-2026-zhifa", "correct-horse-battery"])
def test_passwords_that_are_not_built_on_a_name_still_pass(password):
    assert password_problem(password, "zrzy_off9", ["赵六", *PLACES]) is None


def test_the_users_own_name_and_the_units_names_count_when_an_admin_sets_a_password(county):
    admin = county.as_("admin")
    body = {"username": "ouyang", "name": "欧阳修远", "role": "department_officer", "unit": "ZRZY"}
    for password in ("ouyangxiuyuan-88", "fengcheng-2027"):  # her own name; a township's
        r = admin.post("/api/v1/users", json={**body, "password": password})
        assert r.status_code == 422 and r.json()["error"]["code"] == "weak_password", r.text
        assert "拼音姓名、地名或常用语" in r.json()["error"]["message"]
    assert admin.get("/api/v1/users/ouyang").status_code == 404  # nothing was created
    assert admin.post("/api/v1/users", json={**body, "password": "Tudi-2026-zhifa"}).status_code == 201
    r = admin.post("/api/v1/users/ouyang/password", json={"password": "ouyangxiuyuan-88"})
    assert r.status_code == 422 and "拼音" in r.json()["error"]["message"], r.text
    assert login(county.client, "ouyang", "Tudi-2026-zhifa").status_code == 200  # the old one still works


# ---- 2. letter case ---------------------------------------------------------------------------------------
def test_a_username_is_one_account_whatever_its_letter_case(county):
    api = county
    r = login(api.client, "GW_FC2")
    assert r.status_code == 200 and r.json()["user"]["username"] == "gw_fc2"
    admin = api.as_("admin")
    r = admin.get("/api/v1/users/ZRZY_OFF2")
    assert r.status_code == 200 and r.json()["username"] == "zrzy_off2"
    r = admin._send("patch", "/api/v1/users/Zrzy_Off2", json={"phone": "13800000000"})
    assert r.status_code == 200 and admin.get("/api/v1/users/zrzy_off2").json()["phone"] == "13800000000"
    r = admin.post("/api/v1/users/ADMIN/deactivate")  # still one's own account, in any case
    assert r.status_code == 422 and r.json()["error"]["code"] == "self", r.text

    case = api.to_handling("LAND01")
    r = api.as_("zrzy_off1").post(f"/api/v1/cases/{case['id']}/actions/feedback", json={
        "outcome": "resolved", "result": "已立案查处", "officers": ["ZRZY_OFF1", "zrzy_off2", "Zrzy_Off2"]})
    assert r.status_code == 200, r.text
    timeline = api.as_("zrzy_off1").get(f"/api/v1/cases/{case['id']}/timeline").text
    assert "zrzy_off2" in timeline and "ZRZY_OFF1" not in timeline  # recorded as the accounts are named


def test_wrong_guesses_count_against_the_account_whatever_their_letter_case(throttled):
    attacker, office, _ = throttled
    for name in ("alice", "ALICE", "Alice"):
        assert login(attacker, name, "wrong-guess-1").status_code == 401
    too_many(login(attacker, "aLiCe"))


# ---- 3. who can lock whom out -------------------------------------------------------------------------------
PER_ACCOUNT, PER_ACCOUNT_TOTAL, PER_ADDRESS = 3, 7, 20


@pytest.fixture
def throttled(db_url, tmp_path, clock):
    """Three API processes on one database: an attacker's, a second process the attacker reaches from the same
    address, and the owner's office; small allowances so the tests stay short."""
    settings = bootstrap_settings(db_url, tmp_path, clock, login_limit_account=f"{PER_ACCOUNT} per 15 minutes",
                                  login_limit_account_total=f"{PER_ACCOUNT_TOTAL} per 15 minutes",
                                  login_limit_address=f"{PER_ADDRESS} per 15 minutes")
    with TestClient(create_app(settings, clock), client=("203.0.113.7", 40000)) as attacker, \
            TestClient(create_app(settings, clock), client=("203.0.113.7", 40001)) as attacker_again, \
            TestClient(create_app(settings, clock), client=("198.51.100.20", 40000)) as office:
        admin = Api(office, ADMIN_PASSWORD, settings).as_("admin")
        r = admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD, "name": "alice",
                                              "role": "county_supervisor", "unit": "WS"})
        assert r.status_code == 201, r.text
        yield attacker, office, (settings, clock, attacker_again)


def test_a_few_wrong_guesses_elsewhere_do_not_lock_the_owner_out(throttled):
    attacker, office, (_, _, attacker_again) = throttled
    for _ in range(PER_ACCOUNT):
        assert login(attacker, "admin", "wrong-guess-1").status_code == 401
    too_many(login(attacker, "admin", ADMIN_PASSWORD))  # the guessing address is stopped, right password or not
    too_many(login(attacker_again, "admin", "wrong-guess-2"))  # in every process
    assert login(office, "admin", ADMIN_PASSWORD).status_code == 200  # the owner signs in from their own address
    for _ in range(PER_ACCOUNT - 1):  # and has their own allowance for typos
        assert login(office, "admin", "typo-typo-1").status_code == 401
    assert login(office, "admin", ADMIN_PASSWORD).status_code == 200


def test_an_attack_from_many_addresses_uses_up_the_accounts_ceiling(throttled):
    attacker, office, (settings, clock, _) = throttled
    failures = 0
    with ExitStack() as stack:
        for i in range(1, 1 + -(-PER_ACCOUNT_TOTAL // PER_ACCOUNT)):  # each address within its own allowance
            elsewhere = stack.enter_context(TestClient(create_app(settings, clock), client=(f"192.0.2.{i}", 40000)))
            for _ in range(min(PER_ACCOUNT, PER_ACCOUNT_TOTAL - failures)):
                assert login(elsewhere, "alice", "wrong-guess-1").status_code == 401
                failures += 1
    too_many(login(office, "alice"))  # the owner too, now: the attack was large
    assert login(office, "admin", ADMIN_PASSWORD).status_code == 200  # other accounts as usual


def test_one_address_is_still_stopped_after_guesses_spread_over_many_accounts(throttled):
    attacker, office, _ = throttled
    for i in range(PER_ADDRESS):
        assert login(attacker, f"nobody{i}", "wrong-guess-1").status_code == 401
    too_many(login(attacker, "alice"))
    assert login(office, "alice").status_code == 200
