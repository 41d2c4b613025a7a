"""One served datastore: its arbitrated view, its ingest sessions and its single-writer lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pluggy
from pydantic import BaseModel

from fustor_core.errors import Unavailable
from fustor_core.journal import Journal
from fustor_fusion.config import DatastoreConfig, FusionConfig
from fustor_fusion.feed.changelog import ChangeFeed
from fustor_fusion.fresh import FreshRequests
from fustor_fusion.journaling.keeper import ViewJournal
from fustor_fusion.journaling.recording import JournaledView
from fustor_fusion.sessions import SessionTable

T = TypeVar("T")


def _ignore(seconds: float) -> None:
    pass


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

    def _new_leader(self, session_id: str) -> None:
        self.view.leader_session(session_id)

    async def load(self) -> None:
        """Rebuild the view from its journal; the datastore serves once this returns."""
        self.view = await self.durability.load(self._make_view, self.view)
        durability = self.durability
        self.feed.start(
            durability.view_id, durability.seq, self.view.change_tracker.next_number, durability.journal
        )
        self.ready = True

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
            result = apply()
            durable = self.durability.durable()  # appended inline when that is cheap (then None)
        if durable is not None and wait_durable:
            await durable
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
        await self.durability.close(self.write_lock, self._current_view)

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
        return answer
