"""``GET /metrics``: the Registry's Prometheus metrics.

Request durations by route template (observed per request), Fusion's key verifications by
verdict (counted by the verify route), and the size of what the Registry manages — users,
datastores, API keys — counted in the database when scraped (a few indexed ``count(*)``).

No credential from the loopback interface; from elsewhere the service token (what Fusion holds)
or an API key with the ``query`` scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import Forbidden, NotFound, Unauthorized
from fustor_core.metrics import (
    CONTENT_TYPE,
    METRICS_PATH,
    RequestTimer,
    exposition,
    from_loopback,
    new_registry,
)
from fustor_registry.api.calls import bearer_token, registry_of
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.models import ApiKey, Datastore, User
from fustor_registry.services import keys

MAX_KEY_CHARS = 512


class RegistryMetrics:
    """What one Registry application observes as it serves."""

    def __init__(self) -> None:
        self.registry: CollectorRegistry = new_registry()
        self.requests = RequestTimer(self.registry)
        self.verifications: Counter[str] = Counter()
        """Key verifications answered to Fusion, by verdict (``valid``, ``key_unknown``, ...)."""


class _Figures(Collector):
    """One scrape's database counts and the verification counter."""

    def __init__(self, counts: dict[str, int], verifications: Counter[str]) -> None:
        self.counts = counts
        self.verifications = verifications

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("fustor_registry_users", "Users.", value=self.counts["users"])
        yield GaugeMetricFamily("fustor_registry_datastores", "Datastores.", value=self.counts["datastores"])
        api_keys = GaugeMetricFamily("fustor_registry_api_keys", "API keys by state.", labels=["state"])
        api_keys.add_metric(["active"], self.counts["active_keys"])
        api_keys.add_metric(["revoked"], self.counts["revoked_keys"])
        yield api_keys
        checks = CounterMetricFamily(
            "fustor_registry_key_verifications",
            "API keys verified for Fusion, by verdict.",
            labels=["verdict"],
        )
        for verdict in sorted({"valid", "key_unknown", "key_revoked", "key_expired", *self.verifications}):
            checks.add_metric([verdict], self.verifications.get(verdict, 0))
        yield checks


def _counts(connection: Connection) -> dict[str, int]:
    def count(table: type[Any]) -> int:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    keys_total = count(ApiKey)
    revoked = int(
        connection.execute(
            select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_not(None))
        ).scalar_one()
    )
    return {
        "users": count(User),
        "datastores": count(Datastore),
        "active_keys": keys_total - revoked,
        "revoked_keys": revoked,
    }


def metrics_of(request: Request) -> RegistryMetrics:
    metrics: RegistryMetrics = request.app.state.metrics
    return metrics


async def _require_reader(request: Request) -> None:
    """From another host: the service token, or an API key with the ``query`` scope."""
    registry = registry_of(request)
    if registry.is_service_token(bearer_token(request)):
        return
    key = request.headers.get("x-api-key", "")
    if not key or len(key) > MAX_KEY_CHARS:
        raise Unauthorized(
            "metrics from another host need the service token or an API key with the query scope"
        )
    try:
        verdict = await run_in_threadpool(registry.read, lambda connection: keys.verify_key(connection, key))
    except NotFound:
        raise Unauthorized("unknown, revoked or expired API key") from None
    if "query" not in verdict["scopes"]:
        raise Forbidden("this key lacks the 'query' scope")


async def metrics(request: Request) -> Response:
    if not from_loopback(request):
        await _require_reader(request)
    counts = await run_in_threadpool(registry_of(request).read, _counts)
    state = metrics_of(request)
    return Response(
        exposition(state.registry, _Figures(counts, state.verifications)), media_type=CONTENT_TYPE
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        METRICS_PATH,
        metrics,
        "Prometheus metrics (no credential from the loopback interface)",
        "metrics",
        errors=(401, 403),
        media_type=CONTENT_TYPE,
    ),
]
