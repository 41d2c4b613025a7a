"""JSON in and out: orjson on the fast path, the standard library where orjson refuses.

orjson rejects lone surrogates (``"\\udcff"`` escapes, which is how agents send names that are
not valid UTF-8), so such bodies are decoded again by :mod:`json` and their rows are refused one
by one later, instead of the whole batch failing to parse.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fustor_core.errors import InvalidInput


def loads(body: bytes) -> Any:
    """Parse a request body; raises InvalidInput (422) when it is not JSON at all."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # surrogateescape keeps raw non-UTF-8 bytes as lone surrogates: the rows carrying them
        # are refused individually rather than the whole body
        return json.loads(body.decode("utf-8", errors="surrogateescape"))
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"body: not valid JSON ({_short(exc)})") from None


def dumps(value: Any) -> bytes:
    """Serialise an answer; falls back to escaped ASCII for strings orjson cannot encode."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=True, default=str).encode("ascii")


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


SEND_CHUNK_BYTES = 64 * 1024
"""Large bodies are handed to the server in pieces of this size (see :class:`JSONResponse`)."""


class JSONResponse(Response):
    """A JSON response rendered by :func:`dumps`, sent in pieces of :data:`SEND_CHUNK_BYTES`.

    A body handed to the server in one piece sits whole in the connection's write buffer until
    the client has read it, and asyncio (before Python 3.12) moves the rest of that buffer down
    after every partial send: with many clients reading megabyte answers, the event loop spends
    its time copying their buffers and every other request waits. In pieces, each connection
    buffers at most about one piece and waits (without holding the loop) until its client reads.
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        if len(body) <= SEND_CHUNK_BYTES:
            await super().__call__(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        view = memoryview(body)
        last = len(body) - SEND_CHUNK_BYTES
        for start in range(0, len(body), SEND_CHUNK_BYTES):
            chunk = bytes(view[start : start + SEND_CHUNK_BYTES])
            await send({"type": "http.response.body", "body": chunk, "more_body": start < last})
