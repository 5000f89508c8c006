"""Odd but correctly signed tokens (signed with the real secret): every claim is checked, so each one is a 401 on
the REST API, a sign-in page for the web session cookie and a 4401 close on the WebSocket, never a 500.
Also: tokens issued before sessions were kept (no `jti`) must sign in again."""

import jwt

from chuishao.api.web.session import SESSION_COOKIE
from tests.conftest import ADMIN_PASSWORD

SECRET = "test-secret-of-at-least-thirty-two-bytes"  # tests/conftest.py test_settings
JTI = "0123456789abcdef0123456789abcdef"


def claims(client, **changes) -> dict:
    """An admin's claims as the server signs them, with `changes` (None: leave that claim out)."""
    now = int(client.app.state.services.clock().timestamp())
    base = {"sub": "admin", "uid": 1, "role": "admin", "unit": 1, "unit_code": "WS", "township": None,
            "iat": now, "exp": now + 3600, "jti": JTI}
    return {k: v for k, v in {**base, **changes}.items() if v is not None or k == "township"}


def without(name: str) -> dict:
    return {name: None}


ODD = {
    # wrong types
    "uid as a string": {"uid": "1"},
    "uid as a bool": {"uid": True},
    "uid as a float": {"uid": 1.5},
    "unit as a string": {"unit": "1"},
    "role as a number": {"role": 7},
    "sub as a number": {"sub": 42},
    "exp as a string": {"exp": "9999999999"},
    "exp as a float": {"exp": 9999999999.5},
    "township as a string": {"township": "2"},
    "unit_code as a list": {"unit_code": ["WS"]},
    "jti as a number": {"jti": 12345},
    # nested objects
    "sub as an object": {"sub": {"$ne": ""}},
    "uid as a list": {"uid": [1]},
    "role as an object": {"role": {"admin": True}},
    "unit as an object": {"unit": {"id": 1}},
    # out of range
    "huge uid": {"uid": 2**70},
    "negative uid": {"uid": -1},
    "zero unit": {"unit": 0},
    "huge township": {"township": 10**30},
    "huge exp": {"exp": 10**30},
    "huge iat": {"iat": 10**40},
    # unknown or malformed values
    "unknown role": {"role": "superuser"},
    "empty sub": {"sub": ""},
    "sub with spaces": {"sub": "ad min"},
    "jti too short": {"jti": "abc"},
    "jti not hex": {"jti": "z" * 32},
    "jti uppercase": {"jti": JTI.upper()},
    # missing claims
    **{f"no {name}": without(name) for name in ("sub", "uid", "role", "unit", "exp", "jti")},
}


def odd_token(client, case: str) -> str:
    return jwt.encode(claims(client, **ODD[case]), SECRET, algorithm="HS256")


def test_an_odd_but_signed_token_is_a_401_on_rest_a_sign_in_page_on_the_web_and_4401_on_the_socket(client):
    for case in ODD:
        token = odd_token(client, case)

        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (case, r.text)
        assert r.json()["error"]["code"] == "unauthorized" and "登录" in r.json()["error"]["message"], case

        client.cookies.set(SESSION_COOKIE, token)
        r = client.get("/inbox", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/?next="), (case, r.text)
        r = client.get("/", follow_redirects=False)  # the sign-in page itself shows, rather than a redirect loop
        assert r.status_code == 200 and "登录" in r.text, case
        client.cookies.clear()

        with client.websocket_connect(f"/api/v1/ws?token={token}") as ws:
            assert ws.receive_json()["error"]["code"] == "unauthorized", case
            assert ws.receive()["code"] == 4401, case


def test_odd_tokens_sent_over_the_socket_as_first_message_are_refused(client):
    for first in ({"token": {"nested": True}}, {"token": 12345}, ["token"], {"token": odd_token(client, "huge uid")}):
        with client.websocket_connect("/api/v1/ws") as ws:
            ws.send_json(first)
            assert ws.receive_json()["error"]["code"] == "unauthorized"
            assert ws.receive()["code"] == 4401


def test_a_well_formed_token_without_a_session_is_refused(client):
    """Correct claims, real secret, but no session was ever opened for its `jti` (forged or from a wiped table)."""
    token = jwt.encode(claims(client), SECRET, algorithm="HS256")
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "重新登录" in r.json()["error"]["message"]


def test_a_token_from_before_the_upgrade_signs_in_again(client):
    """Tokens issued before sessions were kept carry no `jti`: 401 with a sign-in-again message, not a 500."""
    old = jwt.encode({k: v for k, v in claims(client).items() if k != "jti"}, SECRET, algorithm="HS256")
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert "重新登录" in r.json()["error"]["message"] and r.headers["www-authenticate"] == "Bearer"
    fresh = client.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
    assert r.status_code == 200 and r.json()["username"] == "admin"
