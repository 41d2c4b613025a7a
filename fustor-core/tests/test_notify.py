"""The sd_notify protocol against a real AF_UNIX datagram socket, as systemd listens."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

from fustor_core.notify import ServiceNotifier
from fustor_core.testing import NotifySocket


def test_messages_arrive_as_key_value_lines(tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify") as manager:
        notifier = ServiceNotifier({"NOTIFY_SOCKET": str(manager.path)})
        notifier.status("loading view 'demo'")
        notifier.ready("serving")
        notifier.ready("still serving")  # READY=1 is sent once; later calls only update the status
        notifier.stopping()
        manager.wait_for("STOPPING")
        notifier.close()
    assert manager.messages == [
        {"STATUS": "loading view 'demo'"},
        {"READY": "1", "STATUS": "serving"},
        {"STATUS": "still serving"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]


def test_an_abstract_socket_name_starts_with_an_at_sign() -> None:
    name = f"fustor-test-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(5)
    try:
        assert ServiceNotifier({"NOTIFY_SOCKET": "@" + name}).send(READY="1")
        assert listener.recv(100) == b"READY=1"
    finally:
        listener.close()


def test_without_a_socket_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not ServiceNotifier({}).enabled
    assert not ServiceNotifier({}).send(READY="1")
    gone = ServiceNotifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert gone.enabled and not gone.send(READY="1")  # logged once, never raised


def test_the_watchdog_pings_at_half_the_interval(tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify") as manager:
        env = {
            "NOTIFY_SOCKET": str(manager.path),
            "WATCHDOG_USEC": "100000",
            "WATCHDOG_PID": str(os.getpid()),
        }
        notifier = ServiceNotifier(env)
        assert notifier.watchdog_s == 0.1

        async def run_for(seconds: float) -> None:
            task = asyncio.create_task(notifier.keep_alive())
            await asyncio.sleep(seconds)
            task.cancel()

        asyncio.run(run_for(0.5))
        pings = len(manager.received("WATCHDOG"))
    assert 6 <= pings <= 12, pings  # one at once, then every 50 ms


def test_a_watchdog_meant_for_another_process_is_ignored(tmp_path: Path) -> None:
    env = {
        "NOTIFY_SOCKET": str(tmp_path / "n"),
        "WATCHDOG_USEC": "100000",
        "WATCHDOG_PID": str(os.getpid() + 1),
    }
    assert ServiceNotifier(env).watchdog_s is None
    assert ServiceNotifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "0"}).watchdog_s is None


def test_ready_waits_for_the_condition_and_shows_why_meanwhile(tmp_path: Path) -> None:
    reasons = iter(["loading view 'a'", "loading view 'a'", "loading view 'b'", None])
    with NotifySocket(tmp_path / "notify") as manager:
        notifier = ServiceNotifier({"NOTIFY_SOCKET": str(manager.path)})
        asyncio.run(notifier.ready_when(lambda: next(reasons), ready_status="serving", every_s=0.01))
        manager.wait_for("READY")
    assert manager.messages == [
        {"STATUS": "loading view 'a'"},
        {"STATUS": "loading view 'b'"},
        {"READY": "1", "STATUS": "serving"},
    ]
