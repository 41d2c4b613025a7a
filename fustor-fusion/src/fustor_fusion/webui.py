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

from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
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


def ui_mount() -> Mount:
    """The ``/ui`` mount: ``/ui/`` is ``index.html``, other names are the page's assets."""
    files = StaticFiles(packages=[PACKAGE_DIR], html=True)
    return Mount(UI_PATH, app=_WithHeaders(files), name="ui")
