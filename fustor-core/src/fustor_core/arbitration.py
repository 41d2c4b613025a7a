"""The objects merge rules work on (Fusion side of the hook surface).

Fusion's engine owns the mechanism — it looks nodes up, applies rows, tracks what an audit
listed — and hands these objects to the merge-rule hooks, which own the *policy*: which row to
drop and why, what to remember afterwards. Hooks are called once per batch, so a rule loops over
``batch.rows`` itself; the lookups it needs (:meth:`Batch.existing`, :meth:`Batch.parents`) are
computed once per batch and shared by every rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event, EventType, MessageSource, Row

if TYPE_CHECKING:
    from fustor_core.pathlist import PathList
    from fustor_core.storage import TreeStore


class NodeInfo(NamedTuple):
    """What the tree knows about one path."""

    is_dir: bool
    size: int
    mtime: float
    confirmed_at: float
    """Fusion-clock time of the last realtime event that touched the node (0.0: never)."""


Lookup = Callable[[Sequence[str]], list[NodeInfo | None]]


def parent_of(path: str) -> str:
    """The parent of a datastore path (the root is its own parent)."""
    head = path.rpartition("/")[0]
    return head or "/"


def is_under(path: str, prefix: str) -> bool:
    """True when ``path`` is ``prefix`` itself or lies below it."""
    if prefix == "/":
        return True
    return path == prefix or path.startswith(prefix + "/")


class Batch:
    """One event being arbitrated: its rows plus the verdict on each.

    Rules call :meth:`drop` with a short reason (``"tombstoned"``, ``"parent_changed"``...);
    the first reason given for a row wins and is what the engine counts and reports.
    """

    __slots__ = (
        "_existing",
        "_lookup",
        "_parents",
        "dropped",
        "event",
        "event_type",
        "received_at",
        "rows",
        "session_id",
        "skipped",
        "source",
    )

    def __init__(
        self,
        event: Event,
        *,
        lookup: Lookup,
        session_id: str | None = None,
        received_at: float = 0.0,
        rows: list[Row] | None = None,
    ) -> None:
        self.event = event
        self.rows: list[Row] = event.rows if rows is None else rows
        self.source: MessageSource = event.message_source
        self.event_type: EventType = event.event_type
        self.session_id = session_id
        self.received_at = received_at
        self.dropped: dict[int, str] = {}
        self.skipped: set[int] = set()
        self._lookup = lookup
        self._existing: list[NodeInfo | None] | None = None
        self._parents: list[NodeInfo | None] | None = None

    @property
    def index_s(self) -> float:
        """The agent's observation time in seconds."""
        return self.event.index / 1000.0

    def drop(self, i: int, reason: str) -> None:
        """Refuse row ``i``; the first reason recorded for a row is kept."""
        if i not in self.dropped:
            self.dropped[i] = reason

    def skip(self, i: int) -> None:
        """Mark row ``i`` as valid evidence that changes nothing (e.g. an audit row whose mtime
        equals the tree's): it is not written and not counted as dropped."""
        self.skipped.add(i)

    def to_write(self) -> Sequence[int]:
        """Indices of the rows neither dropped nor skipped: what the engine will apply (a
        ``range`` when every row is kept, which stores can iterate without an index list)."""
        dropped, skipped = self.dropped, self.skipped
        if not dropped and not skipped:
            return range(len(self.rows))
        return [i for i in range(len(self.rows)) if i not in dropped and i not in skipped]

    def kept(self) -> Iterator[int]:
        """Indices of the rows not dropped so far (skipped rows included)."""
        dropped = self.dropped
        if not dropped:
            return iter(range(len(self.rows)))
        return (i for i in range(len(self.rows)) if i not in dropped)

    def existing(self) -> list[NodeInfo | None]:
        """What the tree holds at each row's path, looked up once and then shared.

        The lookup happens on first use: called during :func:`fustor_filter_batch` (before the
        engine writes anything) it is the tree *before* this batch. A rule that needs the
        before-state in ``fustor_batch_applied`` must ask for it in its filter hook.
        """
        if self._existing is None:
            self._existing = self._lookup([row.path for row in self.rows])
        return self._existing

    def parents(self) -> list[NodeInfo | None]:
        """What the tree holds at each row's parent directory (same timing as :meth:`existing`)."""
        if self._parents is None:
            self._parents = self._lookup([row.parent_path or parent_of(row.path) for row in self.rows])
        return self._parents

    def drop_reasons(self) -> Counter[str]:
        """How many rows were dropped, by reason."""
        return Counter(self.dropped.values())


@dataclass
class Changes:
    """What applying a batch changed in the tree."""

    upserted: Sequence[int] = field(default_factory=list)
    """Indices (into ``batch.rows``) of rows written to the tree."""
    deleted: list[str] = field(default_factory=list)
    """Paths removed from the tree; a directory stands for its whole former subtree."""
    refreshed: list[str] = field(default_factory=list)
    """Directories whose mtime was updated from the ``parent_mtime`` of realtime rows (their
    node changed without a row of their own)."""


@dataclass
class AuditRun:
    """One scan that lists the tree — an audit, or a snapshot — between its start and end signals.

    Both kinds are *listings*: at their end the engine offers every node missing from a fully
    listed directory to :func:`~fustor_core.hookspecs.fustor_audit_missing` and deletes the rest,
    so a snapshot taken after deletions nobody saw (the agent was down) removes them too.
    """

    session_id: str | None
    started_at: float
    """Fusion-clock time of the start signal; realtime confirmations after it are newer evidence."""
    kind: str = "audit"
    """``"audit"`` or ``"snapshot"``."""
    listed: dict[str, float] = field(default_factory=dict)
    """Directories the scan listed fully (sent without ``audit_skipped``) -> the directory's
    mtime when it was listed. A later row of the same directory with ``audit_skipped`` wins."""
    seen: dict[str, set[str]] = field(default_factory=dict)
    """Directory -> names of the children the scan reported inside it (any verdict)."""
    skipped: set[str] = field(default_factory=set)
    """Directories sent with ``audit_skipped``: unchanged since the last audit, or not fully
    listed (a listing or stat error); nothing is inferred about their missing children."""


class MissingCandidates:
    """Nodes absent from a fully listed directory at audit end, before rules protect some.

    The engine deletes every candidate no rule :meth:`keep`-s, and reports them as deleted.
    """

    __slots__ = ("infos", "kept", "paths")

    def __init__(self, paths: list[str], infos: list[NodeInfo]) -> None:
        self.paths = paths
        self.infos = infos
        self.kept: dict[str, str] = {}

    def keep(self, path: str, reason: str) -> None:
        """Protect ``path`` from deletion; the first reason is kept for the record."""
        self.kept.setdefault(path, reason)

    def to_delete(self) -> list[str]:
        """Candidates no rule protected."""
        return [p for p in self.paths if p not in self.kept]


class SentinelUpdate(NamedTuple):
    """The leader's fresh ``stat`` of a path it was asked to re-check."""

    path: str
    exists: bool
    mtime: float | None = None
    size: int | None = None


class LogicalClock(Protocol):
    """Fusion's view of time in the storage's mtime frame (docs/arbitration.md, "The logical clock")."""

    def now(self) -> float:
        """Fusion's own wall clock (seconds); used for TTLs and confirmation stamps."""
        ...

    def watermark(self) -> float:
        """The current time expressed in the storage's mtime frame."""
        ...

    def is_hot(self, mtime: float) -> bool:
        """True when a file with this mtime is younger than the hot window (or in the future)."""
        ...

    def is_future(self, mtime: float) -> bool:
        """True when ``mtime`` lies ahead of the watermark by more than the tolerance."""
        ...

    def hot_cutoff(self) -> float:
        """mtimes strictly above this are hot: one subtraction per batch instead of a call per row."""
        ...


class ViewLike(Protocol):
    """What a merge rule may use of a Fusion view (one datastore's tree)."""

    name: str
    settings: ArbitrationSettings
    audit: AuditRun | None
    """The running audit, if any."""
    snapshot: AuditRun | None
    """The running snapshot, if any (a listing too: see :class:`AuditRun`)."""

    def options(self, name: str) -> Any:
        """The validated options registered as ``name`` (``fustor_rule_options``) for this view's
        datastore: ``fusion.yaml``'s ``rules.<name>`` merged with ``datastores.<ds>.rules.<name>``,
        defaults for keys nobody set. A :class:`~fustor_core.errors.PluginError` if no plugin
        registered ``name``."""
        ...

    @property
    def clock(self) -> LogicalClock:
        """The view's logical clock (read-only: each view has its own)."""
        ...

    @property
    def store(self) -> TreeStore:
        """The view's tree (read it; the engine alone writes it)."""
        ...

    def register_list(self, name: str, entries: PathList) -> None:
        """Publish a path list (``suspects``, ``tombstones``, ``blind_spot_additions``...); every
        published list is served by ``GET /api/v1/views/{ds}/lists/{name}``."""
        ...

    def get_list(self, name: str) -> PathList | None:
        """A list some plugin published, or None when that plugin is not loaded."""
        ...

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        """The tree's current knowledge of each path."""
        ...

    def flags_changed(self, paths: Iterable[str]) -> None:
        """Say that the flags of ``paths`` may have changed (the change feed reports each of
        these nodes with its flags). Not needed for a flag whose predicate is the
        ``__contains__`` of a list this view publishes: changes of its membership are seen."""
        ...
