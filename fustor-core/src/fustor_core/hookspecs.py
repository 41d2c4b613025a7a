"""The whole Fustor extension surface, hook by hook.

A plugin is a module (or object) with functions named like the hooks below, marked with
``fustor_core.hookimpl`` and announced through an entry point of group ``fustor``::

    [project.entry-points.fustor]
    my_rule = "my_package.rule"

Families and who calls them:

* **storage** (Fusion) — the tree store behind each view;
* **journal** (Fusion) — where each view's inputs and snapshots are kept, so it survives a restart;
* **merge rules** (Fusion) — admit/drop decisions on incoming rows, bookkeeping after a change,
  flags and stats added to query answers;
* **sources**, **pushers**, **sync modes** (agent) — drivers that read a tree, send to Fusion,
  and the policies that drive a source.

Hot-path hooks (:func:`fustor_filter_batch`, :func:`fustor_batch_applied`) are called **once per
batch**, never per row: a rule loops over ``batch.rows`` itself. Unless a hook says
``firstresult``, every implementation is called and results are collected in a list. Order is
made explicit with ``tryfirst`` / ``trylast``, never implied by import order.

Arguments may be omitted from an implementation's signature (pluggy passes only what is asked
for), so a plugin only names what it uses. A function marked ``hookimpl`` whose name is not
below (a typo) stops every service at start, naming the plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fustor_core import hookspec

if TYPE_CHECKING:
    from fustor_core.agent_api import RegisterPusher, RegisterSource, RegisterSyncMode
    from fustor_core.arbitration import (
        AuditRun,
        Batch,
        Changes,
        MissingCandidates,
        SentinelUpdate,
        ViewLike,
    )
    from fustor_core.journal import Journal
    from fustor_core.options import RegisterRuleOptions
    from fustor_core.storage import TreeStore

# --------------------------------------------------------------------------------------------
# storage (Fusion)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def fustor_tree_store(datastore: str, backend: str, options: dict[str, Any]) -> TreeStore | None:
    """Create the tree store for one datastore's view.

    :param datastore: the datastore name the view serves.
    :param backend: the backend the configuration asks for (``"memory"`` by default); return
        None unless it is yours.
    :param options: backend options from the configuration.
    :return: a :class:`~fustor_core.storage.TreeStore`. ``firstresult``: the first non-None
        answer is used; Fusion refuses to start the view if nobody answers.
    """


# --------------------------------------------------------------------------------------------
# journal (Fusion)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def fustor_journal(datastore: str, driver: str, options: dict[str, Any]) -> Journal | None:
    """Create the journal of one datastore's view (see :mod:`fustor_core.journal`).

    Called once per view when Fusion starts serving it, before any I/O: validate ``options``
    here and raise :class:`~fustor_core.errors.ConfigError` naming the key (``journal.path: ...``)
    so a bad configuration stops Fusion at start; open files later, in :meth:`Journal.open`.

    :param datastore: the datastore name the view serves (a journal keeps each view apart).
    :param driver: the ``journal.driver`` of ``fusion.yaml`` (``"sqlite"`` by default); return
        None unless it is yours. Fusion does not call this hook for ``driver: none``.
    :param options: the other keys of the ``journal`` section that Fusion itself does not use
        (e.g. ``path``, ``url``).
    :return: a :class:`~fustor_core.journal.Journal`. ``firstresult``: the first non-None answer
        is used; Fusion refuses to start if nobody answers.
    """


# --------------------------------------------------------------------------------------------
# merge rules (Fusion)
# --------------------------------------------------------------------------------------------


@hookspec
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    """Declare a merge rule's options: ``register("merge-tombstone", TombstoneOptions)``.

    The model is a pydantic model (derive from ``fustor_core.config.FustorConfig``, so a misspelt
    key is an error) whose every field has a default. ``fusion.yaml`` configures it under the
    registered name — ``rules: {merge-tombstone: {ttl_s: 3600}}`` for every datastore,
    ``datastores: {NAME: {rules: {...}}}`` to override keys for one — and Fusion validates each
    datastore's merged section at start, refusing to start with an error naming the full key
    path. The rule reads its datastore's validated instance with ``view.options(name)``
    (defaults when nobody configured it). Register under your entry-point name (or name the
    entry point ``<anything>-<name>``): the options of a plugin left out with
    ``FUSTOR_DISABLE_PLUGINS`` are then recognised and ignored with a warning instead of being an
    unknown name. Two plugins registering one name stop Fusion, naming both.
    """


@hookspec
def fustor_view_started(view: ViewLike) -> None:
    """A view was created; attach per-view state and publish lists.

    A rule keeps its state on the view (never in module globals, so one process can hold many
    views) and publishes what queries should see with ``view.register_list(name, PathList)``;
    known names are ``suspects``, ``tombstones``, ``blind_spot_additions``,
    ``blind_spot_deletions`` and ``complete``. Published lists are what a snapshot of the view keeps (through
    ``items()``/``put()``) when Fusion journals views: keep all durable state in them. Every
    published list is served by ``GET /api/v1/views/{ds}/lists/{name}``; two plugins
    publishing one name stop the view. Read your options here (``view.options(name)``), e.g. a
    list's bound.
    """


@hookspec
def fustor_filter_batch(view: ViewLike, batch: Batch) -> None:
    """Decide which rows of an incoming batch to drop, before anything is written.

    Called once per batch. Drop row ``i`` with ``batch.drop(i, reason)`` — the reason is
    counted by the engine and reported to the agent. ``batch.existing()`` and
    ``batch.parents()`` give the tree's current nodes for the rows and their parents, looked up
    once and shared by all rules. A rule may also edit its own lists here (e.g. clear a
    tombstone that a newer row overrides), but must not write the tree.
    """


@hookspec
def fustor_batch_applied(view: ViewLike, batch: Batch, changes: Changes) -> None:
    """Bookkeeping after the kept rows of a batch were applied.

    Called once per batch. ``changes.upserted`` holds the indices of rows written,
    ``changes.deleted`` the paths removed (a directory stands for its former subtree),
    ``changes.refreshed`` the directories whose mtime realtime rows updated. Typical work: record
    a tombstone for a realtime delete, mark a hot file suspect, record or clear a blind-spot
    entry.
    """


@hookspec
def fustor_snapshot_started(view: ViewLike, session_id: str | None, scan: AuditRun) -> None:
    """The leader signalled the start of a full snapshot.

    ``scan.started_at`` is the Fusion time evidence is compared against (``scan.kind`` is
    ``"snapshot"``); ``view.snapshot`` is the running scan until it ends.
    """


@hookspec
def fustor_snapshot_ended(view: ViewLike, session_id: str | None, scan: AuditRun, deleted: list[str]) -> None:
    """The leader's snapshot is complete (every row was sent before this).

    A snapshot is a complete listing: like at an audit's end, the engine offered every node
    missing from a fully listed directory to :func:`fustor_audit_missing` and deleted the ones no
    rule kept; ``deleted`` lists them (e.g. files removed while no agent was running).
    """


@hookspec
def fustor_audit_started(view: ViewLike, audit: AuditRun) -> None:
    """An audit began; ``audit.started_at`` is the Fusion time evidence is compared against."""


@hookspec
def fustor_audit_missing(view: ViewLike, audit: AuditRun, candidates: MissingCandidates) -> None:
    """Protect nodes that a scan did not report from deletion.

    At the end of an audit *or a snapshot* (``audit.kind`` says which) the engine collects
    every node missing from a *fully listed* directory (directories sent with ``audit_skipped``
    — unchanged, or not fully listed because of an error — are never considered). A rule calls
    ``candidates.keep(path, reason)`` for a node that must survive, e.g. because it is
    tombstoned, was confirmed by realtime after the scan started, or its directory changed after
    the scan listed it (``audit.listed`` holds each listed directory's mtime at listing time).
    The rest are deleted.
    """


@hookspec
def fustor_audit_ended(view: ViewLike, audit: AuditRun, deleted: list[str]) -> None:
    """An audit is complete; ``deleted`` lists what the engine removed as missing.

    Typical work: record blind-spot deletions, release what the audit deleted.
    """


@hookspec
def fustor_leader_session(view: ViewLike, session_id: str) -> None:
    """A new leader session began for this datastore; discovery starts afresh.

    Blind-spot lists are cleared here: the new leader's scans will find what is still true.
    """


@hookspec
def fustor_tick(view: ViewLike, now: float) -> None:
    """Periodic housekeeping (every ``tick_interval_s``): expire list entries by age (suspects
    whose TTL passed, tombstones no running scan needs, old blind spots). Keep each call short:
    it runs on Fusion's event loop, between batches."""


@hookspec
def fustor_sentinel_tasks(view: ViewLike, limit: int) -> list[str]:
    """Paths the leader should re-``stat`` now (each implementation returns up to ``limit``)."""


@hookspec
def fustor_sentinel_feedback(view: ViewLike, updates: list[SentinelUpdate], changes: Changes) -> None:
    """The leader re-checked paths; the engine already applied what changed in the tree.

    ``changes`` says which paths the engine updated or deleted from the feedback. A suspect rule
    renews a still-changing hot file and releases one whose mtime is no longer hot.
    """


@hookspec
def fustor_node_flags(view: ViewLike) -> dict[str, Callable[[str], bool]]:
    """Flags this rule adds to every node in query answers, as name -> predicate on the path.

    Called once per query; the predicate is then called per node, so it must be O(1), e.g.
    ``{"integrity_suspect": suspects.__contains__}``. ``integrity_suspect`` and
    ``agent_missing`` are always present in answers (False when no rule provides them). Return
    the same names every time: the view asks once when it starts, and two plugins giving one
    flag stop it, naming both.

    Fusion's change feed reports every flag *transition* as a change of the node. It sees them
    by itself when the predicate is the ``__contains__`` of a list the rule published
    (``view.register_list``): the feed watches that list's membership. A rule whose predicate
    is computed otherwise calls ``view.flags_changed(paths)`` whenever the answer for those
    paths may have changed. Feed entries always carry ``complete`` as well (False unless a rule,
    the directory-completion rule, provides a flag of that name).
    """


@hookspec
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    """Keys this rule adds to the view's stats answer, e.g. ``{"suspects": 3}``.

    Return the same keys every time: the view asks once when it starts, and a key given by two
    plugins (or one of the view's own: ``files``, ``rows_accepted``...) stops it, naming them.
    """


# --------------------------------------------------------------------------------------------
# sources, pushers, sync modes (agent)
# --------------------------------------------------------------------------------------------


@hookspec
def fustor_source_drivers(register: RegisterSource) -> None:
    """Register source drivers: ``register("fs", factory)``.

    The factory (``fustor_core.agent_api.SourceFactory``) is called with the pipe's source
    options and returns an object implementing ``fustor_core.agent_api.Source`` (realtime
    stream, snapshot walk, audit walk with an mtime cache, sentinel re-check). A pipe's
    ``source.driver`` selects one by name.
    """


@hookspec
def fustor_pusher_drivers(register: RegisterPusher) -> None:
    """Register pusher drivers: ``register("http", factory)``.

    The factory (``fustor_core.agent_api.PusherFactory``) is called with the pipe's pusher
    options and returns an object implementing ``fustor_core.agent_api.Pusher`` (session,
    heartbeats and role, batches, lifecycle signals, sentinel tasks and feedback). A pipe's
    ``pusher.driver`` selects one by name.
    """


@hookspec
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    """Register sync modes: ``register("audit", factory, options=AuditOptions)``.

    A sync mode is the policy that drives a source for one pipe (``fustor_core.agent_api.SyncMode``):
    realtime, snapshot, audit, sentinel. The factory (``SyncModeFactory``; a mode class is one)
    is called once per pipe that runs the mode — with the validated instance of ``options`` when
    a model is given (a pipe configures it as ``modes: {audit: {interval_s: 600}}``; errors name
    ``pipes.0.modes.audit.interval_s``), without arguments otherwise. Leader-only modes are
    started when the pipe's role becomes leader and cancelled when it is lost. A pipe runs every
    registered mode unless its ``modes:`` turns one off (``sentinel: false``). A mode whose
    ``triggerable`` is true can be run now through the agent API and ``fustor-agent trigger``.
    """
