"""Query parameters of bounded answers: ``limit`` and the opaque ``cursor``.

A cursor encodes the last name or path a page returned (not an offset), so entries inserted or
deleted between two pages neither repeat nor skip the entries that existed throughout. It is
base64url text so that clients treat it as opaque and it survives any URL unescaped.
"""

from __future__ import annotations

import base64
import binascii
import re

from starlette.requests import Request

from fustor_core.errors import InvalidInput

CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$"
"""Unpadded base64url: every string of this shape is a cursor this service accepts."""
_CURSOR = re.compile(CURSOR_PATTERN)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
NEXT_CURSOR_HEADER = "X-Next-Cursor"


def encode_cursor(last: str) -> str:
    """The cursor that continues after ``last``."""
    raw = last.encode("utf-8", errors="surrogatepass")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The name/path a cursor continues after; 422 unless it is unpadded base64url.

    Any such string is accepted (as the OpenAPI document says): bytes that are not UTF-8 become
    lone surrogates, which sort among names like any other string.
    """
    if cursor is None or cursor == "":
        return None
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor: not a cursor this service returned (unpadded base64url expected)")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("cursor: not a cursor this service returned") from None
    return raw.decode("utf-8", errors="surrogateescape")


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
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


def float_param(request: Request, name: str, default: float, *, low: float, high: float) -> float:
    """A number query parameter within ``[low, high]``; 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: must be a number, got {raw[:50]!r}") from None
    if not low <= value <= high:  # NaN fails both comparisons
        raise InvalidInput(f"{name}: must be between {low:g} and {high:g}, got {raw[:50]!r}")
    return value


def bool_param(request: Request, name: str) -> bool:
    """A ``true``/``false`` query parameter (false when absent); 422 naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise InvalidInput(f"{name}: must be true or false, got {raw[:50]!r}")
