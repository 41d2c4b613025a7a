"""Request and answer bodies of the HTTP API, as pydantic models.

Small request bodies are validated with these models; answers are built as plain dicts on the
hot paths, and these models describe them for the OpenAPI document (``/api/v1/openapi.json``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from fustor_core.event_model import DatastorePath, FiniteFloat

Role = Literal["leader", "follower"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- ingest requests ---------------------------------------------------------------------------


class SessionOpenRequest(_Strict):
    """``POST /api/v1/ingest/sessions``."""

    agent_id: str = Field(min_length=1, max_length=256)
    source_uri: str = Field(default="", max_length=4096)


class SignalRequest(_Strict):
    """Optional body of the snapshot/audit start/end signals."""

    after_seq: StrictInt | None = Field(default=None, ge=0)
    """Apply the signal only after batches 1..after_seq of this session were applied."""


class SentinelUpdateIn(_Strict):
    """The leader's fresh ``stat`` of one path it was asked to re-check."""

    path: DatastorePath
    exists: StrictBool
    mtime: FiniteFloat | None = None
    size: StrictInt | None = Field(default=None, ge=0, lt=2**63)


class SentinelFeedbackRequest(_Strict):
    """``POST .../sentinel/feedback``."""

    updates: list[SentinelUpdateIn]


# -- ingest answers ----------------------------------------------------------------------------


class ViewInfo(_Strict):
    """Which incarnation of the datastore's view Fusion holds, and how far its journal got."""

    id: str
    """The view's incarnation, created when the view started empty. An agent (or a cursor) that
    knew another id must start over: re-snapshot (or re-read the tree)."""
    seq: int
    """The newest durable journal sequence number of the view (without a journal: inputs
    applied since Fusion started)."""
    restored: bool
    """True when the view was loaded from its journal, i.e. it survived a Fusion restart: a
    leader may resume with an audit instead of a full snapshot."""


class SessionOpened(_Strict):
    session_id: str
    role: Role
    datastore: str
    view: ViewInfo
    heartbeat_interval_s: float
    session_timeout_s: float


class HeartbeatAnswer(_Strict):
    session_id: str
    role: Role
    leader_session_id: str | None
    applied_seq: int
    """The highest ``seq`` of this session applied so far (0: none)."""
    view: ViewInfo
    heartbeat_interval_s: float
    session_timeout_s: float


class SessionClosed(_Strict):
    session_id: str
    closed: bool


class BatchAnswer(_Strict):
    """What became of a batch's rows."""

    accepted: int
    dropped: int
    unchanged: int
    reasons: dict[str, int]
    """Dropped rows by reason."""
    seq: int | None = None
    duplicate: bool = False
    """True when this ``seq`` had been applied before: the original answer is repeated."""


class SignalAnswer(_Strict):
    session_id: str
    signal: Literal["snapshot_start", "snapshot_end", "audit_start", "audit_end"]
    applied_seq: int
    deleted: int | None = None
    """audit_end and snapshot_end: nodes removed as missing from fully listed directories."""
    view: ViewInfo
    """The view after this signal (its ``seq`` covers the signal's own journal record)."""


class SentinelTasks(_Strict):
    paths: list[str]


class RelistTask(_Strict):
    """Re-list ``path`` now: every directory at or below it listed, every file stat'ed, no mtime
    skip (a file or a vanished path: its parent directory, not recursively), framed by the
    audit signals; then report it done."""

    id: str
    kind: Literal["relist"]
    path: str


class LeaderTasks(_Strict):
    """What the leader should do now (empty after the long poll's wait)."""

    tasks: list[RelistTask]


class TaskDoneRequest(_Strict):
    """The leader's report of a finished task, sent after its audit end signal was answered."""

    listed: str | None = None
    """The path actually listed (the parent directory for a file or a vanished path)."""
    dirs_listed: StrictInt | None = Field(default=None, ge=0)
    files: StrictInt | None = Field(default=None, ge=0)
    took_s: FiniteFloat | None = Field(default=None, ge=0)
    error: str | None = None
    """Why the listing could not be made (the query then answers 503 with it)."""


class TaskDone(_Strict):
    id: str
    waiting_queries: bool
    """False when every query that asked for it gave up (timed out) meanwhile."""


# -- query answers -----------------------------------------------------------------------------


class FreshProof(_Open):
    """The listing a ``fresh=true`` answer waited for: applied before the answer was built."""

    agent_id: str
    listed: str
    """The path the agent listed (the parent directory when the path is a file or is gone)."""
    dirs_listed: int | None = None
    files: int | None = None
    took_s: float | None = None
    """The agent's listing, from the task's start to Fusion's acknowledgement of its end."""
    waited_s: float
    """How long the query waited, listing included."""


class TreeNode(_Open):
    """A file or directory; directories carry recursive counts and, to the asked depth, children."""

    path: str
    name: str
    is_dir: bool
    size: int
    mtime: float
    integrity_suspect: bool
    agent_missing: bool
    complete: bool | None = None
    """Directories: the upload in it is finished (present when the merge-completion rule is
    loaded; files answer false)."""
    files: int | None = None
    dirs: int | None = None
    bytes: int | None = None
    children: list[TreeNode] | None = None
    next_cursor: str | None = None
    """Present when the requested directory has more children: pass it as ``cursor``."""
    truncated: bool | None = None
    fresh: FreshProof | None = None
    """With ``fresh=true``: the leader's listing this answer waited for."""


class Stats(_Open):
    files: int
    dirs: int
    bytes: int
    suspects: int
    tombstones: int
    blind_spot_additions: int
    blind_spot_deletions: int
    has_blind_spot: bool
    suspects_evicted: int
    """Entries the list's size bound (``rules.merge-suspect.max_entries``) evicted since Fusion
    started; likewise for the other lists."""
    tombstones_evicted: int
    blind_spot_additions_evicted: int
    blind_spot_deletions_evicted: int
    leader: str | None
    leader_agent_id: str | None
    sessions: int
    uploads_complete: int | None = None
    """Top-level directories (one upload each) that are complete (merge-completion rule)."""
    uploads_incomplete: int | None = None
    """Top-level directories that are not complete yet."""
    completion_pending: int | None = None
    """Directories the completion rule has yet to decide."""
    journal: dict[str, Any] | None = None
    """The view's journal: driver, ``id``/``seq``/``restored``, how it was loaded (snapshot and
    replay times apart), the last snapshot's figures."""
    fresh: dict[str, int] | None = None
    """``fresh=true`` queries: relist tasks ``waiting`` for the leader, ``listing`` (taken by it),
    and the ``queries`` waiting for them."""
    cluster: dict[str, Any] | None = None
    """The view's place in the cluster: ``role`` (owner, replica, single), ``owner``,
    ``owner_url``, ``epoch`` (of this node's lease when it owns the view), ``seq``,
    ``lag_records`` and ``takeovers`` (by this node since it started)."""
    change_feed: dict[str, Any] | None = None
    """The change feed: ``seq`` of its newest change, ``record`` (journal), ``following``,
    changes ``in_memory``, clients ``waiting`` and event ``streams`` open."""


class ListedPath(_Open):
    """An entry of a rule's list: its path, and the fields of the rule's record."""

    path: str


class ListSummary(_Strict):
    """One list a rule publishes (``GET .../lists``)."""

    name: str
    """What ``GET .../lists/{name}`` takes."""
    entries: int
    evicted: int
    """Entries the list's size bound evicted since Fusion started (0 for an unbounded list)."""


class BlindSpots(_Strict):
    additions: list[ListedPath]
    deletions: list[ListedPath]
    next_cursor: str | None = None


class SessionInfo(_Strict):
    session_id: str
    agent_id: str
    source_uri: str
    role: Role
    last_heartbeat_age_s: float


class ChangeEntry(BaseModel):
    """One change of the view: a node written with its new state and flags (``upsert``), or a
    node removed (``delete``: a directory stands for its whole former subtree)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, bool] = Field(init=False)  # flags of other rules

    seq: int
    """Strictly increasing within the view's incarnation."""
    op: Literal["upsert", "delete"]
    path: str
    is_dir: bool | None
    """A deletion's: what the deleting input said (null where it did not say)."""
    size: int | None
    """null for a deletion."""
    mtime: float | None
    """null for a deletion."""
    integrity_suspect: bool
    agent_missing: bool
    complete: bool
    """The directory-completion flag (false until a rule provides it)."""


class ChangesPage(_Strict):
    """``GET /views/{ds}/changes``: the changes after ``since``, and where to continue."""

    changes: list[ChangeEntry]
    next: str
    """Pass it as ``since`` to continue after these changes."""
    reset: bool
    """True when ``since`` cannot be continued (older than the journal keeps, another
    incarnation of the view, or not a cursor): re-read the tree, then continue from ``next``."""


class Status(_Strict):
    status: str


class ErrorDetail(_Strict):
    code: str
    message: str


class ErrorBody(_Strict):
    error: ErrorDetail


class NotOwnerDetail(_Strict):
    code: str
    message: str
    owner: str
    """The node id of the view's owner."""
    owner_url: str
    """Its advertised base URL (``Location`` is the same request there)."""


class NotOwnerBody(_Strict):
    """The body of a 307: the view is owned by another node of the cluster."""

    error: NotOwnerDetail


class ViewRole(_Open):
    """One view's place in the cluster, as ``/readyz`` tells it."""

    role: str
    """``owner``, ``replica``, or ``single`` (no cluster)."""
    seq: int
    """The newest journal record the view reflects."""
    journal_seq: int
    """The newest record the journal is known to hold."""
    lag_records: int
    lag_s: float
    """Age of the oldest record not applied yet (0 when caught up)."""
    owner: str | None
    owner_url: str | None


class Readiness(_Strict):
    status: str
    views: dict[str, ViewRole]
