"""Evidence photos: stored on disk by content hash, recorded in the timeline, scoped like the case."""

import hashlib


def test_upload_is_stored_by_hash_and_recorded(county, settings):
    api = county
    case = api.report()
    photo = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 100
    r = api.as_("gw_fc1").post(f"/api/v1/cases/{case['id']}/attachments",
                               files={"file": ("现场照片.png", photo, "image/png")})
    assert r.status_code == 201, r.text
    att = r.json()
    sha = hashlib.sha256(photo).hexdigest()
    assert (att["sha256"], att["size"], att["filename"]) == (sha, len(photo), "现场照片.png")
    assert (settings.data_dir / "attachments" / sha[:2] / sha).read_bytes() == photo

    # the same photo twice is stored once, recorded twice
    again = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/attachments",
                                    files={"file": ("copy.png", photo, "image/png")})
    assert again.status_code == 201
    assert len(list((settings.data_dir / "attachments").rglob("*"))) == 2  # one folder, one file

    listed = api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/attachments").json()
    assert [a["filename"] for a in listed] == ["现场照片.png", "copy.png"]
    body = api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/attachments/{listed[0]['id']}")
    assert body.status_code == 200 and body.content == photo

    trail = api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()
    assert [(e["action"], e["payload"].get("sha256")) for e in trail[1:]] == [("attach", sha), ("attach", sha)]
    # evidence is a change: a client holding the old version must reload before acting
    assert api.get("disp_fc", case["id"])["version"] == 3

    # outside the case's scope: refused, nothing written
    r = api.as_("gw_fc2").post(f"/api/v1/cases/{case['id']}/attachments",
                               files={"file": ("x.png", b"other", "image/png")})
    assert r.status_code == 403
    assert api.as_("gw_fc2").get(f"/api/v1/cases/{case['id']}/attachments/{listed[0]['id']}").status_code == 403
    assert len(list((settings.data_dir / "attachments").rglob("*"))) == 2


def test_a_finished_case_refuses_an_upload_and_stores_nothing(county, settings):
    api = county
    case = api.to_feedback()
    api.act("liaison_fc", case["id"], "verify", {"passed": True})
    version = api.get("disp_fc", case["id"])["version"]
    r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/attachments",
                                files={"file": ("late.png", b"late evidence", "image/png")})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("案件已办结，不能再添加附件")
    assert not (settings.data_dir / "attachments").exists() or not any((settings.data_dir / "attachments").rglob("*"))
    assert api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/attachments").json() == []
    assert api.get("disp_fc", case["id"])["version"] == version
