"""One served datastore: its arbitrated view, its ingest sessions and its single-writer lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pluggy
from pydantic import BaseModel

from fustor_core.cluster import SharedJournal
from fustor_core.errors import Unavailable
from fustor_core.journal import Journal
from fustor_fusion.cluster.member import ClusterMember
from fustor_fusion.cluster.state import ClusterState, Role
from fustor_fusion.config import DatastoreConfig, FusionConfig
from fustor_fusion.consistency import SeqWatch
from fustor_fusion.feed.changelog import ChangeFeed
from fustor_fusion.fresh import FreshRequests
from fustor_fusion.journaling.keeper import ViewJournal
from fustor_fusion.journaling.recording import JournaledView
from fustor_fusion.journaling.writer import WriterStopped
from fustor_fusion.sessions import SessionTable

T = TypeVar("T")


def _ignore(seconds: float) -> None:
    pass


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Datastore:
    """Everything Fusion keeps for one datastore.

    The engine is synchronous and not thread-safe; every change of the view goes through
    :meth:`write` (under ``write_lock``) so that one writer at a time touches it, whichever
    session it comes from, and is answered only once its journal records are durable.
    """

    def __init__(
        self,
        name: str,
        settings: DatastoreConfig,
        config: FusionConfig,
        *,
        pm: pluggy.PluginManager,
        now: Callable[[], float],
        journal: Journal | None = None,
        rule_options: Mapping[str, BaseModel] | None = None,
        observe_batch: Callable[[float], None] | None = None,
    ) -> None:
        """:param observe_batch: called with the seconds each batch took to apply (metrics)."""
        self.name = name
        self.observe_batch = observe_batch if observe_batch is not None else _ignore
        self.refused: Counter[str] = Counter()
        """Rows refused before they reached the view (validation, a follower's scan rows), by
        reason; the view counts its own rules' drops."""

        def make_view() -> JournaledView:
            return JournaledView(
                name,
                pm,
                config.arbitration(),
                storage_backend=settings.storage.backend,
                storage_options=settings.storage.options,
                rule_options=rule_options,
                now=now,
            )

        self._make_view = make_view
        self.view = make_view()
        self.durability = ViewJournal(name, journal, config.journal, now=now)
        self.feed = ChangeFeed(name, memory_entries=config.change_feed.memory_entries)
        """What each input changed, for clients that follow the view."""
        self.durability.on_outcome = self.feed.recorded
        self.durability.on_durable = self.feed.durable
        self.ready = False
        """False until the view was loaded from its journal (queries and ingest answer 503)."""
        self.write_lock = asyncio.Lock()
        self.sessions = SessionTable(
            name,
            timeout_s=config.session_timeout_s,
            ordering_wait_s=config.ordering_wait_s,
            now=now,
            on_new_leader=self._new_leader,
            max_per_owner=config.max_sessions_per_key,
        )
        self.fresh = FreshRequests(name, self.sessions)
        """Relist tasks between ``fresh=true`` queries and the leader agent."""
        self.seq_watch = SeqWatch(lambda: self.durability.applied_seq)
        """Wakes queries waiting (``?min_seq``) for the view to reach a record."""
        self.cluster: ClusterMember | None = None
        """This view's part in a cluster (None: this node owns it alone)."""
        if config.cluster is not None:
            assert isinstance(journal, SharedJournal)  # checked by the service, with a message
            self.cluster = ClusterMember(self, journal, config.cluster)

    def _new_leader(self, session_id: str) -> None:
        self.view.leader_session(session_id)

    async def load(self) -> None:
        """Rebuild the view from its journal; the datastore serves once this returns (a cluster
        node as a replica, until its first claim of the view says otherwise)."""
        self.view = await self.durability.load(self._make_view, self.view, record=self.cluster is None)
        self._start_feed()
        self.ready = True
        if self.cluster is not None:
            self.cluster.start()

    def _start_feed(self) -> None:
        durability = self.durability
        self.feed.start(
            durability.view_id, durability.seq, self.view.change_tracker.next_number, durability.journal
        )

    async def rebuild_from_journal(self) -> None:
        """Replace the view by one rebuilt from the journal (the caller holds the write lock):
        this node applied inputs that were never stored, so its copy no longer matches."""
        self.view = await self.durability.rebuild(self._make_view)
        self._start_feed()
        self.seq_watch.moved()

    # -- the cluster ------------------------------------------------------------------------------

    @property
    def cluster_state(self) -> ClusterState | None:
        return self.cluster.state if self.cluster is not None else None

    @property
    def role(self) -> Role:
        """``single`` without a cluster; else ``owner`` or ``replica``."""
        return self.cluster.state.role if self.cluster is not None else Role.SINGLE

    @property
    def writable(self) -> bool:
        """This node applies the view's inputs (it owns the view, or has no cluster)."""
        return self.cluster is None or self.cluster.state.role is Role.OWNER

    def require_owner(self, what: str) -> None:
        """307 to the owner (503 ``no_owner`` when none is known) unless this node owns the view."""
        if self.cluster is not None and self.cluster.state.role is not Role.OWNER:
            raise self.cluster.state.refusal(what)

    def describe_role(self) -> dict[str, Any]:
        """The view's role and lag, for ``/readyz`` and the stats."""
        durability = self.durability
        if self.cluster is None:
            seq = durability.applied_seq
            return {
                "role": str(Role.SINGLE),
                "owner": None,
                "owner_url": None,
                "epoch": None,
                "journal_seq": seq,
                "lag_records": 0,
                "lag_s": 0.0,
                "takeovers": 0,
                "seq": seq,
            }
        return {**self.cluster.state.describe(durability.seq), "seq": durability.applied_seq}

    def require_ready(self) -> None:
        """503 ``view_loading`` while the view is still being rebuilt."""
        if not self.ready:
            raise Unavailable(
                f"view {self.name!r} is loading after a restart ({self.durability.progress}); retry shortly",
                code="view_loading",
            )

    async def write(self, apply: Callable[[], T], *, wait_durable: bool = True) -> T:
        """Run ``apply`` (a change of the view) under the write lock; return once its journal
        records are durable, so the caller's answer means "kept" (the tick, which answers
        nobody, passes ``wait_durable=False``)."""
        async with self.write_lock:
            self.require_ready()
            self.require_owner("ingest")  # checked again under the lock: a step-down may have come first
            result = apply()
            durable = self.durability.durable()  # appended inline when that is cheap (then None)
            self.seq_watch.moved()
        if durable is not None and not wait_durable and isinstance(durable, asyncio.Future):
            durable.add_done_callback(_retrieve)  # nobody awaits it: a failure is the writer's to log
        elif durable is not None and wait_durable:
            try:
                await durable
            except WriterStopped:  # this node lost the view before the records were stored
                self.require_owner("ingest")
                raise
        self.durability.after_write(self.write_lock, self._current_view)
        return result

    def _current_view(self) -> JournaledView:
        return self.view

    def tick(self) -> None:
        """Expire silent sessions, then let the rules do their periodic work (under the lock)."""
        self.sessions.expire_stale()
        self.view.tick()

    def view_info(self) -> dict[str, Any]:
        """``{id, seq, restored}``: which incarnation of the view this is and how far it got."""
        return self.durability.info()

    async def snapshot(self) -> dict[str, Any] | None:
        """Write a snapshot of the view now (tests, benchmarks); its figures."""
        return await self.durability.snapshot(self.write_lock, self._current_view)

    async def close(self) -> None:
        """Stop cleanly: the feed's clients answered, pending records durable, a last snapshot,
        the journal closed."""
        self.feed.close()
        cluster = self.cluster
        if cluster is not None:
            await cluster.stop()
        await self.durability.close(
            self.write_lock, self._current_view, before_close=cluster.release if cluster is not None else None
        )

    def stats(self) -> dict[str, Any]:
        """The view's stats plus who leads, how many sessions are live, and its journal."""
        answer = self.view.stats()
        leader = self.sessions.leader
        answer["leader"] = leader.session_id if leader is not None else None
        answer["leader_agent_id"] = leader.agent_id if leader is not None else None
        answer["sessions"] = self.sessions.count()
        answer["journal"] = self.durability.stats()
        answer["fresh"] = self.fresh.stats()
        answer["change_feed"] = self.feed.stats()
        role = self.describe_role()
        answer["cluster"] = {
            key: role[key]
            for key in ("role", "owner", "owner_url", "epoch", "seq", "lag_records", "takeovers")
        }
        return answer
