"""Fusion's Prometheus metrics, read from the stats the service already keeps when scraped.

Only two figures are observed as they happen (histograms): how long a request took, by route
template (:class:`fustor_core.metrics.RequestTimer`), and how long a batch took to apply, by
datastore. Everything else — rows ingested and dropped, the view's sizes, the rules' lists,
sessions, the journal, the Registry key cache — is read from the objects that count it anyway,
by :class:`FusionCollector`, at scrape time. The families are listed in docs/operations.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from fustor_core.metrics import RequestTimer, new_registry

if TYPE_CHECKING:
    from fustor_fusion.service import FusionService

BATCH_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""A batch of a few thousand rows applies in milliseconds; seconds mean trouble."""


class FusionMetrics:
    """The application's registry and the figures observed as they happen."""

    def __init__(self) -> None:
        self.registry: CollectorRegistry = new_registry()
        self.requests = RequestTimer(self.registry)
        self.batch_seconds = Histogram(
            "fustor_batch_apply_seconds",
            "Time to arbitrate and apply one batch of events (under the datastore's write lock).",
            ["datastore"],
            registry=self.registry,
            buckets=BATCH_SECONDS_BUCKETS,
        )


class FusionCollector(Collector):
    """Every gauge and counter of a Fusion, read from its datastores when scraped."""

    def __init__(self, service: FusionService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        labels = ["datastore"]
        ready = GaugeMetricFamily(
            "fustor_view_ready", "1 once the view is loaded and serving.", labels=labels
        )
        ingested = CounterMetricFamily(
            "fustor_rows_ingested", "Rows applied to the view (new or changed entries).", labels=labels
        )
        unchanged = CounterMetricFamily(
            "fustor_rows_unchanged", "Rows that matched the view already (nothing to change).", labels=labels
        )
        dropped = CounterMetricFamily(
            "fustor_rows_dropped",
            "Rows refused, by reason (a rule's verdict, validation, a follower's scan rows).",
            labels=["datastore", "reason"],
        )
        files = GaugeMetricFamily("fustor_view_files", "Files in the view.", labels=labels)
        dirs = GaugeMetricFamily("fustor_view_dirs", "Directories in the view.", labels=labels)
        size = GaugeMetricFamily("fustor_view_bytes", "Sum of the files' sizes in the view.", labels=labels)
        entries = GaugeMetricFamily(
            "fustor_view_list_entries",
            "Entries of each list the rules keep (suspects, tombstones, blind_spot_additions, ...).",
            labels=["datastore", "list"],
        )
        evicted = CounterMetricFamily(
            "fustor_view_list_evicted", "Entries a list's bound evicted.", labels=["datastore", "list"]
        )
        scans = GaugeMetricFamily(
            "fustor_view_scan_running",
            "1 while the leader's snapshot or audit runs.",
            labels=["datastore", "scan"],
        )
        scan_end = GaugeMetricFamily(
            "fustor_view_scan_last_end_timestamp_seconds",
            "When the last snapshot or audit ended (Unix time).",
            labels=["datastore", "scan"],
        )
        skew = GaugeMetricFamily(
            "fustor_view_clock_skew_seconds", "Estimated skew of the sources' clocks.", labels=labels
        )
        sessions = GaugeMetricFamily(
            "fustor_sessions", "Live ingest sessions by role.", labels=["datastore", "role"]
        )
        pending = GaugeMetricFamily(
            "fustor_journal_pending_records", "Journal records not yet durable.", labels=labels
        )
        appends = CounterMetricFamily("fustor_journal_appends", "Journal appends.", labels=labels)
        snapshots = CounterMetricFamily(
            "fustor_journal_snapshots_written", "View snapshots written to the journal.", labels=labels
        )
        for name, datastore in sorted(service.datastores.items()):
            ready.add_metric([name], 1.0 if datastore.ready else 0.0)
            view = datastore.view
            counters = view.counters
            ingested.add_metric([name], counters.accepted)
            unchanged.add_metric([name], counters.unchanged)
            reasons: Counter[str] = Counter(counters.by_reason)
            reasons.update(datastore.refused)
            for reason, count in sorted(reasons.items()):
                dropped.add_metric([name, reason], count)
            totals = view.store.totals()
            files.add_metric([name], totals.files)
            dirs.add_metric([name], totals.dirs)
            size.add_metric([name], totals.bytes)
            for listed in view.lists():
                entries.add_metric([name, listed["name"]], listed["entries"])
                evicted.add_metric([name, listed["name"]], listed["evicted"])
            for scan, running, ended in (
                ("snapshot", view.snapshot is not None, view.last_snapshot_end),
                ("audit", view.audit is not None, view.last_audit_end),
            ):
                scans.add_metric([name, scan], 1.0 if running else 0.0)
                if ended is not None:
                    scan_end.add_metric([name, scan], ended)
            skew.add_metric([name], view.clock.skew)
            roles = Counter(str(session.role) for session in datastore.sessions.live())
            for role in ("leader", "follower"):
                sessions.add_metric([name, role], roles.get(role, 0))
            writer = datastore.durability.writer
            if writer is not None:
                pending.add_metric([name], writer.pending)
                appends.add_metric([name], writer.appends)
                snapshots.add_metric([name], datastore.durability.snapshots_written)
        yield from (ready, ingested, unchanged, dropped, files, dirs, size, entries, evicted, scans, scan_end)
        yield from (skew, sessions, pending, appends, snapshots)
        yield from self._cluster(service)
        if service.registry is not None:
            checker = service.registry.registry
            checks = CounterMetricFamily(
                "fustor_registry_key_checks",
                "API key checks answered from the cache (hit) or by asking the Registry (miss).",
                labels=["result"],
            )
            checks.add_metric(["hit"], checker.cache_hits)
            checks.add_metric(["miss"], checker.cache_misses)
            yield checks

    @staticmethod
    def _cluster(service: FusionService) -> Iterator[Metric]:
        """Each clustered view's role, lag and takeovers (nothing without a cluster)."""
        clustered = [(name, d) for name, d in sorted(service.datastores.items()) if d.cluster is not None]
        if not clustered:
            return
        labels = ["datastore"]
        owner = GaugeMetricFamily(
            "fustor_cluster_view_owner",
            "1 while this node owns the view, 0 while it is a replica.",
            labels=labels,
        )
        lag_records = GaugeMetricFamily(
            "fustor_cluster_lag_records", "Journal records this node has not applied yet.", labels=labels
        )
        lag_seconds = GaugeMetricFamily(
            "fustor_cluster_lag_seconds",
            "Age of the oldest journal record this node has not applied yet (0 when caught up).",
            labels=labels,
        )
        takeovers = CounterMetricFamily(
            "fustor_cluster_takeovers", "Times this node took the view over since it started.", labels=labels
        )
        for name, datastore in clustered:
            role = datastore.describe_role()
            owner.add_metric([name], 1.0 if role["role"] == "owner" else 0.0)
            lag_records.add_metric([name], role["lag_records"])
            lag_seconds.add_metric([name], role["lag_s"])
            takeovers.add_metric([name], role["takeovers"])
        yield from (owner, lag_records, lag_seconds, takeovers)


class OnlyDatastore(Collector):
    """The samples of ``collectors`` that concern one datastore (or none in particular).

    A key with the ``query`` scope reads its own datastore; scraped with such a key from
    another host, the metrics of the other datastores this Fusion serves are left out.
    """

    def __init__(self, datastore: str, collectors: Iterable[Collector]) -> None:
        self.datastore = datastore
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            for metric in collector.collect():
                metric.samples = [
                    sample
                    for sample in metric.samples
                    if sample.labels.get("datastore", self.datastore) == self.datastore
                ]
                yield metric
