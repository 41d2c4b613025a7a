"""The agent's Prometheus metrics, read from the pipes' status when scraped.

Nothing is counted for the metrics on the agent's hot paths: the bus, the pipe's counters, the
source's counters and the modes' progress already hold every figure (they are what
``fustor-agent status`` shows); :class:`AgentCollector` turns them into metric families at
scrape time. The families are listed in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from fustor_agent import __version__

if TYPE_CHECKING:
    from fustor_agent.agent import Agent

PIPE_COUNTERS = {
    "rows_sent": ("fustor_agent_rows_sent", "Rows delivered to Fusion."),
    "batches_sent": ("fustor_agent_batches_sent", "Batches delivered to Fusion."),
    "rows_dropped": ("fustor_agent_rows_dropped", "Rows Fusion answered as dropped (its arbitration)."),
    "retries": ("fustor_agent_retries", "Deliveries retried after an error."),
    "realtime_rows_read": ("fustor_agent_realtime_rows_read", "Rows read from realtime events."),
}
"""The pipe counters exported, by the name ``fustor-agent status`` gives them."""


class AgentCollector(Collector):
    """Every pipe's queue, deliveries, source events and modes."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent = self.agent
        info = GaugeMetricFamily(
            "fustor_agent_info", "The agent's id and version (value 1).", labels=["agent_id", "version"]
        )
        info.add_metric([agent.config.agent_id, __version__], 1.0)
        yield info
        families = _PipeFamilies()
        for pipe in agent.pipes:
            families.add(pipe.status())
        yield from families.all()


class _PipeFamilies:
    """The per-pipe families of one scrape."""

    def __init__(self) -> None:
        pipe = ["pipe"]
        self.queue = GaugeMetricFamily(
            "fustor_agent_queue_rows", "Rows waiting in the pipe's bus.", labels=pipe
        )
        self.capacity = GaugeMetricFamily(
            "fustor_agent_queue_capacity_rows", "Rows the bus holds before producers wait.", labels=pipe
        )
        self.peak = GaugeMetricFamily(
            "fustor_agent_queue_peak_rows", "Most rows the bus ever held.", labels=pipe
        )
        self.waits = CounterMetricFamily(
            "fustor_agent_backpressure_waits", "Times a producer waited for room in a full bus.", labels=pipe
        )
        self.wait_seconds = CounterMetricFamily(
            "fustor_agent_backpressure_wait_seconds", "Time producers spent waiting for room.", labels=pipe
        )
        self.counters = {
            key: CounterMetricFamily(name, text, labels=pipe) for key, (name, text) in PIPE_COUNTERS.items()
        }
        self.leader = GaugeMetricFamily(
            "fustor_agent_leader",
            "1 while the pipe's session leads its datastore.",
            labels=["pipe", "datastore"],
        )
        self.overflows = CounterMetricFamily(
            "fustor_agent_inotify_overflows",
            "Times the kernel dropped realtime events (the leader then re-lists the tree).",
            labels=pipe,
        )
        self.source = CounterMetricFamily(
            "fustor_agent_source_events", "The source's own counters, by name.", labels=["pipe", "event"]
        )
        self.stat_errors = CounterMetricFamily(
            "fustor_agent_stat_errors", "Failed stats or listings, by errno name.", labels=["pipe", "errno"]
        )
        modes = ["pipe", "mode"]
        self.runs = CounterMetricFamily(
            "fustor_agent_mode_runs", "Completed runs of each sync mode.", labels=modes
        )
        self.duration = GaugeMetricFamily(
            "fustor_agent_mode_last_duration_seconds",
            "How long the last completed run of a mode took (snapshot, audit).",
            labels=modes,
        )
        self.finished = GaugeMetricFamily(
            "fustor_agent_mode_last_finished_timestamp_seconds",
            "When the last run of a mode finished (Unix time).",
            labels=modes,
        )
        self.scanned = GaugeMetricFamily(
            "fustor_agent_snapshot_scanned_entries",
            "Entries the running snapshot walked so far.",
            labels=pipe,
        )

    def add(self, status: dict[str, Any]) -> None:
        name = status["name"]
        bus = status["bus"]
        self.queue.add_metric([name], bus["depth"])
        self.capacity.add_metric([name], bus["capacity"])
        self.peak.add_metric([name], bus["peak"])
        self.waits.add_metric([name], bus["producer_waits"])
        self.wait_seconds.add_metric([name], bus["producer_wait_s"])
        counters = status["counters"]
        for key, family in self.counters.items():
            family.add_metric([name], counters.get(key, 0))
        self.leader.add_metric([name, status["datastore"]], 1.0 if status["role"] == "leader" else 0.0)
        source = status["source"]["counters"]
        self.overflows.add_metric([name], source.get("overflows", 0))
        for event, count in sorted(source.items()):
            self.source.add_metric([name, event], count)
        for errno, count in sorted(status["stat_errors"].items()):
            self.stat_errors.add_metric([name, errno], count)
        for mode, progress in sorted(status["modes"].items()):
            mode_figures: tuple[tuple[CounterMetricFamily | GaugeMetricFamily, str], ...] = (
                (self.runs, "runs"),
                (self.duration, "last_duration_s"),
                (self.finished, "last_finished_at"),
            )
            for figure, key in mode_figures:
                value = progress.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    figure.add_metric([name, mode], value)
        snapshot = status["modes"].get("snapshot") or {}
        if snapshot.get("state") in ("scanning", "finishing"):
            self.scanned.add_metric([name], int(snapshot.get("files", 0)) + int(snapshot.get("dirs", 0)))

    def all(self) -> Iterator[Metric]:
        yield from (self.queue, self.capacity, self.peak, self.waits, self.wait_seconds)
        yield from self.counters.values()
        yield from (self.leader, self.overflows, self.source, self.stat_errors)
        yield from (self.runs, self.duration, self.finished, self.scanned)
