"""The Registry's configuration file and the two values derived from it at start-up.

``database_url`` and ``secret_key`` have defaults that depend on the environment (``FUSTOR_HOME``,
``FUSTOR_REGISTRY_SECRET_KEY``), so they are resolved by functions here rather than by pydantic
defaults: a config object stays a plain description of the file, and resolution happens once,
where the service starts.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, StringConstraints, field_validator

from fustor_core.config import FustorConfig, load_config
from fustor_core.errors import ConfigError
from fustor_core.http_server import ConnectionLimits
from fustor_core.logs import LogFormat, log_event
from fustor_core.paths import data_dir
from fustor_registry.proxies import parse_networks
from fustor_registry.throttle import ThrottleSettings

logger = logging.getLogger(__name__)

SECRET_KEY_ENV = "FUSTOR_REGISTRY_SECRET_KEY"
DEFAULT_PORT = 8101
DEMO_SECRET_FILE = "demo-secret.key"
MIN_SERVICE_TOKEN_CHARS = 16
"""A service token opens every key's verdict: it must not be guessable."""


class PasswordHashSettings(FustorConfig):
    """argon2id cost parameters; the defaults are argon2-cffi's (RFC 9106 low-memory profile)."""

    time_cost: int = Field(default=3, ge=1, le=20)
    memory_cost_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    """Memory per hash; this is what makes guessing expensive. Lower it only in tests."""
    parallelism: int = Field(default=4, ge=1, le=64)


class RegistryConfig(FustorConfig):
    """``registry.yaml``: every key is optional; ``demo: true`` is enough for a laptop."""

    database_url: str | None = None
    """Any SQLAlchemy URL; default SQLite file ``registry.db`` under ``$FUSTOR_HOME/registry``."""
    secret_key: str | None = None
    """Fernet key encrypting credentials at rest; falls back to ``$FUSTOR_REGISTRY_SECRET_KEY``."""
    demo: bool = False
    """Allow running without a configured secret key (one is generated and kept in the data dir)."""
    service_tokens: list[Annotated[str, StringConstraints(min_length=MIN_SERVICE_TOKEN_CHARS)]] = Field(
        default_factory=list
    )
    """Bearer tokens of trusted services (Fusion) for key verification and datastore listing."""
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    token_ttl_s: float = Field(default=12 * 3600.0, gt=0)
    """Lifetime of the bearer token returned by a login."""
    login_max_failures: int = Field(default=5, ge=1)
    """Failed logins of one user name from one client address tolerated inside ``login_window_s``;
    also how many failures of a user name (from anywhere) start its exponential lockout."""
    login_window_s: float = Field(default=300.0, gt=0)
    login_address_max_failures: int = Field(default=50, ge=1)
    """Failed logins from one client address (any user names) tolerated inside ``login_window_s``."""
    login_account_window_s: float = Field(default=3600.0, gt=0)
    """How long a user name's failures (from any address) count towards its lockout."""
    login_max_lockout_s: float = Field(default=60.0, gt=0, le=86400)
    """Cap of a user name's lockout (1 s, doubling per failure); known addresses are exempt."""
    login_known_address_ttl_s: float = Field(default=30 * 86400.0, ge=0)
    """How long an address a user logged in from stays exempt from that user's lockout."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """Reverse proxies (addresses or CIDRs) whose ``X-Forwarded-For`` is believed; default none."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    password_hash: PasswordHashSettings = Field(default_factory=PasswordHashSettings)
    connections: ConnectionLimits = Field(default_factory=ConnectionLimits)
    """Request timeouts and the connection limit of the HTTP server."""
    node_timeout_s: float = Field(default=30.0, gt=0)
    """A Fusion node of a cluster counts as alive this long after its last report (nodes report
    every ``registry.refresh_interval_s``); a node not alive is never named to agents."""
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    """``text`` (``key=value`` lines, for people) or ``json`` (one JSON object per line, for log
    shippers); ``--log-format`` overrides it."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, entries: list[str]) -> list[str]:
        parse_networks(entries)
        return entries

    def throttle_settings(self) -> ThrottleSettings:
        return ThrottleSettings(
            max_failures=self.login_max_failures,
            window_s=self.login_window_s,
            address_max_failures=self.login_address_max_failures,
            account_window_s=self.login_account_window_s,
            max_lockout_s=self.login_max_lockout_s,
            known_address_ttl_s=self.login_known_address_ttl_s,
        )


def read_config(path: str | Path | None) -> RegistryConfig:
    """Load ``path``, or the all-defaults config when no file is given."""
    if path is None:
        return RegistryConfig()
    return load_config(RegistryConfig, path)


def resolve_database_url(config: RegistryConfig) -> str:
    """The configured URL, or the embedded SQLite file in the user data dir."""
    if config.database_url:
        return config.database_url
    return f"sqlite:///{data_dir('registry') / 'registry.db'}"


def resolve_secret_key(config: RegistryConfig) -> bytes:
    """The Fernet key to encrypt credentials with; refuses to guess outside demo mode.

    Order: ``secret_key`` in the config, then ``$FUSTOR_REGISTRY_SECRET_KEY``, then (demo only) a
    key generated once and persisted next to the default database, so a demo registry can be
    restarted without losing its credentials.
    """
    configured = config.secret_key or os.environ.get(SECRET_KEY_ENV)
    if configured:
        key = configured.strip().encode("ascii", errors="replace")
        try:
            Fernet(key)
        except ValueError:
            raise ConfigError(
                "secret_key: not a Fernet key (32 url-safe base64-encoded bytes); "
                "generate one with `fustor-registry gen-secret-key`"
            ) from None
        return key
    if not config.demo:
        raise ConfigError(
            f"secret_key: required to encrypt credentials; set it in the config or in ${SECRET_KEY_ENV} "
            "(generate one with `fustor-registry gen-secret-key`), "
            "or set `demo: true` for a throwaway registry"
        )
    return _demo_secret_key()


def _demo_secret_key() -> bytes:
    path = data_dir("registry") / DEMO_SECRET_FILE
    if path.exists():
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    log_event(logger, logging.WARNING, "demo mode: generated a credential encryption key", path=str(path))
    return key
