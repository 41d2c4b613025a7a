"""Start registry, Fusion and one agent; bootstrap users and keys on first run; serve until
interrupted; stop everything in reverse order."""

from __future__ import annotations

import json
import logging
import secrets
import signal
import subprocess
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fustor_core.errors import FustorError
from fustor_core.paths import data_dir
from fustor_core.testing import wait_for
from fustor_demo.processes import Service, command_path
from fustor_demo.sample_tree import first_upload_dir, generate_sample_tree

logger = logging.getLogger(__name__)

DATASTORE = "demo"


@dataclass
class DemoOptions:
    """What ``fustor demo`` was asked for."""

    path: Path | None = None
    """Directory to watch; None generates a sample tree under the demo's data dir."""
    port_base: int = 8101
    """Registry on port_base, Fusion on +1, the agent's API on +2."""
    fresh: bool = False
    """Discard the previous demo's state (database, keys) before starting."""
    ready_timeout_s: float = 120.0


@dataclass
class DemoState:
    """Secrets created on first run and reused by later runs (kept 0600 in the data dir)."""

    admin_password: str
    service_token: str
    ingest_key: str
    query_key: str


class Demo:
    """One run of the demo: its files, its child processes, its state."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.home = data_dir("demo")
        self.logs = self.home / "logs"
        self.registry_url = f"http://127.0.0.1:{options.port_base}"
        self.fusion_url = f"http://127.0.0.1:{options.port_base + 1}"
        self.agent_url = f"http://127.0.0.1:{options.port_base + 2}"
        self.services: list[Service] = []

    # -- state ------------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def _database(self) -> Path:
        return self.home / "registry.db"

    def _reset(self) -> None:
        for leftover in (self._state_file, self._database, self.home / "registry-secret.key"):
            leftover.unlink(missing_ok=True)

    def _load_state(self) -> DemoState | None:
        if not (self._state_file.exists() and self._database.exists()):
            return None
        try:
            return DemoState(**json.loads(self._state_file.read_text()))
        except (ValueError, TypeError):
            return None

    def _save_state(self, state: DemoState) -> None:
        self._state_file.write_text(json.dumps(state.__dict__, indent=2))
        self._state_file.chmod(0o600)

    # -- config files -----------------------------------------------------------------------

    def _write_yaml(self, name: str, data: dict[str, Any]) -> Path:
        path = self.home / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        path.chmod(0o600)
        return path

    def _registry_config(self, service_token: str) -> Path:
        return self._write_yaml(
            "registry.yaml",
            {
                "demo": True,
                "database_url": f"sqlite:///{self._database}",
                "service_tokens": [service_token],
                "port": self.options.port_base,
            },
        )

    def _fusion_config(self, state: DemoState) -> Path:
        return self._write_yaml(
            "fusion.yaml",
            {
                "port": self.options.port_base + 1,
                "session_timeout_s": 30,
                "heartbeat_interval_s": 5,
                "registry": {"url": self.registry_url, "service_token": state.service_token},
            },
        )

    def _agent_config(self, state: DemoState, watched: Path) -> Path:
        return self._write_yaml(
            "agent.yaml",
            {
                "agent_id": "demo-agent",
                "api": {"port": self.options.port_base + 2},
                "pipes": [
                    {
                        "datastore": DATASTORE,
                        "source": {"driver": "fs", "path": str(watched)},
                        "pusher": {"driver": "http", "url": self.fusion_url, "api_key": state.ingest_key},
                        "modes": {"audit": {"interval_s": 60}, "sentinel": {"interval_s": 30}},
                        "heartbeat_interval_s": 5,
                    }
                ],
            },
        )

    # -- bootstrap --------------------------------------------------------------------------

    def _registry_admin(self, config: Path, *args: str, stdin: str | None = None) -> dict[str, Any]:
        command = [command_path("fustor-registry"), "admin", *args, "--config", str(config), "--json"]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            raise FustorError(f"fustor-registry admin {args[0]} failed: {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def _bootstrap(self) -> DemoState:
        state = DemoState(
            admin_password=secrets.token_urlsafe(12),
            service_token=secrets.token_urlsafe(24),
            ingest_key="",
            query_key="",
        )
        config = self._registry_config(state.service_token)
        self._registry_admin(
            config,
            "create-user",
            "--username",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
            stdin=state.admin_password + "\n",
        )
        self._registry_admin(
            config,
            "create-datastore",
            "--name",
            DATASTORE,
            "--fusion-url",
            self.fusion_url,
            "--description",
            "fustor demo",
        )
        state.ingest_key = self._registry_admin(
            config, "create-key", "--datastore", DATASTORE, "--scopes", "ingest", "--label", "demo agent"
        )["key"]
        state.query_key = self._registry_admin(
            config, "create-key", "--datastore", DATASTORE, "--scopes", "query", "--label", "demo queries"
        )["key"]
        self._save_state(state)
        return state

    # -- run --------------------------------------------------------------------------------

    def _start(self, name: str, argv: list[str], ready_url: str) -> Service:
        service = Service(
            name, argv, log_dir=self.logs, ready_url=ready_url, env={"FUSTOR_HOME": str(self.home.parent)}
        )
        self.services.append(service)
        return service.start(timeout=self.options.ready_timeout_s)

    def _fusion_stats(self, query_key: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.fusion_url}/api/v1/views/{DATASTORE}/stats", headers={"X-API-Key": query_key}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def run(self, stop: threading.Event) -> int:
        if self.options.fresh:
            self._reset()
        watched = self.options.path
        if watched is None:
            watched = self.home / "sample-tree"
            files = generate_sample_tree(watched)
            print(f"sample tree: {watched} ({files:,} files)", flush=True)
        elif not watched.is_dir():
            raise FustorError(f"{watched}: not a directory")
        state = self._load_state()
        if state is None:
            self._reset()
            state = self._bootstrap()
            print("first run: created admin user, datastore 'demo' and its keys", flush=True)
        registry_config = self._registry_config(state.service_token)
        fusion_config = self._fusion_config(state)
        agent_config = self._agent_config(state, watched.resolve())
        try:
            self._start(
                "registry",
                [command_path("fustor-registry"), "serve", "--config", str(registry_config)],
                f"{self.registry_url}/healthz",
            )
            self._start(
                "fusion",
                [command_path("fustor-fusion"), "serve", "--config", str(fusion_config)],
                f"{self.fusion_url}/readyz",
            )
            self._start(
                "agent",
                [command_path("fustor-agent"), "run", "--config", str(agent_config)],
                f"{self.agent_url}/healthz",
            )
            wait_for(
                lambda: self._fusion_stats(state.query_key).get("last_snapshot_end"),
                self.options.ready_timeout_s,
                "the agent's first snapshot to reach Fusion",
            )
            self._print_welcome(state, watched)
            while not stop.wait(0.5):
                for service in self.services:
                    if not service.alive:
                        print(
                            f"{service.name} stopped unexpectedly; its log: {service.log_path}\n"
                            f"{service.log_tail(20)}",
                            flush=True,
                        )
                        return 1
            return 0
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def _print_welcome(self, state: DemoState, watched: Path) -> None:
        stats = self._fusion_stats(state.query_key)
        upload = first_upload_dir(watched) or "/"
        key = state.query_key
        base = f"{self.fusion_url}/api/v1/views/{DATASTORE}"
        print(
            f"""
Fustor demo is running — watching {watched}
  registry  {self.registry_url}   (user admin, password {state.admin_password})
  fusion    {self.fusion_url}   ({stats["files"]:,} files, {stats["dirs"]:,} dirs in view '{DATASTORE}')
  agent     {self.agent_url}/api/v1/status
  query key {key}
  web view  {self.fusion_url}/ui/#/{DATASTORE}{upload}   (enter the query key)

Try:
  curl -s -H 'X-API-Key: {key}' '{base}/stats'
  curl -s -H 'X-API-Key: {key}' '{base}/tree?path={upload}&depth=2'
  curl -s -H 'X-API-Key: {key}' '{base}/search?pattern=MANIFEST.txt&path=/upload'

Logs: {self.logs}    Press Ctrl-C to stop.
""",
            flush=True,
        )


def run_demo(options: DemoOptions) -> int:
    """Run the demo until SIGINT/SIGTERM; returns the process exit code."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = Demo(options).run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        print("stopped registry, Fusion and agent", flush=True)
    return code
