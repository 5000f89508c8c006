"""An action's whole aggregate in one statement (issue 13): the case row, whether the caller's session is alive,
its catalog item and the township's override, and — as JSON arrays beside the row — its whistles, its
extensions (while handling) and its running clocks. One round trip instead of five; the child rows are built
into plain (detached) table objects without the ORM's loading machinery.

The statement is built once per dialect: PostgreSQL `json_agg(json_build_array(...))`, SQLite
`json_group_array(json_array(...))`. Times come back as the JSON text of the stored naive UTC value and are
read back aware (UTC), as `models.types.UTCDateTime` does.
"""

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, Float, and_, bindparam, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from chuishao.flows.lifecycle import HANDLING
from chuishao.flows.sessions import alive_clause
from chuishao.models.cases import Case, Extension, Whistle
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.clocks import StepClock
from chuishao.models.types import UTCDateTime

_CASES, _ITEMS, _OVERRIDES = Case.__table__, CatalogItem.__table__, CatalogOverride.__table__
_CHILDREN = (Whistle, Extension, StepClock)


def build(cls, values: dict):
    """A table object from its column values, as the ORM builds a loaded row (no validation, no change
    events): cheaper than the constructor by an order of magnitude."""
    obj = cls._sa_class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def _when(value):
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _converter(column):
    if isinstance(column.type, UTCDateTime):
        return _when
    if isinstance(column.type, Boolean):
        return lambda v: None if v is None else bool(v)
    if isinstance(column.type, Float):
        return lambda v: None if v is None else float(v)
    return None


# per child table: its column names and, where the JSON value is not the Python one, a converter
_SHAPES = {cls: ([c.name for c in cls.__table__.columns], [_converter(c) for c in cls.__table__.columns])
           for cls in _CHILDREN}


def _children(cls, rows: list | None) -> list:
    if not rows:
        return []
    names, conv = _SHAPES[cls]
    out = []
    for row in rows:
        values = {n: (v if f is None else f(v)) for n, v, f in zip(names, row, conv, strict=True)}
        out.append(build(cls, values))
    out.sort(key=lambda o: o.id)
    return out


def _statement(dialect: str):
    agg, arr = ((func.json_agg, func.json_build_array) if dialect == "postgresql"
                else (func.json_group_array, func.json_array))

    def rows(cls, *where):
        t = cls.__table__
        sub = select(agg(arr(*t.columns))).select_from(t).where(t.c.case_id == _CASES.c.id, *where)
        return type_coerce(sub.scalar_subquery(), JSON).label(t.name)

    handling = or_(_CASES.c.status == HANDLING, _CASES.c.suspended_from == HANDLING)
    items = (_CASES.outerjoin(_ITEMS, _ITEMS.c.code == _CASES.c.category)
             .outerjoin(_OVERRIDES, and_(_OVERRIDES.c.item_id == _ITEMS.c.id,
                                         _OVERRIDES.c.township_id == _CASES.c.township_id)))
    stmt = select(*_CASES.columns, alive_clause().label("alive"),
                  *[c.label(f"i_{c.name}") for c in _ITEMS.columns],
                  *[c.label(f"o_{c.name}") for c in _OVERRIDES.columns],
                  rows(Whistle), rows(Extension, handling),
                  rows(StepClock, StepClock.__table__.c.stopped_at.is_(None))
                  ).select_from(items).where(_CASES.c.id == bindparam("case_id"))
    return stmt


_STATEMENTS: dict[str, object] = {}
_CASE_KEYS = [c.name for c in _CASES.columns]
_ITEM_KEYS = [c.name for c in _ITEMS.columns]
_OVERRIDE_KEYS = [c.name for c in _OVERRIDES.columns]


class Loaded:
    """What `load` read: the case and its children (plain objects), the session's liveness, and the case's
    catalog item and override (None when the case has no category, or the code is not in the catalog)."""

    __slots__ = ("case", "alive", "item", "override", "whistles", "extensions", "clocks")


async def load(s: AsyncSession, case_id: int, session_id: str | None, user_id: int | None) -> Loaded | None:
    """One statement: the case `case_id` and everything an action needs beside it; None when there is no such
    case. `alive` is the session check (flows.sessions.alive_clause; False also when `session_id` is None)."""
    dialect = s.bind.dialect.name
    stmt = _STATEMENTS.get(dialect)
    if stmt is None:
        stmt = _STATEMENTS[dialect] = _statement(dialect)
    row = (await s.execute(stmt, {"case_id": case_id, "session_id": session_id, "user_id": user_id})).first()
    if row is None:
        return None
    n, ni, no = len(_CASE_KEYS), len(_ITEM_KEYS), len(_OVERRIDE_KEYS)
    out = Loaded()
    out.case = build(Case, dict(zip(_CASE_KEYS, row[:n], strict=True)))
    out.alive = bool(row[n])
    item = row[n + 1:n + 1 + ni]
    out.item = build(CatalogItem, dict(zip(_ITEM_KEYS, item, strict=True))) if item[0] is not None else None
    override = row[n + 1 + ni:n + 1 + ni + no]
    out.override = (build(CatalogOverride, dict(zip(_OVERRIDE_KEYS, override, strict=True)))
                    if override[0] is not None else None)
    w, e, k = row[n + 1 + ni + no:]
    out.whistles, out.extensions, out.clocks = _children(Whistle, w), _children(Extension, e), _children(StepClock, k)
    return out
