"""The running Registry: configuration, database, hashing, encryption and throttling together.

Built once per process (or per test) by :meth:`Registry.open`, which is where the service
refuses to start without a secret key and where the schema is migrated.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fustor_core.errors import ConfigError, Conflict, NotFound
from fustor_core.logs import log_event
from fustor_registry import migrate
from fustor_registry.config import RegistryConfig, resolve_database_url, resolve_secret_key
from fustor_registry.db import Database
from fustor_registry.passwords import Passwords
from fustor_registry.proxies import TrustedProxies, parse_networks
from fustor_registry.secrets_box import SecretBox
from fustor_registry.services import keys
from fustor_registry.throttle import LoginThrottle

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Registry:
    def __init__(self, config: RegistryConfig, database: Database, secret_key: bytes | None) -> None:
        self.config = config
        self.db = database
        self.passwords = Passwords(config.password_hash)
        self._box = SecretBox(secret_key) if secret_key is not None else None
        self.throttle = LoginThrottle(config.throttle_settings())
        self.proxies = TrustedProxies(parse_networks(config.trusted_proxies))
        self._service_tokens = [token.encode("utf-8") for token in config.service_tokens if token]

    @classmethod
    def open(
        cls, config: RegistryConfig, *, migrate_schema: bool = True, need_secret: bool = True
    ) -> Registry:
        """Resolve the secret key (refusing to start without one), connect, migrate.

        ``need_secret=False`` is for admin commands that never touch credentials, so an operator
        can create users and keys without holding the encryption key.
        """
        secret_key = resolve_secret_key(config) if need_secret else None
        database = Database(resolve_database_url(config))
        try:
            if migrate_schema:
                migrate.upgrade(database.engine)
        except Exception:
            database.dispose()
            raise
        log_event(logger, logging.INFO, "registry database ready", database=database.safe_url)
        registry = cls(config, database, secret_key)
        registry.warm_up()
        return registry

    def warm_up(self) -> None:
        """Open a reader connection and compile the key lookup now, not on Fusion's first check."""
        with contextlib.suppress(NotFound):
            self.read(lambda connection: keys.verify_key(connection, "fustor-registry warm-up"))

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            raise ConfigError("secret_key: needed to encrypt or decrypt credentials")
        return self._box

    def run(self, work: Callable[[Session], T]) -> T:
        """One transaction; a unique-constraint race surfaces as 409 rather than 500."""
        try:
            return self.db.run(work)
        except IntegrityError:
            raise Conflict("the change conflicts with an existing record") from None

    def read(self, work: Callable[[Connection], T]) -> T:
        """A read-only unit on a plain connection (key verification: Fusion's cold path)."""
        return self.db.read(work)

    def is_service_token(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = presented.encode("utf-8", errors="surrogateescape")
        # compare against every token (no early exit), each in constant time
        matches = [hmac.compare_digest(candidate, token) for token in self._service_tokens]
        return any(matches)

    def close(self) -> None:
        self.db.dispose()
