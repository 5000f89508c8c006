"""Read-only look-ups for the report page: where a point or a user is (grid and township), which grids a
reporter may pick, and the catalog items to search by name. Nothing here writes; the report itself goes
through `CaseService.report`, which resolves a point the same way (`flows.geo.contains` over the grids'
polygons)."""

from sqlalchemy import select

from chuishao.flows.case_hints import CatalogChoice
from chuishao.flows.geo import contains
from chuishao.flows.units import UnitDirectory, UnitInfo
from chuishao.models.catalog import CatalogItem
from chuishao.models.db import Database


def _place(units: UnitDirectory, grid: UnitInfo | None, township: UnitInfo | None) -> dict:
    return {"grid": grid.code if grid else None, "grid_name": grid.name if grid else None,
            "township": township.code if township else None,
            "township_name": township.name if township else None}


async def _loaded(db: Database, units: UnitDirectory) -> UnitDirectory:
    if not units.grids():
        async with db.read() as s:
            await units.reload(s)
    return units


async def locate(db: Database, units: UnitDirectory, lat: float, lon: float) -> dict | None:
    """The grid whose polygon holds the point (WGS84 degrees), and its township:
    `{grid, grid_name, township, township_name}` (codes and names), or None when no grid's polygon holds it.
    The first matching grid wins, as in `CaseService.report`."""
    await _loaded(db, units)
    grid = next((g for g in units.grids() if g.polygon and contains(g.polygon, lon, lat)), None)
    if grid is None:
        return None
    async with db.read() as s:
        township = await units.get(s, grid.parent_id)
    return _place(units, grid, township)


async def place_of(db: Database, units: UnitDirectory, unit_id: int) -> dict:
    """Where a user's own unit sits: a grid worker's grid and its township; township staff's township
    (grid None); a county unit or a department: all None. Same shape as `locate`."""
    async with db.read() as s:
        unit = await units.get(s, unit_id)
        if unit is None:
            return _place(units, None, None)
        if unit.kind == "grid":
            return _place(units, unit, await units.get(s, unit.parent_id))
        if unit.kind == "township":
            return _place(units, None, unit)
        if unit.kind == "team":
            return _place(units, None, await units.get(s, unit.parent_id))
    return _place(units, None, None)


async def place_named(db: Database, units: UnitDirectory, *, grid: str | None, township: str | None) -> dict:
    """Names for a case's grid and township codes (either may be None). Same shape as `locate`."""
    async with db.read() as s:
        g = await units.by_code(s, grid) if grid else None
        t = await units.by_code(s, township) if township else None
    return _place(units, g, t)


async def grid_choices(db: Database, units: UnitDirectory, township_id: int | None = None) -> list[dict]:
    """Grids a reporter may name: those of one township, or every grid (township_id None), ordered by
    township then code. Each `{grid, grid_name, township, township_name}`."""
    await _loaded(db, units)
    out = []
    async with db.read() as s:
        for g in units.grids(township_id):
            out.append(_place(units, g, await units.get(s, g.parent_id)))
    return sorted(out, key=lambda p: (p["township"] or "", p["grid"]))


async def catalog_choices(db: Database) -> list[CatalogChoice]:
    """Every catalog item, ordered by category then name, for searching by name (a few dozen rows)."""
    async with db.read() as s:
        rows = (await s.execute(select(CatalogItem.code, CatalogItem.name, CatalogItem.category,
                                       CatalogItem.enforcement))).all()
    return sorted((CatalogChoice(*r) for r in rows), key=lambda i: (i.category, i.name))


def resolve_item(choices: list[CatalogChoice], text: str) -> CatalogChoice | None:
    """The item a typed or picked search text names: its label '名称（大类/小类）', its exact name, or its
    code (case-insensitive). None when nothing matches exactly (the page then asks to pick from the list)."""
    text = text.strip()
    if not text:
        return None
    for match in (lambda i: i.label == text, lambda i: i.name == text, lambda i: i.code.lower() == text.lower()):
        found = [i for i in choices if match(i)]
        if len(found) == 1:
            return found[0]
    return None
