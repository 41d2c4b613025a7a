"""The suspect list: a :class:`~fustor_core.pathlist.PathList` with the suspect record's packed
fields, aged by its deadline.

``expires_at`` is the list's age field, so the tick asks :meth:`~PathList.due` for the suspects
whose TTL passed and the sentinel asks :meth:`~PathList.oldest` for those nearest to it, without
walking the list; the size bound evicts those nearest to their TTL first.
"""

from __future__ import annotations

from fustor_core.pathlist import PathList

FIELDS = {"mtime": float, "marked_at": float, "expires_at": float, "reason": str}
"""``mtime`` as last seen, ``marked_at``/``expires_at`` Fusion times, ``reason`` hot or future."""


class SuspectList(PathList):
    """``path -> {mtime, marked_at, expires_at, reason}``, oldest = earliest ``expires_at``."""

    __slots__ = ()

    def __init__(self, max_entries: int | None = None) -> None:
        super().__init__(FIELDS, age="expires_at", max_entries=max_entries)
