"""Learning where Fusion is from the Registry, so an agent needs only the Registry's URL and its
ingest key (``pusher: {driver: http, registry_url: ..., api_key: ...}``).

The Registry answers ``GET /api/v1/agent/bootstrap`` for an ingest key with the key's datastore,
the URL of the Fusion serving it (in a cluster: the node that owns the datastore's view now), and
the credentials of its storage environment. While the
Registry cannot be reached the agent keeps retrying (its realtime rows wait in the bus); a key the
Registry refuses is reported and retried slowly, since an operator may fix it without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from fustor_core.logs import log_event
from fustor_pusher_http.backoff import Backoff

logger = logging.getLogger(__name__)

BOOTSTRAP_PATH = "/api/v1/agent/bootstrap"
REFUSED_RETRY_S = 30.0


@dataclass(frozen=True)
class Bootstrap:
    """What the Registry told this agent."""

    datastore: str
    fusion_url: str
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    """Secrets of the datastore's storage environment; never logged (only their names)."""


class BootstrapRefused(Exception):
    """The Registry answered, but not with a usable Fusion URL for this key."""


async def discover_fusion(
    registry_url: str,
    api_key: str,
    *,
    timeout_s: float,
    retry_initial_s: float,
    retry_max_s: float,
    on_error: Any = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Bootstrap:
    """Ask the Registry until it names the Fusion for ``api_key``'s datastore."""
    backoff = Backoff(retry_initial_s, retry_max_s)
    async with _registry_client(registry_url, api_key, timeout_s, transport) as client:
        while True:
            try:
                answer = await _ask(client)
            except httpx.HTTPError as exc:
                message = f"Registry unreachable at {registry_url}: {exc!r}"
                delay = backoff.next_delay()
            except BootstrapRefused as exc:
                message = str(exc)
                delay = REFUSED_RETRY_S
            else:
                log_event(
                    logger,
                    logging.INFO,
                    "Fusion located through the Registry",
                    datastore=answer.datastore,
                    fusion_url=answer.fusion_url,
                    credentials=",".join(sorted(answer.credentials)) or "-",
                )
                return answer
            log_event(
                logger,
                logging.WARNING,
                "cannot locate Fusion through the Registry; retrying",
                registry_url=registry_url,
                reason=message,
                retry_in_s=round(delay, 1),
            )
            if on_error is not None:
                on_error(message)
            await asyncio.sleep(delay)


async def ask_registry_once(
    registry_url: str,
    api_key: str,
    *,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Bootstrap:
    """One question to the Registry (no retry): used when the Fusion node in use stops answering,
    so the agent learns the datastore's current owner without waiting out a retry loop.

    Raises ``httpx.HTTPError`` (unreachable) or :class:`BootstrapRefused`.
    """
    async with _registry_client(registry_url, api_key, timeout_s, transport) as client:
        return await _ask(client)


def _registry_client(
    registry_url: str, api_key: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=registry_url.rstrip("/"),
        timeout=timeout_s,
        headers={"X-API-Key": api_key},
        transport=transport,
    )


async def _ask(client: httpx.AsyncClient) -> Bootstrap:
    response = await client.get(BOOTSTRAP_PATH)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = {}
    if response.status_code != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise BootstrapRefused(
            f"the Registry refused the bootstrap: {response.status_code} "
            f"{error.get('code', '')}: {error.get('message', '')}".rstrip(": ")
        )
    if not body.get("fusion_url"):
        raise BootstrapRefused(
            f"the Registry names no Fusion for datastore {body.get('datastore')!r} "
            "(set its fusion_url in the Registry)"
        )
    return Bootstrap(
        datastore=body["datastore"],
        fusion_url=body["fusion_url"],
        credentials=dict(body.get("credentials") or {}),
    )
