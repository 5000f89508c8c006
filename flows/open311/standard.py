"""What GeoReport v2 fixes for every part of our Open311 service: the specification's address, the formats, its
limits, W3C datetimes and lists written as repeated elements; and the refusal every malformed request gets
(400 in the standard's error shape, api/routes/open311.py)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import Invalid

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"xml": "text/xml", "json": "application/json"}
OTHER = "OTHER"  # the service for a report without a catalog item
MAX_DESCRIPTION = 4000  # "free form text limited to 4,000 characters"
SPAN = timedelta(days=90)  # "may not span more than 90 days"; "defaults to most recent 90 days"
MAX_RESULTS = 1000  # "Default query limit is a span of 90 days or first 1000 requests returned"
MAX_IDS = 1000
CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")  # a service, township or grid code
DIGITS = re.compile(r"^[0-9]{1,10}$")  # str.isdigit() also takes "²", which int() refuses


def bad_request(zh: str, en: str) -> Invalid:
    """A request the standard's 400 refuses (a parameter missing, malformed or out of range)."""
    return Invalid(zh, en, code="bad_request")


def w3(dt: datetime | None) -> str | None:
    """A W3C datetime with its offset, in Asia/Shanghai: 2026-11-16T09:00:00+08:00."""
    return None if dt is None else dt.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


@dataclass
class Many:
    """A list that XML writes as repeated `<tag>` children and JSON as an array (the Spark convention)."""

    tag: str
    items: list


def unknown_services(codes: list[str]) -> Invalid:
    """400 for service codes that name no service (the first five named)."""
    named = ", ".join(c[:64] for c in codes[:5])
    return bad_request(f"服务不存在：{named}", f"unknown service_code: {named}")
