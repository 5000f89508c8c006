"""docker-compose.yml, checked without a Docker engine: valid under the Compose Specification's JSON schema,
the whole topology (two databases, the Prefect server, one worker sharing the data volume, API processes
behind a proxy that passes WebSocket upgrades), a start order that waits for health, and the very commands
and environments that tests/test_scheduling.py runs as native processes."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy.engine import make_url
from starlette.routing import WebSocketRoute

from chuishao.api.app import create_app
from chuishao.models.config import Settings
from tests.compose_native import (
    COMPOSE_FILE,
    NATIVE,
    STOOD_IN,
    TEST_ONLY,
    Native,
    Unset,
    environment,
    listening_port,
    load_compose,
    mounts,
)

ROOT = COMPOSE_FILE.parent
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
# what the operator puts in .env
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "CHUISHAO_SECRET_KEY": "k" * 48, "CHUISHAO_ADMIN_PASSWORD": "adm-Pass-9"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose(SECRETS)


@pytest.fixture(scope="module")
def app_paths(tmp_path_factory) -> tuple[set[str], set[str]]:
    """The app's HTTP and WebSocket paths, from the app itself (no server started)."""
    tmp = tmp_path_factory.mktemp("app")
    app = create_app(Settings(database_url=f"sqlite:///{tmp / 'x.db'}", data_dir=tmp / "data", secret_key="s" * 40))
    routes = list(iter_route_contexts(app.routes))
    ws = {c.path for c in routes if isinstance(c.route, WebSocketRoute)}
    return {c.path for c in routes if c.methods}, ws


def test_compose_file_is_valid_under_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft201909Validator(schema).iter_errors(compose)]
    assert errors == []


def test_the_schema_refuses_what_compose_refuses(compose):
    """The vendored schema is the strict one: a misspelt key or an unknown start condition is an error."""
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    misspelt = {**compose, "services": {**compose["services"], "api": {**compose["services"]["api"],
                                                                         "dependson": {}}}}
    assert not validator.is_valid(misspelt)
    worker = compose["services"]["worker"]
    bad_condition = {**compose, "services": {**compose["services"], "worker": {
        **worker, "depends_on": {"prefect": {"condition": "service_ready"}}}}}
    assert not validator.is_valid(bad_condition)


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_each_secret_must_be_set_by_the_operator(secret):
    """No default password or signing key: compose refuses to start without each one."""
    with pytest.raises(Unset, match=secret):
        load_compose({k: v for k, v in SECRETS.items() if k != secret})
    with pytest.raises(Unset, match=secret):
        load_compose({**SECRETS, secret: ""})


def test_every_service_runs_natively_or_has_a_named_stand_in(compose):
    assert set(compose["services"]) == set(NATIVE) | set(STOOD_IN)
    assert not set(NATIVE) & set(STOOD_IN)


def test_postgres_holds_both_databases_and_prefect_uses_its_own_through_asyncpg(compose):
    s = compose["services"]
    created = re.findall(r"CREATE DATABASE (\w+)", (ROOT / "deploy" / "postgres-init.sql").read_text(), re.I)
    init_scripts = [v for v in s["postgres"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init_scripts and init_scripts[0].startswith("./deploy/postgres-init.sql:")
    own_db = s["postgres"]["environment"]["POSTGRES_DB"]

    chuishao = make_url(environment(s["api"])["CHUISHAO_DATABASE_URL"])
    prefect = make_url(environment(s["prefect"])["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert (chuishao.drivername, chuishao.host, chuishao.database) == ("postgresql", "postgres", own_db)
    # without it Prefect silently falls back to SQLite; `postgresql://` fails on a missing driver
    assert (prefect.drivername, prefect.host) == ("postgresql+asyncpg", "postgres")
    assert prefect.database in created and prefect.database != own_db
    assert chuishao.password == prefect.password == SECRETS["POSTGRES_PASSWORD"]


def test_prefect_server_listens_for_the_worker_and_sends_no_telemetry(compose):
    s = compose["services"]
    assert s["prefect"]["command"][:3] == ["prefect", "server", "start"]
    env = environment(s["prefect"])
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["PREFECT_SERVER_API_HOST"] == "0.0.0.0"
    api_url = environment(s["worker"])["PREFECT_API_URL"]
    assert api_url == f"http://prefect:{listening_port(s['prefect'])}/api"
    assert "PREFECT_API_URL" not in environment(s["api"])  # the API processes never talk to Prefect


def test_one_worker_and_api_processes_that_schedule_nothing(compose):
    s = compose["services"]
    assert s["worker"]["command"] == ["chuishao", "worker"]
    assert "deploy" not in s["worker"] and "scale" not in s["worker"]  # exactly one scheduler
    assert s["api"]["command"][:2] == ["chuishao", "serve"]
    assert int(s["api"]["command"][s["api"]["command"].index("--workers") + 1]) >= 2
    assert environment(s["api"])["CHUISHAO_SCHEDULER"] == "worker"
    # every API process signs and checks tokens with the one key the operator set
    keys = {environment(svc).get("CHUISHAO_SECRET_KEY") for svc in s.values()
            if (svc.get("command") or [None])[:2] == ["chuishao", "serve"]}
    assert keys == {SECRETS["CHUISHAO_SECRET_KEY"]}


def test_worker_and_api_share_the_data_directory(compose):
    s = compose["services"]
    for name in ("worker", "api", "init"):
        data_dir = environment(s[name])["CHUISHAO_DATA_DIR"]
        assert data_dir.startswith("/"), name  # absolute: the worker's flow runs start in a temporary directory
        assert mounts(s[name]) == {"data": data_dir}, name


def test_start_order_waits_for_health_and_long_running_services_restart(compose, app_paths):
    s = compose["services"]
    order = {name: {dep: cond["condition"] for dep, cond in (svc.get("depends_on") or {}).items()}
             for name, svc in s.items()}
    assert order == {
        "postgres": {},
        "prefect": {"postgres": "service_healthy"},
        "init": {"postgres": "service_healthy"},
        "worker": {"init": "service_completed_successfully", "prefect": "service_healthy"},
        "api": {"init": "service_completed_successfully"},
        "proxy": {"api": "service_healthy"},
    }
    for name, deps in order.items():
        for dep, condition in deps.items():
            if condition == "service_healthy":
                assert s[dep].get("healthcheck", {}).get("test"), f"{name} waits for {dep}'s health check"
    for name, svc in s.items():
        assert svc["restart"] == ("no" if name == "init" else "unless-stopped"), name
    # the API's and the proxy's health checks ask the app's health endpoint
    http_paths, _ = app_paths
    health = next(p for p in http_paths if "health" in p)
    assert any(health in part for part in s["api"]["healthcheck"]["test"])
    assert any(health in part for part in s["proxy"]["healthcheck"]["test"])
    assert any(f":{listening_port(s['api'])}{health}" in part for part in s["api"]["healthcheck"]["test"])


def test_logs_rotate_for_every_service(compose):
    for name, svc in compose["services"].items():
        assert svc["logging"]["options"]["max-size"], name


# --- the native topology test runs exactly these commands and environments

NATIVE_PORTS = {"prefect": 14200, "api": 18000}


@pytest.fixture(scope="module")
def native(tmp_path_factory) -> Native:
    data = tmp_path_factory.mktemp("native") / "data"
    return Native(pg_url="postgresql://tester@127.0.0.1:5433/whatever",
                  databases={"chuishao": "t_main", "prefect": "t_prefect"},
                  volumes={"data": data}, ports=NATIVE_PORTS, variables=SECRETS)


def _back_to_compose(native: Native, value: str) -> str:
    """Undo the native translation of one value (the test's own inverse, written independently)."""
    ports = {str(port): str(listening_port(native.service(name))) for name, port in native.ports.items()}
    if value in ports:
        return ports[value]
    if value == "127.0.0.1":
        return "0.0.0.0"
    value = value.replace(str(native.volumes["data"]), "/data")
    for name, port in native.ports.items():
        value = value.replace(f"127.0.0.1:{port}", f"{name}:{ports[str(port)]}")
    return re.sub(r"^postgresql(\+asyncpg)?://tester@127\.0\.0\.1:5433/t_(main|prefect)$",
                  lambda m: f"postgresql{m[1] or ''}://chuishao:pg-secret@postgres:5432/"
                            f"{'chuishao' if m[2] == 'main' else 'prefect'}", value)


@pytest.mark.parametrize("name", NATIVE)
def test_native_process_runs_the_compose_command(native, name):
    cmd = native.command(name)
    assert cmd[1:3] in (["-m", "chuishao.api.cli"], ["-m", "prefect"])
    assert [_back_to_compose(native, a) for a in cmd[3:]] == native.service(name)["command"][1:]
    if name in NATIVE_PORTS and "--port" in cmd:  # listening on this machine's loopback, on a free port
        assert cmd[cmd.index("--port") + 1] == str(NATIVE_PORTS[name])
        assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


@pytest.mark.parametrize("name", NATIVE)
def test_native_process_gets_the_compose_environment(native, name, monkeypatch):
    monkeypatch.setenv("CHUISHAO_SCHEDULER", "embedded")  # a developer's shell must not leak into the topology
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:1/api")
    compose_env = environment(native.service(name))
    env = native.env(name, PREFECT_HOME="/tmp/prefect-home")
    ours = {k: v for k, v in env.items() if k in compose_env or k.startswith(("CHUISHAO_", "PREFECT_"))}
    assert set(ours) == set(compose_env) | {"PREFECT_HOME"}
    assert {k: _back_to_compose(native, v) for k, v in ours.items() if k != "PREFECT_HOME"} == compose_env
    for value in ours.values():
        assert not re.search(r"//(postgres|prefect|api)[:/]|^/data\b", value), value  # nothing container-only left


def test_native_processes_add_only_test_knobs_the_compose_file_leaves_alone(native, compose):
    for name, svc in compose["services"].items():
        assert not set(environment(svc)) & TEST_ONLY, name
    with pytest.raises(ValueError, match="CHUISHAO_SCHEDULER"):
        native.env("api", CHUISHAO_SCHEDULER="embedded")


# --- the reverse proxy


def _nginx(text: str) -> list:
    """nginx's configuration as nested [(directive, [args], children | None)]: enough for these checks."""
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|[{};]|[^\s{};]+", re.sub(r"#[^\n]*", "", text))
    pos = 0

    def block() -> list:
        nonlocal pos
        out, words = [], []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok == ";":
                out.append((words[0], words[1:], None))
                words = []
            elif tok == "{":
                out.append((words[0], words[1:], block()))
                words = []
            elif tok == "}":
                return out
            else:
                words.append(tok.strip("'\""))
        return out

    return block()


def _location_for(server: list, path: str) -> list:
    """The location nginx picks for `path` (exact match first, then the longest prefix; no regexes here)."""
    locations = [(args, children) for d, args, children in server if d == "location"]
    exact = [c for a, c in locations if a[0] == "=" and a[1] == path]
    if exact:
        return exact[0]
    prefixes = sorted(((a[-1], c) for a, c in locations if a[0] != "=" and path.startswith(a[-1])),
                      key=lambda x: len(x[0]))
    return prefixes[-1][1]


def _headers(server: list, location: list) -> dict[str, str]:
    """proxy_set_header in force in a location: its own if it has any, else the server's (nginx's rule)."""
    own = [(a[0], a[1]) for d, a, _ in location if d == "proxy_set_header"]
    return dict(own or [(a[0], a[1]) for d, a, _ in server if d == "proxy_set_header"])


def test_proxy_passes_websocket_upgrades_for_the_live_feed(compose, app_paths):
    _, ws_paths = app_paths
    assert ws_paths  # the live feed
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    source, target = next(v.split(":")[:2] for v in proxy["volumes"] if "nginx" in v)
    assert target.startswith("/etc/nginx/conf.d/")
    conf = _nginx((ROOT / source).read_text(encoding="utf-8"))
    maps = {a[1]: dict((d, c[0]) for d, c, _ in children) for d, a, children in conf if d == "map"}
    upstreams = {a[0]: [c[0] for d, c, _ in children if d == "server"] for d, a, children in conf
                 if d == "upstream"}
    server = next(children for d, _, children in conf if d == "server")
    for path in ws_paths:
        location = _location_for(server, path)
        directives = {d: a for d, a, _ in location}
        assert directives["proxy_http_version"] == ["1.1"], path
        headers = _headers(server, location)
        assert headers["Upgrade"] == "$http_upgrade", path
        connection = headers["Connection"]
        assert connection == "upgrade" or maps[connection]["default"] == "upgrade", path
        # to every API process, on the port they listen on
        upstream = directives["proxy_pass"][0].removeprefix("http://")
        assert upstreams[upstream] == [f"api:{listening_port(compose['services']['api'])}"]
        assert int(directives["proxy_read_timeout"][0].rstrip("h")) >= 1  # a quiet feed stays open
        # the client's address for the throttles: set by the proxy, not appended to the client's claim
        assert headers["X-Forwarded-For"] == "$remote_addr"
    assert _headers(server, _location_for(server, "/api/v1/cases"))["X-Forwarded-For"] == "$remote_addr"


def test_proxy_accepts_an_upload_as_large_as_the_api_does():
    conf = _nginx((ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8"))
    server = next(children for d, _, children in conf if d == "server")
    size = next(a[0] for d, a, _ in server if d == "client_max_body_size")
    assert int(size.rstrip("m")) * 1024 * 1024 > Settings().max_upload_bytes


def test_operations_guide_explains_every_setting_the_compose_file_makes(compose):
    """An operator reading docs/operations.md finds each setting of the compose file, and the README sends
    them there."""
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    raw = load_compose()  # as written: the .env variables too
    for name, svc in raw["services"].items():
        for key in environment(svc):
            assert f"`{key}`" in guide, f"{name}: {key}"
        for var in re.findall(r"\$\{(\w+)", json.dumps(svc)):
            assert f"`{var}`" in guide, f"{name}: ${{{var}}}"
    assert "docs/operations.md" in (ROOT / "README.md").read_text(encoding="utf-8")
