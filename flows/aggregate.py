"""An action's whole aggregate in one statement (issue 13): the case row, whether the caller's session is alive,
its catalog item and the township's override, and — as JSON arrays beside the row — its whistles, its
extensions (while handling) and its running clocks. One round trip instead of five; the child rows are built
into plain (detached) table objects without the ORM's loading machinery.

The statement is built once per dialect: PostgreSQL `json_agg(json_build_array(...))`, SQLite
`json_group_array(json_array(...))`. Times come back as the JSON text of the stored naive UTC value and are
read back aware (UTC), as `models.types.UTCDateTime` does.
"""

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, Float, String, and_, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import literal_column

from chuishao.flows.lifecycle import HANDLING
from chuishao.flows.sessions import alive_clause
from chuishao.models.cases import Case, Extension, Whistle
from chuishao.models.catalog import CatalogItem, CatalogOverride
from chuishao.models.clocks import StepClock
from chuishao.models.compiled import connection, fetch_all, fetch_one, run_sqlite, sqlite_of
from chuishao.models.org import User
from chuishao.models.rows import build, columns
from chuishao.models.types import UTCDateTime

_CASES, _ITEMS, _OVERRIDES = Case.__table__, CatalogItem.__table__, CatalogOverride.__table__
_CHILDREN = (Whistle, Extension, StepClock)


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
    row = await fetch_one(await connection(s), stmt, {"case_id": case_id, "session_id": session_id,
                                                        "user_id": user_id})
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


_ITEM_AND_OVERRIDE = (select(*_ITEMS.columns, *_OVERRIDES.columns)
                      .select_from(_ITEMS.outerjoin(_OVERRIDES, and_(
                          _OVERRIDES.c.item_id == _ITEMS.c.id, _OVERRIDES.c.township_id == bindparam("township_id"))))
                      .where(_ITEMS.c.code == bindparam("code")))


async def item_and_override(s: AsyncSession, code: str, township_id: int
                            ) -> tuple[CatalogItem | None, CatalogOverride | None]:
    """One statement: the catalog item `code` and the township's override of it (一乡镇一清单) as plain objects;
    (None, None) when there is no such item, (item, None) when the township keeps the county's entry."""
    row = await fetch_one(await connection(s), _ITEM_AND_OVERRIDE, {"code": code, "township_id": township_id})
    if row is None:
        return None, None
    ni = len(_ITEM_KEYS)
    override = row[ni:]
    return (build(CatalogItem, dict(zip(_ITEM_KEYS, row[:ni], strict=True))),
            build(CatalogOverride, dict(zip(_OVERRIDE_KEYS, override, strict=True))) if override[0] is not None
            else None)


_USERS_NAMED: dict[int, object] = {}


async def users_named(s: AsyncSession, names: list[str]) -> list:
    """The accounts whose usernames are `names` whatever their letter case (flows/admin.named): rows of
    (username, unit_id, certificate_no, certificate_expires, name, active), in no particular order. One statement,
    compiled once per number of names (the feedback's officers: at most 20)."""
    if not names:
        return []
    stmt = _USERS_NAMED.get(len(names))
    if stmt is None:
        u = User.__table__
        stmt = _USERS_NAMED[len(names)] = select(
            u.c.username, u.c.unit_id, u.c.certificate_no, u.c.certificate_expires, u.c.name, u.c.active
        ).where(func.lower(u.c.username).in_([bindparam(f"n{i}") for i in range(len(names))]))
    return await fetch_all(await connection(s), stmt, {f"n{i}": n.lower() for i, n in enumerate(names)})


# ---- writing back (PostgreSQL) ------------------------------------------------------------------------------
# One statement per action: a data-modifying CTE whose first part is the case's versioned UPDATE and whose every
# other part (changed rows, new rows, the timeline entry, the outbox event) selects FROM it, so that nothing is
# written when the version moved; the statement answers how many case rows it updated and the new rows' ids.
# Built once per shape (which columns change, which rows are inserted) and kept: the compiled SQL is cached with
# the statement object, and asyncpg keeps it prepared on each connection.
_SHAPES_WRITTEN: dict[tuple, object] = {}
_MAX_SHAPES = 512


def _write_statement(shape: tuple):
    case_keys, update_shapes, insert_shapes, guarded = shape
    t = _CASES
    where = [t.c.id == bindparam("c__id"), t.c.version == bindparam("c__version")]
    if guarded:  # another case the decision read must still be at the version read, and stays so until commit
        other = _CASES.alias("g")
        where.append(select(other.c.id).where(other.c.id == bindparam("g__id"),
                                              other.c.version == bindparam("g__version"))
                     .with_for_update(read=True).exists())
    gate = (t.update().where(*where)
            .values({k: bindparam(f"c_{k}", type_=t.c[k].type) for k in (*case_keys, "version")})
            .returning(t.c.id).cte("c"))
    parts = [select(func.count()).select_from(gate).scalar_subquery()]
    exists_in = select(gate.c.id).exists()
    for i, (table, keys) in enumerate(update_shapes):
        u = (table.update().where(table.c.id == bindparam(f"u{i}__id"), exists_in)
             .values({k: bindparam(f"u{i}_{k}", type_=table.c[k].type) for k in keys})
             .returning(table.c.id).cte(f"u{i}"))
        parts.append(select(func.count()).select_from(u).scalar_subquery())
    inserted = []
    for i, (table, keys, whistle_at) in enumerate(insert_shapes):
        source = gate if whistle_at is None else inserted[whistle_at]
        values = [bindparam(f"i{i}_{k}", type_=table.c[k].type) for k in keys]
        cols = list(keys)
        if whistle_at is not None:  # a check-in clock of a whistle inserted in this same statement
            values.append(source.c.id)
            cols.append("whistle_id")
        ins = (table.insert().from_select(cols, select(*values).select_from(source))
               .returning(table.c.id).cte(f"i{i}"))
        inserted.append(ins)
        parts.append(select(ins.c.id).scalar_subquery())
    return select(*parts)


def _new_row(obj) -> dict:
    """A new object's column values, without its id while it has none (the database gives it)."""
    row = columns(obj)
    if row.get("id") is None:
        row.pop("id")
    return row


async def write(conn, case_id: int, version: int, changes: dict, updates: list, inserts: list,
                unchanged: tuple[int, int] | None = None) -> bool:
    """Write an action back: on PostgreSQL in one statement, on SQLite statement by statement inside the
    caller's transaction (`_write_sqlite`). `changes`: the case's changed columns (the version
    goes to `version + 1`, gated on `version`); `updates`: (row object, {column: value}) for existing rows;
    `inserts`: (new object, its new whistle or None) in order — a clock whose whistle is inserted here takes
    that whistle's id. `unchanged`: (case id, version) of another case the decision read (a merge's master
    case); PostgreSQL gates the write on it too and holds it FOR SHARE until commit, so two merges into each
    other cannot both commit (SQLite needs nothing: the caller read it inside its write transaction). Gives
    each inserted object its id. Answers False (nothing written) when the case's version or the other case's
    moved. Raises TransactionRollback (models.compiled) when PostgreSQL breaks a deadlock by aborting it."""
    if conn.dialect.name != "postgresql":
        return await _write_sqlite(conn, case_id, version, changes, updates, inserts)
    new_objs = [obj for obj, _ in inserts]
    insert_shapes, params = [], {"c__id": case_id, "c__version": version, "c_version": version + 1}
    params.update({f"c_{k}": v for k, v in changes.items()})
    if unchanged is not None:
        params["g__id"], params["g__version"] = unchanged
    for i, (obj, whistle) in enumerate(inserts):
        row = _new_row(obj)
        whistle_at = None
        if whistle is not None:
            whistle_at = next(j for j, o in enumerate(new_objs) if o is whistle)
            row.pop("whistle_id")
        insert_shapes.append((obj.__table__, tuple(row), whistle_at))
        params.update({f"i{i}_{k}": v for k, v in row.items()})
    update_shapes = []
    for i, (obj, diff) in enumerate(updates):
        update_shapes.append((obj.__table__, tuple(diff)))
        params[f"u{i}__id"] = obj.id
        params.update({f"u{i}_{k}": v for k, v in diff.items()})
    shape = (tuple(changes), tuple(update_shapes), tuple(insert_shapes), unchanged is not None)
    stmt = _SHAPES_WRITTEN.get(shape)
    if stmt is None:
        stmt = _write_statement(shape)
        if len(_SHAPES_WRITTEN) < _MAX_SHAPES:
            _SHAPES_WRITTEN[shape] = stmt
    row = await fetch_one(conn, stmt, params)
    if row[0] != 1:
        return False
    for obj, new_id in zip(new_objs, row[1 + len(updates):], strict=True):
        obj.id = new_id
    for (obj, whistle) in inserts:
        if whistle is not None:
            obj.whistle_id = whistle.id
    return True


_ALIVE = select(alive_clause().label("alive")).subquery("a")
_ALIVE_AND_NEXT_ID = {
    # the sequence is drawn only when the report will be written (a live session, or none to check): a refused
    # report uses up no case number (a sequence's value is never given back). Named as a regclass literal, which
    # PostgreSQL resolves once when it plans the statement; pg_get_serial_sequence('cases', 'id') would search
    # the catalogue's dependencies on every report. cases.id is a SERIAL column (migration 0001).
    "postgresql": select(_ALIVE.c.alive, case(
        (or_(_ALIVE.c.alive, bindparam("session_id", type_=String).is_(None)),
         func.nextval(literal_column("'cases_id_seq'::regclass"))), else_=None).label("next_id")),
    # SQLite: inside the report's write transaction (BEGIN IMMEDIATE, no other writer until it ends) the next id
    # is the one SQLite itself would give (cases.id is the rowid, without AUTOINCREMENT)
    "sqlite": select(alive_clause().label("alive"),
                     select(func.coalesce(func.max(_CASES.c.id), 0) + 1).scalar_subquery().label("next_id")),
}


async def alive_and_next_case_id(s: AsyncSession, session_id: str | None, user_id: int | None) -> tuple[bool, int]:
    """One statement: whether the session may act (flows.sessions.alive_clause) and the id the new case will
    have, so that the first timeline entry can be hashed before the insert. PostgreSQL: the id sequence's next
    value. SQLite: one above the largest id — call it inside the report's write transaction."""
    conn = await connection(s)
    row = await fetch_one(conn, _ALIVE_AND_NEXT_ID[conn.dialect.name], {"session_id": session_id, "user_id": user_id})
    return bool(row[0]), row[1]


_INSERTED_TOGETHER: dict[tuple, object] = {}


async def insert_together(conn, objs: list) -> None:
    """Insert the objects in order and give each object without an id its id. PostgreSQL: one statement (the
    first one's row first; every other row is inserted FROM it, in the same data-modifying CTE). SQLite: one
    statement per row, in the caller's write transaction."""
    if conn.dialect.name != "postgresql":
        sqlite = await sqlite_of(conn)
        for obj in objs:
            await _insert_sqlite(conn, sqlite, obj)
        return
    shapes, params = [], {}
    for i, obj in enumerate(objs):
        row = _new_row(obj)
        shapes.append((obj.__table__, tuple(row)))
        params.update({f"i{i}_{k}": v for k, v in row.items()})
    shape = tuple(shapes)
    stmt = _INSERTED_TOGETHER.get(shape)
    if stmt is None:
        first = None
        parts = []
        for i, (table, keys) in enumerate(shapes):
            values = [bindparam(f"i{i}_{k}", type_=table.c[k].type) for k in keys]
            ins = (table.insert().values(dict(zip(keys, values, strict=True))) if first is None else
                   table.insert().from_select(list(keys), select(*values).select_from(first)))
            ins = ins.returning(table.c.id).cte(f"i{i}")
            first = first if first is not None else ins
            parts.append(select(ins.c.id).scalar_subquery())
        stmt = select(*parts)
        if len(_INSERTED_TOGETHER) < _MAX_SHAPES:
            _INSERTED_TOGETHER[shape] = stmt
    row = await fetch_one(conn, stmt, params)
    for obj, new_id in zip(objs, row, strict=True):
        obj.id = new_id


# ---- writing back (SQLite) ---------------------------------------------------------------------------------
# SQLite has no data-modifying CTEs: the versioned UPDATE first, then each changed and new row, in the caller's
# write transaction (BEGIN IMMEDIATE: no other writer in between). Statements per shape, built once and run on
# the sqlite3 connection itself (models/compiled.py); an insert's id is the cursor's lastrowid.
_SQLITE_STATEMENTS: dict[tuple, object] = {}


def _sqlite_statement(kind: str, table, keys: tuple):
    key = (kind, table.name, keys)
    stmt = _SQLITE_STATEMENTS.get(key)
    if stmt is None:
        values = {k: bindparam(f"v_{k}", type_=table.c[k].type) for k in keys}
        if kind == "insert":
            stmt = table.insert().values(values)
        else:
            where = [table.c.id == bindparam("w_id")]
            if kind == "case":
                where.append(table.c.version == bindparam("w_version"))
            stmt = table.update().where(*where).values(values)
        if len(_SQLITE_STATEMENTS) < _MAX_SHAPES:
            _SQLITE_STATEMENTS[key] = stmt
    return stmt


async def _run_sqlite(conn, sqlite, kind: str, table, values: dict, where: dict) -> tuple[int, int]:
    """One insert ("insert"), versioned case update ("case") or row update ("update") of `values`; answers
    (rowcount, lastrowid). `sqlite`: the sqlite3 connection under `conn`, or None (aiosqlite's thread)."""
    stmt = _sqlite_statement(kind, table, tuple(values))
    params = {f"v_{k}": v for k, v in values.items()} | where
    if sqlite is not None:
        _, rowcount, lastrowid = run_sqlite(sqlite, stmt, conn.dialect, params)
        return rowcount, lastrowid
    result = await conn.execute(stmt, params)  # SQLite through aiosqlite's thread (an in-memory database)
    return result.rowcount, result.lastrowid


async def _insert_sqlite(conn, sqlite, obj) -> None:
    obj.id = (await _run_sqlite(conn, sqlite, "insert", obj.__table__, _new_row(obj), {}))[1]


async def _write_sqlite(conn, case_id: int, version: int, changes: dict, updates: list, inserts: list) -> bool:
    sqlite = await sqlite_of(conn)
    rowcount, _ = await _run_sqlite(conn, sqlite, "case", _CASES, {**changes, "version": version + 1},
                                    {"w_id": case_id, "w_version": version})
    if rowcount != 1:
        return False
    for obj, diff in updates:
        await _run_sqlite(conn, sqlite, "update", obj.__table__, diff, {"w_id": obj.id})
    for obj, whistle in inserts:
        if whistle is not None:
            obj.whistle_id = whistle.id
        await _insert_sqlite(conn, sqlite, obj)
    return True
