"""The HTTP side of cluster refusals: a 307 that sends the request to the owner, unchanged.

``Location`` is the owner's advertised URL with the request's own path and query, so an agent
(or any HTTP client that follows redirects) repeats the same call there; 307 keeps the method
and the body. The JSON body says who owns the view, for clients that do not follow redirects.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.logs import log_event
from fustor_fusion.cluster.state import NoOwner, NotOwnerRefusal
from fustor_fusion.codec import JSONResponse

logger = logging.getLogger(__name__)


def owner_location(request: Request, owner_url: str) -> str:
    """The same request's URL on the owner."""
    query = request.url.query
    return owner_url + request.url.path + (f"?{query}" if query else "")


async def refused(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`NotOwnerRefusal` and :class:`NoOwner`."""
    if isinstance(exc, NotOwnerRefusal):
        body = {
            "error": {
                "code": exc.code,
                "message": exc.message,
                "owner": exc.owner,
                "owner_url": exc.owner_url,
            }
        }
        return JSONResponse(
            body, status_code=307, headers={"Location": owner_location(request, exc.owner_url)}
        )
    assert isinstance(exc, NoOwner)
    log_event(logger, logging.DEBUG, "refused: no owner", path=request.url.path)
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}}, status_code=503, headers=dict(exc.headers)
    )
