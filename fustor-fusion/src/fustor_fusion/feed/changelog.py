"""``ChangeFeed``: one datastore's published changes, and the clients that follow them.

**Publishing.** Each recorded outcome is queued with the journal record it belongs to
(:meth:`ChangeFeed.recorded`) and published when that record is durable
(:meth:`ChangeFeed.durable`): only then does its entry count move the feed's position, is it
kept in memory (its entries are built by the first client that reads them), and are waiting
clients woken. Ingest does nothing more for the feed — a client that reads slowly or not at all
costs ingest nothing.

**Reading.** A page is cut from what follows the client's cursor:

* from **memory** when the cursor is recent: the entries of the last ``memory_entries`` changes
  are kept (built once, shared by every client) while somebody follows the feed — a client
  read it in the last :data:`FOLLOWING_S` seconds — and nothing is kept otherwise;
* else from the **journal**, in a worker thread: the records after the cursor's are read back and
  their outcomes decoded (an event's entries come from the event's own rows), at most
  :data:`RECORDS_PER_PAGE` records per page.

Change numbers are consecutive, so a page checks that nothing is missing between the cursor and
the entries it finds: a gap (records trimmed, or skipped as corrupt) answers ``reset``, as does
a cursor of another incarnation of the view, one from the future, or one that is not a cursor.

**Waiting.** A client that is caught up waits on an :class:`asyncio.Event` that the next
publication with entries sets (and replaces): no polling, and a waiting client holds nothing but
its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

import orjson

from fustor_core.errors import Unavailable
from fustor_core.journal import Journal, JournalRecord
from fustor_core.logs import log_event
from fustor_fusion.feed import outcome as outcomes
from fustor_fusion.feed.cursor import Position, decode
from fustor_fusion.feed.outcome import DELETE, Entry, Outcome
from fustor_fusion.journaling.inputs import EVENT, split_outcome, unpack

logger = logging.getLogger(__name__)

FOLLOWING_S = 120.0
"""A feed is followed while a client read it this recently (a long poll waits at most 60 s)."""
RECORDS_PER_READ = 500
"""Journal records read per call."""
RECORDS_PER_PAGE = 20_000
"""Journal records one page reads at most; a page that stops there is not caught up."""


@dataclass(slots=True)
class Published:
    """The entries of one journal record."""

    record: int
    first: int
    count: int
    _entries: list[Entry] | None = None
    _load: Callable[[], list[Entry]] | None = field(default=None, repr=False)

    @property
    def entries(self) -> list[Entry]:
        """Built on first use (by the first client that needs them), then shared."""
        if self._entries is None:
            assert self._load is not None
            self._entries = self._load()
            self._load = None  # what they were built from (an event's rows) can go
        return self._entries


@dataclass
class Page:
    """One answer of the feed."""

    changes: list[Entry]
    next: Position
    reset: bool = False
    caught_up: bool = True
    """True when the page reached the newest published change (a client may then wait)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [entry.as_json() for entry in self.changes],
            "next": self.next.encode(),
            "reset": self.reset,
        }


def under_filter(prefix: str) -> Callable[[Entry], bool]:
    """Entries at or below ``prefix`` — and deletions of a directory above it, which took the
    whole subtree with them."""
    if prefix == "/":
        return lambda entry: True
    below = prefix + "/"

    def matches(entry: Entry) -> bool:
        path = entry.path
        if path == prefix or path.startswith(below):
            return True
        return entry.op == DELETE and (path == "/" or below.startswith(path + "/"))

    return matches


class _Collector:
    """Cuts a page from records in order, checking that change numbers follow on."""

    def __init__(self, since: Position, limit: int, matches: Callable[[Entry], bool]) -> None:
        self.since = since
        self.expected = since.number + 1
        """The next change number the client does not have yet."""
        self.record = since.record
        self.limit = limit
        self.matches = matches
        self.changes: list[Entry] = []
        self.full = False
        self.gap = False

    def skip(self, record: int) -> None:
        """A record without changes was passed."""
        self.record = max(self.record, record)

    def take(self, published: Published) -> bool:
        """Take what the client lacks from one record; False once the page is done."""
        top = published.first + published.count
        if top <= self.expected:  # delivered before
            self.skip(published.record)
            return True
        if published.first > self.expected:  # changes in between are gone
            self.gap = True
            return False
        matches, changes = self.matches, self.changes
        for entry in islice(published.entries, self.expected - published.first, None):
            self.expected = entry.number + 1
            if matches(entry):
                changes.append(entry)
                if len(changes) >= self.limit:
                    self.record = published.record
                    self.full = True
                    return False
        self.record = published.record
        return True

    def page(self, end: Position, *, reached_end: bool) -> Page | None:
        """The page, or None when changes are missing (the client must start over)."""
        if self.gap:
            return None
        view_id = end.view_id
        if self.full or not reached_end:
            return Page(self.changes, Position(view_id, self.record, self.expected - 1), caught_up=False)
        if self.expected != end.number + 1:
            return None
        return Page(self.changes, end)


class ChangeFeed:
    """The change feed of one datastore (see the module docstring)."""

    def __init__(
        self, name: str, *, memory_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.view_id = ""
        self.record = 0
        """The newest durable journal record."""
        self.next_number = 1
        """The number the next published change has."""
        self.journal: Journal | None = None
        self.closing = False
        self._memory_entries = memory_entries
        self._clock = clock
        self._pending: deque[tuple[int, Outcome]] = deque()
        self._recent: deque[Published] = deque()
        self._recent_entries = 0
        self._recent_from = 1
        """Every published change numbered from this one on is in ``_recent``."""
        self._following_until = -math.inf
        self._wake: asyncio.Event | None = None
        self.waiting = 0
        """Clients waiting for a change right now (long polls and idle streams)."""
        self.streams = 0
        """Event streams open right now."""

    def start(self, view_id: str, record: int, next_number: int, journal: Journal | None) -> None:
        """The view was loaded: its incarnation, newest record and change count."""
        self.view_id = view_id
        self.record = record
        self.next_number = next_number
        self.journal = journal
        self._pending.clear()
        self._forget_recent()

    def position(self) -> Position:
        """Where the feed stands: after the newest published change."""
        return Position(self.view_id, self.record, self.next_number - 1)

    # -- publishing (event loop) --------------------------------------------------------------------

    def recorded(self, record: int, outcome: Outcome) -> None:
        """``outcome`` was recorded in journal record ``record`` (not durable yet)."""
        self._pending.append((record, outcome))

    def durable(self, record: int) -> None:
        """Records up to ``record`` are durable: publish their outcomes."""
        if record <= self.record:
            return
        pending = self._pending
        published = False
        while pending and pending[0][0] <= record:
            seq, outcome = pending.popleft()
            self._publish(seq, outcome)
            published = True
        self.record = record
        if published:
            self._wake_all()

    def replayed(self, records: Iterable[JournalRecord]) -> None:
        """A replica applied ``records`` (durable, written by the view's owner): publish the
        outcomes they carry, as the owner published them."""
        published = False
        for record in records:
            if record.seq <= self.record:
                continue
            stored = _published(record)
            if stored is not None:
                self._publish_entries(record.seq, stored.first, stored.count, stored)
                published = True
            self.record = record.seq
        if published:
            self._wake_all()

    def _publish(self, record: int, outcome: Outcome) -> None:
        entries = partial(outcome.entries, record)  # built when a client first reads them
        self._publish_entries(
            record,
            outcome.first,
            outcome.count,
            Published(record, outcome.first, outcome.count, _load=entries),
        )

    def _publish_entries(self, record: int, first: int, count: int, published: Published) -> None:
        if first != self.next_number:  # never expected: numbers are given in order
            log_event(
                logger,
                logging.ERROR,
                "change numbers out of order",
                datastore=self.name,
                expected=self.next_number,
                got=first,
            )
            self._recent_from = first + count
        self.next_number = first + count
        if not self.following() or count > self._memory_entries:
            self._forget_recent()
            return
        self._recent.append(published)
        self._recent_entries += count
        while self._recent_entries > self._memory_entries:
            old = self._recent.popleft()
            self._recent_entries -= old.count
            self._recent_from = old.first + old.count

    def _forget_recent(self) -> None:
        self._recent.clear()
        self._recent_entries = 0
        self._recent_from = self.next_number

    def following(self) -> bool:
        """Whether somebody read the feed lately (recent entries are kept only then)."""
        return self._clock() < self._following_until

    def _follow(self) -> None:
        if not self.following():
            self._forget_recent()  # from now on every published change is kept
        self._following_until = self._clock() + FOLLOWING_S

    # -- waiting --------------------------------------------------------------------------------

    async def wait(self, number: int, timeout: float) -> None:
        """Return once a change after ``number`` is published, after ``timeout`` seconds, or when
        the feed closes — whichever comes first."""
        if self.next_number > number + 1 or self.closing or timeout <= 0:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        wake = self._wake
        self.waiting += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
        finally:
            self.waiting -= 1

    def _wake_all(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.set()

    def close(self) -> None:
        """Fusion stops: every waiting client answers now, every stream ends."""
        self.closing = True
        self._wake_all()

    def stats(self) -> dict[str, Any]:
        """For the view's stats: the position, and who follows."""
        return {
            "seq": self.next_number - 1,
            "record": self.record,
            "following": self.following(),
            "in_memory": self._recent_entries,
            "waiting": self.waiting,
            "streams": self.streams,
        }

    # -- reading --------------------------------------------------------------------------------

    async def page(self, since: str | Position | None, limit: int, under: str = "/") -> Page:
        """Up to ``limit`` changes at or below ``under`` after ``since`` (a cursor; None: none,
        the current position)."""
        self._follow()
        end = self.position()
        if since is None:
            return Page([], end)
        cursor = decode(since) if isinstance(since, str) else since
        if (
            cursor is None
            or cursor.view_id != self.view_id
            or cursor.number >= self.next_number
            or cursor.record > self.record
        ):
            return Page([], end, reset=True)
        collector = _Collector(cursor, limit, under_filter(under))
        if cursor.number + 1 >= self._recent_from:
            for published in self._recent_after(cursor.number):
                if not collector.take(published):
                    break
            page = collector.page(end, reached_end=True)
        elif self.journal is not None:
            page = await asyncio.to_thread(self._read_journal, self.journal, collector, end)
        else:
            page = None  # kept in memory only, and no longer there
        return page if page is not None else Page([], end, reset=True)

    def _recent_after(self, number: int) -> Iterable[Published]:
        recent = self._recent
        start = len(recent)
        while start and recent[start - 1].first + recent[start - 1].count - 1 > number:
            start -= 1
        return islice(recent, start, None)

    def _read_journal(self, journal: Journal, collector: _Collector, end: Position) -> Page | None:
        """In a worker thread: the page from the journal's records after the cursor's."""
        after = collector.since.record - 1  # the cursor's own record may hold changes still due
        read = 0
        try:
            while read < RECORDS_PER_PAGE:
                records = journal.read(after, RECORDS_PER_READ)
                for record in records:
                    if record.seq > end.record:
                        return collector.page(end, reached_end=True)
                    after = record.seq
                    read += 1
                    published = _published(record)
                    if published is None:
                        collector.skip(record.seq)
                    elif not collector.take(published):
                        return collector.page(end, reached_end=False)
                if len(records) < RECORDS_PER_READ:
                    return collector.page(end, reached_end=True)
        except (ValueError, KeyError, TypeError, IndexError) as exc:  # an outcome that cannot be read
            log_event(
                logger, logging.ERROR, "change feed: unreadable record", datastore=self.name, error=repr(exc)
            )
            return None
        except Exception as exc:  # the journal is closing or failing
            raise Unavailable(
                f"the change feed of {self.name!r} cannot read its journal now ({exc})"
            ) from exc
        return collector.page(end, reached_end=False)


def _published(record: JournalRecord) -> Published | None:
    """The changes a journal record holds (None: its input changed nothing)."""
    payload, stored = split_outcome(unpack(record.payload))
    if stored is None:
        return None
    first, count = outcomes.header(stored)
    kind = record.kind

    def load() -> list[Entry]:
        def rows() -> list[dict[str, Any]]:
            if kind != EVENT:
                raise ValueError(f"a {kind} record's outcome refers to rows")
            fields: list[dict[str, Any]] = orjson.loads(payload)[4]
            return fields

        return outcomes.decode(stored, rows).entries(record.seq)

    return Published(record.seq, first, count, _load=load)
