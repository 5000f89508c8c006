"""Working calendar (工作日历): read a year; the admin edits a day, imports a year, sets working hours.

Dates lie within FIRST_DAY … LAST_DAY (flows/calendar.py); working-hour ends may be 24:00.
"""

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chuishao.api.deps import NowDep, ServicesDep, actor, admin
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import (
    CalendarYearView,
    DaySet,
    Schedule,
    ScheduleDay,
    WorkingHours,
    YearImported,
    parsed_body,
)
from chuishao.flows.calendar import FIRST_DAY, LAST_DAY, format_hhmm, parse_day, parse_hours

router = APIRouter(tags=["calendar"], route_class=GuardedRoute)
HHMM = Annotated[str, StringConstraints(max_length=5)]
DAY = Annotated[str, Path(max_length=10, description=f"YYYY-MM-DD, {FIRST_DAY} … {LAST_DAY}", examples=["2026-10-01"],
                          json_schema_extra={"format": "date"})]
YEAR = Annotated[int, Path(ge=FIRST_DAY.year, le=LAST_DAY.year)]


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["holiday", "workday"] | None  # null: back to the weekday/weekend rule
    name: Annotated[str, StringConstraints(max_length=100)] | None = None


class HoursIn(BaseModel):
    """Windows of local time, in order: [["09:00", "12:00"], ["13:30", "17:30"]]; a whole day is
    [["00:00", "24:00"]]."""

    model_config = ConfigDict(extra="forbid")
    windows: list[tuple[HHMM, HHMM]] = Field(max_length=12)


# `{year:int}`: only digits reach this route, so /calendar/hours and /calendar/days/… are never taken for a year
@router.get("/calendar/{year:int}", summary="某年工作日历", dependencies=[Depends(actor)],
            response_model=CalendarYearView)
async def get_year(year: YEAR, svc: ServicesDep):
    return await svc.cases.calendar.year(year)


@router.put("/calendar/days/{day}", summary="调整某一天（节假日/调休上班）", dependencies=[Depends(admin)],
            response_model=DaySet)
async def set_day(body: DayIn, day: DAY, svc: ServicesDep, at: NowDep):
    name = await svc.cases.calendar.set_day(parse_day(day), body.kind, body.name, at)
    return {"date": day, "kind": body.kind, "name": name}


@router.post("/calendar/import", summary="导入国务院办公厅年度放假安排（JSON）", dependencies=[Depends(admin)],
             response_model=YearImported, openapi_extra=parsed_body(Schedule, or_list_of=ScheduleDay))
async def import_year(body: Annotated[dict[str, Any] | list[dict[str, Any]], Body()], svc: ServicesDep, at: NowDep):
    return await svc.cases.calendar.import_year(json.dumps(body), "schedule.json", at)


@router.put("/calendar/hours", summary="每日工作时段（结束时间可为 24:00）", dependencies=[Depends(admin)],
            response_model=WorkingHours)
async def set_hours(body: HoursIn, svc: ServicesDep, at: NowDep):
    windows = parse_hours(body.windows)
    await svc.cases.calendar.set_hours(windows, at)
    return {"windows": [[format_hhmm(a), format_hhmm(b)] for a, b in windows]}
