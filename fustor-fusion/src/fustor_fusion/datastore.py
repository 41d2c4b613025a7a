"""One served datastore: its arbitrated view, its ingest sessions and its single-writer lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pluggy

from fustor_fusion.config import DatastoreConfig, FusionConfig
from fustor_fusion.engine import View
from fustor_fusion.sessions import SessionTable


class Datastore:
    """Everything Fusion keeps for one datastore.

    The engine is synchronous and not thread-safe; every write goes through ``write_lock`` so
    that one writer at a time touches the view, whichever session it comes from.
    """

    def __init__(
        self,
        name: str,
        settings: DatastoreConfig,
        config: FusionConfig,
        *,
        pm: pluggy.PluginManager,
        now: Callable[[], float],
    ) -> None:
        self.name = name
        self.view = View(
            name,
            pm,
            config.arbitration(),
            storage_backend=settings.storage.backend,
            storage_options=settings.storage.options,
            now=now,
        )
        self.write_lock = asyncio.Lock()
        self.sessions = SessionTable(
            name,
            timeout_s=config.session_timeout_s,
            ordering_wait_s=config.ordering_wait_s,
            now=now,
            on_new_leader=self.view.leader_session,
        )

    def tick(self) -> None:
        """Expire silent sessions, then let the rules do their periodic work."""
        self.sessions.expire_stale()
        self.view.tick()

    def stats(self) -> dict[str, Any]:
        """The view's stats plus who leads and how many sessions are live."""
        answer = self.view.stats()
        leader = self.sessions.leader
        answer["leader"] = leader.session_id if leader is not None else None
        answer["leader_agent_id"] = leader.agent_id if leader is not None else None
        answer["sessions"] = len(self.sessions.live())
        return answer
