"""What the benchmark scripts share: their section of RESULTS.md, and waiting for a quiet machine."""

import contextlib
import os
import re
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "RESULTS.md"


def write_section(section: str, text: str) -> None:
    """Replace only this script's `## name` section (others write theirs concurrently): re-read the file now."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the scripts in bench/.\n"
    lines = old.splitlines()
    start = next((i for i, x in enumerate(lines) if x.strip() == section), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = [""] + lines[end:] if end < len(lines) else []
        new = "\n".join(lines[:start] + text.rstrip("\n").splitlines() + tail) + "\n"
    RESULTS.write_text(new)


def publish(a, section: str, text: str, log=print) -> None:
    """Write the section into bench/RESULTS.md, or only print it with --no-write (`a.no_write`)."""
    if a.no_write:
        print(text)
    else:
        write_section(section, text)
        log(f"written to bench/{RESULTS.name} ({section})")


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def wait_for_quiet(limit: float, threshold: float = 0.15, log=print) -> dict:
    """Right before a timed sweep: wait (at most `limit` s) until less than `threshold` of all cores are busy over
    one second. Other sessions' runs on the same cores would otherwise skew the figure."""
    started, said = time.monotonic(), 0.0
    while True:
        b0, t0 = cpu_times()
        time.sleep(1.0)
        b1, t1 = cpu_times()
        busy = (b1 - b0) / max(1, t1 - t0)
        waited = time.monotonic() - started
        if busy < threshold or waited >= limit:
            if busy >= threshold:
                log(f"machine still {busy:.0%} busy after {waited:.0f} s; measuring anyway")
            return {"waited": waited, "busy": busy, "quiet": busy < threshold, "loadavg": os.getloadavg()[0]}
        if waited - said >= 10:
            said = waited
            log(f"waiting for a quiet machine ({busy:.0%} of all cores busy)")


def cpu_and_ram() -> tuple[str, str]:
    """The CPU model and total memory, for the machine line beside every figure."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else cpu
    ram = "unknown"
    with contextlib.suppress(OSError):
        m = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB" if m else ram
    return cpu, ram


# ---- PostgreSQL --------------------------------------------------------------------------------------------
def add_pg_args(p, db: str) -> None:
    """The bench database's connection options (--db, dropped and created fresh unless --keep; --host, --port,
    --user), read back by `conninfo` and `admin`."""
    p.add_argument("--db", default=db, help="the bench database (dropped and created fresh)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--user", default="postgres")


def conninfo(a, dbname: str) -> str:
    """libpq connection string for the bench's server (`a`: parsed args with host, port, user)."""
    return f"host={a.host} port={a.port} user={a.user} dbname={dbname}"


def admin(a, *statements: str) -> None:
    """Run statements on the `postgres` database outside a transaction (CREATE/DROP DATABASE, ALTER DATABASE)."""
    import psycopg

    with psycopg.connect(conninfo(a, "postgres"), autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


def server_settings(a, *names: str) -> tuple[str, dict[str, str]]:
    """(server_version, {setting: value}) of the bench's PostgreSQL server, for the figures' machine line."""
    import psycopg

    with psycopg.connect(conninfo(a, "postgres")) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        values = dict(conn.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                                   (list(names),)).fetchall())
    return version, values
