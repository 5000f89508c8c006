"""What the Open311 service takes, already read from HTTP: api/open311_params.py turns the standard's form and
query fields into these (refusing malformed ones with 400); what needs the database is checked by the service."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NewRequest:
    """POST Service Request. A location is given: lat and lon, or address (or both)."""

    service_code: str  # a well-formed code; whether it names a service is the service's check (404)
    lat: float | None
    lon: float | None
    address: str | None  # address_string
    address_id: str | None
    description: str  # "" when not given
    contact: dict  # email, phone, first_name, last_name, account_id: each a string or None
    media: list[str]  # media_url values, http(s)
    device_id: str | None
    attributes: dict[str, str]  # attribute[title|township|grid|urgency], those given


@dataclass(frozen=True)
class RequestQuery:
    """GET Service Requests. `ids` (service_request_id) overrides every other argument; otherwise the requests
    created within [start, end] (UTC; end None: up to now), of `service_codes` (all when empty) and `statuses`
    (open/closed; both when empty), one page."""

    extensions: bool = True
    ids: list[int] | None = None
    start: datetime | None = None
    end: datetime | None = None
    service_codes: tuple[str, ...] = ()
    statuses: frozenset[str] = frozenset()
    page: int = 1
    page_size: int = 1000


@dataclass(frozen=True)
class UpdateQuery:
    """GET Service Request Updates: the timeline entries within [start, end] (UTC; end None: up to now), one page."""

    start: datetime
    end: datetime | None
    page: int
    page_size: int


@dataclass(frozen=True)
class NewUpdate:
    """POST Service Request Update (mySociety)."""

    service_request_id: str  # as sent; digits or not is the service's check (404)
    update_id: str  # the integrator's own id: an update is stored once per (key, update_id)
    status: str  # an upper-case extended status (status.INBOUND_STATUSES)
    updated: datetime  # updated_datetime, aware UTC
    description: str
    contact: dict  # the requester's details and the other fields kept with the update, those given
    media: list[str]
