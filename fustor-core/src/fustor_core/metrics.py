"""Prometheus metrics shared by the three services: who may scrape, request timing, exposition.

Each service serves ``GET /metrics`` in the Prometheus text format. Most figures are not counted
on the hot paths: a service registers *collectors* that read the stats it already keeps (the
view's counters, the agent's bus, ...) when Prometheus scrapes, so ingest pays nothing for them.
The few figures that exist only as events — how long a request or a batch took — are histograms
observed once per request or batch.

Names follow the Prometheus conventions: a ``fustor_`` prefix, base units (seconds, bytes),
``_total`` on counters, and labels that stay few (a route's *template*, never a request's path).

Who may scrape: a client on the loopback interface (Prometheus or node tooling on the same host)
needs no credential; from anywhere else each service asks for its read credential (Fusion: an
API key with the ``query`` scope; the Registry: the same, or its service token; the agent: its
``api.token``). That rule lives in :func:`from_loopback`; each service applies it to its own
credential.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

disable_created_metrics()
"""No ``*_created`` series beside every counter and histogram: they double the series count and
tell nothing a restart of the process does not (``process_start_time_seconds``)."""

METRICS_PATH = "/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The text exposition format's media type (``text/plain; version=...``), as prometheus_client
writes it."""

REQUEST_SECONDS_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""From half a millisecond (a cached small query) to ten seconds (a large page under load)."""

Answer = TypeVar("Answer")


def from_loopback(request: Any) -> bool:
    """True when the client of ``request`` (a Starlette request) connected over the loopback
    interface (127.0.0.0/8, ::1)."""
    client = getattr(request, "client", None)
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class RequestTimer:
    """``fustor_http_request_duration_seconds{method, route}``: one observation per request.

    ``route`` is the route's template (``/api/v1/views/{ds}/tree``), so the number of series is
    bounded by the route table whatever clients ask for. Failed requests are timed too.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "fustor_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=registry,
            buckets=REQUEST_SECONDS_BUCKETS,
        )

    def timed(
        self, method: str, route: str, handler: Callable[[Any], Awaitable[Answer]]
    ) -> Callable[[Any], Awaitable[Answer]]:
        """``handler`` (a request handler), observing how long each call takes."""
        observe = self.histogram.labels(method=method, route=route).observe

        async def timed_handler(request: Any) -> Answer:
            started = time.perf_counter()
            try:
                return await handler(request)
            finally:
                observe(time.perf_counter() - started)

        timed_handler.__name__ = getattr(handler, "__name__", "handler")
        timed_handler.__doc__ = getattr(handler, "__doc__", None)
        return timed_handler


class _Together(Collector):
    """Several collectors scraped as one (what :func:`generate_latest` takes)."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*collectors: Collector) -> bytes:
    """The body of a scrape's answer (media type :data:`CONTENT_TYPE`): every metric of
    ``collectors`` in the text format."""
    return generate_latest(_Together(collectors))


def new_registry() -> CollectorRegistry:
    """A registry of one application, with the process's own figures (``process_*``: CPU, memory,
    open files, start time). Never the process-wide default: tests run many apps in one process,
    and each must count only its own."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Every sample of a scrape by (sample name, labels)."""


def parse_samples(text: str) -> Samples:
    """Parse a scrape's text with ``prometheus_client.parser`` (tests and tools).

    Raises ValueError when the text is not valid exposition format.
    """
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels``, or None when there is none."""
    return samples.get((name, frozenset(labels.items())))
