"""Working calendar (工作日历): read a year; the admin edits a day, imports a year, sets working hours."""

import json
from datetime import date, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, ConfigDict, StringConstraints

from api.deps import Services, actor, admin, now, services
from api.limits import GuardedRoute

router = APIRouter(tags=["calendar"], route_class=GuardedRoute)
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["holiday", "workday"] | None  # null: back to the weekday/weekend rule
    name: Annotated[str, StringConstraints(max_length=100)] | None = None


class HoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    windows: list[tuple[HHMM, HHMM]]


@router.get("/calendar/{year}", summary="某年工作日历", dependencies=[Depends(actor)])
async def get_year(year: int = Path(ge=2000, le=2100), svc: Services = Depends(services)):
    return await svc.cases.calendar.year(year)


@router.put("/calendar/days/{day}", summary="调整某一天（节假日/调休上班）", dependencies=[Depends(admin)])
async def set_day(body: DayIn, day: date, svc: Services = Depends(services), at=Depends(now)):
    await svc.cases.calendar.set_day(day, body.kind, body.name, at)
    return {"date": day.isoformat(), "kind": body.kind, "name": body.name}


@router.post("/calendar/import", summary="导入国务院办公厅年度放假安排（JSON）", dependencies=[Depends(admin)])
async def import_year(body: dict[str, Any] | list[dict[str, Any]] = Body(...), svc: Services = Depends(services),
                      at=Depends(now)):
    return await svc.cases.calendar.import_year(json.dumps(body), "schedule.json", at)


@router.put("/calendar/hours", summary="每日工作时段", dependencies=[Depends(admin)])
async def set_hours(body: HoursIn, svc: Services = Depends(services), at=Depends(now)):
    windows = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in body.windows]
    await svc.cases.calendar.set_hours(windows, at)
    return {"windows": body.windows}
