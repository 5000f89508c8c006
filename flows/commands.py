"""Action bodies; their field names are wire names integrators rely on (each body is in /openapi.json,
docs/lifecycle.md lists the actions). Unknown fields are refused, text is bounded and follows the one
text rule (flows/text.py), dates lie in the stored range (flows/calendar.in_range)."""

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from chuishao.flows.calendar import in_range
from chuishao.flows.errors import Invalid
from chuishao.flows.text import LONG, as_pydantic, check_field, describe, label_of, refusal, says_something

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


def _substantive(text: str, info: ValidationInfo) -> str:
    if not says_something(text):
        field = info.field_name or "reason"
        raise as_pydantic(Invalid(f"{label_of(field)}须写明具体内容，不能只有标点或空白",
                                  f"the {field} must say something, not only punctuation or spaces",
                                  code="reason_required", extra={"field": field}))
    return text


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), LONG,
                   AfterValidator(_substantive)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), LONG]

OUTCOMES = ("resolved", "partially_resolved", "not_resolvable", "transferred")
Outcome = Literal["resolved", "partially_resolved", "not_resolvable", "transferred"]
Urgency = Literal["normal", "urgent"]
Satisfaction = Literal["satisfied", "basic", "unsatisfied"]


class Body(BaseModel):
    """Every body (actions, reports, admin): unknown fields refused; every string field normalised (NFC) and
    free of invisible control characters, one line unless marked LONG (flows/text.py); every date within
    FIRST_DAY … LAST_DAY. A refusal is a pydantic error of type `bilingual` naming the field and what is wrong;
    `parse_body` raises it as Invalid (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _human_input(cls, value, info: ValidationInfo):
        if isinstance(value, date):
            try:
                return in_range(value, info.field_name, label_of(info.field_name))
            except Invalid as err:
                raise as_pydantic(err) from None
        return check_field(cls, info.field_name, value)


class Accept(Body):
    category: Code | None = None
    urgency: Urgency | None = None
    note: Note | None = None


class Reject(Body):
    reason: Reason


class Merge(Body):
    into: int = Field(ge=1, le=2**31 - 1)


class Dispatch(Body):
    lead_unit: Code | None = None
    assist_units: list[Code] | None = Field(default=None, max_length=20)
    note: Note | None = None


class CheckIn(Body):
    note: Note | None = None


class Return(Body):
    reason: Reason


class EscalateDispute(Body):
    reason: Reason


class Arbitrate(Body):
    lead_unit: Code
    assist_units: list[Code] | None = Field(default=None, max_length=20)
    note: Note | None = None


class RequestExtension(Body):
    working_days: int = Field(ge=1, le=60)
    reason: Reason


class Decide(Body):
    note: Note | None = None


class Suspend(Body):
    reason: Reason


class Resume(Body):
    pass


class FeedbackBody(Body):
    outcome: Outcome
    result: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), LONG]
    officers: list[Code] | None = Field(default=None, max_length=20)
    # 重大执法决定: the department marks this decision major, so it goes to legal review (法制审核) first; an item
    # marked major in the catalog goes there whatever this says
    major: bool | None = None


class Verify(Body):
    """核查. `outcome`: the verifier's correction of the outcome the department proposed (passed only, with a
    note saying why); left out, the proposed outcome stands."""

    passed: bool
    outcome: Outcome | None = None
    note: Note | None = None
    satisfaction: Satisfaction | None = None
    rating: int | None = Field(default=None, ge=1, le=5)


class Remark(Body):
    note: Reason


SOURCES = ("grid", "hotline", "open311", "township", "county", "inspection", "public")


class CaseCreate(Body):
    """事件上报 (step 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=5000), LONG] = ""
    category: Code | None = None
    township: Code | None = None
    grid: Code | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    urgency: Urgency = "normal"
    source: Literal["grid", "hotline", "open311", "township", "county", "inspection", "public"] | None = None


def parse_body(model, raw):
    """`raw` validated as `model`, or Invalid (422): a rule's own message (flows/text.py, date range) when one
    refused it, else pydantic's messages."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as err:
        if (own := refusal(err)) is not None:
            raise own from None
        zh, en = describe(err.errors())
        raise Invalid(f"请求内容有误：{zh}", f"invalid request body: {en}", code="validation_error") from None
