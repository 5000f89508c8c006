"""One rule for the human text we store (flows/text.py): NFC silently; invisible control, bidirectional and
zero-width characters refused with a message naming the field and the character; short text on one line; the
joiners inside emoji and words kept. The same rule for case reports, action bodies, admin bodies, calendar day
names, attachment names and Open311 posts (issue 10: titles took U+202E, C1 controls and BOMs while file
names refused them)."""

import unicodedata

import pytest

from chuishao.flows.text import clean, problem
from tests.county import PASSWORD
from tests.test_open311 import IN_G1, O311, json_of, refused
from tests.test_web_admin import Browserish

# (what a user pasted, the character named in the refusal)
INVISIBLE = [
    pytest.param("发票\u202egpj.exe 乱堆", "U+202E", id="RLO"),
    pytest.param("\u202a东街\u202c路灯不亮", "U+202A", id="LRE"),
    pytest.param("东街\u2066路灯\u2069不亮", "U+2066", id="isolate"),
    pytest.param("东街\u200f路灯不亮", "U+200F", id="RLM"),
    pytest.param("东街\u0085路灯不亮", "U+0085", id="C1-NEL"),
    pytest.param("东街\x9b路灯不亮", "U+009B", id="C1-CSI"),
    pytest.param("东街\x1b[31m路灯", "U+001B", id="C0-ESC"),
    pytest.param("\ufeff东街路灯不亮", "U+FEFF", id="BOM"),
    pytest.param("东街路\u200b灯不亮", "U+200B", id="zero-width-space"),
    pytest.param("东街路灯\u2060不亮", "U+2060", id="word-joiner"),
    pytest.param("\u200d东街路灯不亮", "U+200D", id="ZWJ-at-start"),
    pytest.param("东街 \u200d 路灯", "U+200D", id="ZWJ-beside-spaces"),
    pytest.param("东街\u2028路灯", "U+2028", id="line-separator"),
    pytest.param("\u3164\u3164", "U+3164", id="hangul-filler"),
]
# kept as typed (after NFC): emoji sequences joined by ZWJ, a flag with tags, Mongolian with its vowel separator
KEPT = [
    pytest.param("一家三口👨\u200d👩\u200d👧被困", id="family-emoji"),
    pytest.param("现场着火❤\ufe0f\u200d🔥", id="emoji-with-variation-selector"),
    pytest.param("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f 游客求助", id="subdivision-flag"),
    pytest.param("ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ\u180eᠡ", id="mongolian-vowel-separator"),
]


def test_the_rule_itself():
    assert clean("Cafe\u0301", "title") == "Café"  # NFC
    assert clean("\uf92c", "title") == "\u90ce"  # a CJK compatibility ideograph becomes the unified one
    assert clean("一行\r\n二行\r三行\t列", "description", long=True) == "一行\n二行\n三行\t列"
    assert problem("一行\n二行") and problem("一\t二")  # short text: one line, no tabs
    for text in ("东街\u202e", "东街\x85", "\ufeff东街"):
        with pytest.raises(Exception) as err:
            clean(text, "title")
        assert err.value.zh.startswith("标题含有不可见控制字符 U+") and err.value.extra == {"field": "title"}


@pytest.mark.parametrize("text,char", INVISIBLE)
def test_a_title_or_description_with_an_invisible_character_is_refused(county, text, char):
    api = county
    gw = api.as_("gw_fc1")
    before = len(api.as_("supervisor").get("/api/v1/cases").json()["items"])
    for field, label in (("title", "标题"), ("description", "描述"), ("address", "地址")):
        body = {"title": "东街路灯不亮", "description": "三盏路灯不亮", field: text}
        r = gw.post("/api/v1/cases", json=body)
        assert r.status_code == 422, (field, r.text)
        err = r.json()["error"]
        assert err["message"].startswith(f"{label}含有不可见控制字符 {char}"), err
        assert f"{field} contains the invisible control character {char}" in err["message"]
        assert err["field"] == field
    assert len(api.as_("supervisor").get("/api/v1/cases").json()["items"]) == before


@pytest.mark.parametrize("text", KEPT)
def test_emoji_and_joined_scripts_are_kept(county, text):
    case = county.report(title=text, description=text + "\n第二行")
    assert case["title"] == unicodedata.normalize("NFC", text)
    assert case["description"] == unicodedata.normalize("NFC", text) + "\n第二行"


def test_text_is_stored_as_nfc_and_line_breaks_as_lf(county):
    api = county
    decomposed = "Cafe\u0301咖啡馆门前\uf92c家占道"  # e + combining acute; a compatibility ideograph
    case = api.report(title=decomposed, description="占道经营\r\n早晚高峰尤甚\r", address="东街\uf92c家巷")
    assert case["title"] == "Café咖啡馆门前郎家占道" == unicodedata.normalize("NFC", decomposed)
    assert case["description"] == "占道经营\n早晚高峰尤甚\n"
    assert case["address"] == "东街郎家巷"
    # a search typed in the decomposed form finds the stored one
    found = api.as_("supervisor").get("/api/v1/cases", params={"q": "Cafe\u0301"}).json()["items"]
    assert [c["id"] for c in found] == [case["id"]]


def test_short_text_stays_on_one_line(county):
    api = county
    r = api.as_("gw_fc1").post("/api/v1/cases", json={"title": "东街路灯\n不亮"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("标题不能换行"), r.text
    r = api.as_("gw_fc1").post("/api/v1/cases", json={"title": "东街路灯不亮", "address": "东街\t12号"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("地址含有不可见控制字符 U+0009"), r.text


def test_action_bodies_follow_the_rule(county):
    api = county
    case = api.report()
    r = api.as_("disp_fc").post(f"/api/v1/cases/{case['id']}/actions/reject", json={"reason": "重复\u202e上报"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("理由含有不可见控制字符 U+202E"), r.text
    assert api.get("disp_fc", case["id"])["version"] == case["version"]
    # long text keeps its lines, normalised
    case = api.to_handling()
    r = api.as_("zrzy_off1").post(f"/api/v1/cases/{case['id']}/actions/feedback", json={
        "outcome": "resolved", "result": "已拆除违建\r\n恢复原貌", "officers": ["zrzy_off1", "zrzy_off2"]})
    assert r.status_code == 200, r.text
    timeline = api.as_("disp_fc").get(f"/api/v1/cases/{case['id']}/timeline").json()
    assert timeline[-1]["payload"]["result"] == "已拆除违建\n恢复原貌"


def test_admin_bodies_follow_the_rule(county):
    admin = county.as_("admin")
    r = admin.post("/api/v1/units", json={"code": "FC-G9", "name": "九组\u202e网格", "kind": "grid", "parent": "FC"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("名称含有不可见控制字符 U+202E"), r.text
    r = admin.post("/api/v1/catalog", json={"code": "X01", "name": "占道\x85经营", "category": "城市管理"})
    assert r.status_code == 422 and "U+0085" in r.json()["error"]["message"], r.text
    r = admin.post("/api/v1/users", json={"username": "gw_new", "password": PASSWORD + "x!", "name": "\ufeff王五",
                                          "role": "grid_worker", "unit": "FC-G1"})
    assert r.status_code == 422 and "U+FEFF" in r.json()["error"]["message"], r.text
    assert {u["code"] for u in admin.get("/api/v1/units").json()}.isdisjoint({"FC-G9"})
    r = admin.post("/api/v1/units", json={"code": "FC-G9", "name": "九组网格", "kind": "grid", "parent": "FC"})
    assert r.status_code == 201, r.text


def test_calendar_day_names_follow_the_rule(county):
    admin = county.as_("admin")
    r = admin.put("/api/v1/calendar/days/2026-11-17", json={"kind": "holiday", "name": "临时\u202e停工"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("节日名称含有不可见控制字符 U+202E")
    days = county.as_("disp_fc").get("/api/v1/calendar/2026").json()["days"]
    assert not any(d["date"] == "2026-11-17" for d in days)
    r = admin.put("/api/v1/calendar/days/2026-11-17", json={"kind": "holiday", "name": "\uf92c家庙会"})
    assert r.status_code == 200 and r.json()["name"] == "郎家庙会", r.text
    r = admin.post("/api/v1/calendar/import", json=[{"date": "2027-01-01", "kind": "holiday", "name": "元旦\u2066"}])
    assert r.status_code == 422 and "U+2066" in r.json()["error"]["message"], r.text


def test_attachment_names_follow_the_same_rule(county):
    api = county
    case = api.report()
    for name, char in (("现场\u202egpj.exe", "U+202E"), ("现场\x85.jpg", "U+0085"), ("\ufeff现场.jpg", "U+FEFF")):
        r = api.as_("gw_fc1").post(f"/api/v1/cases/{case['id']}/attachments",
                                   files={"file": (name, b"\xff\xd8photo", "image/jpeg")})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith(f"文件名含有不可见控制字符 {char}"), r.text
    r = api.as_("gw_fc1").post(f"/api/v1/cases/{case['id']}/attachments",
                               files={"file": ("Cafe\u0301.jpg", b"\xff\xd8photo", "image/jpeg")})
    assert r.status_code == 201 and r.json()["filename"] == "Café.jpg", r.text


def test_open311_posts_follow_the_rule(county):
    o = O311(county)
    for field, value, label in (("description", "东街\u202e新建砖房", "描述"),
                                ("address_string", "东街\x8512号", "地址"), ("first_name", "\ufeff三", "名")):
        r = o.post("requests", {"service_code": "LAND01", **IN_G1, field: value}, "json")
        description = refused(r, 400, "json")
        assert description.startswith(f"{label}含有不可见控制字符"), description
    r = o.post("requests", {"service_code": "LAND01", **IN_G1,
                            "description": "东街\r\n新建砖房", "first_name": "Jose\u0301"}, "json")
    assert r.status_code == 200, r.text
    rid = int(json_of(r)[0]["service_request_id"])
    assert county.get("disp_fc", rid)["description"] == "东街\n新建砖房"
    kept = county.as_("disp_fc").get(f"/api/v1/cases/{rid}/open311").json()
    assert kept["request"]["requester"]["first_name"] == "José"


def test_the_case_page_shows_the_refusal_beside_the_field(county):
    api = county
    case = api.report()
    web = Browserish(api.client)
    web.login("disp_fc", PASSWORD)
    r = web.post(f"/cases/{case['id']}/actions/reject", {"reason": "重复\u202e上报", "version": str(case["version"])})
    assert r.status_code == 422, r.text
    assert "理由含有不可见控制字符 U+202E" in r.text
    assert api.get("disp_fc", case["id"])["status"] == "reported"
