"""Properties of the default rule set that must hold for *every* interleaving, not just the
scenarios someone thought of (hypothesis generates the interleavings)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fustor_core.arbitration import SentinelUpdate, parent_of
from fustor_core.event_model import Row

MakeFeed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)

OLD = 1_000_000.0
# make_feed is a stateless factory: every example builds its own view and clock.
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def walk(feed: Any) -> dict[str, dict[str, Any]]:
    """Every node of the view by path, read through the query API."""
    nodes: dict[str, dict[str, Any]] = {}

    def visit(node: dict[str, Any]) -> None:
        nodes[node["path"]] = node
        for child in node.get("children", ()):
            visit(child)

    visit(feed.view.tree("/", depth=64, limit=100_000, max_nodes=1_000_000))
    return nodes


# --------------------------------------------------------------------------------------------
# 1. stale scan rows never resurrect a file deleted in realtime
# --------------------------------------------------------------------------------------------

staleness = st.floats(min_value=0, max_value=5000, allow_nan=False)
stale_ops = st.lists(
    st.one_of(
        st.tuples(st.just("snapshot"), staleness, st.booleans()),
        st.tuples(st.just("audit"), staleness, st.floats(min_value=-100, max_value=100, allow_nan=False)),
        st.tuples(st.just("sibling"), st.floats(min_value=-1000, max_value=1000, allow_nan=False)),
        st.tuples(st.just("audit_start")),
        st.tuples(st.just("audit_end")),
        st.tuples(st.just("advance"), st.floats(min_value=0, max_value=100, allow_nan=False)),
        st.tuples(st.just("tick")),
    ),
    max_size=25,
)


@PROPERTY
@given(
    deleted=st.sampled_from(["/d/f", "/d"]),
    audit_running_at_delete=st.booleans(),
    ops=stale_ops,
)
def test_no_interleaving_of_stale_scan_rows_resurrects_a_file_deleted_in_realtime(
    make_feed: MakeFeed, deleted: str, audit_running_at_delete: bool, ops: list[tuple[Any, ...]]
) -> None:
    feed = make_feed()
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))
    if audit_running_at_delete:
        feed.audit_start()
    feed.clock.t += 1
    feed.realtime_delete(deleted)
    delete_mtime = feed.view.clock.watermark()  # the delete, in the storage's mtime frame
    for op in ops:  # total clock advance stays below the tombstone TTL (25 x 100 s < 3600 s)
        kind = op[0]
        if kind == "snapshot":
            rows = [feed.dir("/d", delete_mtime - op[1])] if op[2] else []
            feed.snapshot(*rows, feed.file("/d/f", delete_mtime - op[1]))
        elif kind == "audit":
            parent_mtime = delete_mtime + op[2]
            feed.audit(
                feed.dir("/d", min(parent_mtime, delete_mtime)),
                feed.file("/d/f", delete_mtime - op[1], parent_mtime=parent_mtime),
            )
        elif kind == "sibling":
            feed.snapshot(feed.file("/d/g", delete_mtime + op[1]))
        elif kind == "audit_start":
            feed.audit_start()
        elif kind == "audit_end":
            feed.audit_end()
        elif kind == "advance":
            feed.clock.t += op[1]
        else:
            feed.view.tick()
        assert not feed.exists("/d/f"), f"resurrected after {op}"


# --------------------------------------------------------------------------------------------
# 2. a full audit of a quiescent tree makes the view equal to that tree
# --------------------------------------------------------------------------------------------

DIRS = ("/a", "/a/b", "/c")
FILE_NAMES = ("f1", "f2", "f3")
mtimes = st.integers(min_value=1_000_000, max_value=1_001_000).map(float)
sizes = st.integers(min_value=0, max_value=100)


def draw_tree(data: st.DataObject, dirs: list[str]) -> dict[str, tuple[bool, float, int]]:
    """path -> (is_dir, mtime, size) for the root, ``dirs`` and some files in each."""
    tree: dict[str, tuple[bool, float, int]] = {"/": (True, data.draw(mtimes), 0)}
    for d in dirs:
        tree[d] = (True, data.draw(mtimes), 0)
    for d in ["/", *dirs]:
        for name in FILE_NAMES:
            if data.draw(st.booleans()):
                tree[f"{d.rstrip('/')}/{name}"] = (False, data.draw(mtimes), data.draw(sizes))
    return tree


def closed_dirs(data: st.DataObject) -> list[str]:
    chosen = [d for d in DIRS if data.draw(st.booleans())]
    return [d for d in chosen if parent_of(d) == "/" or parent_of(d) in chosen]


def evolve(
    data: st.DataObject, old: dict[str, tuple[bool, float, int]]
) -> dict[str, tuple[bool, float, int]]:
    """The tree as it is now: anything may have changed, but nothing went back in time."""
    new = draw_tree(data, closed_dirs(data))
    for path, (is_dir, mtime, size) in list(new.items()):
        before = old.get(path)
        if before is not None and mtime < before[1]:
            new[path] = (is_dir, before[1] + data.draw(st.sampled_from([0.0, 0.0, 1.0, 50.0])), size)
    return new


def rows_of(tree: dict[str, tuple[bool, float, int]], *, with_parents: bool) -> list[Row]:
    rows = []
    for path in sorted(tree, key=lambda p: (p.count("/") if p != "/" else 0, p)):
        is_dir, mtime, size = tree[path]
        parent = None if path == "/" else parent_of(path)
        parent_mtime = tree[parent][1] if with_parents and parent is not None else None
        rows.append(
            Row(
                path=path,
                is_dir=is_dir,
                mtime=mtime,
                size=size,
                parent_path=parent,
                parent_mtime=parent_mtime,
            )
        )
    return rows


@PROPERTY
@given(data=st.data())
def test_after_a_full_audit_of_a_quiescent_tree_the_view_equals_that_tree(
    make_feed: MakeFeed, data: st.DataObject
) -> None:
    old = draw_tree(data, closed_dirs(data))
    truth = evolve(data, old)
    feed = make_feed()
    feed.snapshot(*rows_of(old, with_parents=False))

    audit_rows = rows_of(truth, with_parents=True)
    feed.audit_start()
    start = 0
    while start < len(audit_rows):
        size = data.draw(st.integers(min_value=1, max_value=6), label="batch size")
        feed.audit(*audit_rows[start : start + size])
        start += size
    feed.audit_end()

    seen = {
        path: (node["is_dir"], node["mtime"], 0 if node["is_dir"] else node["size"])
        for path, node in walk(feed).items()
    }
    assert seen == truth


# --------------------------------------------------------------------------------------------
# 3. directory aggregates always equal the sum over their subtree
# --------------------------------------------------------------------------------------------

paths = st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
any_rows = st.lists(
    st.builds(
        lambda path, is_dir, mtime, size: Row(path=path, is_dir=is_dir, mtime=mtime, size=size),
        paths,
        st.booleans(),
        st.floats(min_value=OLD, max_value=OLD + 100, allow_nan=False),
        st.integers(min_value=0, max_value=1000),
    ),
    min_size=1,
    max_size=6,
)
engine_ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["realtime:insert", "realtime:update", "snapshot:insert", "audit:insert"]),
            any_rows,
        ),
        st.tuples(st.just("realtime:delete"), st.lists(paths, min_size=1, max_size=3)),
        st.tuples(st.just("audit_start")),
        st.tuples(st.just("audit_end")),
        st.tuples(st.just("sentinel"), paths, st.booleans(), st.floats(min_value=OLD, max_value=OLD + 100)),
        st.tuples(st.just("leader_session")),
        st.tuples(st.just("tick")),
    ),
    max_size=20,
)


def assert_aggregates_match_subtrees(node: dict[str, Any]) -> tuple[int, int, int]:
    """Recompute (files, dirs, bytes) below ``node`` from its children and compare."""
    files = dirs = nbytes = 0
    for child in node.get("children", ()):
        if child["is_dir"]:
            sub = assert_aggregates_match_subtrees(child)
            files, dirs, nbytes = files + sub[0], dirs + 1 + sub[1], nbytes + sub[2]
        else:
            files, nbytes = files + 1, nbytes + child["size"]
    assert (node["files"], node["dirs"], node["bytes"]) == (files, dirs, nbytes), node["path"]
    return files, dirs, nbytes


@PROPERTY
@given(ops=engine_ops)
def test_directory_aggregates_always_equal_the_sum_over_their_subtree(
    make_feed: MakeFeed, ops: list[tuple[Any, ...]]
) -> None:
    feed = make_feed()
    for op in ops:
        kind = op[0]
        if kind == "realtime:delete":
            feed.realtime_delete(*op[1])
        elif ":" in kind:
            source, event_type = kind.split(":")
            feed.send(source, event_type, op[1])
        elif kind == "audit_start":
            feed.audit_start()
        elif kind == "audit_end":
            feed.audit_end()
        elif kind == "sentinel":
            feed.sentinel(SentinelUpdate(op[1], op[2], op[3], 7))
        elif kind == "leader_session":
            feed.view.leader_session("another-leader")
        else:
            feed.view.tick()
        feed.clock.t += 1
        root = feed.view.tree("/", depth=64, limit=100_000, max_nodes=1_000_000)
        totals = assert_aggregates_match_subtrees(root)
        stats = feed.view.stats()
        assert (stats["files"], stats["dirs"], stats["bytes"]) == totals
