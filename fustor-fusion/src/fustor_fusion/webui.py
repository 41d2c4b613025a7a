"""The read-only web view at ``/ui/``: static files shipped inside this package.

The page is plain HTML, CSS and JavaScript modules under ``fustor_fusion/ui/`` (package data: no
CDN, nothing to build or download at install time). Loading it needs no key; every piece of data
it shows comes from the query API with the ``X-API-Key`` the user enters, so the page can show
nothing that the key could not read with ``curl``. It is not part of the API: it is mounted beside
the route table and the OpenAPI document does not list it.

A strict Content-Security-Policy (scripts and styles from this origin only, data only from this
origin) keeps a path name or list entry from ever running as code even if the page had a bug,
which matters because the key sits in the tab's ``sessionStorage``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders, URLPath
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_PATH = "/ui"
PACKAGE_DIR = ("fustor_fusion", "ui")
"""Where the files live: the ``ui`` directory of the ``fustor_fusion`` package."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""Added to every answer under ``/ui/``; ``no-cache`` so an upgraded Fusion serves its new page."""


class _WithHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _ToThePage(BaseRoute):
    """``GET /ui`` → 308 ``/ui/``: the one address Fusion redirects to its slashed form (the API
    answers a trailing-slash variant with a JSON 404), because people type ``/ui`` and the page's
    relative asset names only resolve under ``/ui/``. Not a :class:`~starlette.routing.Route`, so
    it is not mistaken for an API route."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"] == UI_PATH:
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        target = UI_PATH + "/" + (f"?{query}" if query else "")
        await RedirectResponse(target, status_code=308)(scope, receive, send)


def ui_routes() -> list[BaseRoute]:
    """``/ui/`` is ``index.html``, other names under it are the page's assets; ``/ui`` leads there."""
    files = StaticFiles(packages=[PACKAGE_DIR], html=True)
    return [_ToThePage(), Mount(UI_PATH, app=_WithHeaders(files), name="ui")]
