"""Who may call: API keys bound to one datastore and a set of scopes.

Key checking sits behind one small interface, :class:`KeyChecker`, so that static keys from the
config (this module) and keys held by the Registry (checked over HTTP with a short cache) are
interchangeable: the routes only ever see a :class:`KeyGrant`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from fustor_core.errors import Forbidden, Unauthorized
from fustor_fusion.config import FusionConfig

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class KeyGrant:
    """What a valid key allows: one datastore, some scopes (``ingest``, ``query``)."""

    datastore: str
    scopes: frozenset[str]


class KeyChecker(Protocol):
    """Turns a presented key into a grant."""

    async def check(self, key: str) -> KeyGrant:
        """The grant for ``key``; raises :class:`Unauthorized` for an unknown, revoked or expired key."""
        ...


def _digest(key: str) -> bytes:
    # keys are compared by digest so a lookup's timing says nothing about the stored strings
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest()


class StaticKeyChecker:
    """Keys listed in ``fusion.yaml`` under each datastore."""

    def __init__(self, grants: dict[str, KeyGrant]) -> None:
        self._grants = {_digest(key): grant for key, grant in grants.items()}

    @classmethod
    def from_config(cls, config: FusionConfig) -> StaticKeyChecker:
        grants = {
            api_key.key: KeyGrant(name, frozenset(str(scope) for scope in api_key.scopes))
            for name, datastore in config.datastores.items()
            for api_key in datastore.api_keys
        }
        return cls(grants)

    async def check(self, key: str) -> KeyGrant:
        grant = self._grants.get(_digest(key))
        if grant is None:
            raise Unauthorized("unknown API key")
        return grant


def key_fingerprint(request: Request) -> str:
    """A short, non-reversible name of the request's key (what per-key limits count by)."""
    return _digest(request.headers.get(API_KEY_HEADER, "")).hex()[:16]


async def authenticate(request: Request, checker: KeyChecker) -> KeyGrant:
    """The grant of the request's ``X-API-Key``; 401 without a key or with an unknown one."""
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        raise Unauthorized("missing X-API-Key header")
    return await checker.check(key)


def require(grant: KeyGrant, scope: str, datastore: str | None = None) -> None:
    """403 unless ``grant`` is for ``datastore`` (when the URL names one) and has ``scope``."""
    if datastore is not None and grant.datastore != datastore:
        raise Forbidden(f"this key is not valid for datastore {datastore!r}")
    if scope not in grant.scopes:
        raise Forbidden(f"this key lacks the {scope!r} scope")
