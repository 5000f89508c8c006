"""An in-process directory of units. Units are few and almost never change, so every process keeps
them in memory and reloads on a miss rather than joining the units table on every action."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chuishao.models.org import Unit


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    polygon: dict | None


class UnitDirectory:
    def __init__(self) -> None:
        self._by_id: dict[int, UnitInfo] = {}
        self._by_code: dict[str, UnitInfo] = {}

    async def reload(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(Unit))).scalars().all()
        units = [UnitInfo(u.id, u.code, u.name, u.kind, u.parent_id, u.polygon) for u in rows]
        self._by_id = {u.id: u for u in units}
        self._by_code = {u.code: u for u in units}

    async def get(self, session: AsyncSession, unit_id: int | None) -> UnitInfo | None:
        if unit_id is None:
            return None
        if unit_id not in self._by_id:
            await self.reload(session)
        return self._by_id.get(unit_id)

    async def by_code(self, session: AsyncSession, code: str) -> UnitInfo | None:
        if code not in self._by_code:
            await self.reload(session)
        return self._by_code.get(code)

    def code(self, unit_id: int | None) -> str | None:
        u = self._by_id.get(unit_id) if unit_id is not None else None
        return u.code if u else None

    def name(self, unit_id: int | None) -> str | None:
        u = self._by_id.get(unit_id) if unit_id is not None else None
        return u.name if u else None

    def township_of(self, unit: UnitInfo) -> int | None:
        """The township a township, grid or team unit belongs to."""
        if unit.kind == "township":
            return unit.id
        if unit.kind in ("grid", "team"):
            return unit.parent_id
        return None

    def team_of(self, township_id: int) -> int | None:
        """The township's own enforcement team (综合行政执法队), if it has one."""
        return next((u.id for u in self._by_id.values() if u.kind == "team" and u.parent_id == township_id), None)

    def grids(self, township_id: int | None = None) -> list[UnitInfo]:
        return [u for u in self._by_id.values()
                if u.kind == "grid" and (township_id is None or u.parent_id == township_id)]

    def of_kinds(self, kinds) -> list[int]:
        """The ids of every unit of these kinds, in id order (as the directory last loaded them)."""
        return sorted(u.id for u in self._by_id.values() if u.kind in kinds)
