"""Configuration from the environment (CHUISHAO_*)."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR_ENV = "CHUISHAO_DATA_DIR"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHUISHAO_", extra="ignore")

    # database (SQLite), attachments, bulletin files, Prefect state, signing key; a relative path is taken from
    # the working directory the settings are loaded in (where the operator started the command), once
    data_dir: Path = Field(Path("chuishao-data"), validate_default=True)
    database_url: str | None = None  # default: a SQLite file in data_dir
    secret_key: str | None = None  # default: generated once and kept in data_dir
    token_minutes: int = 12 * 60
    # failed sign-ins allowed, in the `limits` notation, for one account from one client address, for one
    # account from all addresses together (higher: a stranger cannot lock the owner out with a few guesses),
    # and from one address over all accounts; then 429 until the window ends (flows/login_throttle.py)
    login_limit_account: str = "10 per 15 minutes"
    login_limit_account_total: str = "100 per 15 minutes"
    login_limit_address: str = "50 per 15 minutes"
    # a `limits` async storage URI for those counters (e.g. async+redis://host:6379); unset: the database
    login_throttle_storage: str | None = None
    # live sockets: at most this many per user in each API process; an ended session's sockets close within
    # this many seconds in every process (at once in the process that ended it)
    max_sockets_per_user: int = 10
    session_recheck_seconds: float = 1.0
    # a live socket not yet signed in: it must send its token within ws_auth_timeout seconds, and one client
    # address may hold at most max_unauthenticated_sockets_per_address such sockets in each API process
    ws_auth_timeout: float = 5.0
    max_unauthenticated_sockets_per_address: int = 20
    max_upload_bytes: int = 10 * 1024 * 1024
    max_body_bytes: int = 256 * 1024  # JSON and form bodies
    # slow or idle HTTP clients (api/server.py, api/limits.py), in seconds: a request's headers must arrive
    # within http_header_timeout of the connection opening; its body may pause http_body_timeout at the start
    # and must then keep up http_body_min_rate bytes a second on average (else 408 and the connection closes);
    # a connection idle after a response closes after http_keep_alive_timeout
    http_header_timeout: float = 20.0
    http_body_timeout: float = 20.0
    http_body_min_rate: int = 4096
    http_keep_alive_timeout: int = 5
    # external channels (docs/architecture.md#notifications); unset: that channel is not configured
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "chuishao@localhost"
    sms_gateway_url: str | None = None
    sms_gateway_key: str | None = None
    # seconds the in-process deliverer waits before its first delivery (crash tests set it high)
    delivery_delay: float = 0.0
    # after a commit, the deliverer (fan-out, external deliveries) and SQLite's live-feed reader wait this long
    # (seconds) for more commits before they run, so a busy minute costs a few batched rounds, not one per action
    delivery_batch_seconds: float = 0.25
    live_batch_seconds: float = 0.03
    # PostgreSQL: an API process stops the events' NOTIFY on its account this many seconds after its last live
    # socket closed (notifications/listener.py), so a page reload does not stop and start it again
    live_unwatch_seconds: float = 30.0
    # GET /metrics (api/metrics.py): readable from these addresses (comma-separated CIDRs), or from anywhere with
    # `Authorization: Bearer <metrics_token>` when a token is set
    metrics_allow: str = "127.0.0.1/32,::1/128"
    metrics_token: str | None = None
    # argon2 cost; tests lower it so that hashing a dozen users stays cheap
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Absolute from here on: a process that later runs elsewhere (a flow run in a temporary directory) must
        not find a different directory under the same relative name. Symlinks are kept as the operator named
        them."""
        return Path(os.path.abspath(os.path.expanduser(value)))

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chuishao.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            import secrets

            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """This process's settings, loaded once. Also writes the absolute data directory back into this process's
    environment (CHUISHAO_DATA_DIR): every child inherits it, and Prefect's process worker starts each flow run
    with this environment in a temporary working directory, where a relative path would name another place."""
    settings = Settings()
    os.environ[DATA_DIR_ENV] = str(settings.data_dir)
    return settings


def data_dir_line(settings: Settings | None = None) -> str:
    """The startup line naming the absolute data directory, for `chuishao serve` and `chuishao worker`:
    "• 数据目录 data dir: /srv/chuishao/chuishao-data". Creates the directory; without `settings`, loads this
    process's (get_settings), which also hands the absolute path to child processes. Raises OSError when the
    directory cannot be created."""
    settings = settings or get_settings()
    return f"• 数据目录 data dir: {settings.ensure_data_dir()}"
