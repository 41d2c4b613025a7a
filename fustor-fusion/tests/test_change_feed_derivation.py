"""The change feed is derivable from the journal alone, and complete.

The random scenarios of ``test_journal_replay`` drive a view through every kind of input while
its records are kept as the journal keeps them. The feed entries are then read back from those
records only (as a restarted Fusion or a replica following the journal reads them) and applied,
in order, to an empty mirror: the mirror must hold every file of the live tree with its state
*and its flags* — so every write, deletion (a directory with its subtree) and flag transition
(suspects marked and expired, blind spots found and forgotten) was an entry — and the entries'
numbers must follow on without a gap or a repeat.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_journal_replay import Scenario

from fustor_core.arbitration import is_under
from fustor_fusion.feed.changelog import _published
from fustor_fusion.feed.outcome import Entry
from fustor_fusion.journaling.recording import JournaledView

FLAGS = ("integrity_suspect", "agent_missing")


def entries_from_records(scenario: Scenario) -> list[Entry]:
    entries: list[Entry] = []
    for record in scenario.records:
        published = _published(record)
        if published is not None:
            assert len(published.entries) == published.count
            entries.extend(published.entries)
    return entries


def apply(entries: list[Entry]) -> dict[str, dict[str, Any]]:
    mirror: dict[str, dict[str, Any]] = {}
    for entry in entries:
        change = entry.as_json()
        if change["op"] == "delete":
            for path in [p for p in mirror if is_under(p, change["path"])]:
                del mirror[path]
        else:
            mirror[change["path"]] = {k: change[k] for k in ("is_dir", "size", "mtime", *FLAGS)}
    return mirror


def live_nodes(view: JournaledView) -> dict[str, dict[str, Any]]:
    flags = view.flags()
    nodes: dict[str, dict[str, Any]] = {}
    pending = ["/"]
    while pending:
        directory = pending.pop()
        for name, info in (view.store.listing(directory) or {}).items():
            path = f"/{name}" if directory == "/" else f"{directory}/{name}"
            nodes[path] = {
                "is_dir": info.is_dir,
                "size": info.size,
                "mtime": info.mtime,
                **{flag: flags[flag](path) for flag in FLAGS},
            }
            if info.is_dir:
                pending.append(path)
    return nodes


@pytest.mark.parametrize("seed", range(12))
def test_entries_read_back_from_the_journal_rebuild_the_tree_and_its_flags(seed: int) -> None:
    scenario = Scenario(seed)
    transitions = 0
    for _ in range(300):
        scenario.step()
    entries = entries_from_records(scenario)
    assert [e.number for e in entries] == list(range(1, len(entries) + 1))
    assert scenario.view.change_tracker.next_number == len(entries) + 1

    mirror, live = apply(entries), live_nodes(scenario.view)
    files = {path: node for path, node in live.items() if not node["is_dir"]}
    assert {p: n for p, n in mirror.items() if not n["is_dir"]} == files
    for path, node in mirror.items():  # directories: those reported (others exist implicitly)
        assert live.get(path) == node, path
    transitions = sum(1 for e in entries if e.op == "upsert" and e.flag_bits)
    assert transitions, "the scenario raised some flag"
    assert any(e.op == "delete" for e in entries)
