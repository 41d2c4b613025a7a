"""``ClusterMember``: one view's ownership on one node — claim, take over, step down, leave.

Every ``renew_interval_s`` the node claims the view's lease (in a thread of its own, so a
stalled store never holds the event loop). What the answer means:

* **held, and this node is a replica** → *take over*: under the write lock, apply the journal to
  its end (nobody else can append any more: the claim moved the lease), fence the journal at the
  new epoch, and start recording from the last record applied. A caught-up replica does this in
  milliseconds; then ingest is accepted and the node ticks, snapshots and trims.
* **held, and this node owns it** → renewed: the deadline moves to the claim's *start* plus
  ``lease_s`` (a changed epoch means the lease was lost and retaken meanwhile: step down, then
  take over again from the journal).
* **not held** (or no successful claim by the deadline — the store is unreachable or stalled)
  → *step down* at once: ingest is refused from that moment (307 to the owner, 503 while none is
  known), the requests waiting for their records fail, the sessions end. If some applied input
  was never stored, the view diverged from the journal and is rebuilt from it; otherwise the node
  simply follows the journal from its last durable record.

The journal writer also reports an append refused by the fence (:class:`~fustor_core.cluster.NotOwner`):
that is a step-down too. A clean stop releases the lease after the last snapshot, so a replica
takes over at its next claim instead of waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fustor_core.cluster import Lease, SharedJournal
from fustor_core.logs import log_event
from fustor_fusion.cluster.follower import Follower
from fustor_fusion.cluster.state import ClusterState, Role
from fustor_fusion.config import ClusterConfig

if TYPE_CHECKING:
    from fustor_fusion.datastore import Datastore

logger = logging.getLogger(__name__)

REBUILD_RETRY_FIRST_S = 0.5
REBUILD_RETRY_MAX_S = 10.0


class ClusterMember:
    """The cluster side of one datastore on this node."""

    def __init__(self, datastore: Datastore, journal: SharedJournal, config: ClusterConfig) -> None:
        self.datastore = datastore
        self.journal = journal
        self.config = config
        self.lease_s = config.lease_s
        self.renew_s = config.renew_every_s
        self.state = ClusterState(datastore.name, config.node_id, config.advertise_url)
        self.follower = Follower(datastore, journal)
        self._claims = ThreadPoolExecutor(1, thread_name_prefix=f"claim-{datastore.name}")
        """Its own thread: a claim stalled on the store must not hold the loop's shared pool."""
        self._deadline: float | None = None
        """While owner: when to step down unless a claim succeeds (monotonic clock)."""
        self._changing = asyncio.Lock()
        """Take-overs and step-downs one at a time."""
        self._ownership: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self._stepping: set[asyncio.Task[None]] = set()
        self._claim_failure: str | None = None
        self.on_role_change: Callable[[], None] | None = None
        """Told after each take-over and step-down (e.g. to report the node to the Registry now)."""
        datastore.durability.on_lost = self._append_refused

    # -- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        """The view is loaded: follow the journal, and claim the view."""
        loop = asyncio.get_running_loop()
        self._start_following()
        self._ownership = loop.create_task(self._run(), name=f"ownership-{self.datastore.name}")

    def _start_following(self) -> None:
        if self._following is None or self._following.done():
            self._following = asyncio.get_running_loop().create_task(
                self.follower.run(), name=f"follow-{self.datastore.name}"
            )

    async def _stop_following(self) -> None:
        task, self._following = self._following, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        """Stop claiming and following (Fusion stops; the journal is closed afterwards)."""
        for task in (self._ownership, *self._stepping):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._ownership, *self._stepping) if t is not None), return_exceptions=True
        )
        await self._stop_following()
        self.follower.close()
        self._claims.shutdown(wait=False, cancel_futures=True)

    def release(self) -> None:
        """In a thread, at a clean stop after the last snapshot: give the lease up now."""
        if self.state.role is Role.OWNER:
            self.journal.release(self.config.node_id)
            log_event(logger, logging.INFO, "view released", datastore=self.datastore.name)

    # -- the ownership loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        while True:
            started = time.monotonic()
            claim = loop.run_in_executor(
                self._claims, self.journal.claim, config.node_id, config.advertise_url, self.lease_s
            )
            lease = await self._settle(claim)
            if lease is not None:
                self.state.learn(lease, started)
                try:
                    await self._act_on(lease, started)
                except Exception:
                    logger.exception("cluster: acting on the lease failed (view %s)", self.datastore.name)
            await self._sleep_until(started + self.renew_s)

    async def _settle(self, claim: asyncio.Future[Lease]) -> Lease | None:
        """The claim's answer (None if it failed); steps down meanwhile if the deadline passes."""
        while True:
            timeout = None
            if self.state.role is Role.OWNER and self._deadline is not None:
                timeout = max(0.0, self._deadline - time.monotonic())
            done, _ = await asyncio.wait({claim}, timeout=timeout)
            if done:
                try:
                    lease = claim.result()
                except Exception as exc:
                    if self._claim_failure is None:
                        log_event(
                            logger,
                            logging.ERROR,
                            "cannot claim the view's lease",
                            datastore=self.datastore.name,
                            error=repr(exc),
                        )
                    self._claim_failure = repr(exc)
                    return None
                if self._claim_failure is not None:
                    log_event(
                        logger,
                        logging.WARNING,
                        "claiming the lease works again",
                        datastore=self.datastore.name,
                    )
                    self._claim_failure = None
                return lease
            await self.step_down(f"no renewal of the lease succeeded within lease_s ({self.lease_s:g} s)")

    async def _sleep_until(self, when: float) -> None:
        while True:
            now = time.monotonic()
            wake = when
            if self.state.role is Role.OWNER and self._deadline is not None:
                wake = min(wake, self._deadline)
            if wake > now:
                await asyncio.sleep(wake - now)
            if (
                self.state.role is Role.OWNER
                and self._deadline is not None
                and time.monotonic() >= self._deadline
            ):
                await self.step_down(f"no renewal of the lease succeeded within lease_s ({self.lease_s:g} s)")
                continue
            if time.monotonic() >= when:
                return

    async def _act_on(self, lease: Lease, started: float) -> None:
        state = self.state
        if lease.held_by(self.config.node_id):
            if state.role is Role.OWNER:
                if lease.epoch == state.epoch:
                    self._deadline = started + self.lease_s
                    return
                await self.step_down(f"the lease changed epoch ({state.epoch} -> {lease.epoch}) meanwhile")
            await self.take_over(lease, started)
        elif state.role is Role.OWNER:
            await self.step_down(f"node {lease.owner!r} holds the lease")

    # -- transitions ------------------------------------------------------------------------------

    async def take_over(self, lease: Lease, started: float) -> None:
        """Become the owner at ``lease.epoch`` (the claim that won it started at ``started``)."""
        datastore = self.datastore
        durability = datastore.durability
        async with self._changing:
            if self.state.role is Role.OWNER:
                return
            took = time.perf_counter()
            if not await durability.join_stopped_writers(self.lease_s):
                log_event(
                    logger,
                    logging.ERROR,
                    "cannot take the view over yet: an earlier append is still running",
                    datastore=datastore.name,
                )
                return
            await self._stop_following()
            try:
                async with datastore.write_lock:
                    caught_up = await self.follower.catch_up(locked=True)
                    loop = asyncio.get_running_loop()
                    snapshots = await loop.run_in_executor(self._claims, self.journal.snapshots)
                    durability.rebase_policy(snapshots[0] if snapshots else None)
                    await loop.run_in_executor(
                        self._claims, self.journal.fence, self.config.node_id, lease.epoch
                    )
                    if time.monotonic() >= started + self.lease_s:
                        raise TimeoutError("the lease ran out while taking the view over")
                    durability.start_recording(datastore.view)
                    self.state.role = Role.OWNER
                    self.state.epoch = lease.epoch
                    self.state.takeovers += 1
                    self.state.caught_up_to(durability.seq)
                    self._deadline = started + self.lease_s
            except Exception as exc:
                log_event(
                    logger,
                    logging.ERROR,
                    "taking the view over failed",
                    datastore=datastore.name,
                    error=repr(exc),
                )
                self._start_following()
                return
        datastore.seq_watch.moved()
        self._role_changed()
        log_event(
            logger,
            logging.INFO,
            "took the view over",
            datastore=datastore.name,
            epoch=lease.epoch,
            seq=durability.seq,
            caught_up_records=caught_up,
            took_s=f"{time.perf_counter() - took:.3f}",
        )

    def _append_refused(self, reason: str) -> None:
        """The journal refused an append (fenced): stop acting as owner now, the rest in a task."""
        lost = self._leave_ownership(reason)
        if lost is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._follow_again(lost), name=f"step-down-{self.datastore.name}"
        )
        self._stepping.add(task)
        task.add_done_callback(self._stepping.discard)

    async def step_down(self, reason: str) -> None:
        """Stop acting as the owner now; rebuild the view if it holds inputs the journal lacks,
        then follow the journal."""
        lost = self._leave_ownership(reason)
        if lost is not None:
            await self._follow_again(lost)

    def _leave_ownership(self, reason: str) -> int | None:
        """The synchronous part of a step-down, before any await: ingest is refused from now on
        and requests waiting for their records fail. Returns how many applied inputs were not
        stored (None: this node was not the owner)."""
        datastore = self.datastore
        state = self.state
        if state.role is not Role.OWNER:
            return None
        state.role = Role.REPLICA
        state.epoch = None
        self._deadline = None
        lost = datastore.durability.stop_recording(datastore.view, reason)
        dropped = datastore.sessions.drop_all("session ended: this node no longer owns the view")
        log_event(
            logger,
            logging.WARNING,
            "stepped down",
            datastore=datastore.name,
            reason=reason,
            unstored_inputs=lost,
            sessions_ended=dropped,
        )
        self._role_changed()
        return lost

    def _role_changed(self) -> None:
        if self.on_role_change is not None:
            try:
                self.on_role_change()
            except Exception:
                logger.exception("cluster: a role change listener failed (view %s)", self.datastore.name)

    async def _follow_again(self, lost: int) -> None:
        async with self._changing:
            if lost:
                await self._rebuild()
            self._start_following()

    async def _rebuild(self) -> None:
        """Rebuild the diverged view from the journal, retrying until the store answers; the
        view answers 503 ``view_loading`` meanwhile rather than show inputs nobody stored."""
        datastore = self.datastore
        datastore.ready = False
        delay = REBUILD_RETRY_FIRST_S
        try:
            while True:
                try:
                    async with datastore.write_lock:
                        await datastore.rebuild_from_journal()
                    return
                except Exception as exc:
                    datastore.durability.progress = (
                        f"cannot rebuild the view from the journal: {exc}; retrying"
                    )
                    log_event(
                        logger,
                        logging.ERROR,
                        "rebuilding the view failed",
                        datastore=datastore.name,
                        error=repr(exc),
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, REBUILD_RETRY_MAX_S)
        finally:
            datastore.ready = True
