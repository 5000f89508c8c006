"""Each webhook subscriber signs with their own secret, never the server's token signing key (issue 10): made by
the server on the first save, shown once, rotated on request; existing webhooks get one on upgrade."""

import hashlib
import hmac

import pytest
import sqlalchemy as sa

from chuishao.models.db import make_sync_engine
from chuishao.models.migrate import upgrade
from tests import test_notifications
from tests.test_notifications import allow_loopback, eventually

receiver = test_notifications.receiver  # the real local HTTP receivers, as a fixture here too


def _signed_with(secret: str, headers: dict, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Chuishao-Signature"], expected)


def test_a_webhook_is_signed_with_its_subscribers_own_secret_not_the_token_key(county, receiver):
    api = county
    allow_loopback(api)
    hooks, secrets = {}, {}
    for who in ("zrzy_liaison", "zjj_liaison"):  # both are notified of a LAND01 whistle
        hooks[who] = receiver()
        r = api.as_(who).put("/api/v1/me/channels/webhook", json={"address": hooks[who].url})
        assert r.status_code == 200, r.text
        secrets[who] = r.json()["secret"]
    assert secrets["zrzy_liaison"] != secrets["zjj_liaison"] and len(secrets["zrzy_liaison"]) >= 40
    # shown once: neither a later save nor the channel list gives it again
    again = api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook", json={"address": hooks["zrzy_liaison"].url})
    assert "secret" not in again.json()
    listed = api.as_("zrzy_liaison").get("/api/v1/me/channels").json()
    assert listed == [{"channel": "webhook", "address": hooks["zrzy_liaison"].url, "enabled": True,
                       "secret_set": True}]
    # a user cannot choose a weak secret of their own
    assert api.as_("zrzy_liaison").put("/api/v1/me/channels/webhook",
                                       json={"address": hooks["zrzy_liaison"].url, "secret": "x" * 16}
                                       ).status_code == 422

    api.to_dispatched("LAND01")
    assert eventually(lambda: all(h.requests for h in hooks.values()))
    token_key = api.settings.secret()
    for who, hook in hooks.items():
        headers, body = hook.requests[0]
        assert _signed_with(secrets[who], headers, body)
        assert not _signed_with(token_key, headers, body)
        other = next(w for w in secrets if w != who)
        assert not _signed_with(secrets[other], headers, body)


def test_rotating_the_secret_signs_later_deliveries_with_the_new_one(county, receiver):
    api = county
    me = api.as_("zrzy_liaison")
    assert me.post("/api/v1/me/channels/webhook/secret").status_code == 404  # no webhook yet
    allow_loopback(api)
    hook = receiver()
    old = me.put("/api/v1/me/channels/webhook", json={"address": hook.url}).json()["secret"]
    r = me.post("/api/v1/me/channels/webhook/secret")
    assert r.status_code == 200 and r.json()["channel"] == "webhook"
    new = r.json()["secret"]
    assert new != old
    api.to_dispatched("LAND01")
    assert eventually(lambda: hook.requests)
    headers, body = hook.requests[0]
    assert _signed_with(new, headers, body) and not _signed_with(old, headers, body)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_db(request, tmp_path):
    """An empty database of each kind (not the session's migrated one): for upgrade tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    from tests.conftest import PG_URL, _pg_admin, named_after

    url = named_after(PG_URL, "upgrade")
    _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', 'CREATE DATABASE "{db}"')
    yield url
    _pg_admin(url, 'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def test_the_upgrade_gives_each_existing_webhook_its_own_secret(blank_db):
    upgrade(blank_db, "0008")  # an installation from before issue 10
    engine = make_sync_engine(blank_db)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO units (id, code, name, kind, created_at) "
                                 "VALUES (1, 'WS', '文水县', 'county', '2026-11-01 00:00:00')"))
            for i in (1, 2, 3):
                conn.execute(sa.text("INSERT INTO users (id, username, password_hash, name, role, unit_id, active, "
                                     "created_at) VALUES (:i, :u, 'x', 'n', 'department_liaison', 1, true, "
                                     "'2026-11-01 00:00:00')"), {"i": i, "u": f"u{i}"})
            conn.execute(sa.text("INSERT INTO user_channels (user_id, channel, address, secret, enabled) VALUES "
                                 "(1, 'webhook', 'https://a.example/hook', NULL, true), "
                                 "(2, 'webhook', 'https://b.example/hook', NULL, true), "
                                 "(3, 'webhook', 'https://c.example/hook', 'their-own-secret-kept-0123', false), "
                                 "(3, 'email', 'c@example.org', NULL, true)"))
        upgrade(blank_db)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT user_id, channel, address, secret, enabled FROM user_channels "
                                        "ORDER BY user_id, channel")).all()
    finally:
        engine.dispose()
    by = {(r.user_id, r.channel): r for r in rows}
    assert len(rows) == 4  # nothing lost
    a, b = by[(1, "webhook")].secret, by[(2, "webhook")].secret
    assert a and b and a != b and len(a) >= 40
    assert by[(3, "webhook")].secret == "their-own-secret-kept-0123" and not by[(3, "webhook")].enabled
    assert by[(3, "email")].secret is None and by[(3, "email")].address == "c@example.org"
    assert [by[(i, "webhook")].address for i in (1, 2, 3)] == [f"https://{c}.example/hook" for c in "abc"]

