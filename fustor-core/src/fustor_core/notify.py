"""Telling a service manager how the service is doing: systemd's ``sd_notify`` protocol.

Under a unit with ``Type=notify`` systemd passes a socket in ``NOTIFY_SOCKET`` and waits for
``READY=1`` before it calls the service started (and starts what is ordered after it). With
``WatchdogSec=`` it also passes ``WATCHDOG_USEC`` and restarts the service unless ``WATCHDOG=1``
arrives at least that often. ``STOPPING=1`` says a shutdown has begun; ``STATUS=...`` is the
line ``systemctl status`` shows.

The protocol is one AF_UNIX datagram per message, ``KEY=VALUE`` lines; a socket path starting
with ``@`` is in the abstract namespace. That is small enough to speak here without a
dependency. Without ``NOTIFY_SOCKET`` (not under systemd, or another ``Type=``) every call does
nothing, so services call it unconditionally.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

from fustor_core.logs import log_event

logger = logging.getLogger(__name__)


class ServiceNotifier:
    """Sends sd_notify messages to the socket systemd gave this process (if any)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_s = _watchdog_seconds(env)
        self._socket: socket.socket | None = None
        self.ready_sent = False
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when a service manager listens (``NOTIFY_SOCKET`` is set)."""
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send one message (``READY="1"``, ``STATUS="..."``); False when nothing listens or the
        send failed (logged once: a service must not fail because its manager went away)."""
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log_event(logger, logging.WARNING, "cannot notify the service manager", error=str(exc))
            return False
        return True

    def ready(self, status: str | None = None) -> None:
        """``READY=1`` (once; later calls only update the status line)."""
        fields = {} if self.ready_sent else {"READY": "1"}
        if status is not None:
            fields["STATUS"] = status
        if fields:
            self.send(**fields)
        self.ready_sent = True

    def status(self, text: str) -> None:
        self.send(STATUS=text)

    def stopping(self, status: str = "stopping") -> None:
        self.send(STOPPING="1", STATUS=status)

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    async def keep_alive(self) -> None:
        """Send ``WATCHDOG=1`` every half ``WATCHDOG_USEC`` until cancelled (returns at once when
        no watchdog is asked for). Run from the service's event loop: a loop that hangs stops
        the pings, and systemd restarts the service."""
        if self.watchdog_s is None or self.address is None:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(self.watchdog_s / 2)

    async def ready_when(
        self, why_not: Callable[[], str | None], *, ready_status: str, every_s: float = 0.1
    ) -> None:
        """Poll ``why_not`` (None once ready, else a reason shown as the status line) and send
        ``READY=1`` the first time it returns None."""
        if self.address is None:
            return
        shown: str | None = None
        while True:
            reason = why_not()
            if reason is None:
                self.ready(ready_status)
                return
            if reason != shown:
                self.status(reason)
                shown = reason
            await asyncio.sleep(every_s)

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def _socket_address(value: str) -> str | None:
    if not value or value[0] not in "/@":
        return None  # unset, or a form this module does not speak (vsock)
    return "\0" + value[1:] if value.startswith("@") else value


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """The watchdog interval in seconds, when it is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # set for a parent process, not for us
    return int(usec) / 1_000_000
