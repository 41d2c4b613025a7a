"""What ``POST /api/v1/pipes/{name}/{mode}`` accepts: the modes it runs and each one's options.

Any mode that says it is ``triggerable`` is run on request. A trigger may carry a JSON body with
the run's options, validated against the mode's own ``trigger_options`` model (``{"deep":
true}`` for an audit); a mode without one takes none; no body means no options; anything else
is a 422. The same models are what the OpenAPI document shows for each mode's body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from fustor_core.agent_api import SyncMode
from fustor_core.config import FustorConfig
from fustor_core.errors import InvalidInput, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
"""A trigger's options are a few bytes; a larger body is refused (413) before it is held."""


class NoOptions(FustorConfig):
    """The body of a trigger for a mode without ``trigger_options``: nothing (or ``{}``)."""


def trigger_model(mode: SyncMode) -> type[BaseModel]:
    """The model a trigger's body is validated against: the mode's ``trigger_options``, if any."""
    model = getattr(mode, "trigger_options", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else NoOptions


def triggerable_models(modes: Iterable[SyncMode]) -> dict[str, type[BaseModel]]:
    """Mode name -> its trigger body model, for the modes (of any pipe) that are triggerable."""
    return {mode.name: trigger_model(mode) for mode in modes if getattr(mode, "triggerable", False)}


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


def parse_options(model: type[BaseModel], body: bytes) -> dict[str, Any]:
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
