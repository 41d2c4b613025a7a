"""The event bus of one pipe: bounded, ordered, every subscriber sees every item.

Producers (realtime watcher, scans) ``publish``; when the bus holds ``capacity`` rows they wait
until the slowest subscriber has taken enough — backpressure instead of dropping. Each
subscriber has its own cursor; an item is freed as soon as every subscriber has taken it, so
memory is bounded by the capacity (plus what subscribers hold in hand, e.g. one batch in flight).

Capacity is counted in rows (a signal counts as one), because rows are what costs memory. An
event larger than the whole capacity is let in when the bus is empty, so it can never deadlock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from fustor_core.agent_api import OutgoingEvent, StreamItem


def weight(item: StreamItem) -> int:
    """Rows an item holds, for the capacity (at least 1)."""
    return max(1, len(item.rows)) if isinstance(item, OutgoingEvent) else 1


class EventBus:
    """A bounded multi-subscriber queue living in one event loop."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: deque[tuple[StreamItem, int]] = deque()
        self._base = 0
        """Absolute index of ``_items[0]``."""
        self._rows = 0
        self._subscribers: list[Subscription] = []
        self._changed = asyncio.Condition()
        self._closed = False
        self.published_items = 0
        self.published_rows = 0
        self.producer_waits = 0
        self.producer_wait_s = 0.0
        self.peak_rows = 0

    @property
    def end(self) -> int:
        """Absolute index one past the newest item."""
        return self._base + len(self._items)

    @property
    def depth(self) -> int:
        """Rows held (not yet taken by every subscriber)."""
        return self._rows

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, name: str) -> Subscription:
        """A new subscriber; it sees items published from now on."""
        subscription = Subscription(self, name, self.end)
        self._subscribers.append(subscription)
        return subscription

    async def publish(self, item: StreamItem) -> None:
        """Append ``item``; waits while the bus is full. Raises RuntimeError once closed."""
        size = weight(item)
        async with self._changed:
            if self._rows + size > self.capacity and self._items:
                self.producer_waits += 1
                started = time.monotonic()
                while self._rows + size > self.capacity and self._items and not self._closed:
                    await self._changed.wait()
                self.producer_wait_s += time.monotonic() - started
            if self._closed:
                raise RuntimeError("the event bus is closed")
            if not self._subscribers:
                self._base += 1  # nobody listens: freed at once
                return
            self._items.append((item, size))
            self._rows += size
            self.peak_rows = max(self.peak_rows, self._rows)
            self.published_items += 1
            self.published_rows += size
            self._changed.notify_all()

    async def close(self) -> None:
        """No more items; subscribers drain what is left, then get ``[]``."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _release(self) -> None:
        """Free the items every subscriber has taken."""
        if not self._subscribers:
            return
        slowest = min(sub.cursor for sub in self._subscribers)
        while self._items and self._base < slowest:
            _, size = self._items.popleft()
            self._rows -= size
            self._base += 1


class Subscription:
    """One subscriber's cursor into the bus."""

    def __init__(self, bus: EventBus, name: str, cursor: int) -> None:
        self.bus = bus
        self.name = name
        self.cursor = cursor

    @property
    def pending_rows(self) -> int:
        """Rows published but not yet taken by this subscriber."""
        bus = self.bus
        start = self.cursor - bus._base
        return sum(size for _, size in list(bus._items)[start:])

    def _grab(self, max_rows: int, taken_rows: int, out: list[StreamItem]) -> int:
        bus = self.bus
        while self.cursor < bus.end:
            item, size = bus._items[self.cursor - bus._base]
            if out and taken_rows + size > max_rows:
                break
            out.append(item)
            taken_rows += size
            self.cursor += 1
        return taken_rows

    async def take(self, max_rows: int, linger_s: float = 0.0) -> list[StreamItem]:
        """The next items, about ``max_rows`` rows (never splitting one; at least one item).

        Waits for the first; then takes what is queued and, with ``linger_s``, waits that long
        for more while the batch is not full. ``[]`` once the bus is closed and drained.
        """
        bus = self.bus
        condition = bus._changed
        out: list[StreamItem] = []
        async with condition:
            while self.cursor >= bus.end and not bus.closed:
                await condition.wait()
            taken = self._grab(max_rows, 0, out)
            if linger_s > 0 and out and taken < max_rows:
                deadline = time.monotonic() + linger_s
                while taken < max_rows and not bus.closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        await asyncio.wait_for(condition.wait(), remaining)
                    except TimeoutError:
                        break
                    taken = self._grab(max_rows, taken, out)
            bus._release()
            condition.notify_all()
        return out
