"""``fustor-fusion serve`` under a service manager (``Type=notify``): a real process, a real
AF_UNIX datagram socket as ``NOTIFY_SOCKET``.

READY=1 must mean what ``/readyz`` means — every view loaded from its journal — so the test
holds the journal directory with another Fusion: the second one cannot load its view, says why
in STATUS= lines, and is READY only once the first one stopped and the view loaded.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from fusion_testkit import BASE_CONFIG, fusion_command

from fustor_core.testing import NotifySocket, free_port, wait_for


@contextmanager
def _fusion(
    workdir: Path, config: dict[str, Any], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "fusion.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    with (workdir / "fusion.log").open("wb") as log:
        process = subprocess.Popen(
            [*fusion_command(), "serve", "--config", str(path), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FUSTOR_HOME": str(workdir / "home"), **env},
        )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(15)


def _readyz(url: str) -> int:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def test_ready_once_the_views_are_loaded_watchdog_while_serving_stopping_on_sigterm(tmp_path: Path) -> None:
    config = copy.deepcopy(BASE_CONFIG)
    config["journal"] = {"driver": "sqlite", "path": str(tmp_path / "journal")}
    with _fusion(tmp_path / "holder", config, {}) as (holder, holder_url):
        wait_for(lambda: _readyz(holder_url) == 200, 20, "the first Fusion to hold the journal")
        with NotifySocket(tmp_path / "notify") as manager:
            env = {"NOTIFY_SOCKET": str(manager.path), "WATCHDOG_USEC": "400000"}
            with _fusion(tmp_path / "managed", config, env) as (process, url):
                status = manager.wait_for("STATUS")
                assert "loading view" in status["STATUS"], manager.messages
                wait_for(lambda: _readyz(url) == 503, 20, "the managed Fusion to answer, not ready")
                wait_for(lambda: len(manager.received("WATCHDOG")) >= 3, 10, "watchdog pings while loading")
                assert manager.received("READY") == []  # its view cannot load: the journal is held

                holder.send_signal(signal.SIGTERM)
                holder.wait(15)
                ready = manager.wait_for("READY")
                assert _readyz(url) == 200
                assert ready["STATUS"].startswith("serving 2 datastore")
                pings = len(manager.received("WATCHDOG"))
                wait_for(lambda: len(manager.received("WATCHDOG")) >= pings + 2, 5, "pings after READY")

                process.send_signal(signal.SIGTERM)
                assert process.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
            stopping = manager.received("STOPPING")
            assert stopping and stopping[0]["STOPPING"] == "1"
            order = [next(iter(m)) for m in manager.messages if {"READY", "STOPPING"} & set(m)]
            assert order[0] == "READY" and "STOPPING" in order[1:]
