"""The shared list type and the batch verdict object behave as rules rely on."""

from fustor_core.arbitration import Batch, MissingCandidates, NodeInfo, is_under, parent_of
from fustor_core.event_model import Event, Row
from fustor_core.pathlist import PathList


def test_discard_under_removes_a_subtree_but_not_lookalike_siblings() -> None:
    entries = PathList()
    for path in ["/a", "/a/b", "/a/b/c", "/ab", "/z"]:
        entries.put(path, mtime=1.0)
    assert entries.discard_under("/a") == 3
    assert sorted(entries) == ["/ab", "/z"]


def test_page_is_sorted_by_path_and_resumes_after_the_cursor() -> None:
    entries = PathList()
    for path in ["/c", "/a", "/b", "/d"]:
        entries.put(path, n=1)
    first = entries.page(limit=2)
    assert [e["path"] for e in first] == ["/a", "/b"]
    entries.discard("/a")
    entries.put("/bb", n=2)
    rest = entries.page(after=first[-1]["path"], limit=10)
    assert [e["path"] for e in rest] == ["/bb", "/c", "/d"]


def test_path_helpers() -> None:
    assert parent_of("/a/b") == "/a"
    assert parent_of("/a") == "/"
    assert is_under("/a/b", "/a") and is_under("/a", "/a") and not is_under("/ab", "/a")
    assert is_under("/anything", "/")


def _batch(paths: list[str]) -> tuple[Batch, list[list[str]]]:
    calls: list[list[str]] = []

    def lookup(ps):  # type: ignore[no-untyped-def]
        calls.append(list(ps))
        return [NodeInfo(False, 1, 1.0, 0.0) if p == "/known" else None for p in ps]

    event = Event(message_source="snapshot", event_type="insert", index=0, rows=[Row(path=p) for p in paths])
    return Batch(event, lookup=lookup), calls


def test_batch_first_drop_reason_wins_and_is_counted() -> None:
    batch, _ = _batch(["/a", "/b", "/c"])
    batch.drop(1, "tombstoned")
    batch.drop(1, "older_than_tree")
    batch.skip(2)
    assert batch.dropped == {1: "tombstoned"}
    assert batch.to_write() == [0]
    assert list(batch.kept()) == [0, 2]
    assert batch.drop_reasons() == {"tombstoned": 1}


def test_batch_lookups_happen_once_however_many_rules_ask() -> None:
    batch, calls = _batch(["/known", "/new"])
    assert batch.existing()[0] is not None and batch.existing()[1] is None
    batch.existing()
    assert calls == [["/known", "/new"]]
    batch.parents()
    assert calls[1] == ["/", "/"]


def test_missing_candidates_keep_protects_with_a_reason() -> None:
    info = NodeInfo(False, 0, 0.0, 0.0)
    candidates = MissingCandidates(["/a", "/b"], [info, info])
    candidates.keep("/a", "tombstoned")
    candidates.keep("/a", "other")
    assert candidates.to_delete() == ["/b"]
    assert candidates.kept == {"/a": "tombstoned"}
