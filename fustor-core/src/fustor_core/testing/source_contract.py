"""The promises every source driver keeps, as a pytest suite its tests subclass.

A source (the ``fustor_source_drivers`` hook; the protocol is
:class:`fustor_core.agent_api.Source`) subclasses :class:`SourceContract` and provides two
fixtures: ``source`` — a fresh source over a tree the test prepared — and ``listed`` — every
path (``/``-rooted, directories included, the root left out) that tree holds::

    class TestMySource(SourceContract):
        @pytest.fixture
        def listed(self, tmp_path): ...            # make the tree, return its paths

        @pytest.fixture
        def source(self, listed, tmp_path): ...    # a new source over it

The suite checks what the agent and Fusion rely on: scan rows are valid rows, a directory comes
before what it holds, a snapshot and an audit from an empty cache report the whole tree (audit
rows naming their parent), scans end early when ``stop`` is set, ``recheck`` answers each path
at most once (gone paths as gone), ``watch`` calls ``ready()`` and ends once ``stop`` is set, the
status counters are counts, and ``close`` may be called twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from fustor_core.agent_api import RowDict, Source
from fustor_core.event_model import Row

WAIT_S = 10.0
"""How long ``watch`` may take to call ``ready()``, and to end once stopped."""


def _paths(batches: Iterable[list[RowDict]]) -> list[str]:
    rows = [Row.model_validate(row) for batch in batches for row in batch]  # valid rows, or it fails
    seen: set[str] = {"/"}
    for row in rows:
        if row.path != "/":
            parent = row.path.rpartition("/")[0] or "/"
            assert parent in seen, f"{row.path} came before its directory {parent}"
        if row.is_dir:
            seen.add(row.path)
    return [row.path for row in rows]


class SourceContract:
    """Subclass it and provide the ``source`` and ``listed`` fixtures (see the module)."""

    def test_a_snapshot_reports_every_path_once_directories_first(
        self, source: Source, listed: set[str]
    ) -> None:
        paths = _paths(source.snapshot(threading.Event(), 1000, {}))
        assert sorted(p for p in paths if p != "/") == sorted(listed)

    def test_an_audit_from_an_empty_cache_reports_the_whole_tree_naming_parents(
        self, source: Source, listed: set[str]
    ) -> None:
        batches = list(source.audit(threading.Event(), 1000, {}))
        assert {p for p in _paths(batches) if p != "/"} == set(listed)
        for row in (row for batch in batches for row in batch if row["path"] != "/"):
            assert row.get("parent_path") == (row["path"].rpartition("/")[0] or "/"), row

    def test_a_scan_asked_to_stop_ends_early(self, source: Source, listed: set[str]) -> None:
        stop = threading.Event()
        stop.set()
        batches = list(source.snapshot(stop, 1, {}))
        assert len(batches) <= 1, f"{len(batches)} batches after stop was set"

    def test_recheck_answers_each_path_at_most_once_and_gone_paths_as_gone(
        self, source: Source, listed: set[str]
    ) -> None:
        asked = [*sorted(listed), "/no such path"]
        answers = source.recheck(asked)
        answered = [answer["path"] for answer in answers]
        assert len(answered) == len(set(answered)) and set(answered) <= set(asked)
        assert {a["path"]: a["exists"] for a in answers}.get("/no such path", False) is False
        assert all(a["exists"] for a in answers if a["path"] in listed)

    def test_watch_calls_ready_and_ends_once_stopped(self, source: Source) -> None:
        stop, ready, ended = threading.Event(), threading.Event(), threading.Event()

        def run() -> None:
            for _ in source.watch(stop, ready.set, 1000):
                pass
            ended.set()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(WAIT_S), "watch() did not call ready()"
        stop.set()
        assert ended.wait(WAIT_S), "watch() did not end once stop was set"

    def test_status_counters_are_counts_and_close_may_be_called_twice(self, source: Source) -> None:
        for counts in (source.counters(), source.stat_errors()):
            assert all(isinstance(k, str) and isinstance(v, int) for k, v in counts.items())
        assert isinstance(source.uri, str) and source.uri
        source.close()
        source.close()


__all__ = ["SourceContract"]
