"""The web pages with 1,000,000 cases on PostgreSQL (docs/operations.md#performance-targets: p95 < 300 ms
server-side, warm).

This script:
  1. creates a fresh database (default `chuishao_bench_ui`; with --keep an existing one that holds a county of
     the same size is reused) and migrates it with models.migrate.upgrade;
  2. loads a year of a realistic county with the bulletin benchmark's generator (bench/bulletin.py: its county
     ORG_SQL, its random per-case plan PLAN_SQL, PLAN_H_SQL and the row loaders LOAD_SQL for whistles, clocks,
     verifications, alerts and remarks), spread over the 365 days before now, plus what the pages need and the
     bulletin does not: every state (most cases closed, ~5 % open, the open ones mostly recent: reported,
     accepted, dispatched, returned, disputed, handling, suspended, feedback; rejected and merged among the
     finished), titles and addresses people would type, a running clock for every open case with the alert
     levels `now` gives it (on the clock row, in alerts and on the case row), pending extensions, feedback
     records, the hash-chained timeline of every open case and of every sampled closed case, an event per
     open case and its notifications, and ~100 users (one password for all);
  3. starts the app — `uvicorn --factory api.app:create_app`, i.e. create_app(Settings()) from CHUISHAO_DATABASE_URL,
     CHUISHAO_DATA_DIR and CHUISHAO_SECRET_KEY — as a real subprocess (one process, as the embedded default; a
     second run with 2 processes for the concurrent figures unless --workers says otherwise), logs in through
     the login form (GET / for the csrftoken cookie and field, POST /) as the county supervisor (sees all
     cases), a township dispatcher and a department liaison (the busiest department);
  4. for each page and user: a warm-up, then --requests sequential requests on one keep-alive connection
     (wall time per request on loopback = "server-side (loopback, keep-alive)"; the loopback adds ~0.2 ms),
     with the CPU the server processes and the database's backends used per request from /proc; then the
     same number of requests from --concurrency clients at once. Every answer must be 200; anything else is
     counted and reported. Pages that are not built yet (404) are reported as such;
  5. with --explain, serves the app in-process once more, records every SQL statement each page runs (timed)
     and prints EXPLAIN (ANALYZE, BUFFERS) of the slowest ones (added to the results);
  6. writes the `## ui` section of bench/RESULTS.md (machine, date, command, figures, target, met / not met)
     and drops the database unless --keep.

--before REV measures twice in one run: first with the schema downgraded to REV (e.g. 0007, before the page
indexes of migration 0008), then upgraded to head — the before/after of the indexes side by side.

Only 127.0.0.1 is contacted. Never a timed assertion in tests: the figures live here.

    .venv/bin/python bench/ui.py
    .venv/bin/python bench/ui.py --cases 100000 --requests 50 --no-write
    .venv/bin/python bench/ui.py --keep --before 0007 --explain
"""

import argparse
import asyncio
import contextlib
import contextvars
import datetime as dt
import json
import os
import platform
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402
from bulletin import (  # noqa: E402 - the bulletin benchmark's county and row loaders
    D0,
    DEPARTMENTS,
    G0,
    GRIDS_PER_TOWNSHIP,
    ITEMS,
    LOAD_SQL,
    ORG_SQL,
    PLAN_H_SQL,
    PLAN_SQL,
    T0,
    TEAMS,
    TM0,
    TOWNSHIPS,
)
from common import (  # noqa: E402
    add_pg_args,
    admin,
    conninfo,
    cpu_and_ram,
    cpu_times,
    publish,
    server_settings,
    wait_for_quiet,
)
from loop import OUR_DATABASE, Server, free_port, pct, service_env, tracebacks  # noqa: E402

from chuishao.flows.timeline import GENESIS, canonical, entry_hash  # noqa: E402
from chuishao.models.migrate import alembic_config, upgrade  # noqa: E402

SECTION = "## ui"
TARGET_P95_MS = 300.0  # docs/operations.md#performance-targets
PASSWORD = "bench-pass-123"
META_TABLE = "bench_ui_meta"  # not a model: what the generator made, so --keep can reuse it
SAMPLE_TABLE = "bench_ui_sample"  # the cases each measured user opens

# the measured users: (username, what they see)
MEASURED = [("supervisor", "县级监督（全县）"), ("t1_dispatcher", "乡镇受理（一个乡镇）"),
            ("d01_liaison", "部门联络员（最忙的部门）")]

# user ids: 1 is ORG_SQL's verifier; the rest laid out so SQL can name a unit's people by arithmetic
U_SUPERVISOR, U_ADMIN = 2, 3
U_DISPATCHER, U_TLIAISON = 10, 20  # + township index 0..7
U_GRID = 100  # + grid index 0..39
U_DLIAISON, U_DOFFICER1, U_DOFFICER2 = 200, 220, 240  # + department index 0..11
U_TMLIAISON, U_TMOFFICER = 300, 310  # + team index 0..3
# id ranges of the rows LOAD_SQL makes from one plan row, K apart (K = number of cases): whistles 0..3K
# (lead = case id), clocks 0..5K (a whistle's check-in clock has the whistle's id, the handle clock 3K + id);
# the running clock this script adds for the other steps is 5K + id
NEW_CLOCK = 5

ITEM_NAMES = ["占道经营", "乱堆乱放", "违章搭建", "噪音扰民", "餐饮油烟", "垃圾清运不及时", "道路破损", "井盖缺失",
              "路灯不亮", "违规停车", "私搭乱建", "河道垃圾", "秸秆焚烧", "污水直排", "无证经营", "食品安全隐患",
              "消防通道堵塞", "违法占地", "非法采砂", "施工扬尘", "广告牌破损", "绿化带毁坏", "犬只扰民",
              "燃气安全隐患", "危房隐患", "沿街晾晒", "积水内涝", "树木倒伏", "非法加油点", "校园周边摊贩"]
STREETS = ["人民路", "建设路", "解放街", "文化路", "新华街", "迎宾大道", "府前街", "工业园路", "滨河路", "东关街"]
OPEN_STATES = ("reported", "accepted", "dispatched", "returned", "disputed", "handling", "suspended", "feedback")
NO_LOOP_ROWS = ("reported", "accepted", "rejected", "merged")  # no whistle yet: not for LOAD_SQL


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)




def db_url(a) -> str:
    return f"postgresql://{a.user}@{a.host}:{a.port}/{a.db}"


# ---- the county ----------------------------------------------------------------------------------------------
# bench/bulletin.py's plan table, as its load() makes it
PLAN_COLUMNS = [
    ("id", "int"), ("created", "timestamp"), ("township", "int"), ("grid_i", "int"), ("category", "text"),
    ("source", "text"), ("lead", "int"), ("assist", "int"), ("returned", "bool"), ("ret_unit", "int"),
    ("disp", "timestamp"), ("stage", "text"), ("ci_on_time", "bool"), ("r_ci_t", "float8"), ("alerted", "bool"),
    ("escalated", "bool"), ("ext", "bool"), ("h_on_time", "bool"), ("r_h", "float8"), ("r_close", "float8"),
    ("rework", "bool"), ("satisfaction", "text"), ("rating", "int"), ("remark", "bool")]

# the state each case is in now: the share of open cases falls with age (a county closes most cases within a
# week; a few stay stuck for months), and the young ones are in the early steps
STATE_SQL = """
CREATE TEMP TABLE plan_s AS
SELECT {keep}, state,
       CASE WHEN state IN ('dispatched', 'returned', 'disputed') THEN 'await'
            WHEN state IN ('handling', 'suspended') THEN 'handling'
            WHEN state IN ('reported', 'accepted', 'rejected', 'merged') THEN 'none'
            ELSE state END AS stage,
       CASE WHEN state = 'closed' THEN alerted ELSE false END AS alerted,
       CASE WHEN state = 'closed' THEN escalated ELSE false END AS escalated,
       CASE state WHEN 'disputed' THEN true WHEN 'returned' THEN false ELSE returned END AS returned
  FROM (SELECT *, CASE
          WHEN r_open < CASE WHEN age < interval '7 days' THEN 0.9 WHEN age < interval '30 days' THEN 0.3
                             WHEN age < interval '90 days' THEN 0.04 ELSE 0.002 END THEN
            CASE WHEN age < interval '2 hours' THEN CASE WHEN r_state < 0.6 THEN 'reported' ELSE 'accepted' END
                 WHEN age < interval '1 day' THEN
                   CASE WHEN r_state < 0.1 THEN 'reported' WHEN r_state < 0.2 THEN 'accepted'
                        WHEN r_state < 0.6 THEN 'dispatched' ELSE 'handling' END
                 WHEN age < interval '7 days' THEN
                   CASE WHEN r_state < 0.05 THEN 'dispatched' WHEN r_state < 0.07 THEN 'returned'
                        WHEN r_state < 0.09 THEN 'disputed' WHEN r_state < 0.10 THEN 'suspended'
                        WHEN r_state < 0.80 THEN 'handling' ELSE 'feedback' END
                 ELSE CASE WHEN r_state < 0.05 THEN 'returned' WHEN r_state < 0.10 THEN 'disputed'
                           WHEN r_state < 0.20 THEN 'suspended' WHEN r_state < 0.75 THEN 'handling'
                           ELSE 'feedback' END END
          ELSE CASE WHEN r_state < 0.02 THEN 'rejected' WHEN r_state < 0.03 THEN 'merged' ELSE 'closed' END
        END AS state
          FROM (SELECT *, %(now)s - created AS age, random() AS r_open, random() AS r_state FROM plan) r) s
"""

# a state is only what its times allow by now (a case created an hour ago is not closed): step back where not
DOWNGRADE_SQL = """
UPDATE plan_s p SET state = CASE
    WHEN p.state = 'closed' AND h.closed_at <= %(now)s THEN 'closed'
    WHEN p.state IN ('closed', 'feedback') AND h.h_stop <= %(now)s THEN 'feedback'
    WHEN p.state IN ('closed', 'feedback', 'handling', 'suspended') AND h.ci_stop <= %(now)s THEN
         CASE WHEN p.state = 'suspended' THEN 'suspended' ELSE 'handling' END
    WHEN p.disp + interval '1 hour' <= %(now)s THEN
         CASE WHEN p.state IN ('returned', 'disputed') THEN p.state ELSE 'dispatched' END
    ELSE 'accepted' END
  FROM plan_h h
 WHERE h.id = p.id AND p.state <> ALL(%(no_loop)s)
   AND (h.closed_at > %(now)s OR h.h_stop > %(now)s OR h.ci_stop > %(now)s OR p.disp + interval '1 hour' > %(now)s)
"""

CASES_SQL = """
INSERT INTO cases (id, title, description, category, township_id, grid_id, address, lat, lon, urgency, source,
        status, suspended_from, version, lead_unit_id, reporter_id, outcome, merged_into_id, return_count,
        rework_count, deadline, provisional, alert, timeline_seq, timeline_head, created_at, updated_at, closed_at)
SELECT p.id, n.name || '：' || s.street || (p.id %% 300 + 1) || '号附近',
       '群众反映' || s.street || '一带' || n.name || '问题，请尽快核实处理。',
       p.category, %(T0)s + p.township, %(G0)s + p.grid_i,
       '基准镇' || (p.township + 1) || s.street || (p.id %% 300 + 1) || '号',
       37.40 + p.township * 0.02 + (p.id %% 97) * 0.0002, 112.00 + p.grid_i * 0.005 + (p.id %% 89) * 0.0002,
       CASE WHEN p.id %% 50 = 0 THEN 'urgent' ELSE 'normal' END, p.source,
       p.state, CASE WHEN p.state = 'suspended' THEN 'handling' END,
       v.n, CASE WHEN p.stage IN ('none') OR p.state IN ('returned', 'disputed') THEN NULL ELSE p.lead END,
       CASE WHEN p.source = 'grid' THEN %(U_GRID)s + p.grid_i END,
       CASE WHEN p.state IN ('closed', 'feedback') THEN 'resolved' END,
       CASE WHEN p.state = 'merged' AND p.id > 7 THEN p.id - 7 END,
       CASE p.state WHEN 'returned' THEN 1 WHEN 'disputed' THEN 2 ELSE p.returned::int END, p.rework::int,
       NULL, false, 'none', v.n, '', p.created,
       CASE WHEN p.state IN ('reported') THEN p.created
            WHEN p.state IN ('accepted', 'rejected', 'merged') THEN least(p.created + interval '15 minutes', %(now)s)
            WHEN p.state IN ('returned', 'disputed') THEN p.disp + interval '1 hour'
            WHEN p.state = 'dispatched' THEN p.disp
            WHEN p.state = 'suspended' THEN least(h.ci_stop + interval '1 day', %(now)s)
            ELSE coalesce(h.closed_at, h.h_stop, h.ci_stop) END,
       CASE WHEN p.state = 'closed' THEN h.closed_at END
  FROM plan_all p
  LEFT JOIN plan_h h ON h.id = p.id
 CROSS JOIN LATERAL (SELECT (%(items)s::text[])[substr(p.category, 2)::int] AS name) n
 CROSS JOIN LATERAL (SELECT (%(streets)s::text[])[1 + p.id %% 10] AS street) s
 CROSS JOIN LATERAL (SELECT CASE p.state WHEN 'reported' THEN 1 WHEN 'accepted' THEN 2 WHEN 'rejected' THEN 2
                             WHEN 'merged' THEN 2 WHEN 'dispatched' THEN 3 WHEN 'returned' THEN 4 WHEN 'disputed' THEN 4
                             WHEN 'handling' THEN 4 WHEN 'suspended' THEN 5 WHEN 'feedback' THEN 5 ELSE 6 END AS n) v
 ORDER BY p.id
"""

# what the open cases need beyond the bulletin's rows, in order
OPEN_SQL = [
    # returned / disputed: the lead whistle went back, the whole round is inactive, its check-in clocks ended
    """UPDATE whistles w SET active = false,
              state = CASE WHEN w.role = 'lead' THEN 'returned' ELSE w.state END,
              returned_at = CASE WHEN w.role = 'lead' THEN p.disp + interval '1 hour' END,
              return_reason = CASE WHEN w.role = 'lead' THEN '该事项不属于本单位职责，请重新派发' END
         FROM plan_s p WHERE p.state IN ('returned', 'disputed') AND w.case_id = p.id AND w.active""",
    """UPDATE clocks k SET stopped_at = p.disp + interval '1 hour', ended_by = 'returned', next_alert_at = NULL,
              on_time = NULL
         FROM plan_s p, whistles w
        WHERE p.state IN ('returned', 'disputed') AND w.case_id = p.id AND k.whistle_id = w.id
          AND k.stopped_at IS NULL""",
    # a dispatched case shows its lead whistle's check-in clock
    """UPDATE clocks k SET drives_case = true FROM plan_s p WHERE p.state = 'dispatched' AND k.id = p.id""",
    # suspended: the handling clock paused a day after check-in
    """UPDATE clocks k SET paused_at = least(h.ci_stop + interval '1 day', %(now)s), next_alert_at = NULL
         FROM plan_s p JOIN plan_h h ON h.id = p.id WHERE p.state = 'suspended' AND k.id = 3 * %(K)s + p.id""",
    # the running clock of the other steps: accept, dispatch (after acceptance or a return), arbitrate, verify
    """INSERT INTO clocks (id, case_id, whistle_id, unit_id, kind, drives_case, urgency, limit_spec, started_at,
              warning_at, deadline, escalate_at, provisional, level, next_alert_at, paused_at, paused_minutes,
              extended_days, stopped_at, ended_by, on_time)
       SELECT %(NEW)s::int * %(K)s::int + id, id, NULL, NULL, kind, true, 'normal', spec, start, start + 0.8 * span,
              start + span, start + span + interval '1 day', false, 'none', NULL, NULL, 0, 0, NULL, NULL, NULL
         FROM (SELECT p.id,
                      CASE p.state WHEN 'reported' THEN 'accept' WHEN 'feedback' THEN 'verify'
                                   WHEN 'disputed' THEN 'arbitrate' ELSE 'dispatch' END AS kind,
                      CASE p.state WHEN 'reported' THEN '2h' WHEN 'feedback' THEN '2d' WHEN 'disputed' THEN '2d'
                                   ELSE '1d' END AS spec,
                      CASE p.state WHEN 'reported' THEN p.created
                                   WHEN 'accepted' THEN least(p.created + interval '15 minutes', %(now)s)
                                   WHEN 'feedback' THEN h.h_stop
                                   ELSE p.disp + interval '1 hour' END AS start,
                      CASE p.state WHEN 'reported' THEN interval '2 hours' WHEN 'feedback' THEN interval '2 days'
                                   WHEN 'disputed' THEN interval '2 days' ELSE interval '1 day' END AS span
                 FROM plan_all p LEFT JOIN plan_h h ON h.id = p.id
                WHERE p.state IN ('reported', 'accepted', 'returned', 'disputed', 'feedback')) x""",
    # alert levels by now (a paused clock: by the time it paused), and the alerts that fired them
    """UPDATE clocks SET
              level = CASE WHEN coalesce(paused_at, %(now)s) >= escalate_at THEN 'escalated'
                           WHEN coalesce(paused_at, %(now)s) >= deadline THEN 'overdue'
                           WHEN coalesce(paused_at, %(now)s) >= warning_at THEN 'warning' ELSE 'none' END,
              next_alert_at = CASE WHEN paused_at IS NOT NULL OR %(now)s >= escalate_at THEN NULL
                                   WHEN %(now)s >= deadline THEN escalate_at
                                   WHEN %(now)s >= warning_at THEN deadline ELSE warning_at END
        WHERE stopped_at IS NULL""",
    """INSERT INTO alerts (clock_id, case_id, level, fired_at, due_at)
       SELECT k.id, k.case_id, l.level, l.due + interval '1 minute', l.due
         FROM clocks k
        CROSS JOIN LATERAL (VALUES (1, 'warning', k.warning_at), (2, 'overdue', k.deadline),
                                   (3, 'escalated', k.escalate_at)) AS l(rank, level, due)
        WHERE k.stopped_at IS NULL
          AND l.rank <= CASE k.level WHEN 'warning' THEN 1 WHEN 'overdue' THEN 2 WHEN 'escalated' THEN 3 ELSE 0 END
        ORDER BY l.due""",
    # the case row carries its driving clock's deadline and colour
    """UPDATE cases c SET deadline = k.deadline, alert = k.level
         FROM (SELECT DISTINCT ON (case_id) case_id, deadline, level FROM clocks
                WHERE stopped_at IS NULL AND drives_case ORDER BY case_id, deadline) k
        WHERE c.id = k.case_id""",
    "DELETE FROM remarks WHERE at > %(now)s",
    # one in twenty cases in handling waits for a decision on an extension
    """INSERT INTO extensions (case_id, unit_id, working_days, reason, state, requested_by_id, requested_at)
       SELECT p.id, p.lead, 3, '需协调多部门联合执法，申请延期', 'pending',
              CASE WHEN p.lead >= %(TM0)s THEN %(U_TMLIAISON)s + p.lead - %(TM0)s
                   ELSE %(U_DLIAISON)s + p.lead - %(D0)s END,
              least(h.ci_stop + interval '2 days', %(now)s)
         FROM plan_s p JOIN plan_h h ON h.id = p.id WHERE p.state = 'handling' AND p.id %% 20 = 0""",
]

USERS_SQL = [
    """INSERT INTO users (id, username, password_hash, name, role, unit_id, active, created_at) VALUES
       (%(U_SUPERVISOR)s, 'supervisor', %(hash)s, '县综治中心督查员', 'county_supervisor', 1, true, %(t)s),
       (%(U_ADMIN)s, 'admin', %(hash)s, '系统管理员', 'admin', 1, true, %(t)s)""",
    """INSERT INTO users (id, username, password_hash, name, role, unit_id, active, created_at)
       SELECT %(U_DISPATCHER)s + g, 't' || (g + 1) || '_dispatcher', %(hash)s, '受理员' || (g + 1),
              'township_dispatcher', %(T0)s + g, true, %(t)s FROM generate_series(0, %(nt)s - 1) g
       UNION ALL
       SELECT %(U_TLIAISON)s + g, 't' || (g + 1) || '_liaison', %(hash)s, '执法联络员' || (g + 1),
              'township_liaison', %(T0)s + g, true, %(t)s FROM generate_series(0, %(nt)s - 1) g
       UNION ALL
       SELECT %(U_GRID)s + g, 'g' || lpad((g + 1)::text, 3, '0'), %(hash)s, '网格员' || (g + 1), 'grid_worker',
              %(G0)s + g, true, %(t)s FROM generate_series(0, %(nt)s * %(gpt)s - 1) g
       UNION ALL
       SELECT %(U_DLIAISON)s + g, 'd' || lpad((g + 1)::text, 2, '0') || '_liaison', %(hash)s, '部门联络员' || (g + 1),
              'department_liaison', %(D0)s + g, true, %(t)s FROM generate_series(0, %(nd)s - 1) g
       UNION ALL
       SELECT %(U_TMLIAISON)s + g, 'tm' || (g + 1) || '_liaison', %(hash)s, '执法队联络员' || (g + 1),
              'department_liaison', %(TM0)s + g, true, %(t)s FROM generate_series(0, %(ntm)s - 1) g""",
    """INSERT INTO users (id, username, password_hash, name, role, unit_id, certificate_no, certificate_expires,
              active, created_at)
       SELECT %(U_DOFFICER1)s + g, 'd' || lpad((g + 1)::text, 2, '0') || '_officer1', %(hash)s, '执法人员甲' || (g + 1),
              'department_officer', %(D0)s + g, '晋执-' || lpad((2 * g + 1)::text, 4, '0'), DATE '2029-12-31', true,
              %(t)s FROM generate_series(0, %(nd)s - 1) g
       UNION ALL
       SELECT %(U_DOFFICER2)s + g, 'd' || lpad((g + 1)::text, 2, '0') || '_officer2', %(hash)s, '执法人员乙' || (g + 1),
              'department_officer', %(D0)s + g, '晋执-' || lpad((2 * g + 2)::text, 4, '0'), DATE '2029-12-31', true,
              %(t)s FROM generate_series(0, %(nd)s - 1) g
       UNION ALL
       SELECT %(U_TMOFFICER)s + g, 'tm' || (g + 1) || '_officer', %(hash)s, '队员' || (g + 1), 'department_officer',
              %(TM0)s + g, '晋执-9' || lpad(g::text, 3, '0'), DATE '2029-12-31', true, %(t)s
         FROM generate_series(0, %(ntm)s - 1) g""",
    "SELECT setval('users_id_seq', (SELECT max(id) FROM users))",
    "UPDATE catalog_items SET name = (%(items)s::text[])[substr(code, 2)::int]",
]

# an event for each open case's latest step, and its notifications: the township's dispatcher and liaison,
# the lead unit's liaison, and the county supervisor for cases escalated to it; read unless from the last 2 days
EVENTS_SQL = [
    """INSERT INTO events (id, kind, action, case_id, township_id, unit_ids, reporter_id, audience, payload, at,
              fanned_out_at)
       SELECT row_number() OVER (ORDER BY c.updated_at, c.id), 'transition', a.action, c.id, c.township_id,
              CASE WHEN c.lead_unit_id IS NULL THEN '[]'::json ELSE json_build_array(c.lead_unit_id) END,
              c.reporter_id, '{}'::json,
              json_build_object('code', 'CS' || to_char(c.created_at + interval '8 hours', 'YYYYMMDD')
                                || lpad(c.id::text, 6, '0'), 'title', c.title, 'action', a.action,
                                'status', c.status, 'version', c.version),
              c.updated_at, c.updated_at
         FROM cases c
        CROSS JOIN LATERAL (SELECT CASE c.status WHEN 'reported' THEN 'report' WHEN 'accepted' THEN 'accept'
                WHEN 'dispatched' THEN 'dispatch' WHEN 'returned' THEN 'return' WHEN 'disputed' THEN 'return'
                WHEN 'handling' THEN 'check_in' WHEN 'suspended' THEN 'suspend' ELSE 'feedback' END AS action) a
        WHERE c.status = ANY(%(open)s)""",
    "SELECT setval('events_id_seq', (SELECT max(id) FROM events))",
    """INSERT INTO notifications (event_id, user_id, title, at, read_at)
       SELECT e.id, r.user_id, (e.payload->>'title'), e.at,
              CASE WHEN e.at < %(now)s - interval '2 days' THEN e.at + interval '2 hours' END
         FROM events e JOIN cases c ON c.id = e.case_id
        CROSS JOIN LATERAL (VALUES (%(U_DISPATCHER)s + c.township_id - %(T0)s),
                                   (%(U_TLIAISON)s + c.township_id - %(T0)s),
                                   (CASE WHEN c.lead_unit_id >= %(TM0)s THEN %(U_TMLIAISON)s + c.lead_unit_id - %(TM0)s
                                         WHEN c.lead_unit_id >= %(D0)s THEN %(U_DLIAISON)s + c.lead_unit_id - %(D0)s
                                         END),
                                   (CASE WHEN c.alert = 'escalated' OR c.status = 'disputed'
                                         THEN %(U_SUPERVISOR)s END)) AS r(user_id)
        WHERE r.user_id IS NOT NULL""",
]


def plan_params(a, now: dt.datetime) -> dict:
    return {"t": naive(now - dt.timedelta(days=400)), "T0": T0, "G0": G0, "D0": D0, "TM0": TM0, "nt": TOWNSHIPS,
            "gpt": GRIDS_PER_TOWNSHIP, "nd": DEPARTMENTS, "ntm": TEAMS, "ni": ITEMS, "K": a.cases,
            "NEW": NEW_CLOCK, "now": naive(now), "items": ITEM_NAMES, "streets": STREETS,
            "open": list(OPEN_STATES), "no_loop": list(NO_LOOP_ROWS), "U_SUPERVISOR": U_SUPERVISOR, "U_ADMIN": U_ADMIN,
            "U_DISPATCHER": U_DISPATCHER, "U_TLIAISON": U_TLIAISON, "U_GRID": U_GRID, "U_DLIAISON": U_DLIAISON,
            "U_DOFFICER1": U_DOFFICER1, "U_DOFFICER2": U_DOFFICER2, "U_TMLIAISON": U_TMLIAISON,
            "U_TMOFFICER": U_TMOFFICER}


def naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    return None if t is None else t.replace(tzinfo=dt.UTC)


def password_hash() -> str:
    from chuishao.flows.admin import Passwords

    return Passwords(time_cost=1, memory_kib=8192).hash(PASSWORD)  # the cost travels in the hash


def load(a, now: dt.datetime) -> dict:
    """The county, in one transaction. Foreign keys are not checked row by row (session_replication_role =
    replica); the rows are consistent by construction and checked by anti-joins afterwards."""
    figures: dict = {}
    p = plan_params(a, now)
    t_start = time.perf_counter()

    def step(name: str, sql: str, params=None) -> int:
        t0 = time.perf_counter()
        cur.execute(sql, params if params is not None else p)
        took = time.perf_counter() - t0
        figures[f"{name}_s"] = figures.get(f"{name}_s", 0.0) + took
        if took > 1:
            log(f"  {name}: {max(cur.rowcount, 0):,} rows in {took:.1f} s")
        return cur.rowcount

    with psycopg.connect(conninfo(a, a.db)) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET work_mem = '256MB'")
        for sql in ORG_SQL:
            step("org", sql)
        hashed = password_hash()
        for sql in USERS_SQL:
            step("users", sql, {**p, "hash": hashed})
        cur.execute(f"CREATE TEMP TABLE plan ({', '.join(f'{c} {t}' for c, t in PLAN_COLUMNS)})")
        cur.execute("SELECT setseed(%s)", (a.seed,))
        # one year of intake ending a few minutes ago, ids in time order
        span = 365 * 86400 - 300
        step("plan", PLAN_SQL, {**p, "first": 1, "last": a.cases, "ms": naive(now) - dt.timedelta(seconds=span + 300),
                                "span": span})
        keep = ", ".join(c for c, _ in PLAN_COLUMNS if c not in ("stage", "alerted", "escalated", "returned"))
        step("plan", STATE_SQL.format(keep=keep))
        cur.execute("DROP TABLE plan")
        cur.execute("CREATE INDEX ON plan_s (id)")
        step("plan", PLAN_H_SQL.replace("FROM plan)", "FROM plan_s)"))
        cur.execute("CREATE INDEX ON plan_h (id)")
        fixed = step("plan", DOWNGRADE_SQL)
        log(f"  {fixed:,} planned states stepped back to what their times allow by now")
        stage = ("CASE WHEN state IN ('dispatched', 'returned', 'disputed') THEN 'await' WHEN state IN ('handling', "
                 "'suspended') THEN 'handling' WHEN state = ANY(%(x)s) THEN 'none' ELSE state END")
        # only closed cases keep the bulletin's historic alert flags: an open case's levels come from `now` below
        cur.execute(f"UPDATE plan_s SET stage = {stage}, alerted = alerted AND state = 'closed', "
                    f"escalated = escalated AND state = 'closed' "
                    f"WHERE stage <> {stage} OR (state <> 'closed' AND (alerted OR escalated))",
                    {"x": list(NO_LOOP_ROWS)})
        cur.execute("DROP TABLE plan_h")
        # the loop's rows (LOAD_SQL) come from `plan`; cases not yet dispatched (or finished before) have none
        cur.execute("CREATE TEMP TABLE plan AS SELECT * FROM plan_s WHERE stage <> 'none'")
        cur.execute("CREATE TEMP VIEW plan_all AS SELECT * FROM plan_s")
        step("plan", PLAN_H_SQL)
        cur.execute("CREATE INDEX ON plan_h (id)")
        cur.execute("ANALYZE plan_s")
        cur.execute("ANALYZE plan")
        cur.execute("ANALYZE plan_h")
        step("cases", CASES_SQL)
        for table in ("whistles", "clocks", "verifications", "alerts", "remarks"):
            step(table, LOAD_SQL[table])
        for i, sql in enumerate(OPEN_SQL):
            step(f"open{i}", sql)
        figures["timeline"] = timeline(cur, a, now)
        for sql in EVENTS_SQL:
            step("events", sql)
        for table in ("cases", "whistles", "clocks", "verifications", "alerts", "remarks", "extensions",
                      "feedbacks", "timeline", "notifications"):
            cur.execute(f"SELECT setval('{table}_id_seq', greatest(1, (SELECT max(id) FROM {table})))")
        cur.execute("SET session_replication_role = origin")
        cur.execute("""SELECT (SELECT count(*) FROM clocks k
                                 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = k.case_id)
                                 OR (k.whistle_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM whistles w
                                                                              WHERE w.id = k.whistle_id))),
                              (SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM units u
                                 WHERE u.id = c.grid_id AND u.parent_id = c.township_id AND u.kind = 'grid')),
                              (SELECT count(*) FROM cases c WHERE c.status = ANY(%(open)s) AND c.deadline IS NULL
                                 AND c.status <> 'suspended'),
                              (SELECT count(*) FROM timeline t WHERE NOT EXISTS (SELECT 1 FROM cases c
                                 WHERE c.id = t.case_id AND c.timeline_seq >= t.seq))""", p)
        bad = cur.fetchone()
        assert bad == (0, 0, 0, 0), f"inconsistent rows after the load: {bad}"
        cur.execute(f"CREATE TABLE {META_TABLE} (key text PRIMARY KEY, value text)")
        cur.execute(f"INSERT INTO {META_TABLE} VALUES ('cases', %s), ('generated_at', %s), ('seed', %s)",
                    (str(a.cases), now.isoformat(), str(a.seed)))
        conn.commit()
    figures["load_s"] = time.perf_counter() - t_start
    with psycopg.connect(conninfo(a, a.db), autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
        figures["vacuum_s"] = time.perf_counter() - t0
    return figures


# ---- the timeline ------------------------------------------------------------------------------------------
def timeline(cur, a, now: dt.datetime) -> dict:
    """The hash-chained timeline (and feedback records) of every open case and of the sampled closed ones, built
    in Python with flows.timeline's own hash so the chain verifies; the case rows get their chain's head."""
    t0 = time.perf_counter()
    sample(cur, a)
    cur.execute(f"""
        SELECT p.id, p.state, p.created, p.disp, h.ci_stop, h.h_stop, h.closed_at, p.township, p.grid_i, p.lead,
               p.assist, p.category, p.satisfaction, p.rating, c.title, p.source
          FROM plan_s p LEFT JOIN plan_h h ON h.id = p.id JOIN cases c ON c.id = p.id
         WHERE p.state = ANY(%(open)s) OR p.id IN (SELECT case_id FROM {SAMPLE_TABLE})
         ORDER BY p.id""", {"open": list(OPEN_STATES)})
    rows = cur.fetchall()
    entries, heads, feedbacks = [], [], []
    unit_code = unit_codes()
    for (cid, state, created, disp, ci_stop, h_stop, closed_at, tw, gi, lead, assist, category, satisfaction,
         rating, title, source) in rows:
        t_code, g_code = f"BENCH-T{tw + 1:02d}", f"BENCH-G{gi + 1:03d}"
        reporter = (f"g{gi + 1:03d}", "grid_worker", g_code) if source == "grid" else \
            (f"t{tw + 1}_dispatcher", "township_dispatcher", t_code)
        dispatcher = (f"t{tw + 1}_dispatcher", "township_dispatcher", t_code)
        tliaison = (f"t{tw + 1}_liaison", "township_liaison", t_code)
        lead_person = person(lead, "liaison")
        steps = [(created, reporter, "report", None, "reported",
                  {"title": title, "category": category, "township": t_code, "grid": g_code, "source": source})]
        t_acc = min(created + dt.timedelta(minutes=15), naive(now))
        if state == "rejected":
            steps.append((t_acc, dispatcher, "reject", "reported", "rejected", {"reason": "不属于受理范围"}))
        elif state == "merged":
            steps.append((t_acc, dispatcher, "merge", "reported", "merged", {"into": max(1, cid - 7)}))
        elif state != "reported":
            steps.append((t_acc, dispatcher, "accept", "reported", "accepted", {"category": category}))
        if state in ("dispatched", "returned", "disputed", "handling", "suspended", "feedback", "closed"):
            steps.append((disp, dispatcher, "dispatch", "accepted", "dispatched",
                          {"lead_unit": unit_code[lead], "assist_units": [unit_code[assist]] if assist else []}))
        if state in ("returned", "disputed"):
            steps.append((disp + dt.timedelta(hours=1), lead_person, "return", "dispatched", state,
                          {"reason": "该事项不属于本单位职责，请重新派发"}))
        if state in ("handling", "suspended", "feedback", "closed"):
            steps.append((ci_stop, lead_person, "check_in", "dispatched", "handling", {"whistle_role": "lead"}))
        if state == "suspended":
            steps.append((min(ci_stop + dt.timedelta(days=1), naive(now)), tliaison, "suspend", "handling",
                          "suspended", {"reason": "当事人外出，待其返回后处理"}))
        if state in ("feedback", "closed"):
            officers = [person(lead, "officer1")[0], person(lead, "officer2")[0]]
            result = "已到现场核实，责令当事人限期整改，现已整改完毕。"
            steps.append((h_stop, person(lead, "officer1"), "feedback", "handling", "feedback",
                          {"outcome": "resolved", "result": result, "officers": officers}))
            feedbacks.append((cid, lead, "resolved", result, officers, lead_user_id(lead, "officer1"), h_stop))
        if state == "closed":
            steps.append((closed_at, tliaison, "verify", "feedback", "closed",
                          {"passed": True, "satisfaction": satisfaction, "rating": rating}))
        prev = GENESIS
        for seq, (at, (actor, role, unit), action, before, after, payload) in enumerate(steps, 1):
            body = canonical({k: v for k, v in payload.items() if v is not None})
            fields = dict(case_id=cid, seq=seq, at=aware(at), actor=actor, unit=unit, role=role, action=action,
                          from_state=before, to_state=after, payload=body)
            digest = entry_hash(prev, **fields)
            entries.append((cid, seq, at, actor, unit, role, action, before, after, body, prev, digest))
            prev = digest
        heads.append((cid, len(steps), prev))
    with cur.copy("COPY timeline (case_id, seq, at, actor, unit, role, action, from_state, to_state, payload, "
                  "prev_hash, hash) FROM STDIN") as cp:
        for e in entries:
            cp.write_row(e)
    cur.execute("CREATE TEMP TABLE heads (id int PRIMARY KEY, seq int, head text)")
    with cur.copy("COPY heads FROM STDIN") as cp:
        for h in heads:
            cp.write_row(h)
    cur.execute("UPDATE cases c SET timeline_seq = h.seq, version = h.seq, timeline_head = h.head "
                "FROM heads h WHERE c.id = h.id")
    import json

    with cur.copy("COPY feedbacks (case_id, unit_id, outcome, result, officers, submitted_by_id, at) "
                  "FROM STDIN") as cp:
        for cid, unit, outcome, result, officers, by, at in feedbacks:
            cp.write_row((cid, unit, outcome, result, json.dumps(officers, ensure_ascii=False), by, at))
    took = time.perf_counter() - t0
    log(f"  timeline: {len(entries):,} entries for {len(heads):,} cases, {len(feedbacks):,} feedback records "
        f"in {took:.1f} s")
    return {"entries": len(entries), "cases": len(heads), "feedbacks": len(feedbacks), "s": took}


def unit_codes() -> dict[int, str]:
    """Unit id -> code, as ORG_SQL names them."""
    out = {T0 + i: f"BENCH-T{i + 1:02d}" for i in range(TOWNSHIPS)}
    out |= {D0 + i: f"BENCH-D{i + 1:02d}" for i in range(DEPARTMENTS)}
    out |= {TM0 + i: f"BENCH-TM{i + 1}" for i in range(TEAMS)}
    return out


def person(unit_id: int, kind: str) -> tuple[str, str, str]:
    """(username, role, unit code) of a department's or team's liaison or officer, as USERS_SQL names them."""
    code = unit_codes()[unit_id]
    if unit_id >= TM0:
        i = unit_id - TM0 + 1
        return (f"tm{i}_liaison", "department_liaison", code) if kind == "liaison" else \
            (f"tm{i}_officer", "department_officer", code)
    i = unit_id - D0 + 1
    return (f"d{i:02d}_liaison", "department_liaison", code) if kind == "liaison" else \
        (f"d{i:02d}_{kind}", "department_officer", code)


def lead_user_id(unit_id: int, kind: str) -> int:
    if unit_id >= TM0:
        return (U_TMLIAISON if kind == "liaison" else U_TMOFFICER) + unit_id - TM0
    return {"liaison": U_DLIAISON, "officer1": U_DOFFICER1, "officer2": U_DOFFICER2}[kind] + unit_id - D0


def sample(cur, a) -> None:
    """The cases each measured user opens on the case page: mostly open ones in their scope (what their lists
    link to), a fifth closed ones (a look back), at random."""
    n = max(a.requests, 50) + a.warmup
    n_open, n_closed = n - n // 5, n // 5
    cur.execute(f"CREATE TABLE {SAMPLE_TABLE} (username text, case_id int, open bool)")
    scopes = {"supervisor": "true", "t1_dispatcher": "p.township = 0",
              "d01_liaison": f"(p.lead = {D0} OR p.assist = {D0})"}
    for user, where in scopes.items():
        for is_open, k in ((True, n_open), (False, n_closed)):
            cur.execute(f"""INSERT INTO {SAMPLE_TABLE}
                SELECT %s, id, %s FROM plan_s p WHERE {where} AND (p.state = ANY(%s)) = %s
                 AND (p.state NOT IN ('reported', 'accepted', 'rejected', 'merged') OR %s <> 'd01_liaison')
                 ORDER BY random() LIMIT %s""", (user, is_open, list(OPEN_STATES), is_open, user, k))


# ---- the database ------------------------------------------------------------------------------------------
def reusable(a) -> dict | None:
    """The generator's record in an existing bench database, if it holds a county of this size."""
    try:
        with psycopg.connect(conninfo(a, a.db)) as conn:
            meta = dict(conn.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
    except psycopg.Error:
        return None
    return meta if meta.get("cases") == str(a.cases) else None


def current_revision(a) -> str | None:
    with psycopg.connect(conninfo(a, a.db)) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def set_revision(a, revision: str) -> None:
    """Upgrade or downgrade the bench database's schema to `revision` ('head' for the newest)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config(db_url(a))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    want = head if revision == "head" else revision
    have = current_revision(a)
    if have == want:
        return
    revs = [r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()]  # newest first
    if have is not None and revs.index(want) > revs.index(have):
        log(f"schema: downgrade {have} -> {want}")
        command.downgrade(cfg, want)
    else:
        log(f"schema: upgrade {have} -> {want}")
        upgrade(db_url(a), want)
    with psycopg.connect(conninfo(a, a.db), autocommit=True) as conn:
        conn.execute("ANALYZE")


def set_plan_cache_mode(a, mode: str | None) -> None:
    """For the bench database's new sessions (the server is started after this): a plan_cache_mode, or the default."""
    admin(a, f'ALTER DATABASE "{a.db}" SET plan_cache_mode = {mode}' if mode else
          f'ALTER DATABASE "{a.db}" RESET plan_cache_mode')


def prepare(a, now: dt.datetime) -> dict:
    meta = reusable(a) if a.keep else None
    if meta is not None:
        log(f"reusing {a.db}: {int(meta['cases']):,} cases generated {meta['generated_at']}")
        upgrade(db_url(a))
        return {"reused": True, "generated_at": meta["generated_at"]}
    t0 = time.perf_counter()
    admin(a, f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)', f'CREATE DATABASE "{a.db}"')
    upgrade(db_url(a))
    log(f"schema ready; loading {a.cases:,} cases …")
    figures = load(a, now)
    figures["total_s"] = time.perf_counter() - t0
    log(f"loaded in {figures['load_s']:.1f} s, VACUUM (ANALYZE) + CHECKPOINT {figures['vacuum_s']:.1f} s "
        f"(with create and migrate: {figures['total_s']:.1f} s)")
    return {"reused": False, "generated_at": now.isoformat(), "figures": figures}


def describe(a) -> dict:
    """What the bench database holds: states, alert colours, rows and sizes, and each measured user's scope."""
    with psycopg.connect(conninfo(a, a.db)) as conn:
        q = conn.execute
        states = dict(q("SELECT status, count(*) FROM cases GROUP BY 1 ORDER BY 2 DESC").fetchall())
        alerts = dict(q("SELECT alert, count(*) FROM cases WHERE status NOT IN ('closed', 'rejected', 'merged') "
                        "GROUP BY 1 ORDER BY 2 DESC").fetchall())
        tables = ("cases", "whistles", "clocks", "alerts", "verifications", "remarks", "extensions", "feedbacks",
                  "timeline", "events", "notifications")
        rows = {t: q("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", (t,)).fetchone()[0]
                for t in tables}
        rows["cases"] = sum(states.values())
        size = q("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        scope = {
            "supervisor": q("SELECT count(*), count(*) FILTER (WHERE status NOT IN ('closed', 'rejected', 'merged')) "
                            "FROM cases").fetchone(),
            "t1_dispatcher": q("SELECT count(*), count(*) FILTER (WHERE status NOT IN ('closed', 'rejected', "
                               "'merged')) FROM cases WHERE township_id = %s", (T0,)).fetchone(),
            "d01_liaison": q("SELECT count(*), count(*) FILTER (WHERE status NOT IN ('closed', 'rejected', "
                             "'merged')) FROM cases c WHERE EXISTS (SELECT 1 FROM whistles w WHERE w.case_id = c.id "
                             "AND w.unit_id = %s)", (D0,)).fetchone(),
        }
        unread = dict(q("SELECT u.username, count(*) FILTER (WHERE n.read_at IS NULL) FROM notifications n "
                        "JOIN users u ON u.id = n.user_id WHERE u.username = ANY(%s) GROUP BY 1",
                        ([u for u, _ in MEASURED],)).fetchall())
        samples = {u: [r[0] for r in q(f"SELECT case_id FROM {SAMPLE_TABLE} WHERE username = %s ORDER BY open DESC, "
                                       "case_id", (u,)).fetchall()] for u, _ in MEASURED}
    return {"states": states, "alerts": alerts, "rows": rows, "size": size, "scope": scope, "unread": unread,
            "samples": samples}


# ---- measuring -----------------------------------------------------------------------------------------------
def login(client, username: str) -> None:
    """Through the real login form: GET / for the csrftoken cookie and field, POST /; keeps the session cookie."""
    r = client.get("/")
    m = re.search(r'name="csrftoken"\s+value="([^"]+)"', r.text) or re.search(r'value="([^"]+)"\s+name="csrftoken"',
                                                                               r.text)
    if r.status_code != 200 or not m:
        raise RuntimeError(f"login page: {r.status_code}, no csrftoken field")
    r = client.post("/", data={"csrftoken": m.group(1), "username": username, "password": PASSWORD, "next": ""})
    if r.status_code != 303 or "chuishao_session" not in client.cookies:
        raise RuntimeError(f"login as {username}: {r.status_code} {r.text[:300]}")


def pages(d: dict, user: str) -> list[tuple[str, str, callable]]:
    """(name, kind, path(i)) of what is measured for a user; kind 'page', 'api' (the REST API over the same
    services, a reference) or 'base' (the bare stack)."""
    ids = d["samples"][user]
    return [
        ("/inbox", "page", lambda i: "/inbox"),
        ("/cases", "page", lambda i: "/cases"),
        ("/cases?page=N", "page", lambda i: f"/cases?page={2 + i % 20}"),
        ("/cases/{id}", "page", lambda i: f"/cases/{ids[i % len(ids)]}"),
        ("/dashboard", "page", lambda i: "/dashboard"),
        ("/dashboard/data.json", "page", lambda i: "/dashboard/data.json"),
        ("GET /api/v1/cases", "api", lambda i: "/api/v1/cases?page=1"),
        ("GET /api/v1/cases/{id}", "api", lambda i: f"/api/v1/cases/{ids[i % len(ids)]}"),
        ("GET /api/v1/cases/{id}/timeline", "api", lambda i: f"/api/v1/cases/{ids[i % len(ids)]}/timeline"),
        ("/healthz (bare stack: SELECT 1)", "base", lambda i: "/healthz"),
    ]


def pg_backends(a) -> list[int]:
    with psycopg.connect(conninfo(a, "postgres")) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (a.db,))]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    return total


def group_pids(pgid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    out.append(int(d))
    return out


def check(r, kind: str) -> str | None:
    """None if the answer is what a browser (or API client) would take; else what was wrong."""
    if r.status_code != 200:
        return str(r.status_code)
    ctype = r.headers.get("content-type", "")
    if kind == "page" and not (ctype.startswith("text/html") or ctype.startswith("application/json")):
        return f"200 {ctype}"
    return None


def sequential(client, path, kind: str, n: int, warmup: int, server_pgid: int, a) -> dict:
    for i in range(warmup):
        client.get(path(i))
    times, errors = [], Counter()
    procs, backends = group_pids(server_pgid), pg_backends(a)
    s0, p0, m0, c0 = cpu_seconds(procs), cpu_seconds(backends), cpu_times(), time.process_time()
    w0 = time.perf_counter()
    size = 0
    for i in range(n):
        t0 = time.perf_counter()
        r = client.get(path(warmup + i))
        times.append(time.perf_counter() - t0)
        size += len(r.content)
        bad = check(r, kind)
        if bad:
            errors[bad] += 1
    wall = time.perf_counter() - w0
    s1, p1, m1, c1 = cpu_seconds(procs), cpu_seconds(backends), cpu_times(), time.process_time()
    # what everything else on the machine used meanwhile, in cores (other sessions' tests skew wall times)
    busy = (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK")
    others = max(0.0, busy - (s1 - s0) - (p1 - p0) - (c1 - c0)) / wall
    return {"n": n, "times": times, "errors": dict(errors), "server_cpu_ms": (s1 - s0) / n * 1000,
            "pg_cpu_ms": (p1 - p0) / n * 1000, "wall": wall, "bytes": size // max(1, n), "others": others}


async def concurrent(base: str, cookies: dict, headers: dict, path, kind: str, n: int, clients: int,
                     server_pgid: int, a) -> dict:
    import httpx

    times, errors, counter = [], Counter(), iter(range(n))
    procs, backends = group_pids(server_pgid), pg_backends(a)

    async def worker(c):
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await c.get(path(i))
            except httpx.HTTPError as err:
                errors[type(err).__name__] += 1
                continue
            times.append(time.perf_counter() - t0)
            bad = check(r, kind)
            if bad:
                errors[bad] += 1

    async with contextlib.AsyncExitStack() as stack:
        cs = [await stack.enter_async_context(httpx.AsyncClient(base_url=base, cookies=cookies, headers=headers,
                                                                    timeout=60))
              for _ in range(clients)]
        await asyncio.gather(*(c.get("/healthz") for c in cs))  # open the connections first
        backends = pg_backends(a)
        s0, p0, m0, c0 = cpu_seconds(procs), cpu_seconds(backends), cpu_times(), time.process_time()
        w0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in cs))
        wall = time.perf_counter() - w0
        s1, p1, m1, c1 = cpu_seconds(procs), cpu_seconds(backends), cpu_times(), time.process_time()
    busy = (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK")
    return {"n": n, "times": times, "errors": dict(errors), "wall": wall, "rate": n / wall,
            "server_cpu_ms": (s1 - s0) / n * 1000, "pg_cpu_ms": (p1 - p0) / n * 1000,
            "client_cores": (c1 - c0) / wall,
            "others": max(0.0, busy - (s1 - s0) - (p1 - p0) - (c1 - c0)) / wall}


def start_server(a, workers: int, data_dir: Path) -> Server:
    port = free_port()
    env = service_env(data_dir, db_url(a))
    argv = [str(BIN / "uvicorn"), "--factory", "chuishao.api.app:create_app", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    server = Server(f"uvicorn ×{workers}", argv, env, data_dir / f"server-{workers}.log", port)
    server.start()
    asyncio.run(server.wait_healthy())
    return server


def measure(a, d: dict, workers: int, sequential_too: bool, label: str) -> dict:
    """One server with `workers` processes: every page for every measured user."""
    import httpx

    data_dir = Path(tempfile.mkdtemp(prefix="chuishao-bench-ui-"))
    server = start_server(a, workers, data_dir)
    out: dict = {"workers": workers, "label": label, "rows": [], "built": {}}
    try:
        for user, _ in MEASURED:
            with httpx.Client(base_url=server.base, timeout=60) as client:
                login(client, user)
                token = client.cookies["chuishao_session"]
                for name, kind, path in pages(d, user):
                    headers = {"Authorization": f"Bearer {token}"} if kind == "api" else {}
                    client.headers.clear()
                    client.headers.update(headers)
                    probe = client.get(path(0))
                    if probe.status_code == 404 and kind == "page":  # a stub router: the page is not built yet
                        out["built"][name] = False
                        continue
                    out["built"][name] = True
                    row = {"page": name, "kind": kind, "user": user}
                    if sequential_too:
                        wait_for_quiet(a.quiet_wait, threshold=0.25, log=log)
                        row["seq"] = sequential(client, path, kind, a.requests, a.warmup, server.pgid, a)
                    cookies = {"chuishao_session": token}
                    row["conc"] = asyncio.run(concurrent(server.base, cookies, headers, path, kind, a.requests,
                                                         a.concurrency, server.pgid, a))
                    out["rows"].append(row)
                    log(f"  {label} {user:14} {name:38} " + summary_line(row))
        out["tracebacks"] = tracebacks(server.log)
    finally:
        server.stop()
        if not out.get("tracebacks"):
            out["tracebacks"] = tracebacks(server.log)
        if out["tracebacks"]:
            log("server tracebacks:\n" + "\n\n".join(out["tracebacks"]))
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def summary_line(row: dict) -> str:
    parts = []
    if "seq" in row:
        s = row["seq"]
        parts.append(f"seq p50 {pct(s['times'], .5):6.1f} p95 {pct(s['times'], .95):6.1f} "
                     f"p99 {pct(s['times'], .99):6.1f} ms, server CPU {s['server_cpu_ms']:.1f} ms, "
                     f"PG {s['pg_cpu_ms']:.1f} ms, others {s['others']:.2f} cores")
    c = row["conc"]
    parts.append(f"conc p95 {pct(c['times'], .95):6.1f} ms {c['rate']:.0f}/s")
    errs = {**row.get("seq", {}).get("errors", {}), **c["errors"]}
    if errs:
        parts.append(f"ERRORS {errs}")
    return "; ".join(parts)


# ---- explaining ------------------------------------------------------------------------------------------------
TRACING = contextvars.ContextVar("bench_ui_tracing", default=False)  # set only around a page's own request


async def explain_pages(a, d: dict) -> list[dict]:
    """Serve the app in-process, open each page once per measured user (after a warm-up) with every SQL statement
    the request runs timed (the app's background work is not the request's and is left out)."""
    import httpx
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from chuishao.api.app import create_app
    from chuishao.models.config import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="chuishao-bench-ui-explain-"))
    app = create_app(Settings(database_url=db_url(a), data_dir=data_dir, secret_key="bench-ui-explain-" + "x" * 40))
    trace: list = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        t0 = conn.info.get("bench_t0", [None]).pop()
        if TRACING.get() and t0 is not None:
            trace.append((time.perf_counter() - t0, statement, parameters))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    out = []
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            for user, _ in MEASURED:
                async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                    r = await c.get("/")
                    m = re.search(r'name="csrftoken"\s+value="([^"]+)"', r.text)
                    await c.post("/", data={"csrftoken": m.group(1) if m else "", "username": user,
                                            "password": PASSWORD})
                    for name, kind, path in pages(d, user):
                        if kind != "page":
                            continue
                        for i in range(3):
                            await c.get(path(i))
                        trace.clear()
                        token = TRACING.set(True)
                        t0 = time.perf_counter()
                        r = await c.get(path(3))
                        wall = time.perf_counter() - t0
                        TRACING.reset(token)
                        if r.status_code == 404:
                            continue
                        out.append({"user": user, "page": name, "status": r.status_code, "wall": wall,
                                    "statements": list(trace)})
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def plans(a, sql: str, params) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement as the app sends it (asyncpg's $n placeholders), prepared and
    executed twice: with a custom plan (the values known, as for a connection's first five executions) and with
    the generic plan PostgreSQL switches a prepared statement to afterwards if it looks no dearer. asyncpg
    prepares every statement, so in a long-running server the generic plan is the one that usually runs."""
    from psycopg import ClientCursor
    from psycopg import sql as psql

    out = {}
    with psycopg.connect(conninfo(a, a.db), cursor_factory=ClientCursor) as conn:
        conn.execute(f"PREPARE bench_q AS {sql}")
        args = psql.SQL(", ").join(psql.Literal(v) for v in (params or ())).as_string(conn)
        for mode in ("custom", "generic"):
            conn.execute(f"SET plan_cache_mode = force_{mode}_plan")
            rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_q{f'({args})' if params else ''}")
            text = "\n".join(r[0] for r in rows)
            m = re.search(r"Execution Time: ([\d.]+) ms", text)
            out[mode] = (float(m.group(1)) if m else float("nan"), text)
        conn.rollback()
    return out


def explain_text(a, ex: list[dict], top: int, min_ms: float) -> str:
    """The per-page statement table, then the plans of the slowest SELECTs (custom and generic)."""
    L = ["Statements per page: one request after a warm-up, in-process, each statement timed from execute to "
         "return; then each SELECT prepared and run under EXPLAIN ANALYZE with a custom and with the generic plan "
         "(the plan a server settles on for a prepared statement).", "",
         "| user | page | status | statements | SQL time (in-process) | Σ custom plans | Σ generic plans | "
         "request (in-process) |", "|---|---|---|---|---|---|---|---|"]
    detail = []
    for p in ex:
        timed = []
        for s, sql, params in p["statements"]:
            if sql.lstrip().upper().startswith("SELECT"):
                timed.append((s, sql, params, plans(a, sql, params)))
        custom = sum(x[3]["custom"][0] for x in timed)
        generic = sum(x[3]["generic"][0] for x in timed)
        L.append(f"| {p['user']} | `{p['page']}` | {p['status']} | {len(p['statements'])} | "
                 f"{sum(s for s, _, _ in p['statements']) * 1000:.1f} ms | {custom:.1f} ms | {generic:.1f} ms | "
                 f"{p['wall'] * 1000:.1f} ms |")
        worst = sorted(timed, key=lambda x: -max(x[3]["custom"][0], x[3]["generic"][0]))[:top]
        for _, sql, params, pl in worst:
            if max(pl["custom"][0], pl["generic"][0]) >= min_ms:
                detail.append((p, sql, params, pl))
    seen = set()
    for p, sql, params, pl in detail:
        one = short_sql(sql)
        if (one, repr(params)) in seen:
            continue
        seen.add((one, repr(params)))
        (custom, custom_plan), (generic, generic_plan) = pl["custom"], pl["generic"]
        L += ["", f"`{p['page']}` as {p['user']}: custom plan {custom:.1f} ms, generic plan {generic:.1f} ms", "",
              "```", one, f"-- parameters: {params!r}"[:400], "", "-- custom plan", custom_plan]
        if generic > 2 * custom + 5:  # only when the generic plan is a different story
            L += ["", "-- generic plan", generic_plan]
        L.append("```")
    return "\n".join(L)


def short_sql(sql: str) -> str:
    """One line, with a long select list of plain columns shown as a count (the WHERE is what matters)."""
    one = " ".join(sql.split())
    return re.sub(r"((?:\w+\.\w+(?: AS \w+)?, ){7,}\w+\.\w+(?: AS \w+)?)",
                  lambda m: f"<{m.group(1).count(',') + 1} columns>", one)


# ---- report ----------------------------------------------------------------------------------------------------
def machine(a) -> dict:
    cpu, ram = cpu_and_ram()
    pg, settings = server_settings(a, "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
                                   "max_parallel_workers_per_gather")
    import asyncpg
    import sqlalchemy
    import uvicorn

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "pg": pg, "pg_settings": settings,
            "python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__, "asyncpg": asyncpg.__version__,
            "uvicorn": uvicorn.__version__}


def f1(x: float) -> str:
    return "—" if x != x else f"{x:.1f}"


def table(run: dict, target: float) -> list[str]:
    L = ["| page | user | p50 | p95 | p99 | max | server CPU / req | PostgreSQL CPU / req | size | others' load | "
         f"{a_conc(run)} clients: p95 | req/s | others' load | errors | p95 < {target:.0f} ms |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in run["rows"]:
        s, c = row.get("seq"), row["conc"]
        errs = {**(s or {}).get("errors", {}), **c["errors"]}
        err = ", ".join(f"{k}×{v}" for k, v in errs.items()) or "0"
        if s:
            p95 = pct(s["times"], .95)
            verdict = ("**met**" if p95 < target and not errs else "**not met**") if row["kind"] == "page" else "(ref.)"
            L.append(f"| `{row['page']}` | {row['user']} | {f1(pct(s['times'], .5))} | **{f1(p95)}** | "
                     f"{f1(pct(s['times'], .99))} | {f1(max(s['times']) * 1000)} | {s['server_cpu_ms']:.1f} ms | "
                     f"{s['pg_cpu_ms']:.1f} ms | {s['bytes'] / 1024:.0f} KiB | {s['others']:.2f} cores | "
                     f"{f1(pct(c['times'], .95))} | "
                     f"{c['rate']:.0f} | {c['others']:.2f} cores | {err} | {verdict} |")
        else:
            L.append(f"| `{row['page']}` | {row['user']} | | | | | {c['server_cpu_ms']:.1f} ms | "
                     f"{c['pg_cpu_ms']:.1f} ms | | | {f1(pct(c['times'], .95))} | {c['rate']:.0f} | "
                     f"{c['others']:.2f} cores | {err} | |")
    return L


def a_conc(run: dict) -> int:
    return run.get("concurrency", 8)


def section(r: dict) -> str:
    m, d = r["machine"], r["data"]
    L = [SECTION, ""]
    L.append(f"Measured {r['started']:%Y-%m-%d %H:%M %Z} (run took {r['elapsed']:.0f} s) by `bench/ui.py`.")
    L.append("")
    L.append(f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, shared with other sessions; PostgreSQL "
             f"{m['pg']} on 127.0.0.1 ({', '.join(f'{k} {v}' for k, v in m['pg_settings'].items())}); Python "
             f"{m['python']}, SQLAlchemy {m['sqlalchemy']}, asyncpg {m['asyncpg']}, uvicorn {m['uvicorn']}.")
    L.append(f"- Command: `{r['command']}`")
    st = ", ".join(f"{k} {v:,}" for k, v in d["states"].items())
    al = ", ".join(f"{k} {v:,}" for k, v in d["alerts"].items())
    rows = ", ".join(f"{k} {v:,}" for k, v in d["rows"].items())
    open_n = sum(v for k, v in d["states"].items() if k in OPEN_STATES)
    gen = r["prepare"]
    how = (f"reused from an earlier run (generated {gen['generated_at']})" if gen["reused"] else
           f"generated in {gen['figures']['total_s']:.0f} s (load {gen['figures']['load_s']:.0f} s, VACUUM (ANALYZE) "
           f"+ CHECKPOINT {gen['figures']['vacuum_s']:.0f} s)")
    L.append(f"- Data ({how}; database {d['size']}): {d['rows']['cases']:,} cases over the 365 days before the "
             f"generation, the bulletin benchmark's county (8 townships, 40 grids, 12 departments, 4 township "
             f"teams, 30 catalog items) and rows (whistles, clocks, verifications, alerts, remarks), plus every "
             f"state, the open cases' running clocks and alert colours, timelines, feedback, extensions, events and "
             f"notifications. States: {st} ({open_n / max(1, d['rows']['cases']):.1%} open). Open cases by colour: "
             f"{al}. Rows: {rows}.")
    scope = "; ".join(f"{u} ({who}): {d['scope'][u][0]:,} cases, {d['scope'][u][1]:,} open, "
                      f"{d['unread'].get(u, 0):,} unread notifications" for u, who in MEASURED)
    L.append(f"- Users, logged in through the login form: {scope}. `/cases/{{id}}` opens "
             f"{len(d['samples']['supervisor'])} sampled cases per user in turn (four in five open, in the user's "
             "scope).")
    L.append(f"- How: the app under uvicorn as a subprocess (`uvicorn --factory api.app:create_app`, settings from "
             f"CHUISHAO_DATABASE_URL / _DATA_DIR / _SECRET_KEY). Per page and user: {r['warmup']} warm-up requests, "
             f"then {r['requests']} sequential requests on one keep-alive connection (httpx), each timed from send "
             f"to the last byte: that is the server-side time (loopback, keep-alive; the loopback adds ~0.2 ms). "
             f"CPU per request of the server processes and of the database's backends from /proc over those "
             f"requests. Then {r['requests']} requests from {r['concurrency']} concurrent clients (one asyncio "
             f"process on the same 2 cores: its CPU competes with the server's). Milliseconds. Every answer must be "
             f"200. `api` rows: the REST API over the same services, for reference; `/healthz`: the bare stack. "
             f"\"Others' load\": cores used meanwhile by everything but the server, the app's database backends and "
             f"this client — other sessions' work on the shared machine, and PostgreSQL's short-lived parallel "
             f"query workers (not in the PostgreSQL column).")
    for run in r["runs"]:
        L.append("")
        L.append(f"### {run['label']}")
        L.append("")
        missing = [k for k, v in run["built"].items() if not v]
        if missing:
            L.append(f"Not built yet when measured (404): {', '.join(f'`{x}`' for x in missing)}.")
            L.append("")
        L += table(run, TARGET_P95_MS)
        if run.get("tracebacks"):
            L += ["", "Server tracebacks (first two):", "", "```", "\n\n".join(run["tracebacks"])[:3000], "```"]
    L += compare(r)
    L.append("")
    verdicts = r["verdicts"]
    L.append(f"Target (docs/operations.md#performance-targets) web pages with {d['rows']['cases']:,} cases on "
             f"PostgreSQL, p95 < {TARGET_P95_MS:.0f} ms server-side (warm), judged on the sequential p95 of every page "
             f"and user with the schema at head, PostgreSQL's default plan cache and one server process: "
             f"**{verdicts['verdict']}**{verdicts['detail']}.")
    if r.get("notes"):
        L += ["", r["notes"]]
    if r.get("explain"):
        L += ["", "<details><summary>SQL per page and EXPLAIN (ANALYZE, BUFFERS) of the slowest statements"
              "</summary>", "", r["explain"], "", "</details>"]
    L.append("")
    return "\n".join(L)


def compare(r: dict) -> list[str]:
    """With --before: each page's sequential p95 and PostgreSQL CPU per request before and after the indexes (and
    with custom plans only, if measured), side by side."""
    seq = [run for run in r["runs"] if any("seq" in x for x in run["rows"])]
    if len(seq) < 2:
        return []
    heads = [run["label"].replace(", 1 server process", "") for run in seq]
    L = ["", "Side by side (sequential, one server process): p95 / PostgreSQL CPU per request, ms.", "",
         "| page | user | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(seq)]
    for row in seq[0]["rows"]:
        cells = []
        for run in seq:
            other = next((x for x in run["rows"] if x["page"] == row["page"] and x["user"] == row["user"]), None)
            cells.append(f"{pct(other['seq']['times'], .95):.0f} / {other['seq']['pg_cpu_ms']:.1f}"
                         if other and "seq" in other else "—")
        L.append(f"| `{row['page']}` | {row['user']} | " + " | ".join(cells) + " |")
    return L


def verdicts(run: dict) -> dict:
    pages_rows = [x for x in run["rows"] if x["kind"] == "page" and "seq" in x]
    missing = [k for k, v in run["built"].items() if not v]
    slow = [f"`{x['page']}` as {x['user']} ({pct(x['seq']['times'], .95):.0f} ms)" for x in pages_rows
            if pct(x["seq"]["times"], .95) >= TARGET_P95_MS]
    failing = [f"`{x['page']}` as {x['user']}" for x in pages_rows if x["seq"]["errors"] or x["conc"]["errors"]]
    if not pages_rows:
        return {"verdict": "not measured", "detail": " (no page built yet)"}
    bits = []
    if slow:
        bits.append("over the target: " + ", ".join(slow))
    if failing:
        bits.append("errors: " + ", ".join(failing))
    if missing:
        bits.append("not built: " + ", ".join(f"`{x}`" for x in missing))
    ok = not slow and not failing and not missing
    return {"verdict": "met" if ok else "not met", "detail": f" ({'; '.join(bits)})" if bits else ""}


# ---- main --------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Time the web pages (inbox /inbox and /cases, case page /cases/{id}, dashboard /dashboard and "
                    "/dashboard/data.json) with N cases on PostgreSQL, through the real app under uvicorn, as three "
                    "users; results to bench/RESULTS.md (## ui).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--cases", type=int, default=1_000_000, help="cases in the county (over the last 365 days)")
    p.add_argument("--requests", type=int, default=200, help="measured requests per page and user (sequential, "
                                                              "then the same number concurrently)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up requests per page and user before measuring")
    p.add_argument("--concurrency", type=int, default=8, help="clients at once in the concurrent run")
    p.add_argument("--workers", default="1,2",
                   help="server processes per run, comma-separated; the first run is measured sequentially and "
                        "concurrently, later ones concurrently only")
    p.add_argument("--before", metavar="REV", help="measure first with the schema at this Alembic revision (e.g. "
                   "0007), then at head: the indexes' effect side by side")
    p.add_argument("--custom-plans", action="store_true",
                   help="also measure with plan_cache_mode = force_custom_plan set on the bench database (what the "
                        "pages cost when PostgreSQL never switches a prepared statement to its generic plan)")
    p.add_argument("--explain", action="store_true",
                   help="also record each page's SQL in-process and EXPLAIN (ANALYZE, BUFFERS) the slowest statements")
    p.add_argument("--explain-only", action="store_true", help="skip the HTTP measurement: only --explain")
    p.add_argument("--explain-top", type=int, default=2, help="statements per page to explain")
    p.add_argument("--explain-ms", type=float, default=10.0,
                   help="show plans only of statements slower than this (custom or generic plan)")
    p.add_argument("--json", metavar="PATH", help="also save the results as JSON (for --from-json)")
    p.add_argument("--from-json", metavar="PATH", help="only rewrite the section from a saved run")
    p.add_argument("--quiet-wait", type=float, default=30.0,
                   help="before each sequential window, wait up to this many seconds for < 25 %% of all cores busy")
    p.add_argument("--seed", type=float, default=0.42, help="setseed() before the random plan (-1 .. 1)")
    add_pg_args(p, "chuishao_bench_ui")
    p.add_argument("--keep", action="store_true",
                   help="reuse the bench database if it already holds a county of --cases cases (else generate "
                        "it), and keep it at the end")
    p.add_argument("--generate-only", action="store_true", help="make the database and stop (implies --keep)")
    p.add_argument("--no-write", action="store_true", help="print the section instead of writing bench/RESULTS.md")
    a = p.parse_args(argv)
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("only a local PostgreSQL (127.0.0.1) is used")
    if a.generate_only:
        a.keep = True
    if a.explain_only:
        a.explain, a.no_write = True, True
    if a.from_json:
        return rerender(a)
    workers = [int(x) for x in a.workers.split(",") if x.strip()]
    if not workers or min(workers) < 1:
        p.error("--workers: e.g. 1 or 1,2")
    OUR_DATABASE[:] = [a.db]
    random.seed(1)
    started, t_start = dt.datetime.now().astimezone(), time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    r: dict = {"started": started, "machine": machine(a), "requests": a.requests, "warmup": a.warmup,
               "concurrency": a.concurrency, "runs": [],
               "command": " ".join([".venv/bin/python", "bench/ui.py", *map(shlex.quote, sys.argv[1:])])}
    try:
        r["prepare"] = prepare(a, now)
        if a.generate_only:
            log("generated; --generate-only: stopping here")
            return 0
        r["data"] = d = describe(a)
        log(f"states {d['states']}; open by colour {d['alerts']}; size {d['size']}")
        # (schema revision, plan_cache_mode set on the bench database or None, server process counts, main)
        configs = [(a.before, None, workers[:1], False)] if a.before else []
        configs.append(("head", None, workers, True))
        if a.custom_plans:
            configs.append(("head", "force_custom_plan", workers[:1], False))
        for rev, mode, counts, main_config in configs if not a.explain_only else []:
            set_revision(a, rev)
            set_plan_cache_mode(a, mode)
            tag = f"schema {current_revision(a)}" + (f", plan_cache_mode = {mode}" if mode else "")
            for k, w in enumerate(counts):
                label = f"{tag}, {w} server process{'es' if w > 1 else ''}"
                log(f"measuring: {label}")
                run = measure(a, d, w, sequential_too=(k == 0), label=label)
                run["concurrency"], run["main"] = a.concurrency, main_config and k == 0
                r["runs"].append(run)
            set_plan_cache_mode(a, None)
        if a.explain:
            log("explain: statements per page, in-process")
            ex = asyncio.run(explain_pages(a, d))
            r["explain"] = explain_text(a, ex, a.explain_top, a.explain_ms)
            print(r["explain"], flush=True)
    finally:
        with contextlib.suppress(Exception):
            set_plan_cache_mode(a, None)
        if not a.keep:
            with contextlib.suppress(Exception):
                admin(a, f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)')
                log(f"dropped {a.db}")
    r["elapsed"] = time.perf_counter() - t_start
    main_run = next((run for run in r["runs"] if run.get("main")), None)
    r["verdicts"] = verdicts(main_run) if main_run else {"verdict": "not measured", "detail": ""}
    if a.json:
        Path(a.json).write_text(json.dumps(r, default=str, ensure_ascii=False))
    return finish(a, r)


def rerender(a) -> int:
    r = json.loads(Path(a.from_json).read_text())
    r["started"] = dt.datetime.fromisoformat(r["started"])
    return finish(a, r)


def finish(a, r: dict) -> int:
    text = section(r)
    publish(a, SECTION, text, log)
    print("\n".join(line for line in text.splitlines() if line.startswith("|") or line.startswith("###")))
    log(f"target p95 < {TARGET_P95_MS:.0f} ms: {r['verdicts']['verdict']}{r['verdicts']['detail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
