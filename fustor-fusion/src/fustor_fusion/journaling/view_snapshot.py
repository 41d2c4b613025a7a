"""A snapshot of a whole view as chunks, and back: tree, every rule's lists, clock, scans, counters.

Each chunk starts with a one-byte tag::

    H  header (JSON): format, clock state, drop counters, last scan ends, names of the lists
    S  a running scan (zlib JSON): which slot (audit/snapshot), its listing so far
    L  a piece of one list (zlib JSON): [name, [[path, record], ...]]
    T  a piece of the tree, as the storage plugin exported it (always last)

The tree goes through the store's optional ``export_snapshot``/``import_snapshot``
(:class:`~fustor_core.storage.SnapshotStore`); the lists through the plain
:class:`~fustor_core.pathlist.PathList` API (``items()`` / ``put()``), so any list implementation
a rule publishes is kept. State a rule keeps outside its published lists is not in a snapshot.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

import orjson

from fustor_core.arbitration import AuditRun
from fustor_core.journal import JournalCorrupt
from fustor_core.logs import log_event
from fustor_core.storage import SnapshotStore
from fustor_fusion.engine import View

logger = logging.getLogger(__name__)
T = TypeVar("T")

FORMAT = 1
HEADER = b"H"
SCAN = b"S"
LIST = b"L"
TREE = b"T"
LIST_PIECE = 50_000
"""List entries per chunk."""
SCAN_SLOTS = ("audit", "snapshot")


def can_snapshot(view: View) -> bool:
    """True when the view's store can export its tree (otherwise the journal is never trimmed)."""
    return isinstance(view.store, SnapshotStore)


Reader = Callable[[Callable[[], T]], T]
"""Runs a function where the view's lists may be read (the event loop's thread) and returns its
result; see :func:`dump_view`."""


def _here(read: Callable[[], T]) -> T:
    return read()


def dump_view(view: View, in_loop: Reader[Any] = _here) -> Iterator[bytes]:
    """The view's whole state as chunks; the caller keeps the view from changing meanwhile.

    Run in a worker thread while queries go on, this reads the tree directly (queries only read
    it too) but reads the rules' lists through ``in_loop``, piece by piece: a list may reorganise
    itself on a read (a PathList sorts a chunk on first use), so only one thread may touch it.
    """
    store = view.store
    if not isinstance(store, SnapshotStore):
        raise TypeError(f"the store of view {view.name!r} cannot export a snapshot")
    lists = view.published_lists()
    header = {
        "format": FORMAT,
        "clock": view.clock.state(),
        "counters": {
            "accepted": view.counters.accepted,
            "unchanged": view.counters.unchanged,
            "by_reason": dict(view.counters.by_reason),
        },
        "last_snapshot_end": view.last_snapshot_end,
        "last_audit_end": view.last_audit_end,
        "lists": sorted(lists),
        "changes_next": _next_change(view),
    }
    yield HEADER + orjson.dumps(header)
    for slot in SCAN_SLOTS:
        scan = getattr(view, slot)
        if scan is not None:
            yield SCAN + _squeeze([slot, _scan_state(scan)])
    for name, entries in sorted(lists.items()):
        items = in_loop(entries.items)
        while piece := in_loop(lambda items=items: list(islice(items, LIST_PIECE))):  # type: ignore[misc]
            yield LIST + _squeeze([name, piece])
    for chunk in store.export_snapshot():
        yield TREE + chunk


def _next_change(view: View) -> int:
    """The number the view's next change gets (1 for a view that does not count changes)."""
    tracker = getattr(view, "change_tracker", None)
    return tracker.next_number if tracker is not None else 1


def restore_view(view: View, chunks: Iterable[bytes]) -> None:
    """Make a freshly started view hold the state ``chunks`` describe (JournalCorrupt if they
    are not a snapshot this Fusion can read)."""
    store = view.store
    if not isinstance(store, SnapshotStore):
        raise JournalCorrupt(f"the store of view {view.name!r} cannot import a snapshot")
    stream = iter(chunks)
    first = next(stream, b"")
    if first[:1] != HEADER:
        raise JournalCorrupt("view snapshot: it does not start with its header")
    try:
        header = orjson.loads(first[1:])
        if header.get("format") != FORMAT:
            raise JournalCorrupt(f"view snapshot: unknown format {header.get('format')!r}")
        view.clock.restore(header["clock"])
        counters = header["counters"]
        view.counters.accepted = counters["accepted"]
        view.counters.unchanged = counters["unchanged"]
        view.counters.by_reason.clear()
        view.counters.by_reason.update(counters["by_reason"])
        view.last_snapshot_end = header["last_snapshot_end"]
        view.last_audit_end = header["last_audit_end"]
        names = header["lists"]
        tracker = getattr(view, "change_tracker", None)
        if tracker is not None:
            tracker.next_number = int(header.get("changes_next", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalCorrupt(f"view snapshot: malformed header: {exc}") from None
    missing = sorted(name for name in names if view.get_list(name) is None)
    if missing:
        log_event(
            logger,
            logging.WARNING,
            "snapshot lists without a rule to hold them are dropped",
            datastore=view.name,
            lists=",".join(missing),
        )
    for name in names:
        target = view.get_list(name)
        if target is not None:
            target.clear()
    for slot in SCAN_SLOTS:
        setattr(view, slot, None)
    store.import_snapshot(_restore_all_but_tree(view, stream))


def _restore_all_but_tree(view: View, stream: Iterator[bytes]) -> Iterator[bytes]:
    """Apply scan and list chunks as they come; hand the tree's chunks on to the store."""
    for chunk in stream:
        tag = chunk[:1]
        if tag == TREE:
            yield chunk[1:]
            continue
        try:
            if tag == SCAN:
                slot, state = _unsqueeze(chunk)
                if slot not in SCAN_SLOTS:
                    raise JournalCorrupt(f"view snapshot: unknown scan slot {slot!r}")
                setattr(view, slot, _scan_from(state))
            elif tag == LIST:
                name, piece = _unsqueeze(chunk)
                target = view.get_list(name)
                if target is not None:
                    for path, record in piece:
                        target.put(path, **record)
            else:
                raise JournalCorrupt(f"view snapshot: unknown chunk tag {tag!r}")
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise JournalCorrupt(
                f"view snapshot: malformed {tag.decode(errors='replace')} chunk: {exc}"
            ) from None


def _squeeze(value: Any) -> bytes:
    return zlib.compress(orjson.dumps(value), 1)


def _unsqueeze(chunk: bytes) -> Any:
    return orjson.loads(zlib.decompress(memoryview(chunk)[1:]))


def _scan_state(scan: AuditRun) -> dict[str, Any]:
    return {
        "session_id": scan.session_id,
        "started_at": scan.started_at,
        "kind": scan.kind,
        "listed": scan.listed,
        "seen": {directory: list(names) for directory, names in scan.seen.items()},
        "skipped": list(scan.skipped),
    }


def _scan_from(state: dict[str, Any]) -> AuditRun:
    return AuditRun(
        session_id=state["session_id"],
        started_at=state["started_at"],
        kind=state["kind"],
        listed=dict(state["listed"]),
        seen={directory: set(names) for directory, names in state["seen"].items()},
        skipped=set(state["skipped"]),
    )
