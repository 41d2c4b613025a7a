"""PathList against a plain dict model: every operation, random sequences (hypothesis).

Chunks are made tiny (4 names per directory chunk, 2 directories per order chunk) so that short
sequences already split, merge and drop chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fustor_core import pathlist_dirs, sorted_strings
from fustor_core.arbitration import is_under
from fustor_core.pathlist import PathList, order_key

NAMES = ["a", "b", "ab", "a.b", "a b", "z"]
paths = st.lists(st.sampled_from(NAMES), min_size=0, max_size=3).map(lambda parts: "/" + "/".join(parts))
ages = st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 10.0])
reasons = st.sampled_from(["hot", "future", "other"])
MAX = 12


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pathlist_dirs, "CHUNK_MAX", 4)
    monkeypatch.setattr(sorted_strings, "CHUNK", 1)
    yield


def in_order(model: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(model, key=order_key)


class PathListMachine(RuleBasedStateMachine):
    """A typed list with an age field, an untyped list, and a bounded list, each with its model."""

    def __init__(self) -> None:
        super().__init__()
        fields = {"age": float, "reason": str, "n": int, "ok": bool}
        self.typed = PathList(fields, age="age")
        self.free = PathList()
        self.bounded = PathList(fields, age="age", max_entries=MAX)
        self.model: dict[str, dict[str, Any]] = {}
        self.free_model: dict[str, dict[str, Any]] = {}
        self.bounded_model: dict[str, dict[str, Any]] = {}
        self.evicted = 0
        # membership watchers: what each list reported, against what its membership did
        self.reported: dict[str, set[str]] = {"typed": set(), "free": set(), "bounded": set()}
        self.members: dict[str, set[str]] = {"typed": set(), "free": set(), "bounded": set()}
        for name in self.reported:
            self._list(name).watch(self.reported[name].update)

    def _list(self, name: str) -> PathList:
        lists: dict[str, PathList] = {"typed": self.typed, "free": self.free, "bounded": self.bounded}
        return lists[name]

    # -- writes ------------------------------------------------------------------------------

    def _bounded_put(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        for path, record in items:
            self.bounded_model[path] = record
        if len(self.bounded_model) > MAX:
            survivors = {path for path in self.bounded}
            gone = {
                path: self.bounded_model.pop(path)
                for path in list(self.bounded_model)
                if path not in survivors
            }
            assert len(self.bounded_model) <= MAX
            self.evicted += len(gone)
            assert self.bounded.evicted == self.evicted
            if gone:  # the oldest went: nothing evicted is younger than anything kept
                assert max(r["age"] for r in gone.values()) <= min(
                    r["age"] for r in self.bounded_model.values()
                )

    @rule(path=paths, age=ages, reason=reasons, n=st.integers(-5, 5), ok=st.booleans())
    def put(self, path: str, age: float, reason: str, n: int, ok: bool) -> None:
        record = {"age": age, "reason": reason, "n": n, "ok": ok}
        self.typed.put(path, **record)
        self.model[path] = record
        self.free.put(path, x=n) if ok else self.free.put(path, y=reason, z=[n])
        self.free_model[path] = {"x": n} if ok else {"y": reason, "z": [n]}
        self.bounded.put(path, **record)
        self._bounded_put([(path, record)])

    @rule(batch=st.lists(st.tuples(paths, ages, reasons), max_size=8), n=st.integers(0, 3))
    def put_many(self, batch: list[tuple[str, float, str]], n: int) -> None:
        batch.sort(key=lambda item: order_key(item[0])[0])  # grouped by directory, as batches come
        batch_paths = [p for p, _, _ in batch]
        batch_ages = [a for _, a, _ in batch]
        batch_reasons = [r for _, _, r in batch]
        for lst in (self.typed, self.bounded):
            lst.put_many(batch_paths, age=batch_ages, reason=batch_reasons, n=n, ok=True)
        self.free.put_many(batch_paths, x=batch_ages)
        items = [(p, {"age": a, "reason": r, "n": n, "ok": True}) for p, a, r in batch]
        for path, record in items:
            self.model[path] = record
        for path, age, _ in batch:
            self.free_model[path] = {"x": age}
        self._bounded_put(items)

    @rule(batch=st.dictionaries(paths, st.tuples(ages, reasons), max_size=8), n=st.integers(0, 3))
    def renew_many(self, batch: dict[str, tuple[float, str]], n: int) -> None:
        """unless_same: a listed path with the same reason is untouched; keep: n stays."""
        ordered = sorted(batch, key=lambda p: order_key(p)[0])
        self.typed.put_many(
            ordered,
            unless_same="reason",
            keep=("n",),
            age=[batch[p][0] for p in ordered],
            reason=[batch[p][1] for p in ordered],
            n=n,
            ok=False,
        )
        for path in ordered:
            age, reason = batch[path]
            old = self.model.get(path)
            if old is None:
                self.model[path] = {"age": age, "reason": reason, "n": n, "ok": False}
            elif old["reason"] != reason:
                self.model[path] = {"age": age, "reason": reason, "n": old["n"], "ok": False}

    @rule(path=paths)
    def discard(self, path: str) -> None:
        assert self.typed.discard(path) == self.model.pop(path, None)
        assert self.free.discard(path) == self.free_model.pop(path, None)
        assert self.bounded.discard(path) == self.bounded_model.pop(path, None)

    @rule(batch=st.lists(paths, max_size=6))
    def discard_many(self, batch: list[str]) -> None:
        expected = len({p for p in batch if p in self.model})
        assert self.typed.discard_many(batch) == expected
        for p in batch:
            self.model.pop(p, None)

    @rule(prefix=paths)
    def discard_under(self, prefix: str) -> None:
        for lst, model in ((self.typed, self.model), (self.free, self.free_model)):
            doomed = [p for p in model if is_under(p, prefix)]
            assert lst.discard_under(prefix) == len(doomed)
            for p in doomed:
                del model[p]

    @rule(prefixes=st.lists(paths, max_size=3))
    def discard_under_any(self, prefixes: list[str]) -> None:
        self.bounded.discard_under_any(prefixes)
        for p in [p for p in self.bounded_model if any(is_under(p, q) for q in prefixes)]:
            del self.bounded_model[p]

    @rule(before=ages)
    def expire(self, before: float) -> None:
        doomed = [p for p, r in self.model.items() if r["age"] < before]
        assert self.typed.expire(before) == len(doomed)
        for p in doomed:
            del self.model[p]

    @precondition(lambda self: len(self.model) % 7 == 3)
    @rule()
    def clear(self) -> None:
        self.typed.clear()
        self.model.clear()

    # -- reads -------------------------------------------------------------------------------

    @rule(until=ages, limit=st.none() | st.integers(0, 5))
    def due(self, until: float, limit: int | None) -> None:
        expected = sorted((r["age"], order_key(p)) for p, r in self.model.items() if r["age"] <= until)
        got = self.typed.due(until, limit=limit)
        want = expected if limit is None else expected[:limit]
        assert [(self.model[p]["age"], order_key(p)) for p in got] == want

    @rule(limit=st.integers(0, 6))
    def oldest(self, limit: int) -> None:
        expected = sorted((r["age"], order_key(p)) for p, r in self.model.items())[:limit]
        got = self.typed.oldest(limit)
        assert [(self.model[p]["age"], order_key(p)) for p in got] == expected

    @rule(after=st.none() | paths, limit=st.integers(0, 5))
    def page(self, after: str | None, limit: int) -> None:
        for lst, model in ((self.typed, self.model), (self.free, self.free_model)):
            ordered = in_order(model)
            if after is not None:
                ordered = [p for p in ordered if order_key(p) > order_key(after)]
            assert lst.page(after=after, limit=limit) == [{"path": p, **model[p]} for p in ordered[:limit]]

    @rule(path=paths)
    def lookups(self, path: str) -> None:
        assert (path in self.typed) == (path in self.model)
        assert self.typed.get(path) == self.model.get(path)
        assert self.free.get(path) == self.free_model.get(path)
        record = self.model.get(path)
        assert self.typed.get_many([path, path], "reason") == [record and record["reason"]] * 2
        siblings = sorted({path, *self.model}, key=lambda p: order_key(p)[0])
        assert self.typed.contains_many(siblings) == [p in self.model for p in siblings]

    @invariant()
    def every_change_of_membership_is_reported(self) -> None:
        """A watcher hears of every path listed or unlisted (by any call, eviction included);
        without a size bound, of exactly those (a record replaced is not a change)."""
        for name, reported in self.reported.items():
            now = set(self._list(name))
            changed = now ^ self.members[name]
            if name == "bounded":  # a path put and evicted at once is reported, yet unchanged
                assert changed <= reported, (name, changed - reported)
            else:
                assert reported == changed, (name, reported, changed)
            self.members[name] = now
            reported.clear()

    @invariant()
    def same_contents(self) -> None:
        assert len(self.typed) == len(self.model)
        assert list(self.typed) == in_order(self.model)
        assert dict(self.typed.items()) == self.model
        assert list(self.free) == in_order(self.free_model)
        assert len(self.bounded) == len(self.bounded_model) <= MAX
        assert dict(self.bounded.items()) == self.bounded_model


PathListMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPathListMachine = PathListMachine.TestCase
