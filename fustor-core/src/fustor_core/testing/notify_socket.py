"""systemd's end of the sd_notify protocol, for testing a service under ``Type=notify``."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from fustor_core.testing.helpers import wait_for


class NotifySocket:
    """A service manager's end of the sd_notify protocol, for tests: a real AF_UNIX datagram
    socket at ``path`` (pass ``{"NOTIFY_SOCKET": str(listener.path)}`` to the service) that
    keeps every message received, each as a ``{KEY: VALUE}`` dict, in arrival order.

        with NotifySocket(tmp_path / "notify") as manager:
            start the service with NOTIFY_SOCKET=manager.path
            manager.wait_for("READY")
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[dict[str, str]] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.settimeout(0.05)
        self._stop = False
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop:
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append(fields)

    def received(self, key: str) -> list[dict[str, str]]:
        """Every message that carried ``key``."""
        return [message for message in list(self.messages) if key in message]

    def wait_for(self, key: str, timeout: float = 20.0, count: int = 1) -> dict[str, str]:
        """The ``count``-th message carrying ``key``, once it arrived."""
        wait_for(
            lambda: len(self.received(key)) >= count, timeout, f"{count} sd_notify message(s) with {key}"
        )
        return self.received(key)[count - 1]

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self._socket.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
