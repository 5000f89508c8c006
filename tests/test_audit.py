"""The timeline is tamper-evident: `chuishao audit verify` names the first edited entry."""

import os
import subprocess

from sqlalchemy import create_engine, text

from chuishao.models.db import sync_url
from tests.county import CHUISHAO_CLI


def _audit(settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHUISHAO_DATABASE_URL": settings.url, "CHUISHAO_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([*CHUISHAO_CLI, "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_every_action_is_one_chained_entry(county):
    api = county
    case = api.to_feedback()
    entries = api.as_("liaison_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()
    assert [e["action"] for e in entries] == ["report", "accept", "dispatch", "check_in", "feedback"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:], strict=False))
    first = entries[1]
    assert (first["actor"], first["unit"], first["role"], first["from_state"], first["to_state"]) == (
        "disp_fc", "FC", "township_dispatcher", "reported", "accepted")
    assert first["at"].endswith("+08:00")  # shown in Asia/Shanghai
    assert entries[2]["payload"]["lead_unit"] == "ZRZY"


def test_audit_passes_then_catches_an_edited_entry(county, settings):
    api = county
    a = api.to_feedback()
    b = api.to_dispatched()
    ok = _audit(settings)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 cases" in ok.stdout

    engine = create_engine(sync_url(settings.url))
    with engine.begin() as conn:  # someone rewrites who did the check-in, straight in the database
        conn.execute(text("UPDATE timeline SET actor = 'someone_else' WHERE case_id = :c AND seq = 4"),
                     {"c": a["id"]})
    bad = _audit(settings)
    assert bad.returncode == 1
    assert f"case {a['id']} entry seq 4" in bad.stdout and "TAMPERED" in bad.stdout

    with engine.begin() as conn:  # put it back, then drop the last entry of the other case instead
        conn.execute(text("UPDATE timeline SET actor = 'zrzy_liaison' WHERE case_id = :c AND seq = 4"),
                     {"c": a["id"]})
        conn.execute(text("DELETE FROM timeline WHERE case_id = :c AND seq = 3"), {"c": b["id"]})
    bad = _audit(settings)
    assert bad.returncode == 1 and f"case {b['id']} entry seq 3" in bad.stdout
    engine.dispose()
