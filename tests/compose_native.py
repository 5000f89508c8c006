"""docker-compose.yml as native processes: the one description of the scale-out topology that both the
compose file's checks (tests/test_compose.py) and the native topology test (tests/test_scheduling.py) read.

Docker has no engine on the development machines, so the topology test runs each compose service's own
command and environment as a process on this machine, with only what a container provides translated:
service host names become 127.0.0.1 (and the test's PostgreSQL server and databases), listening ports become
free ones, volume mount points become directories of the test. Nothing else may differ, except the few
test-only knobs in TEST_ONLY (shorter schedules), which the compose file must not set itself."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml
from sqlalchemy.engine import URL, make_url

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"

# services run as native processes by the topology test, in its start order
NATIVE = ("prefect", "init", "worker", "api")
# services the native test does not run, and what stands in for each
STOOD_IN = {
    "postgres": "the machine's PostgreSQL server; the test creates both databases, as deploy/postgres-init.sql does",
    "proxy": "not run (no nginx here): `serve --workers 2` gives two API processes on one port, and "
             "tests/test_compose.py checks the proxy's configuration",
}
# environment the native test may add: shorter schedules and polling, Prefect's state in the test's directory
TEST_ONLY = frozenset({"CHUISHAO_SWEEP_INTERVAL_SECONDS", "CHUISHAO_REPORT_INTERVAL_SECONDS",
                       "PREFECT_WORKER_QUERY_SECONDS", "PREFECT_HOME"})
# the programs of our image, run from this checkout's interpreter
PROGRAMS = {"chuishao": ["-m", "chuishao.api.cli"], "prefect": ["-m", "prefect"]}
LOOPBACK = "127.0.0.1"

_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class Unset(ValueError):
    """A `${VAR:?message}` whose variable is unset: compose refuses the file with that message."""


def interpolate(value, variables: dict[str, str]):
    """Compose's variable interpolation over a loaded file (strings anywhere in it): `$VAR`, `${VAR}`,
    `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `$$` for a dollar sign.
    Raises Unset for a required variable that is missing (or empty, with the colon)."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        dollar, name, op, arg, bare = m.groups()
        if dollar:
            return "$"
        name = name or bare
        have = variables.get(name)
        missing = have is None or (have == "" and op and op.startswith(":"))
        if op and op.endswith("?") and missing:
            raise Unset(f"{name}: {arg}")
        if op and op.endswith("-") and missing:
            return arg
        return have or ""

    return _VAR.sub(one, value)


def load_compose(variables: dict[str, str] | None = None, path: Path = COMPOSE_FILE) -> dict:
    """The compose file as compose sees it: YAML anchors and merge keys resolved, then variables
    interpolated from `variables` (None: left as written)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if variables is None else interpolate(data, variables)


def environment(service: dict) -> dict[str, str]:
    """A service's `environment` as a mapping (compose accepts a mapping or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def listening_port(service: dict) -> int | None:
    """The port a service listens on inside its container: `--port N` or PREFECT_SERVER_API_PORT."""
    command = service.get("command") or []
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    port = environment(service).get("PREFECT_SERVER_API_PORT")
    return int(port) if port else None


def mounts(service: dict) -> dict[str, str]:
    """Named volumes a service mounts: {volume name: mount point}."""
    out = {}
    for item in service.get("volumes") or []:
        source, _, target = (item if isinstance(item, str) else f"{item['source']}:{item['target']}").partition(":")
        if not source.startswith((".", "/")):
            out[source] = target.split(":")[0]
    return out


@dataclass
class Native:
    """The compose topology on this machine.

    pg_url: the test's PostgreSQL server (host, port, user, password are taken from it);
    databases: {database name in the compose file: database on that server};
    volumes: {named volume: directory}; ports: {service: free port on 127.0.0.1};
    variables: the values compose would read from the operator's .env (secrets)."""

    pg_url: str
    databases: dict[str, str]
    volumes: dict[str, Path]
    ports: dict[str, int]
    variables: dict[str, str]
    compose: dict = field(init=False)

    def __post_init__(self):
        self.compose = load_compose(self.variables)

    def service(self, name: str) -> dict:
        return self.compose["services"][name]

    def command(self, name: str) -> list[str]:
        """The service's command, to run here: our image's programs through this interpreter, listening on
        127.0.0.1 and the service's free port."""
        args = list(self.service(name)["command"])
        out = [sys.executable, *PROGRAMS[args[0]]]
        i = 1
        while i < len(args):
            if args[i] == "--host":
                out += ["--host", LOOPBACK]
                i += 2
            elif args[i] == "--port":
                out += ["--port", str(self.ports[name])]
                i += 2
            else:
                out.append(args[i])
                i += 1
        return out

    def translate(self, name: str, key: str, value: str) -> str:
        """One environment value of a service, as it must read here."""
        svc = self.service(name)
        if value == "0.0.0.0":  # listen on every interface of the container: here, loopback
            return LOOPBACK
        if key == "PREFECT_SERVER_API_PORT":
            return str(self.ports[name])
        for volume, target in mounts(svc).items():
            if value == target or value.startswith(target + "/"):
                return str(self.volumes[volume]) + value[len(target):]
        parts = urlsplit(value)
        if parts.scheme and parts.hostname == "postgres":
            pg, url = make_url(self.pg_url), make_url(value)
            return URL.create(url.drivername, username=pg.username, password=pg.password, host=pg.host,
                              port=pg.port or 5432, database=self.databases[url.database],
                              query=url.query).render_as_string(hide_password=False)
        if parts.scheme and parts.hostname in self.compose["services"]:
            return urlunsplit(parts._replace(netloc=f"{LOOPBACK}:{self.ports[parts.hostname]}"))
        return value

    def env(self, name: str, **test_only: str) -> dict[str, str]:
        """The process environment: this machine's (less any CHUISHAO_ or PREFECT_ setting, which only the
        compose file may give), the service's compose environment translated, and test-only knobs (a key
        outside TEST_ONLY raises ValueError)."""
        unknown = set(test_only) - TEST_ONLY
        if unknown:
            raise ValueError(f"not a test-only setting: {sorted(unknown)}; put it in docker-compose.yml")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CHUISHAO_", "PREFECT_"))}
        own = {k: self.translate(name, k, v) for k, v in environment(self.service(name)).items()}
        return {**base, **own, **test_only}
