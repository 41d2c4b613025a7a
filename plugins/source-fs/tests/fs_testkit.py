"""Helpers for the file-system source tests: real directories, real walks, real inotify."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fustor_core.agent_api import EventsLost
from fustor_core.testing import wait_for
from fustor_source_fs import FsSource, FsSourceOptions


def make_source(root: Path, **options: Any) -> FsSource:
    return FsSource(FsSourceOptions(path=str(root), **options))


def rows_by_path(batches: Iterable[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for row in batch:
            assert row["path"] not in rows, f"{row['path']} sent twice"
            rows[row["path"]] = row
    return rows


def make_deep_chain(root: Path, depth: int, name: str = "d") -> str:
    """``root/d/d/.../d`` (``depth`` levels), made iteratively (``os.makedirs`` recurses)."""
    path = str(root)
    for _ in range(depth):
        path = os.path.join(path, name)
        os.mkdir(path)
    return path


def remove_tree(root: Path) -> None:
    """Delete a tree however deep (``shutil.rmtree`` recurses and fails on very deep trees)."""
    dirs: list[str] = []
    stack = [str(root)]
    while stack:
        path = stack.pop()
        os.chmod(path, 0o755)
        dirs.append(path)
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for path in reversed(dirs):
        os.rmdir(path)


def age_tree(root: Path, seconds: float = 3600) -> None:
    """Set every directory's mtime into the past (out of the audit's racy window)."""
    past = time.time() - seconds
    stack = [str(root)]  # iterative: os.walk recurses on Python 3.11
    while stack:
        path = stack.pop()
        with os.scandir(path) as entries:
            stack.extend(entry.path for entry in entries if entry.is_dir(follow_symlinks=False))
        os.utime(path, (past, past))


class WatchRecorder:
    """Runs ``source.watch`` in a thread and records every realtime event (and every
    :class:`EventsLost` in ``lost``)."""

    def __init__(self, source: FsSource, batch_size: int = 1000) -> None:
        self.source = source
        self.batch_size = batch_size
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.events: list[Any] = []
        self.lost: list[EventsLost] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for items in self.source.watch(self.stop, self.ready.set, self.batch_size):
                with self._lock:
                    for item in items:
                        (self.lost if isinstance(item, EventsLost) else self.events).append(item)
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    def __enter__(self) -> WatchRecorder:
        self.thread.start()
        assert self.ready.wait(10), "the watcher never became ready"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()

    def rows(self, event_type: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [
                (event.event_type, row)
                for event in self.events
                for row in event.rows
                if event_type is None or event.event_type == event_type
            ]

    def paths(self, event_type: str) -> set[str]:
        return {row["path"] for _, row in self.rows(event_type)}

    def wait_path(self, event_type: str, path: str, timeout: float = 5.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for _kind, row in self.rows(event_type):
                if row["path"] == path:
                    return row
            return None

        return wait_for(find, timeout, f"{event_type} of {path}")  # type: ignore[no-any-return]
