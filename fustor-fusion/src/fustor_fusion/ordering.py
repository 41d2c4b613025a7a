"""Per-session ordering and idempotency of batches (the ``seq`` numbers of the ingest protocol).

Agents deliver at least once: a batch whose answer was lost is sent again with the same ``seq``.
A :class:`BatchSequencer` applies batch ``n`` of a session only after batch ``n-1``, applies each
``seq`` once, and answers a re-send with the answer it gave the first time. Lifecycle signals
wait on the same sequence (``after_seq``), which is how an audit-end is kept behind every audit
row its session sent before it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fustor_core.errors import Conflict

T = TypeVar("T")

REMEMBERED_ANSWERS = 1024
"""How many recent answers a session keeps for re-sends."""
MAX_AHEAD = 256
"""A batch further ahead than this of the last applied one is refused at once, not parked."""


class BatchSequencer:
    """Orders one session's batches by ``seq`` and remembers recent answers."""

    def __init__(self, *, wait_s: float) -> None:
        self.applied_seq = 0
        self.waiting = 0
        """Requests parked until their predecessors are applied (visible for operators and tests)."""
        self._wait_s = wait_s
        self._answers: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._turn = asyncio.Condition()

    async def apply(
        self, seq: int | None, work: Callable[[], Awaitable[dict[str, Any]]]
    ) -> tuple[dict[str, Any], bool]:
        """Run ``work`` as batch ``seq`` and return ``(answer, duplicate)``.

        ``seq=None`` runs at once (in arrival order, no idempotency). If ``work`` raises, the
        ``seq`` is not consumed, so the same batch can be sent again.
        """
        async with self._turn:
            if seq is None:
                return await work(), False
            if seq <= self.applied_seq:
                return self._remembered(seq), True
            if seq > self.applied_seq + MAX_AHEAD:
                raise self._gap(seq)
            await self._wait_until(seq - 1, seq)
            if seq <= self.applied_seq:  # a copy of this batch was applied while we waited
                return self._remembered(seq), True
            answer = await work()
            self.applied_seq = seq
            self._answers[seq] = answer
            while len(self._answers) > REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
            self._turn.notify_all()
            return answer, False

    async def after(self, after_seq: int | None, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` once batches ``1..after_seq`` were applied (at once when None)."""
        async with self._turn:
            if after_seq is not None and after_seq > self.applied_seq:
                if after_seq > self.applied_seq + MAX_AHEAD:
                    raise self._gap(after_seq + 1)
                await self._wait_until(after_seq, after_seq + 1)
            return await work()

    async def _wait_until(self, applied: int, seq: int) -> None:
        if self.applied_seq >= applied:
            return
        self.waiting += 1
        try:
            async with asyncio.timeout(self._wait_s):
                await self._turn.wait_for(lambda: self.applied_seq >= applied)
        except TimeoutError:
            raise self._gap(seq) from None
        finally:
            self.waiting -= 1

    def _gap(self, seq: int) -> Conflict:
        return Conflict(
            f"seq {seq} waits for seq {self.applied_seq + 1}, which has not arrived;"
            f" re-send the batches after seq {self.applied_seq} in order",
            code="seq_gap",
        )

    def _remembered(self, seq: int) -> dict[str, Any]:
        answer = self._answers.get(seq)
        if answer is None:  # too old to remember: it was applied, that is all we know
            return {"accepted": 0, "dropped": 0, "unchanged": 0, "reasons": {}, "seq": seq}
        return answer
