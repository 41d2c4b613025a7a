"""The change feed's cursor: where a client stands in one incarnation of a view.

A cursor names the view incarnation (``view_id``: a cursor of another incarnation means the
client must re-read the tree), the last change the client has (``number``, the entries' ``seq``)
and a journal record at or before the one holding the next change (``record``: where reading
the journal back starts). It is base64url text so that clients treat it as opaque; anything that
does not decode to one is answered with ``reset`` rather than an error, as a cursor from another
incarnation is.
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

VERSION = "c1"


class Position(NamedTuple):
    """A place in a view's change feed."""

    view_id: str
    record: int
    """A journal record at or before the one that holds change ``number + 1``."""
    number: int
    """The last change delivered (0: none yet)."""

    def encode(self) -> str:
        raw = f"{VERSION}.{self.view_id}.{self.record}.{self.number}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str) -> Position | None:
    """The position a cursor names, or None when it is not a cursor of this service."""
    if not cursor or len(cursor) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    parts = raw.split(".")
    if len(parts) < 4 or parts[0] != VERSION:
        return None
    view_id, record, number = ".".join(parts[1:-2]), parts[-2], parts[-1]
    if not view_id or not _count(record) or not _count(number):
        return None
    return Position(view_id, int(record), int(number))


def _count(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isdigit()
