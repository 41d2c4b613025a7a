"""Which Fusion node the pusher talks to: the owner of the view, found by following 307 answers.

In a cluster every node accepts an agent's calls, but only the node that owns the datastore's
view applies ingest; the others answer ``307`` with the owner's URL in ``Location`` (the same
path and query on the owner's base URL). The pusher follows such an answer itself rather than
letting httpx do it, for two reasons: it must *remember* the owner (every later call goes
straight there, not through a redirect each time), and it must notice when the owner is gone.

* A 307/308 is followed with the same method and body, at most ``max_redirects`` times per call;
  beyond that the call fails with ``httpx.TooManyRedirects`` naming the hops (nodes that disagree
  about the owner), and is retried from an entry point like any unreachable node.
* Once a call that was redirected gets its real answer, the base URL that answered becomes the
  node in use ("following Fusion owner", logged once per change).
* When the node in use stops answering (connect error, timeout) or answers ``503 no_owner``, the
  pusher goes back to its entry points: the next of the configured ``url`` list (in turn), or the
  Registry, asked again, which names the current owner.

Concurrent calls (the delivery loop, heartbeats, leader calls) share one route: a change is made
only by a call that started from the node still in use, so two calls failing on the same dead
node move on by one entry point, not two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

REDIRECTS = (307, 308)


def base_of(location: str, path: str) -> str:
    """The base URL of a node from a ``Location`` that repeats our ``path`` (and query) on it; a
    Location that does not is taken as the node's origin."""
    if path and location.endswith(path):
        return location[: -len(path)].rstrip("/")
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}"


def _error_code(response: httpx.Response) -> str:
    try:
        error = orjson.loads(response.content).get("error", {})
        return str(error.get("code", "")) if isinstance(error, dict) else ""
    except (orjson.JSONDecodeError, AttributeError):
        return ""


class FusionRoute:
    """The node in use and how to get back to an entry point; every ingest call goes through it."""

    def __init__(
        self,
        entries: list[str],
        *,
        max_redirects: int,
        rediscover: Callable[[], Awaitable[str | None]] | None = None,
        count: Callable[[str], None] | None = None,
    ) -> None:
        if not entries:
            raise ValueError("a route needs at least one entry point")
        self.entries = list(entries)
        """The configured base URLs (or the one the Registry named at start)."""
        self.current = self.entries[0]
        """The base URL every call goes to: an entry point, or the owner a 307 named."""
        self.max_redirects = max_redirects
        self._entry = 0
        """Index of the entry point used last."""
        self._rediscover = rediscover
        """Asks the Registry for the current owner (None when the entry points are configured)."""
        self._stale = False
        """The node in use was lost and the Registry is to be asked again before the next call."""
        self._rediscovering = asyncio.Lock()
        self._count = count or (lambda name: None)

    async def request(
        self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """Send ``method path`` to the node in use, following 307s to the owner.

        Raises ``httpx.HTTPError`` when no node answered (the route has then moved on to an entry
        point, so a retry goes there), ``httpx.TooManyRedirects`` for a redirect loop.
        """
        if self._stale:
            await self._ask_registry()
        start = self.current
        url = start + path
        hops = [start]
        while True:
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                self._lost(start, f"{hops[-1]} does not answer: {exc!r}")
                raise
            location = response.headers.get("location")
            if response.status_code in REDIRECTS and location:
                url = urljoin(url, location)
                hops.append(base_of(url, path))
                self._count("redirects_followed")
                if len(hops) > self.max_redirects + 1:
                    loop = " -> ".join(hops)
                    self._lost(start, f"redirect loop: {loop}")
                    raise httpx.TooManyRedirects(
                        f"more than {self.max_redirects} redirects looking for the owner of the "
                        f"datastore (nodes disagree about it): {loop}",
                        request=response.request,
                    )
                continue
            if response.status_code == 503 and _error_code(response) == "no_owner":
                self._lost(start, f"{hops[-1]} knows no owner of the datastore (503 no_owner)")
            elif len(hops) > 1:
                self._follow(start, hops[-1])
            return response

    def _follow(self, start: str, owner: str) -> None:
        if self.current != start or owner == start:
            return  # another call moved the route meanwhile, or nothing changed
        self.current = owner
        self._count("owner_changes")
        log_event(logger, logging.INFO, "following Fusion owner", previous=start, owner=owner)

    def _lost(self, start: str, reason: str) -> None:
        """The node ``start`` (where a call began) failed it: back to the entry points."""
        if self.current != start:
            return  # another call already moved on
        if self._rediscover is not None:
            self._stale = True
            log_event(
                logger,
                logging.WARNING,
                "Fusion node lost; asking the Registry again",
                node=start,
                reason=reason,
            )
            return
        if start in self.entries:
            self._entry = (self.entries.index(start) + 1) % len(self.entries)
        following = self.entries[self._entry]
        if following == start:
            return  # a single entry point: nowhere else to go, the caller retries it
        self.current = following
        log_event(
            logger,
            logging.WARNING,
            "Fusion node lost; trying an entry point",
            node=start,
            next=following,
            reason=reason,
        )

    async def _ask_registry(self) -> None:
        assert self._rediscover is not None
        async with self._rediscovering:
            if not self._stale:
                return  # a concurrent call asked already
            found = await self._rediscover()
            self._stale = False
            if found is not None and found.rstrip("/") != self.current:
                previous, self.current = self.current, found.rstrip("/")
                self._count("owner_changes")
                log_event(
                    logger, logging.INFO, "following Fusion owner", previous=previous, owner=self.current
                )
