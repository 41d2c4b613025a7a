"""What the web-view tests run against: a real Fusion fed by a real agent, and a real browser.

``WebStack`` starts ``fustor-fusion serve`` (datastores ``demo`` and ``other``, static keys) and
``fustor-agent run`` watching a directory, exactly as an operator would; ``chromium_path`` finds
Debian's Chromium, which the ``browser`` fixture starts through Playwright (never a downloaded
browser build); ``make_sample_tree`` writes the files the tests browse.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from fustor_core.testing import free_port, wait_for
from fustor_demo.processes import Service, command_path

DATASTORE = "demo"
QUERY_KEY = "ui-query-key"
INGEST_KEY = "ui-ingest-key"
OTHER_QUERY_KEY = "other-query-key"
"""A valid key, but for datastore ``other``: the page must say 403, not 401."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
"""Kept after the run (CI artefacts); git-ignored."""


OLD = 1_600_000_000.0
"""An mtime far outside the hot window: files with it are not suspect."""
BIG_ENTRIES = 5000
ODD_DIR = "a dir #1 ü %41 ?x=y"
"""A name that means something in an address (#, %, ?, =, spaces, non-ASCII)."""


def _write(path: Path, size: int, mtime: float | None = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def make_sample_tree(root: Path) -> None:
    """Uploads with known sizes and old mtimes, a 5,000-entry directory, a directory to write in."""
    _write(root / "upload" / "run-1" / "data.bin", 1536 * 1024)
    _write(root / "upload" / "run-1" / "notes.txt", 100)
    _write(root / "upload" / "run-2" / "part-1.dat", 2048)
    for i in range(BIG_ENTRIES):
        _write(root / "big" / f"f-{i:05d}.dat", i % 7)
    _write(root / "live" / "settled.dat", 10)
    _write(root / "odd" / "<img src=x onerror=window.pwned=1>.dat", 1)
    _write(root / "odd" / ODD_DIR / "inner.txt", 3)
    os.utime(root / "upload" / "run-1", (OLD, OLD))


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or ``FUSTOR_CHROMIUM``."""
    configured = os.environ.get("FUSTOR_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


class WebStack:
    """Fusion and one agent watching ``root``; ``modes`` is laid over the pipe's ``modes:``
    (``{"realtime": False}`` stands for a host without realtime), ``fusion_env`` is added to
    Fusion's environment (``FUSTOR_DISABLE_PLUGINS``...)."""

    def __init__(
        self,
        workdir: Path,
        root: Path,
        *,
        modes: dict[str, Any] | None = None,
        fusion_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        fusion_config = workdir / "fusion.yaml"
        fusion_config.write_text(
            yaml.safe_dump(
                {
                    "session_timeout_s": 3.0,
                    "heartbeat_interval_s": 0.5,
                    "tick_interval_s": 0.2,
                    "hot_window_s": 600,
                    "journal": {"driver": "none"},  # a fresh view per stack, nothing under $FUSTOR_HOME
                    "datastores": {
                        DATASTORE: {
                            "api_keys": [
                                {"key": INGEST_KEY, "scopes": ["ingest"]},
                                {"key": QUERY_KEY, "scopes": ["query"]},
                            ]
                        },
                        "other": {"api_keys": [{"key": OTHER_QUERY_KEY, "scopes": ["query"]}]},
                    },
                }
            )
        )
        self.fusion = Service(
            "fusion",
            [
                command_path("fustor-fusion"),
                "serve",
                "--config",
                str(fusion_config),
                "--port",
                str(self.port),
            ],
            log_dir=workdir,
            ready_url=f"{self.url}/readyz",
            env=fusion_env,
        )
        self.modes = modes or {}
        self.agent = self.agent_service("ui-agent")
        self.followers: list[Service] = []
        self.client = httpx.Client(base_url=self.url, headers={"X-API-Key": QUERY_KEY}, timeout=10)

    def agent_service(self, agent_id: str) -> Service:
        """``fustor-agent run`` as ``agent_id`` watching ``root`` (not started)."""
        port = free_port()
        pipe: dict[str, Any] = {
            "datastore": DATASTORE,
            "source": {"driver": "fs", "path": str(self.root)},
            "pusher": {"driver": "http", "url": self.url, "api_key": INGEST_KEY, "retry_max_s": 0.5},
            "modes": {"audit": {"interval_s": 1.0}, "sentinel": {"interval_s": 1.0}, **self.modes},
            "heartbeat_interval_s": 0.5,
        }
        config = self.workdir / f"{agent_id}.yaml"
        settings = {
            "agent_id": agent_id,
            "shutdown_timeout_s": 5.0,
            "state_dir": str(self.workdir / f"{agent_id}-state"),  # its directory cache: not in $FUSTOR_HOME
            "pipes": [pipe],
        }
        config.write_text(yaml.safe_dump(settings))
        return Service(
            agent_id,
            [command_path("fustor-agent"), "run", "--config", str(config), "--port", str(port)],
            log_dir=self.workdir,
            ready_url=f"http://127.0.0.1:{port}/healthz",
        )

    def add_follower(self, agent_id: str) -> Service:
        """A second agent on the same export: Fusion makes it a follower of the leader."""
        follower = self.agent_service(agent_id)
        follower.start()
        self.followers.append(follower)
        return follower

    def start(self) -> WebStack:
        self.fusion.start()
        self.agent.start()
        wait_for(lambda: self.stats()["last_snapshot_end"], 60, "the agent's snapshot to reach Fusion")
        return self

    def stop(self) -> None:
        for follower in self.followers:
            follower.stop()
        self.agent.stop()
        self.fusion.stop()
        self.client.close()

    def stats(self) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/views/{DATASTORE}/stats")
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]

    def node(self, path: str) -> dict[str, Any] | None:
        answer = self.client.get(f"/api/v1/views/{DATASTORE}/tree", params={"path": path, "depth": 0})
        return answer.json() if answer.status_code == 200 else None  # type: ignore[no-any-return]

    def has_change_feed(self) -> bool:
        """Whether this Fusion serves the change feed (its API document lists ``/changes``)."""
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        return "/api/v1/views/{ds}/changes" in paths

    def list_sizes(self) -> dict[str, int]:
        """Every list Fusion serves (``/lists``), by name, with its number of entries."""
        answer = self.client.get(f"/api/v1/views/{DATASTORE}/lists")
        answer.raise_for_status()
        return {entry["name"]: entry["entries"] for entry in answer.json()}

    def list_paths(self, name: str) -> set[str]:
        answer = self.client.get(f"/api/v1/views/{DATASTORE}/lists/{name}", params={"limit": 10000})
        answer.raise_for_status()
        return {entry["path"] for entry in answer.json()}

    def page_url(self, path: str = "/", datastore: str = DATASTORE) -> str:
        names = [name for name in path.split("/") if name]
        return f"{self.url}/ui/#/" + "/".join([datastore, *names])
