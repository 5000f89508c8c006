"""The bare endpoint chuishao is measured against (docs/operations.md#performance-targets): one versioned UPDATE,
nothing else.

Same stack as the service: FastAPI + uvicorn (uvloop, httptools) + SQLAlchemy's async engine with the same
drivers (asyncpg / aiosqlite), built by the project's own `models.db.Database`, so the pool size, the SQLite
pragmas (WAL, synchronous=NORMAL, busy_timeout) and the in-process SQLite write lock are identical to
what a chuishao action runs on. Raw SQL through a Core connection, no ORM session, no auth, no JSON body.

Endpoints, on random rows of a 100,000-row table `bench_rows (id, v, version)`:
- `POST /rows/{id}/bump`: read the version, then `UPDATE bench_rows SET v = v + 1, version = version + 1
  WHERE id = :id AND version = :v` in one transaction (the version gate an action uses). 409 if it moved.
- `POST /rows/{id}/bump-returning`: one `UPDATE ... WHERE id = :id RETURNING version`, one round trip.
- `GET /healthz`.

Run: `BENCH_BASELINE_URL=postgresql://postgres@127.0.0.1:5432/chuishao_bench \
      .venv/bin/uvicorn baseline_app:create_app --factory --app-dir bench --workers 2`
after `.venv/bin/python bench/baseline_app.py --setup URL` has created and filled the table.
`bench/loop.py` does both for you.
"""

import argparse
import contextlib
import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from chuishao.models.db import Database, make_sync_engine

ROWS = 100_000
TABLE = "bench_rows"

READ = text(f"SELECT version FROM {TABLE} WHERE id = :id")
UPDATE = text(f"UPDATE {TABLE} SET v = v + 1, version = version + 1 WHERE id = :id AND version = :v")
RETURNING = text(f"UPDATE {TABLE} SET v = v + 1, version = version + 1 WHERE id = :id RETURNING version")


def setup(url: str, rows: int = ROWS) -> None:
    """(Re)create the table with `rows` rows, ids 1..rows (synchronous; run before the server starts)."""
    engine = make_sync_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
            conn.execute(text(f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, v BIGINT NOT NULL DEFAULT 0, "
                              "version INTEGER NOT NULL DEFAULT 1)"))
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"INSERT INTO {TABLE} (id) SELECT g FROM generate_series(1, :n) g"), {"n": rows})
            else:
                conn.execute(text(f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) "
                                  f"INSERT INTO {TABLE} (id) SELECT i FROM g"), {"n": rows})
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM ANALYZE {TABLE}"))
                conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()


def create_app() -> FastAPI:
    url = os.environ["BENCH_BASELINE_URL"]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.db = Database(url)
        yield
        await app.state.db.dispose()

    app = FastAPI(title="bare versioned-UPDATE endpoint", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        async with app.state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.post("/rows/{row_id}/bump")
    async def bump(row_id: int):
        db: Database = app.state.db
        async with db.write_lock(), db.engine.begin() as conn:
            version = (await conn.execute(READ, {"id": row_id})).scalar_one_or_none()
            if version is None:
                return JSONResponse({"error": "no such row"}, status_code=404)
            updated = (await conn.execute(UPDATE, {"id": row_id, "v": version})).rowcount
        if updated != 1:
            return JSONResponse({"error": "version moved"}, status_code=409)
        return {"id": row_id, "version": version + 1}

    @app.post("/rows/{row_id}/bump-returning")
    async def bump_returning(row_id: int):
        db: Database = app.state.db
        async with db.write_lock(), db.engine.begin() as conn:
            version = (await conn.execute(RETURNING, {"id": row_id})).scalar_one_or_none()
        if version is None:
            return JSONResponse({"error": "no such row"}, status_code=404)
        return {"id": row_id, "version": version}

    return app


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="set up the bare versioned-UPDATE endpoint's table")
    p.add_argument("--setup", metavar="URL", required=True, help="database URL (sqlite:///... or postgresql://...)")
    p.add_argument("--rows", type=int, default=ROWS)
    a = p.parse_args()
    setup(a.setup, a.rows)
    print(f"{TABLE}: {a.rows} rows ready")
