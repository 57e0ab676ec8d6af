"""Settings: ``config/gateway.toml`` (or ``--config PATH``), then ``PDE_GATEWAY_*`` variables.

One typed class on pydantic-settings. Sources, strongest first: keyword arguments, the environment
(``PDE_GATEWAY_<KEY>``), the TOML file, the defaults below. Relative paths are relative to the
config file's parent folder (the repository root for ``config/gateway.toml``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.exceptions import ConfigurationError
from gateway.resources import config_path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = config_path("gateway.toml")
ENV_PREFIX = "PDE_GATEWAY_"


def _no_bool(value: object) -> object:
    # Pydantic's lax mode reads true as 1; a count written as true is a mistake.
    if isinstance(value, bool):
        raise ValueError("a number is needed")
    return value


Count = Annotated[int, BeforeValidator(_no_bool)]


def _installed_default(path: Path) -> bool:
    """The packaged default config of a wheel install: no checkout (run_gateway.py) around it."""
    default = Path(str(DEFAULT_CONFIG)).resolve()
    return (
        path.exists()
        and path.resolve() == default
        and not (default.parent.parent / "run_gateway.py").exists()
    )


@dataclass(frozen=True, kw_only=True)
class _Origin:
    """Where a settings object is read from: the TOML file and the environment."""

    config_path: Path
    environ: Mapping[str, str]

    @property
    def base(self) -> Path:
        """Relative paths are relative to the config file's parent folder."""
        return self.config_path.resolve().parent.parent if self.config_path.exists() else REPO_ROOT

    @property
    def data_base(self) -> Path:
        """The same for the data dir, except with the default file of an installed wheel (no
        checkout around it): the current folder, so that ``data_dir = "var"`` never points
        into site-packages."""
        return Path.cwd() if _installed_default(self.config_path) else self.base

    @classmethod
    def of(cls, config_path: Path | None, environ: Mapping[str, str] | None) -> _Origin:
        env = os.environ if environ is None else environ
        return cls(
            config_path=config_path or Path(env.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG)),
            environ=env,
        )


# pydantic-settings asks the class for its sources; load_settings names the file and the
# environment of one read (tests pass their own) without threading them through the class.
_ORIGIN: ContextVar[_Origin | None] = ContextVar("settings_origin", default=None)


def _origin() -> _Origin:
    return _ORIGIN.get() or _Origin.of(None, None)


@contextmanager
def _reading(origin: _Origin) -> Iterator[None]:
    token = _ORIGIN.set(origin)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


class _Environment(PydanticBaseSettingsSource):
    """``PDE_GATEWAY_<KEY>`` of the origin's environment (exactly that name, in upper case)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.environ.get(ENV_PREFIX + field_name.upper()), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class Settings(BaseSettings):
    """The gateway's configuration (README, Configuration; ``config/gateway.toml``)."""

    # extra="forbid": a misspelt key in the TOML file is an error, not silently ignored.
    model_config = SettingsConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    data_dir: Path = Field(Path("var"), description="raw files, drop folders, acks")
    database_url: str = Field(
        "", description="empty: SQLite in <data_dir>/gateway.db; or postgresql+psycopg://..."
    )
    max_file_bytes: Count = Field(
        50 * 1024 * 1024, description="larger files are refused (FILE-002); their bytes are kept"
    )
    workers: Count = Field(2, description="worker threads in this process")
    poll_interval_seconds: float = Field(0.2, description="how often in/ folders are read")
    # Longer than a writer's pauses.
    settle_seconds: float = Field(
        2.0, description="a drop file is taken once unchanged this long (two looks)"
    )
    lease_seconds: float = Field(
        30.0, description="a job whose worker vanished is handed out again after this"
    )
    log_format: str = Field(
        "auto", description="auto (JSON lines when not a terminal), json, console"
    )
    log_level: str = Field("INFO", description="the logging level")
    offices_file: Path = Field(
        config_path("offices.toml"), description="reference data: customs offices"
    )
    carriers_file: Path = Field(
        config_path("carriers.toml"), description="reference data: carriers"
    )
    web_enabled: bool = Field(True, description="run the web console and HTTP API (gateway/web)")
    web_host: str = Field("127.0.0.1", description="the web console's address")
    web_port: Count = Field(8080, description="the web console's port (0: a free port, logged)")
    # Slow clients (gateway/web/limits.py); past the body timeout a body must also average 8 KiB/s.
    web_header_timeout_seconds: float = Field(
        10.0,
        description="a request's head must be in within this of connecting (or the last answer)",
    )
    web_body_timeout_seconds: float = Field(
        30.0, description="a request body must not pause longer than this"
    )
    web_max_connections: Count = Field(256, description="requests at once; past it answered 503")
    web_trusted_proxies: str = Field(
        "",
        description="proxies whose X-Forwarded-For is believed (addresses, CIDR; comma-separated)",
    )
    # Log-in limits of the console and the SFTP server (gateway/login_guard.py).
    login_delay_seconds: float = Field(
        0.5, description="past the third failed log-in each answer waits this, doubling"
    )
    login_delay_max_seconds: float = Field(8.0, description="the longest log-in delay")
    login_failure_limit: Count = Field(
        10, description="failed log-ins from one address before lockout"
    )
    login_failure_limit_per_user: Count = Field(
        30, description="failed log-ins of one user from all addresses before lockout"
    )
    login_lockout_seconds: float = Field(
        900.0, description="a locked-out user waits this long without an attempt"
    )
    # The embedded SFTP server (gateway/channels/sftp_server).
    sftp_enabled: bool = Field(True, description="run the embedded SFTP server")
    sftp_host: str = Field("127.0.0.1", description="the SFTP server's address")
    sftp_port: Count = Field(2222, description="the SFTP server's port (0: a free port, logged)")
    sftp_max_sessions_per_carrier: Count = Field(
        8, description="SFTP sessions of one carrier at once"
    )
    sftp_max_open_handles: Count = Field(16, description="files one SFTP session may hold open")
    sftp_max_connections: Count = Field(
        128, description="SFTP connections at once, logged in or not"
    )
    # Past sftp_max_unauthenticated a newcomer displaces the oldest of the address holding the most.
    sftp_max_unauthenticated: Count = Field(32, description="SFTP connections not yet logged in")
    sftp_max_unauthenticated_per_address: Count = Field(
        10, description="SFTP connections not yet logged in from one address (past it: closed)"
    )
    sftp_banner_timeout_seconds: float = Field(
        10.0, description="the client's SSH banner must be in within this"
    )
    sftp_handshake_timeout_seconds: float = Field(
        15.0, description="the SSH key exchange must be done within this"
    )
    sftp_auth_timeout_seconds: float = Field(
        30.0, description="the log-in must be done within this of connecting"
    )
    # Clients check their upload with stat.
    sftp_received_stat_seconds: float = Field(
        600.0, description="how long a taken upload still answers stat in /inbox"
    )
    max_queue_depth: Count = Field(
        10000,
        description="back-pressure: intake says try later while this many files wait (0: none)",
    )
    # Keeps the rest of the disk for work already accepted.
    min_free_bytes: Count = Field(
        256 * 1024 * 1024,
        description="below this many free bytes intake says try later, /readyz not ready",
    )
    retention_days: Count = Field(90, description="refused submissions older than this are purged")
    # Fire times are multiples of the interval from SCHEDULE_ANCHOR, so every scheduler agrees.
    schedule_sweep_seconds: float = Field(60.0, description="how often the sweep runs")
    schedule_deliveries_seconds: float = Field(60.0, description="how often deliveries are retried")
    schedule_deadline_watch_seconds: float = Field(
        900.0, description="how often deadlines are watched"
    )
    schedule_retention_seconds: float = Field(86400.0, description="how often retention purges")
    schedule_daily_report_seconds: float = Field(
        86400.0, description="how often the report is made"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        origin = _origin()
        return (
            init_settings,
            _Environment(settings_cls, origin.environ),
            TomlConfigSettingsSource(settings_cls, toml_file=origin.config_path),
        )

    @field_validator("offices_file", "carriers_file")
    @classmethod
    def _resolve(cls, path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else (_origin().base / path).resolve()

    @field_validator("data_dir")
    @classmethod
    def _resolve_data(cls, path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else (_origin().data_base / path).resolve()

    @field_validator("database_url")
    @classmethod
    def _sqlite_by_default(cls, url: str, info: ValidationInfo) -> str:
        data_dir = info.data.get("data_dir")
        if url or data_dir is None:
            return url
        return f"sqlite:///{data_dir / 'gateway.db'}"

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


def load_settings(
    config_path: Path | None = None, environ: Mapping[str, str] | None = None, **values: Any
) -> Settings:
    """Read the TOML file, overlay environment variables and ``values``, resolve paths."""
    origin = _Origin.of(config_path, environ)
    if config_path is not None and not config_path.exists():
        raise ConfigurationError(f"configuration file {config_path} does not exist")
    try:
        with _reading(origin):
            return Settings(**values)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read configuration {origin.config_path}: {exc}") from exc
    except ValidationError as exc:
        raise _configuration_error(exc, origin.config_path) from exc


def _configuration_error(exc: ValidationError, path: Path) -> ConfigurationError:
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return ConfigurationError(f"unknown settings in {path}: {', '.join(unknown)}")
    return ConfigurationError(
        "; ".join(
            f"setting {'.'.join(map(str, e['loc']))}: {e['input']!r} is not valid ({e['msg']})"
            for e in errors
        )
    )
