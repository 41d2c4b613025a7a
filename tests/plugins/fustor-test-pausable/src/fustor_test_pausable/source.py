"""The ``pausable`` source driver: another source whose scans can be held back on one row.

A race between a scan and a realtime delete — the scan lists a file, the file is deleted, the
scan's now stale row reaches Fusion after the delete — cannot be forced by timing on real
processes. This wrapper forces it: when the test armed the gate for a scan and a path, the scan
holds back the batch holding that path's row until the test says go. It keys on the row's path
inside whatever batches the wrapped source yields, so it does not depend on their shape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pluggy
from pydantic import Field

from fustor_core.agent_api import RealtimeItem, RowDict, SentinelCheck, Source
from fustor_core.config import FustorConfig, parse_config
from fustor_core.errors import ConfigError
from fustor_core.logs import log_event
from fustor_core.plugins import get_plugin_manager, require_registry
from fustor_test_pausable.gate import Gate

logger = logging.getLogger(__name__)

DRIVER = "pausable"


class PausableOptions(FustorConfig):
    """The ``source:`` section of a pipe for ``driver: pausable``."""

    gate: str
    """Directory the test and this driver talk through (see :mod:`fustor_test_pausable.gate`)."""
    inner: dict[str, Any]
    """The wrapped source's section, ``{driver: fs, path: ...}``, as it would be written alone."""
    max_hold_s: float = Field(default=120.0, gt=0)
    """Let a held batch go after this long even without a release, so no agent stays wedged."""


class PausableSource:
    """Implements :class:`fustor_core.agent_api.Source` by delegating to ``inner``; only the
    snapshot and audit walks pass through the gate."""

    def __init__(self, inner: Source, gate: Gate, *, max_hold_s: float = 120.0) -> None:
        self.inner = inner
        self.gate = gate
        self.max_hold_s = max_hold_s
        self.uri = inner.uri
        self._pauses = 0

    @classmethod
    def from_config(
        cls, config: dict[str, Any], *, plugin_manager: pluggy.PluginManager | None = None
    ) -> PausableSource:
        """The factory registered for ``driver: pausable``; the inner driver is found through the
        entry points like any other (``plugin_manager`` only for tests)."""
        options = parse_config(PausableOptions, config, source="source")
        inner_section = dict(options.inner)
        name = inner_section.pop("driver", None)
        if not isinstance(name, str) or name == DRIVER:
            raise ConfigError("source.inner.driver: name the wrapped source driver (not 'pausable')")
        drivers = require_registry(
            plugin_manager or get_plugin_manager(), "fustor_source_drivers", "source driver"
        )
        factory = drivers.get(name)
        if factory is None:
            raise ConfigError(f"source.inner.driver: no source driver {name!r} is installed")
        inner: Source = factory(inner_section)
        return cls(inner, Gate(options.gate), max_hold_s=options.max_hold_s)

    # -- scans: through the gate ------------------------------------------------------------

    def snapshot(self, stop: threading.Event, *args: Any, **kwargs: Any) -> Iterator[list[RowDict]]:
        return self._gated("snapshot", stop, self.inner.snapshot(stop, *args, **kwargs))

    def audit(self, stop: threading.Event, *args: Any, **kwargs: Any) -> Iterator[list[RowDict]]:
        return self._gated("audit", stop, self.inner.audit(stop, *args, **kwargs))

    def _gated(
        self, scan: str, stop: threading.Event, batches: Iterator[list[RowDict]]
    ) -> Iterator[list[RowDict]]:
        victim = self.gate.take_arm(scan)
        if victim is None:
            yield from batches
            return
        met = False
        for rows in batches:
            if not met and any(row.get("path") == victim for row in rows):
                met = True
                if not self._hold(scan, victim, rows, stop):
                    return
            yield rows
        if not met and not stop.is_set():
            self.gate.announce_missed(scan, victim)
            log_event(logger, logging.WARNING, "armed scan never met its row", scan=scan, path=victim)

    def _hold(self, scan: str, victim: str, rows: list[RowDict], stop: threading.Event) -> bool:
        """Hold ``rows`` until released; False when the scan was stopped meanwhile."""
        self._pauses += 1
        self.gate.announce_paused(scan, victim, len(rows))
        log_event(logger, logging.INFO, "scan paused", scan=scan, path=victim, rows_held=len(rows))
        released = self.gate.wait_release(stop, self.max_hold_s)
        if stop.is_set():
            return False
        if not released:
            log_event(logger, logging.WARNING, "scan released by timeout", scan=scan, after_s=self.max_hold_s)
        return True

    # -- everything else: the inner source's ------------------------------------------------

    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int
    ) -> Iterator[list[RealtimeItem]]:
        return self.inner.watch(stop, ready, batch_size)

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        return self.inner.recheck(paths)

    def counters(self) -> dict[str, int]:
        return {**self.inner.counters(), "scan_pauses": self._pauses}

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        """Whatever else a newer Source offers is the inner source's, untouched."""
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


__all__ = ["DRIVER", "PausableOptions", "PausableSource"]
