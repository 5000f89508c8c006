"""Open311 public reads (the admin's setting): standard clients that never send a key on GET can follow their
request, seeing only public fields, while keys stay the default. SQLite and PostgreSQL (the `county` fixture).

GeoReport v2's GET requests takes no api_key; the requester's contact details are POST-only. Our free text may
still hold personal data (a hotline writes the caller's number into the description; a note may quote one), so a
public read masks phone numbers, e-mail addresses and ID numbers in description, status_notes and address, and
leaves out media_url (the requester's unreviewed photo). Only requests that came in through Open311 are public.
"""

import pytest

from chuishao.flows.open311.privacy import mask_personal
from tests.conftest import ADMIN_PASSWORD
from tests.test_open311 import CONTACT, O311, refused
from tests.test_web_admin import Browserish

# the caller's details as a hotline writes them into the description (not the POST's contact fields, CONTACT)
DESCRIPTION = "李先生（13700137000，座机 0358-5221234）反映：东街 12 号院内新建砖房占用耕地。邮箱 li.si@example.cn"
MASKED = "李先生（137****7000，座机 0358-****1234）反映：东街 12 号院内新建砖房占用耕地。邮箱 ***@example.cn"
PHOTO = "https://img.example.cn/p/1.jpg"
READS = ("requests", "requests/{rid}", "tokens/{token}")


@pytest.fixture
def o(county):
    return O311(county)


def put(o, who: str, body) -> object:
    return o.api.as_(who).put("/api/v1/settings/open311", json=body)


def public(o, on: bool) -> None:
    r = put(o, "admin", {"public_reads": on})
    assert r.status_code == 200 and r.json() == {"public_reads": on}, r.text


def paths(o, rid: str) -> list[str]:
    token = o.request(rid)["extended_attributes"]["code"]  # read with the key
    return [p.format(rid=rid, token=token) for p in READS]


def test_by_default_every_read_needs_a_key_and_discovery_says_so(o):
    rid = o.create(description=DESCRIPTION, media_url=PHOTO, **CONTACT)
    for path in paths(o, rid):
        for fmt in ("xml", "json"):
            assert "api_key" in refused(o.get(path, fmt, key=None), 403, fmt)
    status, doc = o.both("discovery", key=None)
    assert status == 200 and "上报和查询都须提供 api_key" in doc["key_service"]
    assert "every request, reads included, needs an api_key" in doc["key_service"]
    assert o.api.as_("admin").get("/api/v1/settings/open311").json() == {"public_reads": False}


def test_only_the_admin_sets_the_mode_and_a_bad_body_changes_nothing(o):
    for who in ("disp_fc", "supervisor"):
        assert put(o, who, {"public_reads": True}).status_code == 403
    assert o.client.put("/api/v1/settings/open311", json={"public_reads": True}).status_code == 401
    for body in ({"public_reads": "yes"}, {}, {"public_reads": True, "everything": True}, [True]):
        r = put(o, "admin", body)
        assert r.status_code == 422 and r.json()["error"]["code"], r.text
    assert o.api.as_("admin").get("/api/v1/settings/open311").json() == {"public_reads": False}
    assert o.api.as_("disp_fc").get("/api/v1/settings/open311").status_code == 403


def test_public_reads_show_the_public_fields_of_open311_requests_only(o):
    rid = o.create(description=DESCRIPTION, media_url=PHOTO, **CONTACT)
    grid_report = o.api.report(township="FC", grid="FC-G1")  # a grid worker's case: never public
    o.api.act("disp_fc", int(rid), "reject", {"reason": "已电话联系 13912345678 核实，系重复反映。"})
    keyed = o.request(rid)
    assert keyed["description"] == DESCRIPTION and keyed["media_url"] == PHOTO  # the key's reader sees it all
    public(o, True)
    status, docs = o.both("requests", key=None)
    assert status == 200 and [d["service_request_id"] for d in docs] == [rid]
    for path in paths(o, rid):
        status, docs = o.both(path, key=None)
        assert status == 200 and [d["service_request_id"] for d in docs] == [rid]
        for fmt in ("xml", "json"):
            text = o.get(path, fmt, key=None).text
            for secret in (*CONTACT.values(), "13700137000", "5221234", "li.si@", "13912345678", PHOTO):
                assert secret not in text, (path, fmt, secret)
    (doc,) = o.both(f"requests/{rid}", key=None)[1]
    assert doc["description"] == MASKED
    assert doc["status_notes"] == "不予受理：已电话联系 139****5678 核实，系重复反映。"
    assert doc["media_url"] is None
    assert (doc["status"], doc["extended_attributes"]["status"]) == ("closed", "NOT_COUNCILS_RESPONSIBILITY")
    assert doc["service_code"] == "LAND01" and (doc["lat"], doc["long"]) == (37.45, 112.05)
    # the grid worker's report is no Open311 request: not found without a key, as any unknown id
    for fmt in ("xml", "json"):
        refused(o.get(f"requests/{grid_report['id']}", fmt, key=None), 404, fmt)
        refused(o.get(f"tokens/{grid_report['code']}", fmt, key=None), 404, fmt)
    # a key still reads its townships' cases in full
    status, docs = o.both("requests")
    assert {d["service_request_id"] for d in docs} == {rid, str(grid_report["id"])}


def test_with_public_reads_posting_and_the_updates_feed_still_need_a_key_and_a_wrong_key_is_refused(o):
    rid = o.create()
    public(o, True)
    for fmt in ("xml", "json"):
        refused(o.post("requests", {"service_code": "LAND01", "lat": "37.45", "long": "112.05"}, fmt, key=None),
                403, fmt)
        refused(o.get("servicerequestupdates", fmt, key=None), 403, fmt)
        refused(o.get(f"requests/{rid}", fmt, key="o311_wrong"), 403, fmt)
    status, doc = o.both("discovery", key=None)
    assert "查询（GET requests、tokens）无需 api_key，只返回经 Open311 提交的服务请求的公开字段" in doc["key_service"]
    assert "Reads (GET requests and tokens) need no api_key" in doc["key_service"]
    # and back off: reads need a key again
    public(o, False)
    for fmt in ("xml", "json"):
        refused(o.get(f"requests/{rid}", fmt, key=None), 403, fmt)
    assert "上报和查询都须提供 api_key" in o.both("discovery", key=None)[1]["key_service"]


def test_the_admin_turns_public_reads_on_and_off_from_the_api_keys_page(o):
    rid = o.create()
    web = Browserish(o.client)
    web.login("supervisor")
    assert web.post("/admin/api-keys/public-reads", {"public_reads": "true"}).status_code == 403
    web.login("admin", ADMIN_PASSWORD)
    page = web.get("/admin/api-keys").text
    assert "须密钥查询" in page and "开启公开查询" in page
    r = web.post("/admin/api-keys/public-reads", {"public_reads": "true"})
    assert r.status_code == 303
    page = web.get(r.headers["location"]).text
    assert "已开启 Open311 公开查询" in page and "公开查询已开启" in page and "关闭公开查询" in page
    assert o.get(f"requests/{rid}", "json", key=None).status_code == 200
    r = web.post("/admin/api-keys/public-reads", {"public_reads": "false"})
    assert "已关闭 Open311 公开查询" in web.get(r.headers["location"]).text
    refused(o.get(f"requests/{rid}", "json", key=None), 403, "json")


@pytest.mark.parametrize("text, hidden, shown", [
    ("王女士来电：１３８１２３４５６７８，请尽快处理", "１３８１２３４５６７８", "138****5678"),
    ("联系电话(0358)3022123，白天有人", "3022123", "0358-****2123"),
    ("联系电话（0358）3022123，白天有人", "3022123", "0358-****2123"),
    ("手机 138 1234 5678 或 ＋86 139-1234-5678", "1234 5678", "139****5678"),
    ("身份证号 14112219800101123X，住东街", "14112219800101123X", "[身份证号已隐去]"),
    ("来电人邮箱 ｚｈａｎｇ＠example.cn", "＠example", "***@example.cn"),
])
def test_public_masking_catches_numbers_as_chinese_input_methods_write_them(text, hidden, shown):
    masked = mask_personal(text)
    assert hidden not in masked and shown in masked, masked
