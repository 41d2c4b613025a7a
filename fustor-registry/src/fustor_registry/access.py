"""Who may do what: the Registry's whole authorization policy in one place.

* ``admin`` manages everything: users, storage environments, credentials, every datastore/key.
* ``user`` creates datastores (becoming their owner) and manages only the datastores it owns and
  their API keys; it may read storage environments (never credentials) but only an admin may
  attach one to a datastore — otherwise any user could obtain that environment's credentials
  through an ingest key of a datastore of their own.
* Another user's datastore or key answers 403; an unknown one answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from fustor_core.errors import Forbidden
from fustor_registry.models import Datastore

ADMIN = "admin"
USER = "user"


@dataclass(frozen=True)
class Caller:
    """An authenticated user, as established by a bearer token (or the CLI acting as admin)."""

    user_id: int | None
    username: str
    role: str
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


CLI_ADMIN = Caller(user_id=None, username="<cli>", role=ADMIN)
"""The admin CLI works on the database directly: whoever can read the config is an admin."""


def require_admin(caller: Caller, action: str) -> None:
    if not caller.is_admin:
        raise Forbidden(f"only an admin may {action}")


def require_owner(caller: Caller, datastore: Datastore) -> None:
    if caller.is_admin or (caller.user_id is not None and datastore.owner_id == caller.user_id):
        return
    raise Forbidden(f"datastore {datastore.name!r} belongs to another user")
