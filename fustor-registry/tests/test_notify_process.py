"""``fustor-registry serve`` under a service manager (``Type=notify``): READY=1 once it serves
(its database migrated), STOPPING=1 on SIGTERM — a real process, a real AF_UNIX datagram socket
as ``NOTIFY_SOCKET``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml
from registry_testkit import FAST_HASHING, SECRET_KEY

from fustor_core.testing import NotifySocket, free_port


def test_ready_when_serving_watchdog_while_serving_stopping_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    database = tmp_path / "registry.db"
    config = {
        "database_url": f"sqlite:///{database}",
        "secret_key": SECRET_KEY,
        "password_hash": FAST_HASHING,
    }
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    with NotifySocket(tmp_path / "notify") as manager:
        env = {
            **os.environ,
            "FUSTOR_HOME": str(tmp_path / "home"),
            "NOTIFY_SOCKET": str(manager.path),
            "WATCHDOG_USEC": "400000",
        }
        with (tmp_path / "registry.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fustor_registry.cli",
                    "serve",
                    "--config",
                    str(path),
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            ready = manager.wait_for("READY", timeout=30)
            assert ready["STATUS"].startswith("serving; database sqlite")
            assert database.exists()  # migrated before READY
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
            manager.wait_for("WATCHDOG", count=3, timeout=10)
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        assert manager.received("STOPPING"), (tmp_path / "registry.log").read_text()
