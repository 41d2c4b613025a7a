"""``find``'s expression, turned into the filters of Fusion's search endpoint.

The tests keep GNU find's meanings exactly, rounding included:

* ``-size [+-]N[cwbkMG]``: the size rounded *up* to units (default ``b``, 512 bytes) compared
  with N, so ``-size -1M`` matches only empty files, as in GNU find;
* ``-mmin N``: modified N minutes ago, i.e. ``N-1 < age <= N`` minutes; ``+N``: ``age > N``;
  ``-N``: ``age < N``;
* ``-mtime N``: the age in whole days (fraction dropped) is N; ``+N``: more than N whole days
  (``age >= N+1`` days); ``-N``: ``age < N`` days;
* ``-newer X``: modified after X — a path in the datastore, else a local file, else a time
  (``@EPOCH`` or ISO 8601).

Every bound becomes an inclusive size range or a half-open mtime range
(``mtime_from <= mtime < mtime_before``); strict bounds use the next float
(:func:`math.nextafter`), so the server's comparisons are exactly find's. Tests are joined by
AND, as find joins juxtaposed tests; ``-o``, ``!`` and parentheses are not supported.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fustor_core.errors import InvalidInput

UNITS = {"c": 1, "w": 2, "b": 512, "k": 1024, "M": 1024**2, "G": 1024**3}
DAY_S = 86400
_NUMBER = re.compile(r"^([+-]?)(\d+)$")
_SIZE = re.compile(r"^([+-]?)(\d+)([cwbkMG]?)$")
OUTPUTS = ("-print", "-print0", "-json")
CONNECTION = ("--url", "--key", "--datastore")


@dataclass
class FindQuery:
    """One ``fustor find`` command line."""

    paths: list[str] = field(default_factory=list)
    name: str | None = None
    path_glob: str | None = None
    kind: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    mtime_from: float | None = None
    mtime_before: float | None = None
    flags: list[tuple[str, bool]] = field(default_factory=list)
    output: str = "-print"
    connection: dict[str, str] = field(default_factory=dict)
    newer_refs: list[str] = field(default_factory=list)

    def narrow_size(self, low: int | None, high: int | None) -> None:
        if low is not None:
            self.min_size = low if self.min_size is None else max(self.min_size, low)
        if high is not None:
            self.max_size = high if self.max_size is None else min(self.max_size, high)

    def narrow_mtime(self, start: float | None, end: float | None) -> None:
        if start is not None:
            self.mtime_from = start if self.mtime_from is None else max(self.mtime_from, start)
        if end is not None:
            self.mtime_before = end if self.mtime_before is None else min(self.mtime_before, end)

    def search_params(self) -> dict[str, Any]:
        """The filters of ``GET .../search`` (the starting path and paging excluded)."""
        params: dict[str, Any] = {}
        if self.name is not None:
            params["pattern"] = self.name
        if self.path_glob is not None:
            params["path_pattern"] = self.path_glob
        if self.kind is not None:
            params["type"] = self.kind
        if self.min_size is not None:
            params["min_size"] = self.min_size
        if self.max_size is not None:
            params["max_size"] = self.max_size
        if self.mtime_from is not None:
            params["mtime_from"] = repr(self.mtime_from)
        if self.mtime_before is not None:
            params["mtime_before"] = repr(self.mtime_before)
        if self.flags:
            params["flags"] = ",".join(("" if wanted else "!") + name for name, wanted in self.flags)
        return params

    def matches(self, node: dict[str, Any]) -> bool:
        """The same tests, applied here: for the starting point itself, which find also tests
        (the server's search lists what is below it)."""
        tests: list[Callable[[], bool]] = [
            lambda: self.name is None or fnmatch.fnmatchcase(node["name"], self.name),
            lambda: self.path_glob is None or fnmatch.fnmatchcase(node["path"], self.path_glob),
            lambda: self.kind is None or node["is_dir"] is (self.kind == "d"),
            lambda: self.min_size is None or node["size"] >= self.min_size,
            lambda: self.max_size is None or node["size"] <= self.max_size,
            lambda: self.mtime_from is None or node["mtime"] >= self.mtime_from,
            lambda: self.mtime_before is None or node["mtime"] < self.mtime_before,
            lambda: all(bool(node.get(flag)) is wanted for flag, wanted in self.flags),
        ]
        return all(test() for test in tests)


def size_range(text: str) -> tuple[int | None, int | None]:
    """``-size`` as an inclusive byte range: units are counted rounded up, as GNU find does."""
    found = _SIZE.match(text)
    if found is None:
        raise InvalidInput(f"find: invalid argument {text!r} to -size (e.g. +10M, -1k, 100c)")
    sign, digits, suffix = found.groups()
    n, unit = int(digits), UNITS[suffix or "b"]
    if sign == "+":  # more than n units: ceil(size/unit) > n
        return n * unit + 1, None
    if sign == "-":  # fewer than n units: ceil(size/unit) <= n-1
        return (None, (n - 1) * unit) if n > 0 else (1, 0)  # -0: nothing (an empty range)
    if n == 0:
        return 0, 0
    return (n - 1) * unit + 1, n * unit


def _after(t: float) -> float:
    return math.nextafter(t, math.inf)


def mmin_range(text: str, now: float) -> tuple[float | None, float | None]:
    """``-mmin``: the half-open mtime range ``[from, before)``."""
    sign, n = _number(text, "-mmin")
    edge = now - n * 60
    if sign == "+":  # age > n min
        return None, edge
    if sign == "-":  # age < n min
        return _after(edge), None
    return edge, now - (n - 1) * 60  # n-1 < age <= n


def mtime_range(text: str, now: float) -> tuple[float | None, float | None]:
    """``-mtime``: the half-open mtime range ``[from, before)``; ages count whole days."""
    sign, n = _number(text, "-mtime")
    if sign == "+":  # floor(age/day) > n: age >= n+1 days
        return None, _after(now - (n + 1) * DAY_S)
    if sign == "-":  # floor(age/day) < n: age < n days
        return _after(now - n * DAY_S), None
    return _after(now - (n + 1) * DAY_S), _after(now - n * DAY_S)  # n <= age/day < n+1


def _number(text: str, test: str) -> tuple[str, int]:
    found = _NUMBER.match(text)
    if found is None:
        raise InvalidInput(f"find: invalid argument {text!r} to {test}")
    return found.group(1), int(found.group(2))


def parse_time(text: str) -> float | None:
    """``@EPOCH``, a plain number, or an ISO 8601 time (local time when no zone is given)."""
    raw = text[1:] if text.startswith("@") else text
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def parse_find(argv: list[str], now: float) -> FindQuery:
    """``PATH... [EXPRESSION]``, the connection options anywhere (``--url X`` or ``--url=X``).

    ``-newer`` references are kept (``newer_refs``) for the command to resolve: a datastore path
    needs a query.
    """
    query = FindQuery()
    tokens = list(argv)
    i = 0

    def value(option: str) -> str:
        nonlocal i
        if i + 1 >= len(tokens):
            raise InvalidInput(f"find: missing argument to '{option}'")
        i += 1
        return tokens[i]

    while i < len(tokens):
        token = tokens[i]
        option, eq, inline = token.partition("=")
        if option in CONNECTION:
            query.connection[option[2:]] = inline if eq else value(option)
        elif not token.startswith("-") or token == "-":
            if query.name or query.path_glob or query.kind or query.flags or query.output != "-print":
                raise InvalidInput(f"find: paths must precede the expression: {token!r}")
            query.paths.append(token)
        elif token == "-name":
            if query.name is not None:
                raise InvalidInput("find: give -name once (tests are joined by AND)")
            query.name = value(token)
        elif token in ("-path", "-wholename"):
            if query.path_glob is not None:
                raise InvalidInput("find: give -path once (tests are joined by AND)")
            query.path_glob = value(token)
        elif token == "-type":
            kind = value(token)
            if kind not in ("f", "d"):
                raise InvalidInput(f"find: -type {kind!r}: the view holds files (f) and directories (d) only")
            if query.kind not in (None, kind):
                query.narrow_size(1, 0)  # f AND d: nothing (kept simple: an empty size range)
            query.kind = kind
        elif token == "-size":
            query.narrow_size(*size_range(value(token)))
        elif token == "-mmin":
            query.narrow_mtime(*mmin_range(value(token), now))
        elif token == "-mtime":
            query.narrow_mtime(*mtime_range(value(token), now))
        elif token == "-newer":
            query.newer_refs.append(value(token))
        elif token == "-suspect":
            query.flags.append(("integrity_suspect", True))
        elif token == "-incomplete":
            query.flags.append(("complete", False))
        elif token in OUTPUTS:
            query.output = token
        else:
            raise InvalidInput(f"find: unknown predicate {token!r}")
        i += 1
    if not query.paths:
        query.paths = ["/"]
    query.paths = [p if p.startswith("/") else "/" + p for p in query.paths]
    return query


def local_mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
