"""Open311 GeoReport v2 conformance, written from the standard's text (wiki.open311.org/GeoReport_v2, its
Service Discovery and JSON/XML conversion pages) and mySociety's extensions (Open311 FMS — proposed
differences: GET/POST servicerequestupdates, extended statuses). Each group quotes the sentences it checks.

Every endpoint is read in both formats: the XML must parse with no namespace, and turning it into JSON by the
Spark convention must give exactly the JSON document. Runs on SQLite and PostgreSQL (the `county` fixture).
"""

import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, insert, select

from chuishao.models.cases import Case
from chuishao.models.db import make_sync_engine
from chuishao.models.notifications import Event
from chuishao.models.open311 import ApiKey, InboundUpdate, Open311Request
from chuishao.models.org import Unit
from chuishao.models.timeline import TimelineEntry
from tests.county import LEAD_LIAISON, settled, table_rows

V2 = "/open311/v2"
IN_G1 = {"lat": "37.45", "long": "112.05"}  # inside FC-G1's polygon
NOWHERE = {"lat": "30.0", "long": "100.0"}  # inside no grid
CJK = re.compile(r"[\u4e00-\u9fff]")
# "Timezone information (either Z meaning UTC, or an HH:MM offset from UTC) must be included."
W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# Spark: "It treats nested child elements as demarcating the beginning of an array if there is only one kind
# of child (a repeating element)" -- these are the standard's repeating containers.
ARRAYS = {"services", "attributes", "values", "service_requests", "errors", "endpoints", "formats",
          "service_request_updates"}
EXTENDED = {"OPEN", "INVESTIGATING", "IN_PROGRESS", "ACTION_SCHEDULED", "FIXED", "CLOSED", "DUPLICATE",
            "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "CANCELLED", "REOPEN"}
# GET Service Requests, Response: the fields without "May not be returned"
REQUEST_FIELDS = ("service_request_id", "status", "service_name", "service_code", "description",
                  "requested_datetime", "updated_datetime", "address", "address_id", "zipcode", "lat", "long",
                  "media_url")
CONTACT = {"email": "zhang.san@example.cn", "first_name": "三", "last_name": "张", "phone": "13800138000",
           "account_id": "acct-778899", "device_id": "dev-445566"}


# ---- helpers ------------------------------------------------------------------------------------------------
def spark(el: ET.Element):
    """XML to JSON by the Spark convention."""
    if el.tag in ARRAYS:
        return [spark(c) for c in el]
    if len(el):
        return {c.tag: spark(c) for c in el}
    return el.text


def norm(v):
    """XML has only text: compare JSON values as the text they would be written as."""
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None or v == "":
        return None
    return str(v)


def xml_of(r) -> ET.Element:
    # "XML for the API should be Content-Type: text/xml"; "Content-Type: text/xml; charset=utf-8"
    assert r.headers["content-type"] == "text/xml; charset=utf-8", r.headers["content-type"]
    # "the root element must be preceded with the XML declaration including the encoding="UTF-8" attribute"
    assert re.match(rb'^<\?xml version="1.0" encoding="UTF-8"\?>', r.content), r.content[:80]
    root = ET.fromstring(r.content)
    # "The XML output currently defined is schemaless and without a namespace declaration."
    assert b"xmlns" not in r.content
    assert all(not el.tag.startswith("{") for el in root.iter())
    return root


def json_of(r):
    # "JSON: Content-Type: application/json; charset=utf-8"
    assert r.headers["content-type"] == "application/json; charset=utf-8", r.headers["content-type"]
    r.content.decode("utf-8")  # "All text returned by the service ... MUST be encoded as UTF-8"
    return r.json()


def delete(o, url: str):
    return o.client.delete(url, headers={"Authorization": f"Bearer {o.api.token('admin')}"})


def snapshot(o) -> dict:
    settled(o.engine)
    return table_rows(o.engine)


class O311:
    """The test county with an intake unit (the 12345 hotline) and two keys: FC, and LHL."""

    def __init__(self, api):
        self.api, self.client = api, api.client
        admin = api.as_("admin")
        r = admin.post("/api/v1/units", json={"code": "RX12345", "name": "12345便民服务热线", "kind": "department",
                                              "parent": "WS"})
        assert r.status_code == 201, r.text
        self.key = self.issue("12345热线", ["FC"])
        self.key_lhl = self.issue("city-platform", ["LHL"], source="hotline")
        self.engine = make_sync_engine(api.settings.url)

    def issue(self, name, townships, **extra) -> str:
        r = self.api.as_("admin").post("/api/v1/api-keys", json={"name": name, "unit": "RX12345",
                                                                  "townships": townships, **extra})
        assert r.status_code == 201, r.text
        return r.json()["key"]

    def get(self, path: str, fmt: str = "xml", key: str | None = "default", **params):
        if key == "default":
            key = self.key
        if key is not None:
            params["api_key"] = key
        return self.client.get(f"{V2}/{path}.{fmt}", params=params)

    def both(self, path: str, key: str | None = "default", **params):
        """GET in both formats: same status, same objects. Returns (status, json document)."""
        rx, rj = self.get(path, "xml", key, **params), self.get(path, "json", key, **params)
        assert rx.status_code == rj.status_code, (rx.text[:300], rj.text[:300])
        doc = json_of(rj)
        assert norm(spark(xml_of(rx))) == norm(doc), (rx.text[:600], rj.text[:600])
        return rj.status_code, doc

    def post(self, path: str, data, fmt: str = "xml", key: str | None = "default", **kw):
        if key == "default":
            key = self.key
        if isinstance(data, dict):
            data = [*data.items()]
        if key is not None:
            data = [("api_key", key), *data]
        # "POST Service Request: Content-Type: application/x-www-form-urlencoded; charset=utf-8"
        return self.client.post(f"{V2}/{path}.{fmt}", content=urlencode(data).encode(), **kw,
                                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})

    def create(self, service_code="LAND01", fmt="xml", key="default", **fields) -> str:
        data = {"service_code": service_code, "description": "东街 12 号院内新建砖房，占用耕地", **IN_G1, **fields}
        data = {k: v for k, v in data.items() if v is not None}
        r = self.post("requests", data, fmt, key)
        assert r.status_code == 200, r.text
        if fmt == "json":
            return json_of(r)[0]["service_request_id"]
        return xml_of(r).find("request/service_request_id").text

    def request(self, rid: str) -> dict:
        status, doc = self.both(f"requests/{rid}")
        assert status == 200, doc
        return doc[0]


@pytest.fixture
def o(county):
    return O311(county)


def refused(r, status: int, fmt: str = "xml"):
    """The standard's error: "HTTP error codes should always be 404 for resources that don't exist, 403 for errors
    because of wrong or missing api_key and basically 400 for any other error"; the body holds errors/error with
    "code" ("In most cases, this should match the HTTP status code") and "description" ("A human readable
    description of the error that occurred. This is meant to be seen by the user.")."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:300]}"
    if fmt == "xml":
        root = xml_of(r)
        assert root.tag == "errors" and len(root) >= 1 and all(e.tag == "error" for e in root), r.text
        errors = [{c.tag: c.text for c in e} for e in root]
    else:
        errors = json_of(r)
        assert isinstance(errors, list) and errors, errors
    for e in errors:
        assert set(e) == {"code", "description"}, e
        assert str(e["code"]) == str(status)
        assert CJK.search(e["description"].split(" / ")[0]), e["description"]
        assert "Traceback" not in e["description"]
    return errors[0]["description"]


# ---- Service Discovery ---------------------------------------------------------------------------------------
def test_discovery_in_both_formats(o):
    # "This url must end in /discovery.<format>"; "Format must be both: xml, json"; "All fields are required."
    status, doc = o.both("discovery", key=None)
    assert status == 200
    for name in ("changeset", "contact", "key_service", "endpoints"):
        assert doc[name], name
    (endpoint,) = doc["endpoints"]
    # "endpoints.endpoint.specification ... (eg http://wiki.open311.org/GeoReport_v2)"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    # "Either "production" or "test""
    assert endpoint["type"] in ("production", "test") and endpoint["changeset"]
    # "XML is a required format, but JSON can be provided at the discretion of the API provider. The output
    # formats supported by the provider are indicated through the Service Discovery formats field"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


# ---- GET Service List, GET Service Definition --------------------------------------------------------------------
def test_service_list_describes_every_catalog_item(o):
    # Response: service_code, service_name, description, metadata ("true"/"false"), type ("realtime", "batch",
    # "blackbox"), keywords, group ("A category to group this service type within"). "Requires API Key: No".
    status, services = o.both("services", key=None)
    assert status == 200
    by_code = {s["service_code"]: s for s in services}
    assert {"LAND01", "ENV01", "STALL01", "MKT01", "OTHER"} <= set(by_code)
    for s in services:
        assert set(s) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert s["metadata"] in (True, False) and s["type"] in ("realtime", "batch", "blackbox")
        assert s["service_name"] and s["group"]
    assert (by_code["LAND01"]["service_name"], by_code["LAND01"]["group"]) == ("违法占地", "国土")
    assert "违法占地" in by_code["LAND01"]["keywords"]


def test_service_definition_attributes(o):
    # service_definition: service_code ("the same one submitted for this call"), attributes of attribute with
    # variable, code, datatype (string, number, datetime, text, singlevaluelist, multivaluelist), required,
    # datatype_description, order ("Any positive integer not used for other attributes in the same
    # service_code"), description, and values (key, name) for the list types.
    for code in ("LAND01", "OTHER"):
        status, d = o.both(f"services/{code}", key=None)
        assert status == 200 and d["service_code"] == code
        attrs = d["attributes"]
        orders = [a["order"] for a in attrs]
        assert len(set(orders)) == len(orders) and all(isinstance(n, int) and n > 0 for n in orders)
        for a in attrs:
            assert {"variable", "code", "datatype", "required", "datatype_description", "order",
                    "description"} <= set(a)
            assert a["datatype"] in ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
            assert a["variable"] in (True, False) and a["required"] in (True, False)
            if a["datatype"].endswith("valuelist"):
                assert a["values"] and all(set(v) == {"key", "name"} for v in a["values"])
        by = {a["code"]: a for a in attrs}
        assert {v["key"] for v in by["township"]["values"]} == {"FC", "LHL"}
        assert {v["key"] for v in by["urgency"]["values"]} == {"normal", "urgent"}
        assert "FC-G1" in {v["key"] for v in by["grid"]["values"]}
    # "404 - service_code or jurisdiction_id provided were not found (specify in error response)"
    for fmt in ("xml", "json"):
        assert "NOPE99" in refused(o.get("services/NOPE99", fmt, key=None), 404, fmt)
        refused(o.get("services/..%2F..", fmt, key=None), 404, fmt)


# ---- POST Service Request ------------------------------------------------------------------------------------
def test_post_request_by_point_enters_step_one_in_its_grid(o):
    # "Format sent: Content-Type: application/x-www-form-urlencoded"; "Requires API Key: Yes";
    # "service_request_id ... This should not be returned if token is returned" (and vice versa).
    r = o.post("requests", {"service_code": "LAND01", **IN_G1,
                            "description": "东街 12 号院内新建砖房\n占地约 200 平方米",
                            "address_string": "东街12号", **CONTACT, "media_url": "https://img.example.cn/1.jpg"})
    assert r.status_code == 200, r.text
    root = xml_of(r)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    request = root.find("request")
    assert request.find("token") is None
    rid = request.find("service_request_id").text
    assert rid.isdigit() and "CS20261116" in request.find("service_notice").text
    # a report like any other: step 1, located by its point, the key's source, reported by the intake unit
    case = o.api.get("disp_fc", int(rid))
    assert (case["status"], case["step"], case["township"], case["grid"]) == ("reported", 1, "FC", "FC-G1")
    assert (case["category"], case["source"], case["address"], case["lat"]) == ("LAND01", "open311", "东街12号", 37.45)
    assert case["title"] == "东街 12 号院内新建砖房" and "accept" in case["allowed_actions"]
    timeline = o.api.as_("disp_fc").get(f"/api/v1/cases/{rid}/timeline").json()
    assert (timeline[0]["actor"], timeline[0]["unit"], timeline[0]["role"]) == ("open311:12345热线", "RX12345",
                                                                               "integrator")
    # the requester's contact details are kept for our staff, never in the case text
    assert not any(v in case["description"] for v in CONTACT.values())
    kept = o.api.as_("disp_fc").get(f"/api/v1/cases/{rid}/open311").json()
    assert kept["request"]["requester"] == CONTACT and kept["request"]["api_key"] == "12345热线"
    assert kept["request"]["media_urls"] == ["https://img.example.cn/1.jpg"]
    # JSON as well: "[{"service_request_id":..., "service_notice":..., ...}]"
    r = o.post("requests", {"service_code": "ENV01", **IN_G1}, fmt="json", key=o.key_lhl)
    assert r.status_code == 403  # the LHL key may not report into FC
    r = o.post("requests", {"service_code": "ENV01", **IN_G1, "attribute[urgency]": "urgent"}, fmt="json")
    body = json_of(r)
    assert r.status_code == 200 and isinstance(body, list) and set(body[0]) == {"service_request_id", "service_notice"}
    case = o.api.get("disp_fc", int(body[0]["service_request_id"]))
    assert (case["urgency"], case["title"], case["category"]) == ("urgent", "秸秆焚烧", "ENV01")


def test_post_request_by_address_string_and_attributes(o):
    # "One of lat & long or address_string or address_id"; "attribute ... This takes the form of
    # attribute[code]=value"
    rid = o.create("STALL01", lat=None, long=None, address_string="西街菜市场门口", **{
        "attribute[township]": "FC", "attribute[grid]": "FC-G2", "attribute[title]": "菜市场门口占道经营"})
    case = o.api.get("disp_fc", int(rid))
    assert (case["township"], case["grid"], case["address"], case["lat"]) == ("FC", "FC-G2", "西街菜市场门口", None)
    assert case["title"] == "菜市场门口占道经营"
    # a key with a single township needs no township attribute for an address alone
    rid = o.create("OTHER", lat=None, long=None, address_string="刘胡兰村东口", key=o.key_lhl)
    case = o.api.get("disp_lhl", int(rid))
    assert (case["township"], case["category"], case["source"]) == ("LHL", None, "hotline")
    # a point outside every grid, with the township named
    rid = o.create("ENV01", **NOWHERE, **{"attribute[township]": "FC"})
    assert o.api.get("disp_fc", int(rid))["grid"] is None
    # "free form text limited to 4,000 characters": exactly 4,000 is accepted
    rid = o.create("ENV01", description="烧" * 4000)
    assert len(o.api.get("disp_fc", int(rid))["description"]) == 4000


POST_REFUSALS = [
    # "403 - Missing or Invalid API Key (specify in error message)"
    ("missing key", None, {"service_code": "LAND01", **IN_G1}, 403),
    ("invalid key", "o311_not-a-key", {"service_code": "LAND01", **IN_G1}, 403),
    # "400 - service_code or jurisdiction_id was not provided"; "404 - service_code ... was not found"
    ("missing service_code", "key", {**IN_G1}, 400),
    ("unknown service_code", "key", {"service_code": "NOPE99", **IN_G1}, 404),
    ("code with a NUL", "key", {"service_code": "LAND\x0001", **IN_G1}, 400),
    # "location parameter: A full location parameter must be submitted."
    ("no location", "key", {"service_code": "LAND01", "description": "x"}, 400),
    ("lat without long", "key", {"service_code": "LAND01", "lat": "37.45"}, 400),
    ("long out of range", "key", {"service_code": "LAND01", "lat": "37.45", "long": "212.05"}, 400),
    ("lat not a number", "key", {"service_code": "LAND01", "lat": "north", "long": "112.05"}, 400),
    ("lat NaN", "key", {"service_code": "LAND01", "lat": "NaN", "long": "112.05"}, 400),
    ("address_id only", "key", {"service_code": "LAND01", "address_id": "545483"}, 400),
    ("address alone, key of two townships", "two", {"service_code": "LAND01", "address_string": "东街"}, 400),
    ("point in no grid, no township", "key", {"service_code": "LAND01", **NOWHERE}, 400),
    # "description ... free form text limited to 4,000 characters"
    ("5,000-character description", "key", {"service_code": "LAND01", **IN_G1, "description": "违" * 5000}, 400),
    ("address_string too long", "key", {"service_code": "LAND01", **IN_G1, "address_string": "路" * 301}, 400),
    ("unknown field", "key", {"service_code": "LAND01", **IN_G1, "priority": "high"}, 400),
    ("unknown attribute", "key", {"service_code": "LAND01", **IN_G1, "attribute[colour]": "red"}, 400),
    ("bad attribute value", "key", {"service_code": "LAND01", **IN_G1, "attribute[urgency]": "asap"}, 400),
    ("multivalue on a singlevaluelist", "key", [("service_code", "LAND01"), *IN_G1.items(),
                                                ("attribute[urgency][]", "urgent"), ("attribute[urgency][]", "normal")],
     400),
    ("unknown township", "key", {"service_code": "LAND01", **IN_G1, "attribute[township]": "XX"}, 400),
    ("township not allowed for the key", "key", {"service_code": "LAND01", **NOWHERE, "attribute[township]": "LHL"},
     403),
    ("grid of another township", "key", {"service_code": "LAND01", **IN_G1, "attribute[township]": "FC",
                                         "attribute[grid]": "LHL-G1"}, 400),
    ("grid in a township not allowed", "key", {"service_code": "LAND01", **IN_G1, "attribute[grid]": "LHL-G1"}, 403),
    ("service_code twice", "key", [("service_code", "LAND01"), ("service_code", "ENV01"), *IN_G1.items()], 400),
    ("bad e-mail", "key", {"service_code": "LAND01", **IN_G1, "email": "not an address"}, 400),
    ("media_url not http", "key", {"service_code": "LAND01", **IN_G1, "media_url": "javascript:alert(1)"}, 400),
    ("control character", "key", {"service_code": "LAND01", **IN_G1, "description": "a\x07b"}, 400),
]


def test_post_request_refusals_change_nothing(o):
    two = o.issue("two-townships", ["FC", "LHL"])
    keys = {None: None, "key": o.key, "two": two, "o311_not-a-key": "o311_not-a-key"}
    before = snapshot(o)
    for fmt in ("xml", "json"):
        for label, key, data, status in POST_REFUSALS:
            r = o.post("requests", data, fmt, key=keys[key])
            try:
                refused(r, status, fmt)
            except AssertionError as e:
                raise AssertionError(f"{label} ({fmt}): {e}") from None
        # not form-encoded
        refused(o.client.post(f"{V2}/requests.{fmt}", json={"api_key": o.key, "service_code": "LAND01"}), 400, fmt)
        # not UTF-8
        refused(o.client.post(f"{V2}/requests.{fmt}", content=b"api_key=" + o.key.encode() + b"&service_code=%FF%FE",
                              headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, fmt)
    assert snapshot(o) == before
    # a revoked key is refused too
    assert delete(o, "/api/v1/api-keys/two-townships").status_code == 200
    refused(o.post("requests", {"service_code": "LAND01", **IN_G1}, key=two), 403)


# ---- GET Service Requests, GET Service Request ------------------------------------------------------------------
def test_requests_carry_every_field_in_both_formats_and_never_the_requester(o):
    rid = o.create(**CONTACT)
    other_id = o.create("OTHER", lat=None, long=None, address_string="东街口", **{"attribute[township]": "FC"})
    grid_report = o.api.report(township="FC", grid="FC-G1")  # a grid worker's case in the key's township
    status, docs = o.both("requests")
    assert status == 200 and len(docs) == 3
    assert {d["service_request_id"] for d in docs} == {rid, str(grid_report["id"]), str(int(rid) + 1)}
    for d in docs:
        # the response fields that carry no "May not be returned"
        assert all(f in d for f in REQUEST_FIELDS), set(REQUEST_FIELDS) - set(d)
        # "Options: open, closed"
        assert d["status"] in ("open", "closed")
        # "requested_datetime ... Returned in w3 format, eg 2010-01-01T00:00:00Z"
        assert W3.match(d["requested_datetime"]) and W3.match(d["updated_datetime"])
        assert d["requested_datetime"].endswith("+08:00")
        # "description ... limited to 4,000 characters"
        assert len(d["description"]) <= 4000
        assert d["extended_attributes"]["status"] in EXTENDED
    mine = next(d for d in docs if d["service_request_id"] == rid)
    assert (mine["status"], mine["service_code"], mine["service_name"]) == ("open", "LAND01", "违法占地")
    assert (mine["lat"], mine["long"], mine["agency_responsible"]) == (37.45, 112.05, "凤城镇")
    assert mine["status_notes"] == "已上报，等待乡镇受理" and mine["extended_attributes"]["status"] == "OPEN"
    other = next(d for d in docs if d["service_request_id"] == other_id)
    assert other["service_code"] == "OTHER"
    assert other["lat"] is None and other["address"] == "东街口"
    # the requester's details appear in no Open311 answer
    for path in ("requests", f"requests/{rid}", "servicerequestupdates"):
        for fmt in ("xml", "json"):
            text = o.get(path, fmt).text
            assert not any(v in text for v in CONTACT.values()), (path, fmt)
    # "extensions=false": the strict standard document
    status, strict = o.both(f"requests/{rid}", extensions="false")
    assert "extended_attributes" not in strict[0]


def test_request_lifecycle_fields(o):
    rid = o.create()
    case_id = int(rid)
    o.api.act("disp_fc", case_id, "accept", {"category": "LAND01"})
    o.api.act("disp_fc", case_id, "dispatch")
    d = o.request(rid)
    # "agency_responsible: The agency responsible for fulfilling or otherwise addressing the service request."
    assert (d["extended_attributes"]["status"], d["agency_responsible"]) == ("INTERNAL_REFERRAL", "自然资源局")
    assert "expected_datetime" not in d
    o.api.act(LEAD_LIAISON["LAND01"], case_id, "check_in")
    d = o.request(rid)
    # "expected_datetime: The date and time when the service request can be expected to be fulfilled. This may be
    # based on a service-specific service level agreement."
    assert d["extended_attributes"]["status"] == "IN_PROGRESS" and W3.match(d["expected_datetime"])
    o.api.act("zrzy_off1", case_id, "feedback", {"outcome": "resolved", "result": "已责令拆除并复耕",
                                                "officers": ["zrzy_off1", "zrzy_off2"]})
    o.api.act("liaison_fc", case_id, "verify", {"passed": True, "note": "现场已复耕"})
    d = o.request(rid)
    # "updated_datetime ... For requests with status=closed, this will be the date the request was closed."
    case = o.api.get("liaison_fc", case_id)
    assert d["status"] == "closed" and d["updated_datetime"] == case["closed_at"]
    assert d["extended_attributes"]["status"] == "FIXED" and "已责令拆除并复耕" in d["status_notes"]


def test_service_request_id_overrides_every_other_argument(o, clock):
    # "service_request_id: To call multiple Service Requests at once, multiple service_request_id can be
    # declared; comma delimited. This overrides all other arguments."
    old = o.create()
    clock.advance(days=120)
    new = o.create("ENV01")
    status, docs = o.both("requests", service_request_id=f"{old},{new}", status="closed", service_code="MKT01",
                          start_date="2026-01-01T00:00:00Z", end_date="2026-01-02T00:00:00Z")
    assert status == 200 and sorted(d["service_request_id"] for d in docs) == sorted([old, new])
    # ids the key cannot see are simply not there
    lhl = o.create("ENV01", lat=None, long=None, address_string="刘胡兰村", key=o.key_lhl)
    status, docs = o.both("requests", service_request_id=f"{old},{lhl},99999")
    assert [d["service_request_id"] for d in docs] == [old]
    refused(o.get("requests", service_request_id="1,abc"), 400)


def test_filters_by_date_status_and_service(o, clock):
    # "start_date: Earliest datetime to include in search ... requests which have a requested_datetime that
    # matches a given range"; "status: ... can be declared multiple times, comma delimited; Options: open,
    # closed"; "service_code: ... can be declared multiple times, comma delimited"
    first = o.create("LAND01")  # 2026-11-16 09:00 +08:00
    clock.advance(days=2)
    second = o.create("ENV01")
    o.api.act("disp_fc", int(second), "reject", {"reason": "经核实为正常农事活动"})
    clock.advance(days=2)
    third = o.create("MKT01")

    def ids(**params):
        status, docs = o.both("requests", **params)
        assert status == 200, docs
        return sorted(d["service_request_id"] for d in docs)

    assert ids() == sorted([first, second, third])
    assert ids(start_date="2026-11-17T00:00:00+08:00") == sorted([second, third])
    assert ids(end_date="2026-11-17T00:00:00Z") == [first]
    assert ids(start_date="2026-11-16T12:00:00Z", end_date="2026-11-19T00:00:00Z") == [second]
    assert ids(start_date="2026-11-18T01:00:00.5Z") == [third]
    assert ids(status="closed") == [second]
    assert ids(status="open") == sorted([first, third])
    assert ids(status="open,closed") == ids()
    assert ids(service_code="LAND01,MKT01") == sorted([first, third])
    assert ids(service_code=["ENV01", "MKT01"], status="open") == [third]
    assert ids(service_code="OTHER") == []
    # "A null parameter should be treated as equivalent to a non-declared parameter"
    assert ids(status="", service_code="", start_date="") == ids()


BAD_QUERIES = [
    {"start_date": "2026-11-16"},  # no time, no timezone
    {"start_date": "2026-11-16T09:00:00"},  # "Timezone information ... must be included"
    {"start_date": "yesterday"},
    {"start_date": "2026-13-01T00:00:00Z"},
    {"end_date": "2026-02-30T00:00:00+08:00"},
    {"start_date": "0001-01-01T00:00:00+14:00"},
    {"start_date": "2026-11-16T00:00:00Z", "end_date": "2026-11-15T00:00:00Z"},  # ends before it starts
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-16T00:00:00Z"},  # "may not span more than 90 days"
    {"status": "pending"},
    {"status": "open,fixed"},
    {"service_code": "NOPE99"},
    {"service_code": "LAND01,<script>"},
    {"page_size": "0"},
    {"page_size": "1001"},
    {"page": "-1"},
    {"extensions": "maybe"},
]


def test_bad_queries_are_refused(o):
    o.create()
    before = snapshot(o)
    for fmt in ("xml", "json"):
        for params in BAD_QUERIES:
            for path in ("requests", "servicerequestupdates"):
                if path == "servicerequestupdates" and set(params) & {"status", "service_code", "extensions"}:
                    continue
                try:
                    refused(o.get(path, fmt, **params), 400, fmt)
                except AssertionError as e:
                    raise AssertionError(f"{path} {params} ({fmt}): {e}") from None
        refused(o.get("requests", fmt, key=None), 403, fmt)  # cases carry personal data: reading needs a key
        refused(o.get("requests", fmt, key="o311_wrong"), 403, fmt)
        refused(o.get("requests/1", fmt, key=None), 403, fmt)
    assert snapshot(o) == before


def test_response_volume(o, clock):
    # "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest."
    old = o.create()
    clock.advance(days=91)
    recent = o.create("ENV01")
    status, docs = o.both("requests")
    assert [d["service_request_id"] for d in docs] == [recent]
    # pagination, "the most widely and consistently implemented extension": page and page_size
    more = [o.create("MKT01") for _ in range(3)]
    newest_first = [*reversed(more), recent]
    status, docs = o.both("requests", page_size="2")
    assert [d["service_request_id"] for d in docs] == newest_first[:2]
    status, docs = o.both("requests", page_size="2", page="2")
    assert [d["service_request_id"] for d in docs] == newest_first[2:]
    # the first 1000: 1,001 more requests in the window
    with o.engine.begin() as conn:
        fc = conn.execute(select(Unit.id).where(Unit.code == "FC")).scalar_one()
        at = clock.now
        conn.execute(insert(Case), [dict(title=f"批量 {i}", description="", township_id=fc, urgency="normal",
                                         source="hotline", status="reported", version=1, return_count=0,
                                         rework_count=0, provisional=False, alert="none", timeline_seq=0,
                                         timeline_head="", created_at=at - timedelta(minutes=i + 1),
                                         updated_at=at) for i in range(1001)])
    r = o.get("requests", "json")
    docs = json_of(r)
    assert len(docs) == 1000 and old not in {d["service_request_id"] for d in docs}
    assert len(json_of(o.get("requests", "json", page="2"))) == 1001 + 4 - 1000


def test_single_request_and_token(o):
    rid = o.create()
    # GET Service Request: "service_request_id is specified in the main URL path"
    d = o.request(rid)
    assert d["service_request_id"] == rid
    # GET service_request_id from a token: "service_request_id ... token: The token ID used to make this call."
    # Our tokens are the case codes that the POST's service_notice reads out.
    token = d["extended_attributes"]["code"]
    status, docs = o.both(f"tokens/{token}")
    assert status == 200 and docs == [{"service_request_id": rid, "token": token}]
    for fmt in ("xml", "json"):
        # "404 - jurisdiction_id or token not found"
        refused(o.get("tokens/CS20261116999999", fmt), 404, fmt)
        refused(o.get("tokens/CS20250101" + rid.zfill(6), fmt), 404, fmt)  # right id, wrong date
        refused(o.get("tokens/nothing", fmt), 404, fmt)
        refused(o.get(f"tokens/{token}", fmt, key=o.key_lhl), 404, fmt)  # not the key's township
        refused(o.get("requests/99999", fmt), 404, fmt)
        refused(o.get("requests/abc", fmt), 404, fmt)
        refused(o.get("requests/99999999999999999999", fmt), 404, fmt)
        refused(o.get(f"requests/{rid}", fmt, key=o.key_lhl), 404, fmt)


# ---- mySociety: GET / POST servicerequestupdates -------------------------------------------------------------
def test_updates_follow_the_timeline(o, clock):
    # service_request_updates / request_update: update_id, service_request_id, status ("Possible values: OPEN,
    # CLOSED (though see our extension)"), updated_datetime ("In W3 format"), description, media_url
    rid = o.create("ENV01")
    case_id = int(rid)
    clock.advance(hours=1)
    o.api.act("disp_fc", case_id, "accept")
    o.api.act("disp_fc", case_id, "dispatch")
    clock.advance(hours=1)
    o.api.act("sthj_liaison", case_id, "check_in")
    status, updates = o.both("servicerequestupdates")
    assert status == 200
    assert [u["status"] for u in updates] == ["OPEN", "INVESTIGATING", "INTERNAL_REFERRAL", "IN_PROGRESS"]
    for u in updates:
        assert {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"} <= set(u)
        assert u["service_request_id"] == rid and W3.match(u["updated_datetime"]) and u["description"]
    assert "生态环境分局" in updates[2]["description"] and "已报到" in updates[3]["description"]
    # "start_date: Earliest update to include in returned results"
    status, later = o.both("servicerequestupdates", start_date="2026-11-16T11:00:00+08:00")
    assert [u["status"] for u in later] == ["IN_PROGRESS"]
    status, none = o.both("servicerequestupdates", key=o.key_lhl)
    assert none == []
    refused(o.get("servicerequestupdates", key=None), 403)


def _update(rid, update_id="hotline-0001", **extra):
    return {"service_request_id": rid, "update_id": update_id, "status": "OPEN",
            "updated_datetime": "2026-11-16T10:00:00+08:00", "description": "市民来电：违建仍在施工", **extra}


def test_inbound_update_is_applied_once(o):
    rid = o.create()
    o.api.act("disp_fc", int(rid), "accept")
    # POST Service Request Update: required api_key, service_request_id, update_id, status, updated_datetime,
    # description; the answer is service_request_updates / request_update with update_id.
    r1 = o.post("servicerequestupdates", _update(rid, email="zhang.san@example.cn"))
    assert r1.status_code == 200, r1.text
    root = xml_of(r1)
    assert root.tag == "service_request_updates" and root.find("request_update/update_id").text
    r2 = o.post("servicerequestupdates", _update(rid, email="zhang.san@example.cn"), fmt="json")
    assert r2.status_code == 200 and json_of(r2) == [{"update_id": root.find("request_update/update_id").text}]
    with o.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundUpdate)).scalar_one() == 1
        events = conn.execute(select(Event.action, Event.audience).where(Event.action == "open311_update")).all()
    assert len(events) == 1
    # the township's dispatcher and liaison hear of it, once
    settled(o.engine)
    inbox = o.api.as_("liaison_fc").get("/api/v1/notifications").json()
    items = inbox["items"] if isinstance(inbox, dict) else inbox
    assert sum("12345热线 补充" in n["title"] for n in items) == 1
    # it does not move the case
    case = o.api.get("disp_fc", int(rid))
    assert (case["status"], case["version"]) == ("accepted", 2)
    kept = o.api.as_("disp_fc").get(f"/api/v1/cases/{rid}/open311").json()
    assert [u["update_id"] for u in kept["updates"]] == ["hotline-0001"]
    # another update_id is another update
    r3 = o.post("servicerequestupdates", _update(rid, "hotline-0002", status="REOPEN"))
    assert r3.status_code == 200 and xml_of(r3).find("request_update/update_id").text != \
        root.find("request_update/update_id").text
    with o.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundUpdate)).scalar_one() == 2


def test_the_same_update_sent_at_once_from_many_connections_is_applied_once(o):
    # mySociety clients retry on timeouts: copies of one update may arrive together
    rid = o.create()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: o.post("servicerequestupdates", _update(rid, "burst-1"), "json"),
                                range(8)))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    assert len({json_of(r)[0]["update_id"] for r in answers}) == 1
    settled(o.engine)
    with o.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundUpdate)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(Event)
                            .where(Event.action == "open311_update")).scalar_one() == 1


UPDATE_REFUSALS = [
    ("missing key", None, {}, 403),
    ("no service_request_id", "key", {"service_request_id": ""}, 400),
    ("no update_id", "key", {"update_id": ""}, 400),
    ("unknown status", "key", {"status": "DONE"}, 400),
    ("updated_datetime without zone", "key", {"updated_datetime": "2026-11-16T10:00:00"}, 400),
    ("updated_datetime garbage", "key", {"updated_datetime": "soon"}, 400),
    ("description too long", "key", {"description": "催" * 4001}, 400),
    ("unknown field", "key", {"colour": "red"}, 400),
    ("unknown request", "key", {"service_request_id": "99999"}, 404),
    ("request of another township", "lhl", {}, 404),
    ("bad flag", "key", {"email_alerts_requested": "yes"}, 400),
]


def test_inbound_update_refusals_change_nothing(o):
    rid = o.create()
    keys = {None: None, "key": o.key, "lhl": o.key_lhl}
    before = snapshot(o)
    for fmt in ("xml", "json"):
        for label, key, change, status in UPDATE_REFUSALS:
            r = o.post("servicerequestupdates", _update(rid, **change), fmt, key=keys[key])
            try:
                refused(r, status, fmt)
            except AssertionError as e:
                raise AssertionError(f"{label} ({fmt}): {e}") from None
        data = _update(rid)
        del data["description"]
        refused(o.post("servicerequestupdates", data, fmt), 400, fmt)
    assert snapshot(o) == before
    # the same update_id on another request is a mistake, not a repeat
    assert o.post("servicerequestupdates", _update(rid)).status_code == 200
    other = o.create("ENV01")
    refused(o.post("servicerequestupdates", _update(other)), 400)


# ---- Errors: formats, resources, methods, hostile input ---------------------------------------------------------
def test_unknown_resources_formats_and_methods(o):
    # "The client can specify the desired format by appending the format name to the resource."
    for path in ("services.html", "services.XML", "requests.csv", "nothing.xml", "services/LAND01.yaml",
                 "v3/services.xml"):
        refused(o.client.get(f"{V2}/{path}"), 404, "xml")
    refused(o.client.get(f"{V2}/nothing.json"), 404, "json")
    # "400 - The URL request is invalid"
    refused(o.client.delete(f"{V2}/requests.json"), 400, "json")
    refused(o.client.put(f"{V2}/services.xml"), 400, "xml")
    refused(o.client.post(f"{V2}/services.xml", data={"api_key": o.key}), 400, "xml")
    # the endpoint's root offers the discovery document
    root = xml_of(o.client.get(f"{V2}/"))
    assert root.tag == "discovery"


def test_hostile_input_gets_4xx_and_changes_nothing(o):
    rid = o.create()
    before = snapshot(o)
    probes = [
        o.client.get(f"{V2}/services/%00.xml"),
        o.client.get(f"{V2}/requests/{rid}%00.xml", params={"api_key": o.key}),
        o.client.get(f"{V2}/requests.xml", params={"api_key": o.key, "service_code": "LAND01\x00"}),
        o.client.get(f"{V2}/requests.json?api_key={o.key}&start_date=%FF%FE"),
        o.client.get(f"{V2}/requests.xml", params={"api_key": o.key, "service_request_id": "9" * 40}),
        o.client.get(f"{V2}/requests.xml", params={"api_key": "x" * 5000}),
        o.client.get(f"{V2}/tokens/{'CS' + '9' * 60}.xml", params={"api_key": o.key}),
        o.client.get(f"{V2}/services/{'A' * 300}.json"),
        o.client.get(f"{V2}/requests/²³.xml", params={"api_key": o.key}),
        o.client.get(f"{V2}/requests.json", params={"api_key": o.key, "service_request_id": "1,²"}),
        o.client.get(f"{V2}/requests.json", params={"api_key": o.key, "page": "²"}),
        o.client.get(f"{V2}/tokens/CS{'1' * 5000}.json", params={"api_key": o.key}),
        o.client.get(f"{V2}/requests.xml", params={"api_key": o.key, "start_date": "２０２６-11-16T00:00:00Z"}),
        o.post("servicerequestupdates", _update("²")),
        o.post("requests", {"service_code": "' OR 1=1 --", **IN_G1}),
        o.post("requests", {"service_code": "LAND01", "lat": "1e400", "long": "112"}),
        o.post("requests", {"service_code": "LAND01", **IN_G1, "attribute[township]": "F\u200bC"}),
        o.post("requests", [("service_code", "LAND01"), *IN_G1.items()] + [("media_url", "https://a.cn/x")] * 11),
        o.post("servicerequestupdates", _update("9" * 30)),
        o.post("servicerequestupdates", _update(rid, update_id="u" * 65)),
        o.post("servicerequestupdates", _update(rid, updated_datetime="9999-12-31T23:59:59-14:00")),
        o.client.post(f"{V2}/requests.xml", content=b"&".join([b"a=b"] * 500),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for i, r in enumerate(probes):
        assert 400 <= r.status_code < 500, (i, r.request.url, r.status_code, r.text[:300])
        refused(r, r.status_code, "json" if r.request.url.path.endswith(".json") else "xml")
    assert snapshot(o) == before


# ---- the admin's keys (docs/access.md#integrator-keys) ---------------------------------------------------------------
def test_api_keys_are_issued_by_the_admin_and_shown_once(o):
    admin = o.api.as_("admin")
    r = admin.post("/api/v1/api-keys", json={"name": "city-1", "unit": "RX12345", "townships": ["FC", "LHL"]})
    assert r.status_code == 201 and r.json()["key"].startswith("o311_")
    key = r.json()["key"]
    listed = admin.get("/api/v1/api-keys").json()
    assert {k["name"] for k in listed} == {"12345热线", "city-platform", "city-1"}
    assert all("key" not in k for k in listed) and key not in admin.get("/api/v1/api-keys").text
    with o.engine.connect() as conn:  # only its hash is kept
        stored = [tuple(r) for r in conn.execute(select(ApiKey))]
    assert key not in repr(stored)
    before = snapshot(o)
    assert o.api.as_("disp_fc").post("/api/v1/api-keys", json={"name": "x", "unit": "RX12345",
                                                               "townships": ["FC"]}).status_code == 403
    for body in ({"name": "city-1", "unit": "RX12345", "townships": ["FC"]},
                 {"name": "y", "unit": "NOPE", "townships": ["FC"]},
                 {"name": "y", "unit": "RX12345", "townships": ["FC-G1"]},
                 {"name": "y", "unit": "RX12345", "townships": []},
                 {"name": "y z", "unit": "RX12345", "townships": ["FC"]},
                 {"name": "y", "unit": "RX12345", "townships": ["FC"], "source": "grid"},
                 {"name": "y", "unit": "RX12345", "townships": ["FC"], "secret": "mine"}):
        r = admin.post("/api/v1/api-keys", json=body)
        assert r.status_code in (409, 422), (body, r.status_code, r.text)
        assert set(r.json()) == {"error"}
    assert delete(o, "/api/v1/api-keys/nope").status_code == 404
    assert snapshot(o) == before
    with o.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Open311Request)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(TimelineEntry)).scalar_one() == 0


def test_an_oversized_body_gets_the_standards_error_shape(county):
    """An over-large POST is refused before it is read, in the Open311 error format of the extension asked for."""
    big = "x" * (300 * 1024)
    xml = county.client.post("/open311/v2/requests.xml", data={"api_key": "k", "description": big})
    assert xml.status_code == 413 and xml.headers["content-type"].startswith("text/xml")
    assert "<errors><error><code>413</code>" in xml.text
    js = county.client.post("/open311/v2/requests.json", data={"api_key": "k", "description": big})
    assert js.status_code == 413 and js.json()[0]["code"] == 413
