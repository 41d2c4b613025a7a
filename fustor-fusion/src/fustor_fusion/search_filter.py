"""The filters of ``GET .../search`` besides the name glob: what ``find``'s tests need.

``path_pattern`` (a glob on the whole path, ``*`` matching ``/`` too: ``find -path``), ``type``
(``f``/``d``), an inclusive size range in bytes, a half-open mtime range (``mtime_from`` <=
mtime < ``mtime_before``, so a client can express ``find``'s strict and inclusive bounds alike
with ``math.nextafter``) and ``flags`` (``integrity_suspect,!complete``: each flag a rule adds
to nodes, true, or false with ``!``).

The store's search only knows the name glob, so the other filters are applied here to the nodes
it yields. A selective filter may have to look at many nodes to fill a page: a page examines at
most :data:`SCAN_BUDGET` of them, and when it stops there it still says where to continue
(``X-Next-Cursor``) — so a page may hold fewer entries than ``limit``, even none, and a client
follows the cursor until there is none. That keeps every answer bounded in time, like every
other answer of the query API, instead of holding the event loop for a whole-tree scan.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from fustor_core.errors import InvalidInput

SCAN_BUDGET = 100_000
"""Most nodes one filtered search page examines before it answers with what it found."""
FLAGS_PATTERN = r"^!?[A-Za-z0-9_.-]{1,64}(,!?[A-Za-z0-9_.-]{1,64}){0,31}$"
MAX_SIZE = 2**63 - 1

Node = dict[str, Any]
Search = Callable[[str, int, str | None], list[Node]]
"""``(store_pattern, limit, after) -> nodes``: one call of the view's search."""


@dataclass(frozen=True)
class NodeFilter:
    """What a node must satisfy besides the store's name glob (every part optional)."""

    path_glob: str | None = None
    is_dir: bool | None = None
    min_size: int | None = None
    max_size: int | None = None
    mtime_from: float | None = None
    mtime_before: float | None = None
    flags: tuple[tuple[str, bool], ...] = ()

    def tests(self) -> list[Callable[[Node], bool]]:
        """One predicate per filter that is set (none: every node passes)."""
        out: list[Callable[[Node], bool]] = []
        if self.path_glob is not None:
            match = re.compile(fnmatch.translate(self.path_glob)).match
            out.append(lambda node: match(node["path"]) is not None)
        if self.is_dir is not None:
            is_dir = self.is_dir
            out.append(lambda node: node["is_dir"] is is_dir)
        if self.min_size is not None:
            low = self.min_size
            out.append(lambda node: node["size"] >= low)
        if self.max_size is not None:
            high = self.max_size
            out.append(lambda node: node["size"] <= high)
        if self.mtime_from is not None:
            start = self.mtime_from
            out.append(lambda node: node["mtime"] >= start)
        if self.mtime_before is not None:
            end = self.mtime_before
            out.append(lambda node: node["mtime"] < end)
        out.extend(_flag_test(flag, wanted) for flag, wanted in self.flags)
        return out


def _flag_test(flag: str, wanted: bool) -> Callable[[Node], bool]:
    return lambda node: node[flag] is wanted


def _float(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: must be a number (seconds since the epoch), got {raw[:50]!r}") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name}: must be a finite number, got {raw[:50]!r}")
    return value


def _size(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}: must be an integer number of bytes, got {raw[:50]!r}") from None
    if not 0 <= value <= MAX_SIZE:
        raise InvalidInput(f"{name}: must be between 0 and {MAX_SIZE}, got {value}")
    return value


def node_filter(request: Request, known_flags: set[str]) -> NodeFilter:
    """The filters a search request asks for; 422 naming the parameter when one is malformed."""
    params = request.query_params
    kind = params.get("type")
    if kind not in (None, "f", "d"):
        raise InvalidInput(f"type: must be f (file) or d (directory), got {kind[:50]!r}")
    path_glob = params.get("path_pattern")
    if path_glob is not None and not 1 <= len(path_glob) <= 1024:
        raise InvalidInput("path_pattern: between 1 and 1024 characters")
    flags: list[tuple[str, bool]] = []
    raw_flags = params.get("flags")
    if raw_flags is not None:
        if not re.match(FLAGS_PATTERN, raw_flags):
            raise InvalidInput("flags: comma-separated flag names, each optionally prefixed by '!'")
        for item in raw_flags.split(","):
            name = item.lstrip("!")
            if name not in known_flags:
                names = ", ".join(sorted(known_flags))
                raise InvalidInput(
                    f"flags: this view has no flag {name!r} (flags: {names})", code="unknown_flag"
                )
            flags.append((name, not item.startswith("!")))
    return NodeFilter(
        path_glob=path_glob,
        is_dir=None if kind is None else kind == "d",
        min_size=_size(request, "min_size"),
        max_size=_size(request, "max_size"),
        mtime_from=_float(request, "mtime_from"),
        mtime_before=_float(request, "mtime_before"),
        flags=tuple(flags),
    )


def filtered_page(
    search: Search, pattern: str, where: NodeFilter, limit: int, after: str | None
) -> tuple[list[Node], str | None]:
    """Up to ``limit`` nodes matching ``pattern`` and ``where``, in path order after ``after``,
    and the path the next page continues after (None: nothing more).

    A ``path_pattern`` with a '/' is handed to the store when there is no name glob (the store
    matches patterns with a '/' against whole paths, at C speed), so ``find -path '/a/*/x'``
    costs what a name search costs.
    """
    if pattern == "*" and where.path_glob is not None and "/" in where.path_glob:
        pattern, where = where.path_glob, dataclasses.replace(where, path_glob=None)
    tests = where.tests()
    if not tests:
        found = search(pattern, limit + 1, after)
        if len(found) <= limit:
            return found, None
        return found[:limit], found[limit - 1]["path"]
    out: list[Node] = []
    scanned = 0
    cursor = after
    while True:
        chunk_size = min(SCAN_BUDGET - scanned, max(4 * (limit + 1), 1000))
        chunk = search(pattern, chunk_size, cursor)
        scanned += len(chunk)
        for node in chunk:
            if all(test(node) for test in tests):
                out.append(node)
                if len(out) > limit:
                    return out[:limit], out[limit - 1]["path"]
        if len(chunk) < chunk_size:
            return out, None  # the store has nothing more
        cursor = chunk[-1]["path"]
        if scanned >= SCAN_BUDGET:
            return out, cursor  # more may match: the client continues from here
