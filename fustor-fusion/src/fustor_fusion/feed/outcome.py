"""An input's outcome: what it changed in the view, compact enough to journal with every input.

The entries of the change feed are derived from the journal alone (a restarted Fusion, or a
replica following the journal, serves them without recomputing anything), so each input's
record carries its outcome beside the input itself (:func:`~fustor_fusion.journaling.inputs.with_outcome`).
The outcome refers to the input rather than repeating it: an event's written rows are *indices*
into the event's own rows (``None`` when every row was written, the common case), which keeps
the outcome of a 1,000-row snapshot batch a few bytes. Only what the input does not say is
spelled out: nodes written or re-flagged without a row of their own (a directory whose mtime a
realtime row refreshed, a file the sentinel re-stated, a node whose flag changed) with their
state after the input, and the deleted paths.

Flags are stored as the positions of the upsert entries for which each flag is true, one list
per flag the view's rules provided (an empty list when the flag is false everywhere), so an
entry carries every flag with its value after the input.

Entry order within an input: written rows (in row order), then the other upserted nodes, then
the deletions; their numbers are consecutive from :attr:`Outcome.first`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

UPSERT = "upsert"
DELETE = "delete"
ALWAYS_PRESENT_FLAGS = ("integrity_suspect", "agent_missing", "complete")
"""Flags every entry carries, False when no rule provides them (``complete`` belongs to the
directory-completion rule; until it is installed it is always False)."""

NodeState = tuple[str, bool, int, float]
"""``(path, is_dir, size, mtime)`` of a node after the input."""


class Entry(NamedTuple):
    """One change: a node written (``upsert``, with its state and flags) or removed (``delete``;
    a directory stands for its whole former subtree)."""

    number: int
    """The change's ``seq``: one counter per view incarnation, strictly increasing."""
    record: int
    """The journal record (input) it belongs to."""
    op: str
    path: str
    is_dir: bool | None
    size: int | None
    mtime: float | None
    flag_names: tuple[str, ...]
    flag_bits: int
    """Bit ``i`` set: ``flag_names[i]`` is true for the node."""

    def as_json(self) -> dict[str, Any]:
        """The entry as the API answers it."""
        answer: dict[str, Any] = {
            "seq": self.number,
            "op": self.op,
            "path": self.path,
            "is_dir": self.is_dir,
            "size": self.size,
            "mtime": self.mtime,
            "integrity_suspect": False,
            "agent_missing": False,
            "complete": False,
        }
        bits = self.flag_bits
        for i, name in enumerate(self.flag_names):
            answer[name] = bool(bits >> i & 1)
        return answer


@dataclass(slots=True)
class Outcome:
    """What one input changed (see the module docstring)."""

    first: int
    """Number of the first entry."""
    rows: Sequence[Any] = ()
    """The event's rows (Row objects live, field dicts when read back); only with ``kept``."""
    kept: Sequence[int] = ()
    """Indices of the rows written (upserts) by an event."""
    nodes: list[NodeState] = field(default_factory=list)
    deleted: list[tuple[str, bool | None]] = field(default_factory=list)
    """``(path, is_dir)`` of each node removed (is_dir None where the input did not say)."""
    flags: dict[str, list[int]] = field(default_factory=dict)
    """Flag name -> positions (among the upsert entries) where it is true."""

    @property
    def count(self) -> int:
        return len(self.kept) + len(self.nodes) + len(self.deleted)

    @property
    def upserts(self) -> int:
        return len(self.kept) + len(self.nodes)

    def encode(self) -> bytes:
        """The outcome as stored in the journal record (the rows are the input's)."""
        kept = self.kept
        every_row = isinstance(kept, range) and kept == range(len(self.rows))
        return orjson.dumps(
            [
                self.first,
                self.count,
                None if every_row or not kept else list(kept),
                self.nodes,
                self.deleted,
                self.flags,
            ]
        )

    def entries(self, record: int) -> list[Entry]:
        """The feed entries of this outcome, for journal record ``record``."""
        rows = self.rows
        if rows and not isinstance(rows[0], Mapping):  # live Row objects: their field dicts
            rows = [vars(row) for row in rows]
        return list(_entries(self, record, rows))


def decode(stored: bytes, load_rows: Callable[[], Sequence[Mapping[str, Any]]]) -> Outcome:
    """An outcome back from :meth:`Outcome.encode`; ``load_rows`` gives the input's rows (field
    dicts) and is called only for an outcome that refers to them."""
    first, count, kept, nodes, deleted, flags = orjson.loads(stored)
    outcome = Outcome(
        first=first,
        nodes=[(p, d, s, m) for p, d, s, m in nodes],
        deleted=[(p, d) for p, d in deleted],
        flags=flags,
    )
    rows_written = count - len(nodes) - len(deleted)
    if rows_written:
        rows = load_rows()
        outcome.rows = rows
        outcome.kept = range(len(rows)) if kept is None else kept
        if len(outcome.kept) != rows_written:
            raise ValueError("outcome and input disagree on the rows written")
    return outcome


def header(stored: bytes) -> tuple[int, int]:
    """``(first, count)`` of a stored outcome."""
    first, count, *_ = orjson.loads(stored)
    return first, count


def _entries(outcome: Outcome, record: int, rows: Sequence[Mapping[str, Any]]) -> Iterator[Entry]:
    names = tuple(outcome.flags)
    bits = [0] * outcome.upserts
    for i, positions in enumerate(outcome.flags.values()):
        for position in positions:
            bits[position] |= 1 << i
    number = outcome.first
    position = 0
    for i in outcome.kept:
        row = rows[i]
        yield Entry(
            number,
            record,
            UPSERT,
            row["path"],
            row["is_dir"],
            row["size"],
            row["mtime"],
            names,
            bits[position],
        )
        number += 1
        position += 1
    for path, is_dir, size, mtime in outcome.nodes:
        yield Entry(number, record, UPSERT, path, is_dir, size, mtime, names, bits[position])
        number += 1
        position += 1
    for path, was_dir in outcome.deleted:
        yield Entry(number, record, DELETE, path, was_dir, None, None, (), 0)
        number += 1
