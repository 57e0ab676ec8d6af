"""Settings: ``config/gateway.toml`` (or ``--config PATH``), then ``PDE_GATEWAY_*`` variables."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.exceptions import ConfigurationError
from gateway.model.common import RECORD

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "config" / "gateway.toml"
ENV_PREFIX = "PDE_GATEWAY_"


@dataclass(**RECORD)
class Settings:
    data_dir: Path
    database_url: str
    max_file_bytes: int = 50 * 1024 * 1024
    workers: int = 2
    poll_interval_seconds: float = 0.2
    # A drop file is taken once unchanged this long (two looks); longer than a writer's pauses.
    settle_seconds: float = 2.0
    lease_seconds: float = 30.0
    log_format: str = "auto"
    log_level: str = "INFO"
    offices_file: Path = REPO_ROOT / "config" / "offices.toml"
    carriers_file: Path = REPO_ROOT / "config" / "carriers.toml"
    # The web console and HTTP API (gateway/web); port 0 picks a free port.
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # Slow clients (gateway/web/limits.py): the request head must be in within this long of
    # connecting (or of the previous response); a body must not pause longer than this, nor
    # average less than 8 KiB/s past it. Past web_max_connections requests are answered 503.
    web_header_timeout_seconds: float = 10.0
    web_body_timeout_seconds: float = 30.0
    web_max_connections: int = 256
    # Proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses or CIDR
    # networks, e.g. "10.0.0.5,10.1.0.0/16"). Empty: the client is the socket's peer.
    web_trusted_proxies: str = ""
    # Log-in limits of the console and the SFTP server (gateway/login_guard.py): past the
    # third failure each answer waits twice as long (login_delay_seconds up to
    # login_delay_max_seconds); past login_failure_limit attempts from one address, or
    # login_failure_limit_per_user from all addresses, the user is refused unchecked until
    # login_lockout_seconds pass without an attempt (or `pde-gateway logins unlock`).
    login_delay_seconds: float = 0.5
    login_delay_max_seconds: float = 8.0
    login_failure_limit: int = 10
    login_failure_limit_per_user: int = 30
    login_lockout_seconds: float = 900.0
    # The embedded SFTP server (gateway/channels/sftp_server.py); port 0 picks a free port.
    sftp_enabled: bool = True
    sftp_host: str = "127.0.0.1"
    sftp_port: int = 2222
    sftp_max_sessions_per_carrier: int = 8
    sftp_max_open_handles: int = 16
    # Connections at once, logged in or not; of them, not yet logged in: at most
    # sftp_max_unauthenticated (a newcomer past it displaces the oldest of the address holding
    # the most), sftp_max_unauthenticated_per_address from one address (past it: closed).
    sftp_max_connections: int = 128
    sftp_max_unauthenticated: int = 32
    sftp_max_unauthenticated_per_address: int = 10
    # The client's SSH banner, the key exchange, and the log-in (counted from the connect)
    # must be done within these, or the connection is closed.
    sftp_banner_timeout_seconds: float = 10.0
    sftp_handshake_timeout_seconds: float = 15.0
    sftp_auth_timeout_seconds: float = 30.0
    # How long an uploaded and taken file still answers stat in /inbox (clients check it).
    sftp_received_stat_seconds: float = 600.0
    # Back-pressure: intake answers "try later" while this many PROCESS jobs wait (0: no limit).
    max_queue_depth: int = 10000
    # A full disk: below this many free bytes on the data dir intake answers "try later"
    # (/readyz says not ready), keeping the rest for work already accepted (0: only when full).
    min_free_bytes: int = 256 * 1024 * 1024
    # Retention: refused submissions (rows and raw files) older than this are purged.
    retention_days: int = 90
    # The scheduler's jobs (gateway/scheduler.py): how often each one fires. Fire times are
    # multiples of the interval counted from SCHEDULE_ANCHOR, so every scheduler agrees.
    schedule_sweep_seconds: float = 60.0
    schedule_deliveries_seconds: float = 60.0
    schedule_deadline_watch_seconds: float = 900.0
    schedule_retention_seconds: float = 86400.0
    schedule_daily_report_seconds: float = 86400.0

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def drop_dir(self) -> Path:
        return self.data_dir / "drop"

    @property
    def cli_dir(self) -> Path:
        return self.data_dir / "cli"

    @property
    def http_dir(self) -> Path:
        return self.data_dir / "http"

    @property
    def media_dir(self) -> Path:
        """Acknowledgments of files officers took at their counter (channel media)."""
        return self.data_dir / "media"

    @property
    def manual_dir(self) -> Path:
        return self.data_dir / "manual"

    @property
    def pull_dir(self) -> Path:
        """Acknowledgments waiting to be pushed to carriers' own SFTP servers."""
        return self.data_dir / "pull"

    @property
    def sftp_dir(self) -> Path:
        return self.data_dir / "sftp"


_PATH_KEYS = {"data_dir", "offices_file", "carriers_file"}
_INT_KEYS = {
    "max_file_bytes",
    "workers",
    "sftp_port",
    "web_port",
    "web_max_connections",
    "sftp_max_sessions_per_carrier",
    "sftp_max_open_handles",
    "sftp_max_connections",
    "sftp_max_unauthenticated",
    "sftp_max_unauthenticated_per_address",
    "login_failure_limit",
    "login_failure_limit_per_user",
    "max_queue_depth",
    "min_free_bytes",
    "retention_days",
}
_BOOL_KEYS = {"sftp_enabled", "web_enabled"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_settings(
    config_path: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read the TOML file, overlay environment variables, resolve paths."""
    env = dict(os.environ if environ is None else environ)
    path = config_path or Path(env.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG))
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read configuration {path}: {exc}") from exc
    elif config_path is not None:
        raise ConfigurationError(f"configuration file {path} does not exist")
    base = path.resolve().parent.parent if path.exists() else REPO_ROOT

    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ConfigurationError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    for name in fields:
        value = env.get(ENV_PREFIX + name.upper())
        if value is not None:
            raw[name] = value

    values: dict[str, Any] = {}
    for name, value in raw.items():
        values[name] = _convert(name, value, base)
    values.setdefault("data_dir", base / "var")
    if not values.get("database_url"):
        values["database_url"] = f"sqlite:///{values['data_dir'] / 'gateway.db'}"
    try:
        return Settings(**values)
    except TypeError as exc:
        raise ConfigurationError(str(exc)) from exc


def _convert(name: str, value: Any, base: Path) -> Any:
    try:
        if name in _PATH_KEYS:
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else (base / p).resolve()
        if name in _INT_KEYS:
            if isinstance(value, bool):
                raise ValueError("a number is needed")
            return int(value)
        if name in _BOOL_KEYS:
            return _as_bool(value)
        if name.endswith("_seconds"):
            return float(value)
        return str(value)
    except ValueError as exc:
        raise ConfigurationError(f"setting {name}: {value!r} is not valid ({exc})") from exc


def _as_bool(value: Any) -> bool:
    # TOML gives a real bool; an environment variable gives text.
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")
