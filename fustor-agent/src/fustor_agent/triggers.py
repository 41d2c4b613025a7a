"""What ``POST /api/v1/pipes/{name}/{mode}`` accepts: the modes it runs and each one's options.

A trigger may carry a JSON body with the run's options (``{"deep": true}`` for an audit); no
body means no options; anything else is a 422. The models here are also what the OpenAPI
document shows for each mode's body.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ConfigDict, ValidationError
from starlette.requests import Request

from fustor_core.config import FustorConfig
from fustor_core.errors import InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
"""A trigger's options are a few bytes; a larger body is refused (413) before it is held."""


class AuditRequest(FustorConfig):
    """The body of ``POST /api/v1/pipes/{name}/audit`` (optional)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    deep: bool = False
    """Deep-check every directory now (a full deep cycle), not only this audit's slice."""


class SnapshotRequest(FustorConfig):
    """The body of ``POST /api/v1/pipes/{name}/snapshot`` (optional; no options yet)."""


TRIGGERABLE: dict[str, type[FustorConfig]] = {"audit": AuditRequest, "snapshot": SnapshotRequest}
"""The modes the API runs on request, with the model of their options."""


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it exceeds :data:`MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body: more than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_options(model: type[FustorConfig], body: bytes) -> dict[str, Any]:
    """A trigger's options from its JSON body (empty body: none); InvalidInput when malformed."""
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    try:
        return model.model_validate(data).model_dump(exclude_defaults=True)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInput(problems) from None
