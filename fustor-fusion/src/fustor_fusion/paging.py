"""Query parameters of bounded answers: ``limit`` and the opaque ``cursor``.

A cursor encodes the last name or path a page returned (not an offset), so entries inserted or
deleted between two pages neither repeat nor skip the entries that existed throughout. It is
base64url text so that clients treat it as opaque and it survives any URL unescaped.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from fustor_core.errors import InvalidInput

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
NEXT_CURSOR_HEADER = "X-Next-Cursor"


def encode_cursor(last: str) -> str:
    """The cursor that continues after ``last``."""
    raw = last.encode("utf-8", errors="surrogatepass")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The name/path a cursor continues after; 422 for a cursor this service did not make."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidInput("cursor: not a cursor this service returned") from None


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}: must be an integer, got {raw[:50]!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name}: must be between {low} and {high}, got {value}")
    return value


def limit_param(request: Request) -> int:
    """``limit``: how many entries a page holds (default 1000, at most 10000)."""
    return int_param(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)


def cursor_param(request: Request) -> str | None:
    """``cursor``: where the previous page stopped, decoded."""
    return decode_cursor(request.query_params.get("cursor"))
