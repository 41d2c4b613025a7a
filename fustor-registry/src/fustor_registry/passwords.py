"""Password hashing with argon2id, a memory-hard KDF: guessing costs memory, not just CPU."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fustor_registry.config import PasswordHashSettings

# A hash nobody's password matches, verified when the user name is unknown, so a login for a
# missing user costs as much as one for an existing user (no user enumeration by timing).
_DUMMY_PASSWORD = "fustor-registry: no such user"


class Passwords:
    def __init__(self, settings: PasswordHashSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_cost_kib,
            parallelism=settings.parallelism,
        )
        self._dummy_hash = self._hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other cost parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; ``None`` burns the same time and returns False."""
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return stored_hash is not None
