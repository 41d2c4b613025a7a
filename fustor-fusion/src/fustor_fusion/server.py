"""``FusionServer``: uvicorn's server, which tells Fusion first when it shuts down.

uvicorn stops by waiting for every open request to finish before it runs the application's
shutdown; a change-feed client that long-polls (up to a minute) or follows an event stream (for
good) would hold that wait. So the server ends them first: their answers go out, their streams
end cleanly, and the usual shutdown follows (the journal flushed, a last snapshot).
"""

from __future__ import annotations

import socket

import uvicorn

from fustor_core.http_server import NotifyingServer
from fustor_core.notify import ServiceNotifier
from fustor_fusion.service import FusionService


class FusionServer(NotifyingServer):
    """Serves a Fusion app (``create_app``) and ends its change-feed clients at shutdown (and,
    as every service's server, tells the service manager when it stops)."""

    def __init__(self, config: uvicorn.Config, notifier: ServiceNotifier | None = None) -> None:
        super().__init__(config, notifier if notifier is not None else ServiceNotifier())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        service = getattr(getattr(app, "state", None), "fusion", None)
        if isinstance(service, FusionService):
            service.stop_feeds()
        await super().shutdown(sockets)
