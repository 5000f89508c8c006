"""Login throttling (issue 10): failed sign-ins counted per account and per client address, shared by every API
process through the database; 429 with Retry-After (REST: the error shape; the login page: a Chinese message);
other people's failures never block a correct sign-in to another account from another address; and unknown
or deactivated usernames cost the same password hash as a wrong password."""

import argon2
import pytest
from fastapi.testclient import TestClient

from chuishao.api.app import create_app
from tests.conftest import ADMIN_PASSWORD, bootstrap_settings
from tests.county import PASSWORD, Api
from tests.test_web_admin import Browserish

ACCOUNT_LIMIT, ADDRESS_LIMIT = 3, 6


@pytest.fixture
def two_processes(db_url, tmp_path, clock):
    """Two API processes on one database, each reached from its own client address (the attacker's and an
    office's); a few people to sign in as."""
    settings = bootstrap_settings(db_url, tmp_path, clock, login_limit_account=f"{ACCOUNT_LIMIT} per 15 minutes",
                                  login_limit_address=f"{ADDRESS_LIMIT} per 15 minutes")
    with TestClient(create_app(settings, clock), client=("203.0.113.7", 40000)) as attacker, \
            TestClient(create_app(settings, clock), client=("198.51.100.20", 40000)) as office:
        admin = Api(office, ADMIN_PASSWORD, settings).as_("admin")
        for name in ("alice", "bob", "carol", "dave", "erin"):
            r = admin.post("/api/v1/users", json={"username": name, "password": PASSWORD, "name": name,
                                                  "role": "county_supervisor", "unit": "WS"})
            assert r.status_code == 201, r.text
        yield attacker, office


def login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def too_many(r) -> int:
    """Assert a 429 in the error shape with Retry-After; return the seconds to wait."""
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "too_many_attempts" and "登录失败次数过多" in error["message"]
    wait = int(r.headers["retry-after"])
    assert 0 < wait <= 15 * 60 and error["retry_after"] == wait
    return wait


def test_an_account_is_throttled_after_failures_even_with_the_right_password(two_processes):
    attacker, office = two_processes
    for _ in range(ACCOUNT_LIMIT):
        assert login(attacker, "alice", "wrong-guess-1").status_code == 401
    too_many(login(attacker, "alice"))  # the right password, but the attacker may have found it
    too_many(login(attacker, "ALICE", "wrong-guess-2"))  # the same account whatever the letter case
    assert login(office, "alice").status_code == 200  # the owner, from another address, is not locked out
    page = Browserish(attacker)
    attacker.get("/")
    r = attacker.post("/", data={"username": "alice", "password": PASSWORD, "csrftoken": page.token()},
                      follow_redirects=False)
    assert r.status_code == 429 and "登录失败次数过多" in r.text and int(r.headers["retry-after"]) > 0

    assert login(office, "bob").status_code == 200  # other people sign in as usual
    assert login(attacker, "carol").status_code == 200  # also from the attacker's address, below its allowance


def test_an_address_is_throttled_after_failures_spread_over_many_accounts(two_processes):
    attacker, office = two_processes
    names = ["alice", "bob", "carol", "nobody", "ghost", "dave"]  # known and unknown alike
    for name in names[:ADDRESS_LIMIT]:
        assert login(attacker, name, "wrong-guess-1").status_code == 401
    too_many(login(attacker, "erin"))  # an account nobody tried, but from the exhausted address
    for name in ("alice", "erin"):  # no account reached its own limit: from elsewhere they sign in
        assert login(office, name).status_code == 200


def test_a_successful_sign_in_clears_the_accounts_failures(two_processes):
    attacker, office = two_processes
    for _ in range(ACCOUNT_LIMIT - 1):
        assert login(office, "alice", "typo-typo-1").status_code == 401
    assert login(office, "alice").status_code == 200
    for _ in range(ACCOUNT_LIMIT - 1):  # a fresh allowance for the next typos
        assert login(office, "alice", "typo-typo-1").status_code == 401
    assert login(office, "alice").status_code == 200


def test_the_throttle_can_use_another_limits_storage(db_url, tmp_path, clock):
    settings = bootstrap_settings(db_url, tmp_path, clock, login_limit_account="2 per 15 minutes",
                                  login_throttle_storage="async+memory://")
    with TestClient(create_app(settings, clock)) as c:
        for _ in range(2):
            assert login(c, "admin", "wrong-guess-1").status_code == 401
        too_many(login(c, "admin", ADMIN_PASSWORD))


def test_unknown_and_deactivated_usernames_verify_one_hash_of_the_same_cost(client, monkeypatch):
    """No telling which usernames exist from the time a refusal takes: every attempt verifies exactly one argon2
    hash with the configured parameters (a dummy one when there is no such active user)."""
    admin = Api(client, ADMIN_PASSWORD).as_("admin")
    for name in ("frank", "gone"):
        assert admin.post("/api/v1/users", json={"username": name, "password": PASSWORD, "name": name,
                                                 "role": "county_supervisor", "unit": "WS"}).status_code == 201
    assert admin.post("/api/v1/users/gone/deactivate").status_code == 200
    verified: list = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self, hashed, password):  # the library's own verify, watched
        verified.append(argon2.extract_parameters(hashed))
        return real_verify(self, hashed, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    seen = {}
    for name, password in (("frank", "wrong-guess-1"), ("nobody-here", "wrong-guess-1"), ("gone", PASSWORD)):
        verified.clear()
        assert login(client, name, password).status_code == 401
        assert len(verified) == 1, name
        seen[name] = verified[0]
    assert seen["nobody-here"] == seen["frank"] == seen["gone"]
