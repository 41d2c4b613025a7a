"""API keys checked against the Registry, with a short cache (a :class:`~fustor_fusion.auth.KeyChecker`).

Fusion asks the Registry ``POST /api/v1/keys/verify`` (with its service token) the first time it
sees a key, then answers from memory for ``ttl_s`` seconds. Both answers are cached: a valid key
costs one dict lookup per request afterwards, and a flood of bad keys cannot turn into a flood
of Registry calls. The price is the TTL: a key revoked in the Registry keeps working here for at
most ``ttl_s`` seconds (10 by default), and a key created a moment after a failed try may be
refused for as long. A key's own expiry is honoured exactly — a cached grant never outlives it.

When the Registry cannot be reached (or refuses the service token) nothing is cached and the
request fails with 503: failing closed, because serving from a stale cache would keep revoked
keys alive for as long as the Registry is down.

Also here: :meth:`RegistryKeyChecker.datastores`, the Registry's list of datastores (optionally
only those routed to one Fusion URL, or placed on one node of a cluster), for a Fusion that learns
its datastores from the Registry; and :meth:`RegistryKeyChecker.report_node`, with which a node
of a cluster tells the Registry where it is and which views it owns (so agents are sent there).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from fustor_core.errors import FustorError, Unauthorized
from fustor_core.logs import log_event
from fustor_fusion.auth import KeyGrant

logger = logging.getLogger(__name__)

VERIFY_PATH = "/api/v1/keys/verify"
DATASTORES_PATH = "/api/v1/service/datastores"
NODES_PATH = "/api/v1/cluster/nodes/"
DEFAULT_TTL_S = 10.0
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_ENTRIES = 100_000
MAX_KEY_CHARS = 512
"""The Registry refuses longer keys anyway; refusing them here saves the round trip."""


class RegistryUnavailable(FustorError):
    """The Registry could not answer (down, timed out, or refused our service token): HTTP 503."""

    status = 503
    code = "registry_unavailable"


@dataclass(frozen=True)
class RegistryDatastore:
    """A datastore as the Registry describes it to Fusion."""

    name: str
    fusion_url: str | None
    storage_environment: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class _Answer:
    """A cached verdict: a grant, or the reason the key was refused, valid until ``fresh_until``."""

    fresh_until: float
    grant: KeyGrant | None
    refusal: str = ""


class RegistryKeyChecker:
    """Verifies keys through the Registry; one instance per Fusion process.

    ``client`` may be supplied (tests, shared pools); otherwise one is created on first use and
    closed by :meth:`aclose`, which Fusion should call at shutdown.
    """

    def __init__(
        self,
        registry_url: str,
        service_token: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s < 0:
            raise ValueError("ttl_s must be >= 0")
        self.registry_url = registry_url.rstrip("/")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._headers = {"Authorization": f"Bearer {service_token}"}
        self._timeout = timeout_s
        self._clock = clock
        self._owns_client = client is None
        # created now, not on the first check: building a client (its TLS context) takes tens of ms
        self._client: httpx.AsyncClient | None = client if client is not None else httpx.AsyncClient()
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._cache: dict[bytes, _Answer] = {}
        self.cache_hits = 0
        """Checks answered from the cache (the metrics read these two)."""
        self.cache_misses = 0
        self._inflight: dict[bytes, asyncio.Future[_Answer]] = {}

    async def check(self, key: str) -> KeyGrant:
        """The grant for ``key``; Unauthorized when the Registry says it is not valid."""
        digest = hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest()
        answer = self._cache.get(digest)
        if answer is None or answer.fresh_until <= self._clock():
            self.cache_misses += 1
            answer = await self._ask_once(key, digest)
        else:
            self.cache_hits += 1
        if answer.grant is None:
            raise Unauthorized(answer.refusal)
        return answer.grant

    def forget(self, key: str | None = None) -> None:
        """Drop one cached answer (or all): the next check asks the Registry again."""
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).digest(), None)

    async def datastores(
        self, fusion_url: str | None = None, *, node_id: str | None = None
    ) -> list[RegistryDatastore]:
        """The Registry's datastores, or only those it routes to ``fusion_url``; with ``node_id``
        (a node of a cluster), those placed on that node plus the unplaced ones."""
        params = {"fusion_url": fusion_url} if fusion_url else {}
        if node_id:
            params["node_id"] = node_id
        response = await self._request("GET", DATASTORES_PATH, params=params)
        if response.status_code != 200:
            raise self._unavailable(response, "list the Registry's datastores")
        return [
            RegistryDatastore(
                name=item["name"],
                fusion_url=item.get("fusion_url"),
                storage_environment=item.get("storage_environment"),
                settings=dict(item.get("settings") or {}),
                description=item.get("description") or "",
            )
            for item in response.json()["datastores"]
        ]

    async def report_node(
        self, node_id: str, advertise_url: str, owned: list[str], serving: list[str]
    ) -> None:
        """Tell the Registry this node of a cluster is alive, where, and which datastores' views it
        owns and serves; raises :class:`RegistryUnavailable` when the Registry does not take it."""
        body = {"advertise_url": advertise_url, "owned": sorted(owned), "serving": sorted(serving)}
        response = await self._request("PUT", NODES_PATH + quote(node_id, safe=""), json=body)
        if response.status_code != 200:
            raise self._unavailable(response, f"report node {node_id!r} to the Registry")

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
        self._client = None

    # --- cold path -----------------------------------------------------------------------------

    async def _ask_once(self, key: str, digest: bytes) -> _Answer:
        """Ask the Registry, letting concurrent checks of the same key share one request."""
        pending = self._inflight.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._ask(key, digest))
            self._inflight[digest] = pending
            pending.add_done_callback(lambda done: self._settle(digest, done))
        return await asyncio.shield(pending)

    def _settle(self, digest: bytes, done: asyncio.Future[_Answer]) -> None:
        self._inflight.pop(digest, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a waiter that was cancelled leaves no warning

    async def _ask(self, key: str, digest: bytes) -> _Answer:
        if len(key) > MAX_KEY_CHARS:
            return self._remember(digest, _Answer(self._clock() + self.ttl_s, None, "unknown API key"))
        response = await self._request("POST", VERIFY_PATH, json={"key": key})
        now = self._clock()
        if response.status_code == 200:
            body = response.json()
            grant = KeyGrant(body["datastore"], frozenset(str(scope) for scope in body["scopes"]))
            fresh_until = min(now + self.ttl_s, self._monotonic_deadline(body.get("expires_at"), now))
            return self._remember(digest, _Answer(fresh_until, grant))
        if response.status_code in (404, 422):
            refusal = _error_message(response) or "unknown API key"
            return self._remember(digest, _Answer(now + self.ttl_s, None, refusal))
        raise self._unavailable(response, "verify the API key")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        client = self._http_client()
        try:
            return await client.request(
                method, self.registry_url + path, headers=self._headers, timeout=self._timeout, **kwargs
            )
        except httpx.HTTPError as exc:
            log_event(
                logger,
                logging.WARNING,
                "registry unreachable",
                url=self.registry_url,
                error=type(exc).__name__,
            )
            raise RegistryUnavailable(f"the Registry at {self.registry_url} cannot be reached") from None

    def _http_client(self) -> httpx.AsyncClient:
        """The HTTP client; an own client is re-created if the event loop changed (its pooled
        connections belong to the loop that opened them), or after :meth:`aclose`."""
        loop = asyncio.get_running_loop()
        if self._client is None or (self._owns_client and self._client_loop not in (None, loop)):
            self._client = httpx.AsyncClient()
        self._client_loop = loop
        return self._client

    def _unavailable(self, response: httpx.Response, action: str) -> RegistryUnavailable:
        """The error for an unusable answer; ``action`` says what Fusion was trying to do."""
        reason = _error_message(response) or f"HTTP {response.status_code}"
        if response.status_code == 401:
            reason = "the Registry refused Fusion's service token"
        log_event(
            logger,
            logging.ERROR,
            "registry answer unusable",
            url=self.registry_url,
            path=response.request.url.path,
            status=response.status_code,
            reason=reason,
        )
        return RegistryUnavailable(f"cannot {action}: {reason}")

    def _remember(self, digest: bytes, answer: _Answer) -> _Answer:
        if self.ttl_s > 0:
            if len(self._cache) >= self.max_entries:
                self._evict()
            self._cache[digest] = answer
        return answer

    def _evict(self) -> None:
        """Drop stale answers; if the cache is still full, the oldest tenth (insertion order)."""
        now = self._clock()
        for digest in [digest for digest, answer in self._cache.items() if answer.fresh_until <= now]:
            del self._cache[digest]
        if len(self._cache) >= self.max_entries:
            for digest in list(self._cache)[: max(1, self.max_entries // 10)]:
                del self._cache[digest]

    def _monotonic_deadline(self, expires_at: str | None, now: float) -> float:
        """A key's wall-clock expiry as a deadline on our monotonic clock (inf without one)."""
        if not expires_at:
            return float("inf")
        expiry = datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
        return now + (expiry - time.time())


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return ""
