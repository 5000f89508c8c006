"""A writer waits for another process's write transaction and then succeeds (a CLI job beside `chuishao serve`,
or `serve` beside a long migration): on SQLite through BEGIN IMMEDIATE retried with pauses that keep the event
loop free, on PostgreSQL by its own lock waits."""

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from chuishao.models.compiled import connection, sqlite_of
from chuishao.models.db import Database
from chuishao.models.settings_table import Setting

# longer than the 10 s a SQLite writer used to wait before "database is locked"
HOLD = {"sqlite": 12.0, "postgresql": 2.0}

HOLDER = {
    "sqlite": """
        import sqlite3, sys, time
        conn = sqlite3.connect(sys.argv[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO settings (key, value) VALUES ('held', '{}')")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
        conn.execute("COMMIT")
    """,
    "postgresql": """
        import psycopg, sys, time
        conn = psycopg.connect(sys.argv[1])
        conn.execute("LOCK TABLE settings IN EXCLUSIVE MODE")
        conn.execute("INSERT INTO settings (key, value) VALUES ('held', '{}')")
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
        conn.commit()
    """,
}


def _holder(db_url: str, seconds: float) -> subprocess.Popen:
    """Another process that takes the write lock for `seconds` and then commits its own row."""
    u = make_url(db_url)
    backend = u.get_backend_name()
    target = u.database if backend == "sqlite" else (
        f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLDER[backend]), target, str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked", proc.stderr.read()
    return proc


@contextlib.asynccontextmanager
async def _loop_gaps():
    """Yields a list that fills with the gaps between ticks of the event loop while the block runs: what else the
    process (`serve`'s requests) gets to do while a writer waits."""
    gaps, stop = [], asyncio.Event()

    async def ticker():
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.05)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    try:
        yield gaps
    finally:
        stop.set()
        await tick


def _beside_a_holder(db_url: str, write) -> tuple[float, set[str], float]:
    """Run `write(db)` while another process holds the write lock for HOLD seconds: (how long it took, the
    settings keys afterwards, the longest gap between the event loop's ticks meanwhile)."""
    holder = _holder(db_url, HOLD[make_url(db_url).get_backend_name()])

    async def run():
        db = Database(db_url)
        try:
            async with _loop_gaps() as gaps:
                began = time.monotonic()
                await write(db)
                took = time.monotonic() - began
            async with db.read() as s:
                keys = set((await s.execute(select(Setting.key))).scalars())
        finally:
            await db.dispose()
        return took, keys, max(gaps)

    try:
        out = asyncio.run(run())
    finally:
        holder.wait(30)
    assert holder.returncode == 0, holder.stderr.read()
    return out


def test_a_writer_waits_for_another_process_and_succeeds(db_url):
    hold = HOLD[make_url(db_url).get_backend_name()]

    async def write(db):
        async with db.transaction() as s:
            s.add(Setting(key="waited", value={"ok": True}))

    took, keys, worst_gap = _beside_a_holder(db_url, write)
    assert {"held", "waited"} <= keys  # both writers' rows, neither lost
    assert took >= hold * 0.5  # it did wait for the other process
    assert worst_gap < 2.0  # and the event loop kept running while it waited

def test_many_writers_in_two_processes_all_succeed(db_url, tmp_path):
    """Two processes each commit 40 small transactions into the same database at the same time."""
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent("""
        import asyncio, sys
        from chuishao.models.db import Database
        from chuishao.models.settings_table import Setting

        async def main(url, name):
            db = Database(url)
            for i in range(40):
                async with db.transaction() as s:
                    s.add(Setting(key=f"{name}-{i}", value={"i": i}))
                    await asyncio.sleep(0.005)  # hold the lock a little, as real work would
            await db.dispose()

        asyncio.run(main(sys.argv[1], sys.argv[2]))
    """))
    procs = [subprocess.Popen([sys.executable, str(script), db_url, name], stderr=subprocess.PIPE, text=True,
                              cwd=str(Path(__file__).parent.parent))
             for name in ("a", "b")]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()

    async def count():
        db = Database(db_url)
        try:
            async with db.read() as s:
                return (await s.execute(text("SELECT count(*) FROM settings WHERE key LIKE 'a-%' OR key LIKE 'b-%'"))
                        ).scalar_one()
        finally:
            await db.dispose()

    assert asyncio.run(count()) == 80


def test_a_read_then_write_in_one_transaction_is_not_interleaved(sqlite_template, tmp_path):
    """SQLite: reads inside a write transaction come from the state its lock protects, so a row read and then
    updated cannot have been changed by another writer (here: another engine) in between."""
    import shutil

    path = tmp_path / "c.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"

    async def go():
        a, b = Database(url), Database(url)
        try:
            async with a.transaction() as s:
                s.add(Setting(key="counter", value={"n": 0}))

            async def bump(db):
                async with db.transaction() as s:
                    row = await s.get(Setting, "counter")
                    n = row.value["n"]
                    await asyncio.sleep(0.01)  # the other writer would interleave here without the lock
                    row.value = {"n": n + 1}

            await asyncio.gather(*(bump(db) for db in (a, b) for _ in range(10)))
            async with a.read() as s:
                return (await s.get(Setting, "counter")).value["n"]
        finally:
            await a.dispose()
            await b.dispose()

    assert asyncio.run(go()) == 20


def test_an_action_waits_for_another_process_and_one_that_fails_leaves_nothing(db_url):
    """The action path's unit of work (Database.one_statement_write; on a SQLite file it sends BEGIN IMMEDIATE,
    COMMIT and ROLLBACK on the raw sqlite3 connection) waits for another process's write like `transaction()`,
    keeps the event loop free meanwhile, commits what it wrote, and leaves nothing of a unit that failed."""
    if make_url(db_url).get_backend_name() != "sqlite":
        pytest.skip("the waits of SQLite's write lock")

    async def write(db):
        async def insert(key: str, fail: bool) -> None:
            async with db.one_statement_write() as s:
                sqlite = await sqlite_of(await connection(s))
                sqlite.execute("INSERT INTO settings (key, value) VALUES (?, '{}')", (key,))
                if fail:
                    raise RuntimeError("the rule refused it after the first write")

        await insert("action", fail=False)
        with pytest.raises(RuntimeError):
            await insert("refused", fail=True)
        await insert("after", fail=False)  # the connection came back clean to the pool

    took, keys, worst_gap = _beside_a_holder(db_url, write)
    assert {"held", "action", "after"} <= keys and "refused" not in keys
    assert took >= HOLD["sqlite"] * 0.5 and worst_gap < 2.0
