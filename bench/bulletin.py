"""The monthly bulletin for a month of 1,000,000 cases, all formats (docs/operations.md#performance-targets: < 60 s),
on PostgreSQL.

This script:
  1. creates a fresh database (default `chuishao_bench_bulletin`, dropped first if it exists) and migrates it
     with models.migrate.upgrade (the bulletin reads no calendar — its figures rest on frozen on_time flags and
     stored deadlines — so none is seeded);
  2. creates a county by direct SQL: 1 county, 8 townships, 40 grids, 12 departments, 4 township teams, one
     verifier user and 30 catalog items;
  3. bulk-loads, with INSERT ... SELECT FROM generate_series and random() after setseed (repeatable), N cases
     (default 1,000,000) created in the month (default 2026-10) and P (default 100,000) in the month before,
     with their rows: a lead whistle each, an assisting whistle for ~20 %, a returned earlier whistle for ~5 %;
     a check_in clock per whistle (mostly on time, ~2 % still running, returned ones ended_by 'returned');
     a handle clock (done on time / late, ~5 % with a superseded 'extension' instance, some running);
     ~85 % closed in the month, each with a verification (a failed one first for ~3 %; satisfaction and rating
     mixed); ~3 % with overdue alerts (half of them escalated too); ~1 % supervise remarks;
  4. runs VACUUM (ANALYZE) and CHECKPOINT, waits for a quiet machine, then times ONE call of
     flows.jobs.run_bulletin(month, now, settings) end to end, with BulletinBuilder.build (the SQL figures) and
     flows.reports.render_all (every format) timed separately inside it;
  5. checks a few figures against direct SQL counts, then runs the bulletin a second time with every SQL
     statement timed, and EXPLAIN (ANALYZE, BUFFERS) of the slowest statements;
  6. writes the figures into bench/RESULTS.md under `## bulletin` (only that section is replaced, the file is
     re-read right before) and drops the database unless --keep.

Only 127.0.0.1 is contacted.

    .venv/bin/python bench/bulletin.py
    .venv/bin/python bench/bulletin.py --cases 100000 --previous 10000 --no-write --keep
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from common import add_pg_args, admin, conninfo, cpu_and_ram, publish, server_settings, wait_for_quiet  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

import chuishao.flows.jobs as jobs  # noqa: E402
import chuishao.flows.reports as reports  # noqa: E402
from chuishao.flows.bulletin import BulletinBuilder, month_window, previous_month  # noqa: E402
from chuishao.flows.clock import LOCAL_TZ  # noqa: E402
from chuishao.models.config import Settings  # noqa: E402
from chuishao.models.migrate import upgrade  # noqa: E402

SECTION = "## bulletin"
TARGET_S = 60.0  # docs/operations.md#performance-targets
TOWNSHIPS, GRIDS_PER_TOWNSHIP, DEPARTMENTS, TEAMS, ITEMS = 8, 5, 12, 4, 30
# unit ids: 1 county, 2..9 townships, 10..49 grids, 50..61 departments, 62..65 teams
T0, G0, D0, TM0 = 2, 10, 50, 62


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def naive_utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


# ---- the machine -------------------------------------------------------------------------------------------


def machine(a) -> dict:
    cpu, ram = cpu_and_ram()
    pg, settings = server_settings(a, "shared_buffers", "work_mem", "max_parallel_workers_per_gather")
    import asyncpg
    import sqlalchemy

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "pg": pg, "pg_settings": settings,
            "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__, "asyncpg": asyncpg.__version__}


# ---- the load ----------------------------------------------------------------------------------------------
ORG_SQL = [
    """INSERT INTO units (id, code, name, kind, parent_id, created_at)
       VALUES (1, 'BENCH-COUNTY', '基准县', 'county', NULL, %(t)s)""",
    """INSERT INTO units (id, code, name, kind, parent_id, created_at)
       SELECT %(T0)s - 1 + g, 'BENCH-T' || lpad(g::text, 2, '0'), '基准镇' || g, 'township', 1, %(t)s
         FROM generate_series(1, %(nt)s) g""",
    """INSERT INTO units (id, code, name, kind, parent_id, created_at)
       SELECT %(G0)s - 1 + g, 'BENCH-G' || lpad(g::text, 3, '0'), '网格' || g, 'grid',
              %(T0)s + (g - 1) / %(gpt)s, %(t)s
         FROM generate_series(1, %(nt)s * %(gpt)s) g""",
    """INSERT INTO units (id, code, name, kind, parent_id, created_at)
       SELECT %(D0)s - 1 + g, 'BENCH-D' || lpad(g::text, 2, '0'), (ARRAY['住建局', '城管局', '市场监管局',
              '生态环境局', '自然资源局', '交通运输局', '水利局', '农业农村局', '卫健局', '应急管理局', '公安局',
              '民政局'])[g], 'department', 1, %(t)s
         FROM generate_series(1, %(nd)s) g""",
    """INSERT INTO units (id, code, name, kind, parent_id, created_at)
       SELECT %(TM0)s - 1 + g, 'BENCH-TM' || g, '基准镇' || g || '综合执法队', 'team', %(T0)s - 1 + g, %(t)s
         FROM generate_series(1, %(ntm)s) g""",
    "SELECT setval('units_id_seq', (SELECT max(id) FROM units))",
    """INSERT INTO users (id, username, password_hash, name, role, unit_id, active, created_at)
       VALUES (1, 'bench-verifier', 'x', '核查员', 'county_supervisor', 1, true, %(t)s)""",
    "SELECT setval('users_id_seq', 1)",
    """INSERT INTO catalog_items (code, name, category, lead_unit_id, assist_unit_ids, devolved, enforcement, limits)
       SELECT 'C' || lpad(g::text, 2, '0'), '事项' || g,
              (ARRAY['市容环境', '违法建设', '食品安全', '环境污染', '道路交通', '安全生产'])[1 + g %% 6],
              %(D0)s + (g - 1) %% %(nd)s, '[]', false, g %% 4 = 0, '{}'
         FROM generate_series(1, %(ni)s) g""",
]

# one row per case: every random choice made once, in a fixed order (setseed first), so a load is repeatable;
# ids follow creation time and every table is inserted in time order, as the service writes them
PLAN_SQL = """
INSERT INTO plan
SELECT id, created, township, township * 5 + floor(r_grid * 5)::int AS grid_i, category, source, lead,
       CASE WHEN r_assist < 0.2 THEN %(D0)s + (lead - %(D0)s + 1 + floor(r_au * 11)::int) %% 12 END AS assist,
       r_ret < 0.05 AS returned, %(D0)s + (lead - %(D0)s + 5) %% 12 AS ret_unit,
       created + interval '30 minutes' + r_disp * interval '90 minutes' AS disp,
       CASE WHEN stage < 0.02 THEN 'await' WHEN stage < 0.10 THEN 'handling' WHEN stage < 0.13 THEN 'feedback'
            ELSE 'closed' END AS stage,
       r_ci < 0.94 AS ci_on_time, r_ci_t, r_alert < 0.03 AS alerted, r_alert < 0.015 AS escalated,
       r_ext < 0.05 AS ext, r_ho < 0.85 AND r_alert >= 0.03 AS h_on_time, r_h, r_close,
       r_rework < 0.03 AS rework,
       CASE WHEN r_sat < 0.70 THEN 'satisfied' WHEN r_sat < 0.90 THEN 'basic' WHEN r_sat < 0.97 THEN 'unsatisfied'
       END AS satisfaction,
       CASE WHEN r_rate < 0.05 THEN NULL ELSE 1 + floor(power(r_rate2, 0.4) * 5)::int END AS rating,
       r_remark < 0.01 AS remark
  FROM (SELECT g AS id,
               %(ms)s::timestamp + ((g - %(first)s) + random()) / (%(last)s - %(first)s + 1)
                   * %(span)s * interval '1 second' AS created,
               floor(random() * %(nt)s)::int AS township, random() AS r_grid,
               'C' || lpad((1 + floor(power(random(), 2.2) * %(ni)s))::text, 2, '0') AS category,
               (ARRAY['grid', 'grid', 'grid', 'grid', 'hotline', 'hotline', 'hotline', 'open311', 'township',
                      'county', 'inspection', 'public'])[1 + floor(random() * 12)::int] AS source,
               CASE WHEN random() < 0.1 THEN %(TM0)s + floor(random() * %(ntm)s)::int
                    ELSE %(D0)s + floor(power(random(), 1.3) * %(nd)s)::int END AS lead,
               random() AS r_assist, random() AS r_au, random() AS r_ret, random() AS r_disp, random() AS stage,
               random() AS r_ci, random() AS r_ci_t, random() AS r_alert, random() AS r_ext, random() AS r_ho,
               random() AS r_h, random() AS r_close, random() AS r_rework, random() AS r_sat, random() AS r_rate,
               random() AS r_rate2, random() AS r_remark
          FROM generate_series(%(first)s::int, %(last)s::int) g) r
"""

LOAD_SQL = {
    "cases": """
INSERT INTO cases (id, title, description, category, township_id, grid_id, address, lat, lon, urgency, source,
        status, suspended_from, version, lead_unit_id, reporter_id, outcome, merged_into_id, return_count,
        rework_count, timeline_seq, timeline_head, created_at, updated_at, closed_at, deadline, provisional, alert)
SELECT p.id, '基准案件 ' || p.id, '', p.category, %(T0)s + p.township, %(G0)s + p.grid_i, NULL, NULL, NULL,
       'normal', p.source,
       CASE p.stage WHEN 'await' THEN 'dispatched' ELSE p.stage END, NULL, 6, p.lead, NULL,
       CASE WHEN p.stage = 'closed' THEN 'resolved' END, NULL, p.returned::int, p.rework::int, 6, '',
       p.created, coalesce(h.closed_at, h.h_stop, p.disp), h.closed_at, h.h_deadline, false,
       CASE WHEN p.escalated THEN 'escalated' WHEN p.alerted THEN 'overdue' ELSE 'none' END
  FROM plan p JOIN plan_h h ON h.id = p.id ORDER BY p.id""",
    "whistles": """
INSERT INTO whistles (id, case_id, unit_id, role, state, active, arbitrated, round, dispatched_at, checked_in_at,
        returned_at, return_reason)
SELECT * FROM (
SELECT p.id, p.id, p.lead, 'lead', CASE WHEN p.stage = 'await' THEN 'sent' ELSE 'checked_in' END, true, false,
       1 + p.returned::int, p.disp, CASE WHEN p.stage <> 'await' THEN h.ci_stop END, NULL::timestamp, NULL::text
  FROM plan p JOIN plan_h h ON h.id = p.id
UNION ALL
SELECT %(K)s + p.id, p.id, p.assist, 'assist', CASE WHEN p.stage = 'await' THEN 'sent' ELSE 'checked_in' END,
       true, false, 1 + p.returned::int, p.disp, CASE WHEN p.stage <> 'await' THEN h.ci_stop END, NULL, NULL
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.assist IS NOT NULL
UNION ALL
SELECT 2 * %(K)s + p.id, p.id, p.ret_unit, 'lead', 'returned', false, false, 1,
       p.created + interval '10 minutes', NULL, p.created + interval '25 minutes', '不属于本单位职责'
  FROM plan p WHERE p.returned) w ORDER BY 9""",
    "clocks": """
INSERT INTO clocks (id, case_id, whistle_id, unit_id, kind, drives_case, urgency, limit_spec, started_at, warning_at,
        deadline, escalate_at, provisional, level, next_alert_at, paused_at, paused_minutes, extended_days,
        stopped_at, ended_by, on_time)
SELECT * FROM (
SELECT w.id, w.case_id, w.id, w.unit_id, 'check_in', false, 'normal', '2h', w.dispatched_at,
       w.dispatched_at + interval '90 minutes', w.dispatched_at + interval '2 hours',
       w.dispatched_at + interval '26 hours', false, 'none', NULL::timestamp, NULL::timestamp, 0, 0,
       coalesce(w.checked_in_at, w.returned_at),
       CASE WHEN w.returned_at IS NOT NULL THEN 'returned' WHEN w.checked_in_at IS NOT NULL THEN 'done' END,
       CASE WHEN w.checked_in_at IS NOT NULL THEN w.checked_in_at <= w.dispatched_at + interval '2 hours' END
  FROM whistles w
UNION ALL
SELECT 3 * %(K)s + p.id, p.id, p.id, p.lead, 'handle', true, 'normal', '5d', h.h_start, h.h_deadline - interval '1 day',
       h.h_deadline, h.h_deadline + interval '1 day', false,
       CASE WHEN p.escalated THEN 'escalated' WHEN p.alerted THEN 'overdue' ELSE 'none' END,
       CASE WHEN h.h_stop IS NULL AND NOT p.escalated THEN h.h_deadline - interval '1 day' END, NULL, 0,
       CASE WHEN p.ext THEN 3 ELSE 0 END, h.h_stop, CASE WHEN h.h_stop IS NOT NULL THEN 'done' END,
       CASE WHEN h.h_stop IS NOT NULL THEN h.h_stop <= h.h_deadline END
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.stage <> 'await'
UNION ALL
SELECT 4 * %(K)s + p.id, p.id, p.id, p.lead, 'handle', true, 'normal', '5d', h.ci_stop + interval '5 minutes',
       h.ci_stop + interval '4 days', h.ci_stop + interval '5 days', h.ci_stop + interval '6 days', false, 'none',
       NULL, NULL, 0, 0, h.h_start, 'extension', NULL
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.stage <> 'await' AND p.ext) k ORDER BY 9""",
    "verifications": """
INSERT INTO verifications (case_id, unit_id, passed, note, satisfaction, rating, verified_by_id, at)
SELECT p.id, p.lead, false, '整改不到位', NULL, 2, 1, h.h_stop - interval '1 day'
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.stage = 'closed' AND p.rework
UNION ALL
SELECT p.id, p.lead, true, NULL, p.satisfaction, p.rating, 1, h.closed_at
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.stage = 'closed'
 ORDER BY 8""",
    "alerts": """
INSERT INTO alerts (clock_id, case_id, level, fired_at, due_at)
SELECT 3 * %(K)s + p.id, p.id, 'warning', h.h_deadline - interval '1 day' + interval '1 minute',
       h.h_deadline - interval '1 day'
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.alerted AND p.stage <> 'await'
UNION ALL
SELECT 3 * %(K)s + p.id, p.id, 'overdue', h.h_deadline + interval '1 minute', h.h_deadline
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.alerted AND p.stage <> 'await'
UNION ALL
SELECT 3 * %(K)s + p.id, p.id, 'escalated', h.h_deadline + interval '1 day 1 minute', h.h_deadline + interval '1 day'
  FROM plan p JOIN plan_h h ON h.id = p.id WHERE p.escalated AND p.stage <> 'await'""",
    "remarks": """
INSERT INTO remarks (case_id, kind, note, by_id, unit_id, at)
SELECT p.id, 'supervise', '请加快办理，按期反馈', 1, 1, p.disp + interval '1 day'
  FROM plan p WHERE p.remark""",
}

# the handling timeline of each case, from its plan (check-in, handle start / deadline / stop, closure)
PLAN_H_SQL = """
CREATE TEMP TABLE plan_h AS
SELECT id, ci_stop, h_start, h_deadline, h_stop,
       CASE WHEN stage = 'closed' THEN h_stop + interval '30 minutes' + r_close * interval '20 hours' END AS closed_at
  FROM (SELECT p.id, p.stage, p.r_close, ci_stop, ci_stop + interval '5 minutes' + CASE WHEN p.ext THEN
                   interval '3 days' ELSE interval '0' END AS h_start,
               ci_stop + interval '5 minutes' + CASE WHEN p.ext THEN interval '8 days' ELSE interval '5 days' END
                   AS h_deadline,
               CASE WHEN p.stage IN ('feedback', 'closed') THEN
                   ci_stop + interval '5 minutes' + CASE WHEN p.ext THEN interval '3 days' ELSE interval '0' END
                   + CASE WHEN p.h_on_time THEN p.r_h * interval '4 days 23 hours'
                          ELSE interval '5 days 1 hour' + p.r_h * interval '3 days' END END AS h_stop
          FROM (SELECT *, disp + CASE WHEN ci_on_time THEN r_ci_t * interval '115 minutes'
                                      ELSE interval '2 hours 5 minutes' + r_ci_t * interval '4 hours' END AS ci_stop
                  FROM plan) p) x
"""


def load(a, month: str) -> dict:
    figures: dict = {}
    a0, b0 = (naive_utc(t) for t in month_window(month))
    pa, pb = (naive_utc(t) for t in month_window(previous_month(month)))
    k = a.cases + a.previous + a.history * a.history_cases  # id offset between the kinds of whistle and clock rows
    # cases created in the first 75 % of their month, so that most finish in it (a week at most)
    months = [(1, a.cases, a0, (b0 - a0).total_seconds() * 0.75),
              (a.cases + 1, a.cases + a.previous, pa, (pb - pa).total_seconds() * 0.75)]
    first, m = a.cases + a.previous + 1, previous_month(a.month)
    for _ in range(a.history):  # older months: history the bulletin's queries must not have to read
        m = previous_month(m)
        ha, hb = (naive_utc(t) for t in month_window(m))
        months.append((first, first + a.history_cases - 1, ha, (hb - ha).total_seconds() * 0.75))
        first += a.history_cases
    p = {"t": pa, "T0": T0, "G0": G0, "D0": D0, "TM0": TM0, "nt": TOWNSHIPS, "gpt": GRIDS_PER_TOWNSHIP,
         "nd": DEPARTMENTS, "ntm": TEAMS, "ni": ITEMS, "K": k}
    with psycopg.connect(conninfo(a, a.db)) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no row-by-row FK triggers; checked in bulk after
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET work_mem = '256MB'")
        for sql in ORG_SQL:
            cur.execute(sql, p)
        cur.execute("""CREATE TEMP TABLE plan (id int, created timestamp, township int, grid_i int, category text,
            source text, lead int, assist int, returned bool, ret_unit int, disp timestamp, stage text,
            ci_on_time bool, r_ci_t float8, alerted bool, escalated bool, ext bool, h_on_time bool, r_h float8,
            r_close float8, rework bool, satisfaction text, rating int, remark bool)""")
        cur.execute("SELECT setseed(%s)", (a.seed,))
        t0 = time.perf_counter()
        for first, last, ms, span in months:
            cur.execute(PLAN_SQL, {**p, "first": first, "last": last, "ms": ms, "span": span})
        cur.execute(PLAN_H_SQL)
        figures["plan_s"] = time.perf_counter() - t0
        for table, sql in LOAD_SQL.items():
            t0 = time.perf_counter()
            cur.execute(sql, p)
            figures[f"{table}_s"] = time.perf_counter() - t0
            log(f"  {table}: {cur.rowcount:,} rows in {figures[f'{table}_s']:.1f} s")
        for table in ("cases", "whistles", "clocks", "verifications", "alerts", "remarks"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        cur.execute("SET session_replication_role = origin")
        cur.execute("""SELECT (SELECT count(*) FROM clocks k
                                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = k.case_id)
                                 OR NOT EXISTS (SELECT 1 FROM whistles w WHERE w.id = k.whistle_id)
                                 OR NOT EXISTS (SELECT 1 FROM units u WHERE u.id = k.unit_id)),
                              (SELECT count(*) FROM alerts x WHERE NOT EXISTS
                                 (SELECT 1 FROM clocks k WHERE k.id = x.clock_id AND k.case_id = x.case_id)),
                              (SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM units u
                                 WHERE u.id = c.grid_id AND u.parent_id = c.township_id AND u.kind = 'grid'))""")
        assert cur.fetchone() == (0, 0, 0), "dangling references after the bulk load"
        conn.commit()
    with psycopg.connect(conninfo(a, a.db), autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
        figures["vacuum_s"] = time.perf_counter() - t0
        figures["rows"] = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                           for t in ("cases", "whistles", "clocks", "verifications", "alerts", "remarks")}
        figures["sizes"] = dict(conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname IN "
            "('cases', 'whistles', 'clocks', 'verifications', 'alerts', 'remarks')").fetchall())
    return figures


# ---- the timed run -----------------------------------------------------------------------------------------
class Timings:
    def __init__(self):
        self.build_s = self.render_s = 0.0
        self.statements: list[tuple[float, str, object]] = []
        self.trace = False


TIMINGS = Timings()


class TimedBuilder(BulletinBuilder):
    async def build(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return await super().build(*args, **kwargs)
        finally:
            TIMINGS.build_s = time.perf_counter() - t0


_render_all = reports.render_all


def timed_render_all(*args, **kwargs):
    t0 = time.perf_counter()
    try:
        return _render_all(*args, **kwargs)
    finally:
        TIMINGS.render_s = time.perf_counter() - t0


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany):
    if TIMINGS.trace:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):
    if TIMINGS.trace and conn.info.get("bench_t0"):
        TIMINGS.statements.append((time.perf_counter() - conn.info["bench_t0"].pop(), statement, parameters))


def run(month: str, now: dt.datetime, settings: Settings) -> tuple[dict, float]:
    jobs.BulletinBuilder = TimedBuilder  # run_bulletin looks both names up at call time
    reports.render_all = timed_render_all
    try:
        t0 = time.perf_counter()
        data = asyncio.run(jobs.run_bulletin(month, now, settings))
        return data, time.perf_counter() - t0
    finally:
        jobs.BulletinBuilder = BulletinBuilder
        reports.render_all = _render_all


async def explain(url: str, statements: list[tuple[float, str, object]]) -> list[str]:
    from chuishao.models.db import Database

    db = Database(url, pool_size=1)
    out = []
    try:
        async with db.engine.connect() as conn:
            for _, sql, params in statements:
                res = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                out.append("\n".join(r[0] for r in res.all()))
            await conn.rollback()
    finally:
        await db.dispose()
    return out


def check(a, month: str, data: dict) -> list[tuple[str, int, int]]:
    """A few bulletin figures against direct SQL counts."""
    a0, b0 = (naive_utc(t) for t in month_window(month))
    ov = {r["key"]: r["value"] for r in data["overview"]}
    sc = data["scorecard"]
    w = {"a": a0, "b": b0}
    q = {
        "received (新增事件)": ("SELECT count(*) FROM cases WHERE created_at >= %(a)s AND created_at < %(b)s",
                              ov["received"]),
        "dispatched (lead whistles)": ("SELECT count(*) FROM whistles WHERE role = 'lead' AND dispatched_at >= %(a)s "
                                       "AND dispatched_at < %(b)s", ov["dispatched"]),
        "closed": ("SELECT count(*) FROM cases WHERE closed_at >= %(a)s AND closed_at < %(b)s", ov["closed"]),
        "overdue cases (超期)": ("SELECT count(DISTINCT case_id) FROM alerts WHERE level IN ('overdue', 'escalated') "
                                "AND due_at >= %(a)s AND due_at < %(b)s", ov["overdue"]),
        "returns": ("SELECT count(*) FROM whistles WHERE returned_at >= %(a)s AND returned_at < %(b)s", ov["returns"]),
        "Σ scorecard whistles": ("SELECT count(*) FROM whistles WHERE dispatched_at >= %(a)s AND dispatched_at < %(b)s",
                                 sum(r["whistles"] for r in sc)),
        "Σ scorecard check-ins due": (
            "SELECT count(*) FROM clocks WHERE kind = 'check_in' AND deadline >= %(a)s AND deadline < %(b)s "
            "AND (ended_by = 'done' OR ((stopped_at IS NULL OR stopped_at > deadline) "
            "AND (paused_at IS NULL OR paused_at >= deadline)))",  # docs/bulletin-definitions.md: fell due
            sum(r["check_in"]["den"] for r in sc)),
        "Σ scorecard handling finished": (
            "SELECT count(*) FROM clocks WHERE kind = 'handle' AND ended_by = 'done' AND stopped_at >= %(a)s "
            "AND stopped_at < %(b)s", sum(r["on_time"]["den"] for r in sc)),
        "Σ scorecard verifications": ("SELECT count(*) FROM verifications WHERE at >= %(a)s AND at < %(b)s",
                                      sum(r["rework"]["den"] for r in sc)),
        "Σ by-township received": ("SELECT count(*) FROM cases WHERE created_at >= %(a)s AND created_at < %(b)s",
                                   sum(r["received"] for r in data["by_township"])),
    }
    out = []
    with psycopg.connect(conninfo(a, a.db)) as conn:
        for name, (sql, got) in q.items():
            out.append((name, int(got), conn.execute(sql, w).fetchone()[0]))
    return out


def files(out_dir: Path) -> list[tuple[str, int]]:
    return sorted((str(f.relative_to(out_dir)), f.stat().st_size) for f in out_dir.rglob("*") if f.is_file())


# ---- report ------------------------------------------------------------------------------------------------
def human(n: int) -> str:
    return f"{n / 1024 / 1024:.2f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


def section(r: dict) -> str:
    m, f = r["machine"], r["load"]
    met = r["total_s"] < TARGET_S
    q = r["quiet"]
    L = [SECTION, ""]
    L.append(f"Measured {r['started']:%Y-%m-%d %H:%M %Z} (run took {r['elapsed']:.0f} s) by `bench/bulletin.py`.")
    L.append("")
    L.append(f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM; PostgreSQL {m['pg']} on 127.0.0.1 "
             f"(shared_buffers {m['pg_settings'].get('shared_buffers')}, work_mem {m['pg_settings'].get('work_mem')}, "
             f"max_parallel_workers_per_gather {m['pg_settings'].get('max_parallel_workers_per_gather')}); Python "
             f"{m['python']}, SQLAlchemy {m['sqlalchemy']}, asyncpg {m['asyncpg']}. The machine is shared with other "
             "sessions: before the timed run the script waits (up to --quiet-wait s) for < 15 % of all cores to be "
             f"busy; it found {q['busy']:.0%} busy after {q['waited']:.0f} s (load average {q['loadavg']:.2f}).")
    L.append(f"- Command: `{r['command']}`")
    rows = ", ".join(f"{t} {n:,} ({f['sizes'].get(t)})" for t, n in f["rows"].items())
    hist = (f", and {r['history']} older months of {r['history_cases']:,} cases each" if r["history"] else "")
    L.append(f"- Data: month {r['month']} with {r['cases']:,} cases created in it, {r['previous']:,} in the month "
             f"before (month-on-month figures){hist}; county of 8 townships, 40 grids, 12 departments, 4 township "
             f"teams, 30 catalog items (hotspots skewed). Rows (with indexes): {rows}. ~20 % of cases with an "
             "assisting whistle, ~5 % with a returned earlier whistle; check-in clocks ~94 % on time, ~2 % of "
             "cases still awaiting check-in; handle clocks ~85 % on time, ~5 % with a superseded `extension` "
             "instance, ~8 % still running; ~85 % closed in the month, each with a passed verification (a failed "
             "one first for ~3 %), satisfaction and rating mixed; ~3 % with warning + overdue alerts (half also "
             f"escalated); ~1 % supervise remarks. Loaded by INSERT … SELECT FROM generate_series (setseed "
             f"{r['seed']}) in {r['load_s']:.0f} s, then VACUUM (ANALYZE) + CHECKPOINT ({f['vacuum_s']:.0f} s).")
    L.append(f"- Timed: one call of `flows.jobs.run_bulletin(\"{r['month']}\", now, settings)` — its own engine, "
             "`BulletinBuilder.build` (every grouped query), `flows.reports.render_all` (JSON, HTML, PDF, XLSX, "
             "charts), storing the record and the event.")
    L.append("")
    L.append("| part | time |")
    L.append("|---|---|")
    L.append(f"| BulletinBuilder.build (SQL figures, {r['n_statements']} statements) | {r['build_s']:.2f} s |")
    L.append(f"| render_all (all formats) | {r['render_s']:.2f} s |")
    L.append(f"| rest (engine, store record + event) | {r['total_s'] - r['build_s'] - r['render_s']:.2f} s |")
    L.append(f"| **run_bulletin end to end** | **{r['total_s']:.2f} s** |")
    L.append(f"| second run (same month, record replaced; statements traced) | {r['second_s']:.2f} s "
             f"(build {r['second_build_s']:.2f} s, render {r['second_render_s']:.2f} s) |")
    L.append("")
    L.append(f"Target (docs/operations.md#performance-targets) monthly bulletin for a month of {r['cases']:,} cases, "
             f"all formats, < {TARGET_S:.0f} s: **{'met' if met else 'not met'}** ({r['total_s']:.1f} s).")
    if not q["quiet"]:
        L.append("")
        L.append("Caution: the timed run started while other work kept the cores busy; the figure is slower than "
                 "the code on an idle machine.")
    L.append("")
    L.append("Files produced: " + ", ".join(f"`{n}` {human(s)}" for n, s in r["files"]) + ".")
    L.append("")
    L.append("Checked against direct SQL counts:")
    L.append("")
    L.append("| figure | bulletin | SQL | |")
    L.append("|---|---|---|---|")
    for name, got, want in r["checks"]:
        L.append(f"| {name} | {got:,} | {want:,} | {'ok' if got == want else '**differs**'} |")
    L.append("")
    L.append("Slowest statements of the second run:")
    L.append("")
    L.append("| time | statement |")
    L.append("|---|---|")
    for s, sql, _ in r["slowest"]:
        one = " ".join(sql.split())
        L.append(f"| {s:.2f} s | `{one[:160]}{'…' if len(one) > 160 else ''}` |")
    if r.get("notes"):
        L.append("")
        L.append(r["notes"])
    if r.get("explain"):
        L.append("")
        L.append("EXPLAIN (ANALYZE, BUFFERS) of the slowest statements:")
        for (_, sql, _), plan in zip(r["slowest"], r["explain"], strict=False):
            L.append("")
            L.append("```")
            L.append(" ".join(sql.split()))
            L.append("")
            L.append(plan)
            L.append("```")
    L.append("")
    return "\n".join(L)


# ---- main --------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Time the monthly bulletin (flows.jobs.run_bulletin, every format) for a month of N cases on a "
                    "fresh PostgreSQL database it creates and drops; results to bench/RESULTS.md (## bulletin).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="cases created in the month")
    p.add_argument("--previous", type=int, default=100_000, help="cases created in the month before")
    p.add_argument("--history", type=int, default=0,
                   help="older months (before the previous one) of --history-cases cases each, to see how the "
                        "bulletin's time grows with the history it does not report on")
    p.add_argument("--history-cases", type=int, default=1_000_000, help="cases per --history month")
    p.add_argument("--month", default="2026-10", help="the bulletin's month (YYYY-MM)")
    p.add_argument("--seed", type=float, default=0.42, help="setseed() before the random plan (-1 .. 1)")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="before the timed run, wait up to this many seconds for < 15 %% of all cores to be busy")
    p.add_argument("--explain", type=int, default=3, help="EXPLAIN ANALYZE this many of the slowest statements")
    add_pg_args(p, "chuishao_bench_bulletin")
    p.add_argument("--keep", action="store_true", help="keep the database (and the output directory) at the end")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing bench/RESULTS.md")
    a = p.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("only a local PostgreSQL (127.0.0.1) is used")
    if not re.fullmatch(r"\d{4}-\d{2}", a.month):
        p.error("--month is YYYY-MM")
    started, t_start = dt.datetime.now().astimezone(), time.perf_counter()
    _, end = month_window(a.month)
    now = (end + dt.timedelta(hours=9)).astimezone(LOCAL_TZ)  # the 1st of the next month, 09:00, as scheduled
    url = f"postgresql://{a.user}@{a.host}:{a.port}/{a.db}"
    out = Path(tempfile.mkdtemp(prefix="chuishao-bench-bulletin-"))
    settings = Settings(database_url=url, data_dir=out)
    r: dict = {"started": started, "cases": a.cases, "previous": a.previous, "month": a.month, "history": a.history,
               "history_cases": a.history_cases, "seed": a.seed,
               "machine": machine(a),
               "command": " ".join([".venv/bin/python", "bench/bulletin.py", *map(shlex.quote, sys.argv[1:])])}
    try:
        t0 = time.perf_counter()
        admin(a, f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)', f'CREATE DATABASE "{a.db}"')
        upgrade(url)
        log(f"schema ready; loading {a.cases:,} + {a.previous:,} cases …")
        r["load"] = load(a, a.month)
        r["load_s"] = time.perf_counter() - t0 - r["load"]["vacuum_s"]
        log(f"loaded in {r['load_s']:.1f} s; VACUUM (ANALYZE) + CHECKPOINT {r['load']['vacuum_s']:.1f} s; "
            f"rows {r['load']['rows']}")
        r["quiet"] = wait_for_quiet(a.quiet_wait, log=log)
        data, r["total_s"] = run(a.month, now, settings)
        r["build_s"], r["render_s"] = TIMINGS.build_s, TIMINGS.render_s
        log(f"run_bulletin: {r['total_s']:.2f} s (build {r['build_s']:.2f} s, render_all {r['render_s']:.2f} s)")
        r["files"] = files(out / "bulletins" / a.month)
        r["checks"] = check(a, a.month, data)
        for name, got, want in r["checks"]:
            log(f"  {name}: bulletin {got:,}, SQL {want:,}{'' if got == want else '  DIFFERS'}")
        TIMINGS.trace = True
        _, r["second_s"] = run(a.month, now, settings)
        TIMINGS.trace = False
        r["second_build_s"], r["second_render_s"] = TIMINGS.build_s, TIMINGS.render_s
        stmts = [s for s in TIMINGS.statements if s[1].lstrip().upper().startswith("SELECT")]
        r["n_statements"] = len(stmts)
        r["slowest"] = sorted(stmts, key=lambda s: -s[0])[:max(a.explain, 5)]
        log(f"second run: {r['second_s']:.2f} s; slowest statements: "
            + ", ".join(f"{s:.2f} s" for s, _, _ in r["slowest"]))
        if a.explain:
            r["slowest"] = r["slowest"][:max(a.explain, 5)]
            r["explain"] = asyncio.run(explain(url, r["slowest"][:a.explain]))
    finally:
        if not a.keep:
            with contextlib.suppress(Exception):
                admin(a, f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)')
            import shutil

            shutil.rmtree(out, ignore_errors=True)
    r["elapsed"] = time.perf_counter() - t_start
    text = section(r)
    publish(a, SECTION, text, log)
    met = r["total_s"] < TARGET_S
    log(f"run_bulletin {r['total_s']:.2f} s; target < {TARGET_S:.0f} s: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
