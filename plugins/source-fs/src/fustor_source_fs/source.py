"""The file-system source: one watched root, read in four ways (realtime, snapshot, audit, recheck)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fustor_core.agent_api import DirCache, EventsLost, RealtimeItem, RowDict, SentinelCheck
from fustor_core.config import parse_config
from fustor_core.errors import ConfigError
from fustor_core.logs import log_event
from fustor_source_fs.counters import Counters
from fustor_source_fs.listing import ListingWalk
from fustor_source_fs.options import FsSourceOptions
from fustor_source_fs.problems import Problems
from fustor_source_fs.realtime import TreeWatcher
from fustor_source_fs.recheck import recheck_paths

logger = logging.getLogger(__name__)

_PROGRESS_COUNTERS = frozenset(
    {"entries", "dirs_listed", "dirs_skipped", "dirs_deep_checked", "vanished", "rechecked"}
)


class FsSource:
    """Implements :class:`fustor_core.agent_api.Source` for a local or NFS-mounted directory."""

    def __init__(self, options: FsSourceOptions) -> None:
        root = os.path.realpath(os.path.expanduser(options.path))
        if not os.path.isdir(root):
            raise ConfigError(f"source.path: {options.path!r} is not a directory")
        self.root = root
        self.options = options
        self.uri = f"fs://{root}"
        self._counters = Counters()
        self._stat_errors = Counters()
        self._watcher: TreeWatcher | None = None
        self._watch_runs = 0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FsSource:
        """The factory registered for ``driver: fs``: validates the pipe's source section."""
        return cls(parse_config(FsSourceOptions, config, source="source"))

    # -- realtime ----------------------------------------------------------------------------

    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int = 1000
    ) -> Iterator[list[RealtimeItem]]:
        watcher = TreeWatcher(
            self.root,
            self._counters,
            stat_errors=self._stat_errors,
            settle_s=self.options.settle_ms / 1000,
            max_delay_s=self.options.max_delay_ms / 1000,
            batch_size=batch_size,
        )
        self._watcher = watcher
        self._watch_runs += 1
        try:
            started = time.monotonic()
            watcher.watch_tree(stop)
            log_event(
                logger,
                logging.INFO,
                "realtime watching",
                root=self.root,
                watched_dirs=len(watcher.wd_to_path),
                setup_s=round(time.monotonic() - started, 3),
            )
            ready()
            if self._watch_runs > 1:  # restarted: whatever happened while it was down is unseen
                yield [EventsLost(("/",), "realtime_restarted")]
            yield from watcher.changes(stop)
        finally:
            self._watcher = None
            watcher.close()

    # -- scans -------------------------------------------------------------------------------

    def snapshot(
        self, stop: threading.Event, batch_size: int, dir_cache: DirCache
    ) -> Iterator[list[RowDict]]:
        self._counters.add("snapshot_walks")
        walk = ListingWalk(
            self.root,
            dir_cache,
            self._problems("snapshot"),
            batch_size=batch_size,
            racy_window_s=self.options.racy_window_s,
            skip_unchanged=False,
        )
        return self._scan("snapshot", walk, stop)

    def audit(
        self,
        stop: threading.Event,
        batch_size: int,
        dir_cache: DirCache,
        deep: Callable[[str], bool] | None = None,
    ) -> Iterator[list[RowDict]]:
        self._counters.add("audit_walks")
        walk = ListingWalk(
            self.root,
            dir_cache,
            self._problems("audit"),
            batch_size=batch_size,
            racy_window_s=self.options.racy_window_s,
            deep=deep,
        )
        return self._scan("audit", walk, stop)

    def relist(
        self, stop: threading.Event, batch_size: int, dir_cache: DirCache, path: str
    ) -> Iterator[list[RowDict]]:
        parts = path.split("/")
        if not path.startswith("/") or any(part in (".", "..") for part in parts) or "\0" in path:
            raise ValueError(f"not a datastore path: {path!r}")
        self._counters.add("relists")
        walk = ListingWalk(
            self.root,
            dir_cache,
            self._problems("relist"),
            batch_size=batch_size,
            racy_window_s=self.options.racy_window_s,
            skip_unchanged=False,
            start=path.rstrip("/") or "/",
            synced=True,
        )
        return self._scan("relist", walk, stop)

    def _problems(self, walk: str) -> Problems:
        return Problems(walk, self._counters, self._stat_errors)

    def _scan(self, name: str, walk: ListingWalk, stop: threading.Event) -> Iterator[list[RowDict]]:
        problems = walk.problems
        try:
            for rows in walk.run(stop):
                self._watch_found_directories(rows)
                yield rows
                problems.merge()
        finally:
            self._summarise(name, problems)

    def _watch_found_directories(self, rows: list[RowDict]) -> None:
        """Directories a scan reports must be watched, even if no event here announced them."""
        watcher = self._watcher
        if watcher is None:
            return
        for row in rows:
            if row.get("is_dir"):
                watcher.watch_found_directory(row["path"])

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        self._counters.add("rechecks")
        problems = self._problems("sentinel")
        try:
            return recheck_paths(self.root, paths, problems)
        finally:
            problems.flush()

    def _summarise(self, walk: str, problems: Problems) -> None:
        skipped = {k: v for k, v in problems.flush().items() if k not in _PROGRESS_COUNTERS}
        if skipped:
            log_event(logger, logging.WARNING, f"{walk} skipped entries", root=self.root, **skipped)

    # -- status ------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        return self._counters.snapshot()

    def stat_errors(self) -> dict[str, int]:
        return self._stat_errors.snapshot()

    def close(self) -> None:
        """Nothing to release: watchers live and die with :meth:`watch`."""
