"""How a :class:`~fustor_core.pathlist.PathList` packs its records: one typed column per field.

A list may hold millions of entries (every file of a fresh upload is suspect), so a record is not
a ``dict``: each field is a column — an :class:`array.array` of machine values for ``float``,
``int`` and ``bool``, small integer codes into a shared table for ``str`` (reasons like ``"hot"``
repeat for every entry) — and a record costs a few machine words. Fields a list did not declare
(a third-party rule's ``PathList()`` with free-form records) get an ``object`` column: a plain
list, in which :data:`MISSING` marks entries put without that field.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, MutableSequence
from itertools import repeat
from typing import Any

Column = MutableSequence[Any]
"""One field of the entries of a chunk, aligned with the chunk's names."""

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Placeholder in an ``object`` column for an entry put without that field."""

ORDER_FIELD = "\x00put_order"
"""The hidden column of a list without an age field: a counter of puts (least recently put is
oldest). Never part of a returned record."""

_TYPECODES: dict[type, str] = {float: "d", int: "q", bool: "B", str: "H"}
"""Declared field type -> array typecode; ``str`` columns hold codes into the layout's table."""

_SEQUENCES = (list, tuple, array, range)
"""Types :meth:`RecordLayout.encode_many` takes as one value per entry (anything else is one
value broadcast to every entry)."""


def permuted(col: Column, order: list[int]) -> Column:
    """``col`` reordered: its ``order[0]``-th value first, and so on."""
    values = map(col.__getitem__, order)
    return array(col.typecode, values) if isinstance(col, array) else list(values)


class RecordLayout:
    """The columns of one list: their names, storage types and value tables."""

    __slots__ = (
        "_codes",
        "_decoders",
        "_tables",
        "age",
        "names",
        "positions",
        "required",
        "typecodes",
        "visible",
    )

    def __init__(self, fields: Mapping[str, type] | None = None, *, age: str | None = None) -> None:
        fields = dict(fields or {})
        for name, kind in fields.items():
            if kind not in _TYPECODES and kind is not object:
                raise TypeError(f"field {name!r}: type must be float, int, bool, str or object, not {kind!r}")
        if age is not None and fields.get(age) is not float:
            raise ValueError(f"age field {age!r} must be declared as a float field")
        self.names: list[str] = list(fields)
        self.typecodes: list[str | None] = [_TYPECODES.get(kind) for kind in fields.values()]
        self._tables: list[list[str] | None] = [[] if kind is str else None for kind in fields.values()]
        self._codes: list[dict[str, int] | None] = [{} if kind is str else None for kind in fields.values()]
        if age is None:
            age = ORDER_FIELD
            self.names.append(age)
            self.typecodes.append("d")
            self._tables.append(None)
            self._codes.append(None)
        self.age = self.names.index(age)
        """Index of the column that orders entries by age (expiry and eviction)."""
        self.visible = [k for k, name in enumerate(self.names) if name != ORDER_FIELD]
        self.required = [k for k in self.visible if self.typecodes[k] is not None]
        """The declared typed fields: every put must give them."""
        self.positions = {name: k for k, name in enumerate(self.names)}
        self._decoders: list[Callable[[Any], Any] | None] = [self._decoder(k) for k in range(len(self.names))]

    def index_of(self, field: str) -> int:
        """The column of ``field`` (KeyError if the list has no such field)."""
        return self.positions[field]

    @property
    def hidden_order(self) -> bool:
        """True when the age column is the hidden put counter (no age field declared)."""
        return self.names[self.age] == ORDER_FIELD

    def add_free_field(self, name: str) -> int:
        """Add an ``object`` column for a field the list did not declare; returns its index."""
        if name in self.positions:
            raise ValueError(f"field {name!r} exists")
        self.names.append(name)
        self.typecodes.append(None)
        self._tables.append(None)
        self._codes.append(None)
        self._decoders.append(None)
        k = self.positions[name] = len(self.names) - 1
        self.visible.append(k)
        return k

    def new_column(self, k: int, values: Iterable[Any] = ()) -> Column:
        """An empty (or filled) column for field ``k``."""
        code = self.typecodes[k]
        return list(values) if code is None else array(code, values)

    def repeat_column(self, k: int, stored: Any, count: int) -> Column:
        """A column of field ``k`` holding one stored value ``count`` times."""
        code = self.typecodes[k]
        return [stored] * count if code is None else array(code, [stored]) * count

    def encode(self, k: int, value: Any) -> Any:
        """The stored form of one value of field ``k``."""
        codes = self._codes[k]
        if codes is None:
            return value
        code = codes.get(value)
        if code is None:
            if not isinstance(value, str):
                raise TypeError(f"field {self.names[k]!r} holds strings, got {value!r}")
            table = self._tables[k]
            assert table is not None
            if len(table) >= 65536:
                raise ValueError(
                    f"field {self.names[k]!r}: more than 65536 distinct strings; declare it object"
                )
            code = codes[value] = len(table)
            table.append(value)
        return code

    def encode_many(self, k: int, values: Any, count: int) -> list[Any] | Any:
        """The stored form of a field for ``count`` entries: a list, or one value to repeat."""
        if isinstance(values, _SEQUENCES):
            if len(values) != count:
                raise ValueError(f"field {self.names[k]!r}: {len(values)} values for {count} paths")
            if self._codes[k] is None:
                return values if isinstance(values, list) else list(values)
            return [self.encode(k, value) for value in values]
        return self.encode(k, values)

    def decode(self, k: int, stored: Any) -> Any:
        """The value of field ``k`` as it was put."""
        decoder = self._decoders[k]
        return stored if decoder is None else decoder(stored)

    def decode_column(self, k: int, stored: Iterable[Any]) -> list[Any]:
        """:meth:`decode` over a slice of a column."""
        decoder = self._decoders[k]
        return list(stored) if decoder is None else list(map(decoder, stored))

    def record(self, cols: list[Column], i: int) -> dict[str, Any]:
        """The record of entry ``i`` of a chunk with columns ``cols``."""
        names, decode = self.names, self.decode
        record: dict[str, Any] = {}
        for k in self.visible:
            stored = cols[k][i]
            if stored is not MISSING:
                record[names[k]] = decode(k, stored)
        return record

    def records(self, cols: list[Column], start: int, stop: int) -> list[dict[str, Any]]:
        """The records of entries ``start:stop`` of a chunk (one pass per column)."""
        if not self.visible:
            return [{} for _ in range(start, stop)]
        keys = [self.names[k] for k in self.visible]
        values = [self.decode_column(k, cols[k][start:stop]) for k in self.visible]
        records = [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]
        if any(self.typecodes[k] is None for k in self.visible):
            for record in records:
                for key in [key for key, value in record.items() if value is MISSING]:
                    del record[key]
        return records

    @staticmethod
    def missing_column(count: int) -> Column:
        """A column of ``count`` :data:`MISSING` values (an ``object`` field added late)."""
        return list(repeat(MISSING, count))

    def _decoder(self, k: int) -> Callable[[Any], Any] | None:
        code = self.typecodes[k]
        if code == "B":
            return bool
        table = self._tables[k]
        if table is not None:
            return table.__getitem__
        return None
