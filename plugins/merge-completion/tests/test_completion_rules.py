"""The completion rule, hook by hook, on core's fake view (time moves by hand)."""

from __future__ import annotations

from fustor_core.arbitration import NodeInfo
from fustor_core.pathlist import PathList
from fustor_core.testing import T0, DictStore, RuleHarness
from fustor_merge_completion.rebuild import rebuild_from_tree

from .conftest import MakeHarness

OLD = T0 - 3600


def complete(h: RuleHarness, path: str) -> bool:
    return h.flags()["complete"](path)


def scan_upload(h: RuleHarness, source: str = "snapshot", mtime: float = OLD) -> None:
    """A scan lists /run1 (two files) and its subdirectory /run1/sub (one file)."""
    row = h.row
    h.send(source, "insert", row("/", mtime, is_dir=True))
    h.send(
        source,
        "insert",
        row("/run1", mtime, is_dir=True),
        row("/run1/a.bin", mtime),
        row("/run1/b.bin", mtime),
    )
    h.send(source, "insert", row("/run1/sub", mtime, is_dir=True), row("/run1/sub/c.bin", mtime))


def advance(h: RuleHarness, seconds: float) -> None:
    h.view.clock.t += seconds
    h.tick()


# -- markers -------------------------------------------------------------------------------------


def test_a_marker_completes_its_directory_at_once(make_harness: MakeHarness) -> None:
    h = make_harness(markers=["RTAComplete.txt", "*.done"])
    scan_upload(h)
    assert not complete(h, "/run1")
    h.send("realtime", "insert", h.row("/run1/RTAComplete.txt", T0))
    assert complete(h, "/run1")  # decided with the batch, no tick needed
    assert not complete(h, "/run1/sub")  # no marker of its own
    assert not complete(h, "/run1/a.bin")  # files are not uploads
    assert h.view.lists["complete"].get("/run1") == {"since": T0, "how": "marker"}
    assert h.stats()["uploads_complete"] == 1


def test_only_names_matching_a_glob_are_markers(make_harness: MakeHarness) -> None:
    h = make_harness(markers=["*.done"])
    scan_upload(h)
    h.send("realtime", "insert", h.row("/run1/sub/copy.done.tmp", T0))
    assert not complete(h, "/run1/sub")
    h.send("realtime", "insert", h.row("/run1/sub/copy.done", T0))
    assert complete(h, "/run1/sub")
    assert not complete(h, "/run1")


def test_a_write_after_the_marker_flips_it_back_until_a_newer_marker(make_harness: MakeHarness) -> None:
    h = make_harness(markers=["CopyComplete.txt"])
    scan_upload(h)
    h.send("realtime", "insert", h.row("/run1/CopyComplete.txt", T0))
    assert complete(h, "/run1")
    h.view.clock.t += 5
    h.send("realtime", "insert", h.row("/run1/sub/late.bin", T0 + 5))
    assert not complete(h, "/run1")
    assert h.stats()["uploads_complete"] == 0
    h.view.clock.t += 5
    h.send("realtime", "update", h.row("/run1/CopyComplete.txt", T0 + 10))
    assert complete(h, "/run1")


def test_a_scanned_run_with_its_marker_is_complete_whatever_the_row_order(make_harness: MakeHarness) -> None:
    h = make_harness(markers=["RTAComplete.txt"])
    row = h.row
    h.send("snapshot", "insert", row("/run1", OLD, is_dir=True), row("/run1/RTAComplete.txt", OLD + 10))
    h.send("snapshot", "insert", row("/run1/sub", OLD, is_dir=True), row("/run1/sub/c.bin", OLD + 5))
    assert complete(h, "/run1")  # the data is older than the marker, though it arrived later


def test_deleting_the_marker_or_the_upload_undoes_completion(make_harness: MakeHarness) -> None:
    h = make_harness(markers=["*.done"])
    scan_upload(h)
    h.send("realtime", "insert", h.row("/run1/x.done", T0))
    assert complete(h, "/run1")
    h.send("realtime", "delete", h.row("/run1/x.done", T0))
    assert not complete(h, "/run1")
    h.send("realtime", "insert", h.row("/run1/y.done", T0 + 1))
    assert complete(h, "/run1")
    h.send("realtime", "delete", h.row("/run1", T0 + 2, is_dir=True))
    assert not complete(h, "/run1")
    assert h.stats() == {"uploads_complete": 0, "uploads_incomplete": 0, "completion_pending": 0}


# -- settling ------------------------------------------------------------------------------------


def test_a_scanned_upload_completes_once_it_settled(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h, mtime=T0 - 4)
    h.tick()
    assert not complete(h, "/run1")
    assert h.stats()["uploads_incomplete"] == 1
    advance(h, 5)
    assert not complete(h, "/run1")
    advance(h, 1)
    assert complete(h, "/run1") and complete(h, "/run1/sub") and complete(h, "/")
    assert h.view.lists["complete"].get("/run1") == {"since": T0 + 6, "how": "settled"}
    assert h.stats() == {"uploads_complete": 1, "uploads_incomplete": 0, "completion_pending": 0}


def test_an_old_tree_found_by_a_snapshot_is_complete_at_the_first_tick(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=60)
    scan_upload(h)
    h.tick()
    assert complete(h, "/run1")


def test_a_realtime_write_flips_it_back_and_it_settles_again(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    assert complete(h, "/run1")
    h.send("realtime", "update", h.row("/run1/sub/c.bin", OLD))  # same old mtime (cp -p): still a write
    assert not complete(h, "/run1") and not complete(h, "/run1/sub") and not complete(h, "/")
    assert h.view.lists["complete"].get("/run1") is None
    advance(h, 9)
    assert not complete(h, "/run1")
    advance(h, 2)
    assert complete(h, "/run1")


def test_a_suspect_below_holds_completion_until_it_is_released(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10, recheck_s=2)
    suspects = PathList()
    h.view.register_list("suspects", suspects)  # what the suspect rule publishes
    scan_upload(h)
    suspects.put("/run1/sub/c.bin")
    suspects.put("/run10/z.bin")  # a neighbour whose name extends /run1's: not below it
    h.tick()
    assert not complete(h, "/run1") and not complete(h, "/run1/sub")
    suspects.discard("/run1/sub/c.bin")
    advance(h, 1)
    assert not complete(h, "/run1")  # looked at again only after recheck_s
    advance(h, 1)
    assert complete(h, "/run1") and complete(h, "/run1/sub")
    assert not complete(h, "/")  # /run10/z.bin is still suspect


def test_a_suspect_directly_in_the_directory_counts(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=0)
    suspects = PathList()
    h.view.register_list("suspects", suspects)
    scan_upload(h)
    suspects.put("/run1/a.bin")
    h.tick()
    assert not complete(h, "/run1") and complete(h, "/run1/sub")


def test_a_directory_made_by_realtime_waits_for_a_listing(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    h.send("realtime", "insert", h.row("/run1/new", T0, is_dir=True, parent_path="/run1", parent_mtime=T0))
    h.send("realtime", "insert", h.row("/run1/new/d.bin", T0, parent_path="/run1/new", parent_mtime=T0))
    advance(h, 60)
    assert not complete(h, "/run1") and not complete(h, "/run1/new")
    assert complete(h, "/run1/sub")  # untouched
    h.start_audit()
    h.send("audit", "insert", h.row("/run1", T0, is_dir=True))
    h.send("audit", "insert", h.row("/run1/new", T0, is_dir=True), h.row("/run1/new/d.bin", T0))
    assert not complete(h, "/run1")
    h.tick()
    assert complete(h, "/run1") and complete(h, "/run1/new")


def test_a_directory_whose_mtime_realtime_saw_change_waits_for_a_listing(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    # a file appeared in /run1/sub: its mtime moved; a name may have come or gone unseen
    h.send("realtime", "insert", h.row("/run1/sub/e.bin", T0, parent_path="/run1/sub", parent_mtime=T0))
    advance(h, 60)
    assert not complete(h, "/run1/sub")
    h.start_audit()
    h.send("audit", "insert", h.row("/run1/sub", T0, is_dir=True, audit_skipped=True))
    h.tick()
    assert not complete(h, "/run1/sub")  # skipped is not listed
    h.send("audit", "insert", h.row("/run1/sub", T0 - 1, is_dir=True), h.row("/run1/sub/e.bin", T0))
    h.tick()
    assert not complete(h, "/run1/sub")  # listed, but before its last change
    h.send("audit", "insert", h.row("/run1/sub", T0, is_dir=True))
    advance(h, 0)
    assert complete(h, "/run1/sub") and complete(h, "/run1")


def test_a_content_rewrite_does_not_need_a_listing(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    h.send("realtime", "update", h.row("/run1/a.bin", T0, parent_path="/run1", parent_mtime=OLD))
    advance(h, 11)
    assert complete(h, "/run1")


def test_a_deletion_found_by_an_audit_flips_the_directory_back(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    h.start_audit()
    h.send("audit", "insert", h.row("/run1", T0, is_dir=True), h.row("/run1/a.bin", OLD))
    assert "/run1/b.bin" in h.end_audit()  # missing from the fully listed /run1
    assert not complete(h, "/run1")
    advance(h, 11)
    assert complete(h, "/run1")


def test_stats_count_top_level_uploads(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.send("snapshot", "insert", h.row("/run2", T0, is_dir=True), h.row("/run2/a", T0))
    h.tick()
    assert h.stats()["uploads_complete"] == 1
    assert h.stats()["uploads_incomplete"] == 1
    advance(h, 11)
    assert h.stats()["uploads_complete"] == 2
    h.send("realtime", "delete", h.row("/run2", T0, is_dir=True))
    assert h.stats()["uploads_complete"] == 1
    assert h.stats()["uploads_incomplete"] == 0


# -- after a restart -----------------------------------------------------------------------------


class ListingStore(DictStore):
    """The fake store, plus the listing a real store answers (for the rebuild)."""

    def listing(self, path: str) -> dict[str, NodeInfo] | None:
        prefix = "/" if path == "/" else path + "/"
        return {
            p[len(prefix) :]: info
            for p, info in self.nodes.items()
            if p != path and p.startswith(prefix) and "/" not in p[len(prefix) :]
        }


def test_a_restored_tree_is_rebuilt_once_and_decided_again(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    store = ListingStore()
    h.view.store = store
    for path, is_dir, mtime in [
        ("/", True, OLD),
        ("/run1", True, OLD),
        ("/run1/a", False, OLD),
        ("/run2", True, T0 - 2),
        ("/run2/b", False, T0 - 2),
    ]:
        store.nodes[path] = NodeInfo(is_dir, 1, mtime, 0.0)
    h.view.lists["complete"].put("/run1", since=T0 - 100, how="settled")  # as a snapshot keeps it
    h.tick()  # the first call rebuilds
    tracker = h.view.lists["complete"].tracker  # type: ignore[attr-defined]
    assert set(tracker.dirs) == {"/", "/run1", "/run2"}
    assert tracker.dirs["/"].below == T0 - 2
    assert complete(h, "/run1") and not complete(h, "/run2")
    assert h.stats()["uploads_complete"] == 1
    advance(h, 9)
    assert complete(h, "/run2")
    assert h.stats()["uploads_complete"] == 2
    assert rebuild_from_tree(tracker, DictStore()) == 0  # a store that cannot list: nothing to do


def restart(h: RuleHarness, make_harness: MakeHarness, **options: object) -> RuleHarness:
    """A new view holding what a journal snapshot of ``h``'s view keeps: the tree, the clock and
    every published list, restored through the plain list API as Fusion's snapshot does — none
    of the rule's other state."""
    after = make_harness(**options)
    after.view.store.nodes = dict(h.view.store.nodes)
    after.view.clock.t = h.view.clock.t
    for name, entries in h.view.lists.items():
        target = after.view.get_list(name)
        if target is not None:
            target.clear()
            for path, record in entries.items():
                target.put(path, **record)
    return after


def test_a_directory_waiting_for_a_listing_still_waits_after_a_restart(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    assert complete(h, "/run1")
    h.send("realtime", "insert", h.row("/run1/new", T0, is_dir=True, parent_path="/run1", parent_mtime=T0))
    h.send("realtime", "insert", h.row("/run1/new/d.bin", T0, parent_path="/run1/new", parent_mtime=T0))
    h.send("realtime", "insert", h.row("/run1/sub/e.bin", T0, parent_path="/run1/sub", parent_mtime=T0))
    advance(h, 60)
    assert not complete(h, "/run1") and not complete(h, "/run1/new") and not complete(h, "/run1/sub")

    h = restart(h, make_harness, settle_s=10)
    h.tick()  # the first call rebuilds from the tree
    assert not complete(h, "/run1/new") and not complete(h, "/run1/sub")
    assert not complete(h, "/run1") and not complete(h, "/")
    advance(h, 60)
    assert not complete(h, "/run1/new") and not complete(h, "/run1")
    assert h.stats()["uploads_complete"] == 0
    assert set(h.view.lists["awaiting_listing"]) == {"/run1", "/run1/new", "/run1/sub"}

    h.start_audit()
    h.send("audit", "insert", h.row("/run1", T0, is_dir=True))
    h.send("audit", "insert", h.row("/run1/new", T0, is_dir=True), h.row("/run1/new/d.bin", T0))
    h.tick()
    assert complete(h, "/run1/new") and not complete(h, "/run1")  # /run1/sub is not listed yet
    h.send("audit", "insert", h.row("/run1/sub", T0, is_dir=True), h.row("/run1/sub/e.bin", T0))
    h.tick()
    assert complete(h, "/run1") and complete(h, "/run1/sub") and complete(h, "/")
    assert len(h.view.lists["awaiting_listing"]) == 0


def test_a_directory_complete_before_a_restart_stays_complete(make_harness: MakeHarness) -> None:
    h = make_harness(settle_s=10)
    scan_upload(h)
    h.tick()
    assert complete(h, "/run1") and complete(h, "/run1/sub")

    h = restart(h, make_harness, settle_s=10)
    h.tick()
    assert complete(h, "/run1") and complete(h, "/run1/sub") and complete(h, "/")
    assert h.stats() == {"uploads_complete": 1, "uploads_incomplete": 0, "completion_pending": 0}
    h.send("realtime", "update", h.row("/run1/sub/c.bin", OLD))  # the rebuilt tracker still sees writes
    assert not complete(h, "/run1") and not complete(h, "/run1/sub")
    advance(h, 11)
    assert complete(h, "/run1")


def test_the_awaiting_list_holds_only_directories_not_listed_since_they_changed(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(settle_s=10)
    awaiting = h.view.lists["awaiting_listing"]
    scan_upload(h)
    assert len(awaiting) == 0
    h.send("realtime", "insert", h.row("/run2", T0, is_dir=True, parent_path="/", parent_mtime=T0))
    h.send("realtime", "insert", h.row("/run1/sub/e.bin", T0, parent_path="/run1/sub", parent_mtime=T0))
    assert dict(awaiting.items()) == {"/": {"mtime": T0}, "/run2": {"mtime": T0}, "/run1/sub": {"mtime": T0}}
    h.send("realtime", "delete", h.row("/run2", T0, is_dir=True))
    assert set(awaiting) == {"/", "/run1/sub"}
    h.start_audit()
    h.send("audit", "insert", h.row("/", T0, is_dir=True), h.row("/run1", OLD, is_dir=True))
    h.send("audit", "insert", h.row("/run1/sub", T0, is_dir=True))
    assert len(awaiting) == 0
