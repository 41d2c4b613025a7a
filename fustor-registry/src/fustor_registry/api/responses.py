"""JSON responses rendered with orjson (fast, and strict about what it serialises)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def encoded(answer: Any) -> orjson.Fragment:
    """``answer`` as JSON now, embeddable in a larger answer without being encoded again.

    Units of work encode their answer before they commit: an answer that cannot be encoded then
    fails the unit, which rolls its change back, instead of failing after the commit and leaving
    a change behind that the caller was told had failed.
    """
    return orjson.Fragment(orjson.dumps(answer))
