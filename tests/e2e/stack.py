"""The lab's services as real processes: a registry, Fusion, and one agent per watched host.

Every call the scenarios make goes through the services' public HTTP APIs and commands, as an
operator's would. Intervals are short so the matrix runs in minutes.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from nfslab import NfsLab
from processes import Service, command_path, free_port, wait_for

from fustor_test_pausable import Gate

DATASTORE = "lab"
AGENT_TOKEN = "lab-agent-token"


@dataclass
class LabRegistry:
    """A registry process with datastore ``lab`` and one ingest and one query key."""

    url: str
    service_token: str
    ingest_key: str
    query_key: str
    service: Service
    admin_password: str = "lab-admin-password"

    def route_datastore(self, fusion_url: str) -> None:
        """Tell the Registry which Fusion serves the lab datastore (agents learn it from here)."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            login = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": self.admin_password}
            )
            login.raise_for_status()
            answer = client.patch(
                f"/api/v1/datastores/{DATASTORE}",
                json={"fusion_url": fusion_url},
                headers={"Authorization": f"Bearer {login.json()['token']}"},
            )
            answer.raise_for_status()

    @classmethod
    def start(cls, workdir: Path) -> LabRegistry:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        token = "lab-service-token"
        secret = subprocess.run(
            [command_path("fustor-registry"), "gen-secret-key"], check=True, capture_output=True, text=True
        ).stdout.strip()
        config = workdir / "registry.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": f"sqlite:///{workdir / 'registry.db'}",
                    "secret_key": secret,
                    "service_tokens": [token],
                    "port": port,
                    "password_hash": {"time_cost": 1, "memory_cost_kib": 8192, "parallelism": 1},
                }
            )
        )

        def admin(*args: str, stdin: str | None = None) -> dict[str, Any]:
            done = subprocess.run(
                [command_path("fustor-registry"), "admin", *args, "--config", str(config), "--json"],
                check=True,
                capture_output=True,
                text=True,
                input=stdin,
            )
            result: dict[str, Any] = json.loads(done.stdout)
            return result

        admin(
            "create-user",
            "--username",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
            stdin=cls.admin_password + "\n",
        )
        admin("create-datastore", "--name", DATASTORE)
        ingest = admin("create-key", "--datastore", DATASTORE, "--scopes", "ingest")["key"]
        query = admin("create-key", "--datastore", DATASTORE, "--scopes", "query")["key"]
        service = Service(
            "registry",
            [command_path("fustor-registry"), "serve", "--config", str(config)],
            log_dir=workdir,
            ready_url=f"http://127.0.0.1:{port}/healthz",
        ).start()
        return cls(f"http://127.0.0.1:{port}", token, ingest, query, service)


@dataclass
class LabStack:
    """Fusion plus agents on the lab's mounts; everything stops in :meth:`close`."""

    lab: NfsLab
    registry: LabRegistry
    workdir: Path
    fusion_settings: dict[str, Any] = field(default_factory=dict)
    agent_settings: dict[str, Any] = field(default_factory=dict)
    fusion_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the Fusion process, e.g. ``FUSTOR_DISABLE_PLUGINS``."""
    pausable_hosts: tuple[str, ...] = ()
    """Hosts whose agent reads through the test-only ``pausable`` source (see :attr:`gate`)."""
    fusion: Service | None = None
    fusion_port: int = 0
    agents: dict[str, Service] = field(default_factory=dict)
    agent_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.http = httpx.Client(timeout=10.0)
        self.fusion_port = free_port()
        self.gate = Gate(self.workdir / "gate")

    # -- services ---------------------------------------------------------------------------

    @property
    def disabled_plugins(self) -> set[str]:
        """The plugins Fusion was told not to load (``FUSTOR_DISABLE_PLUGINS``)."""
        return {name for name in self.fusion_env.get("FUSTOR_DISABLE_PLUGINS", "").split(",") if name}

    @property
    def fusion_url(self) -> str:
        return f"http://127.0.0.1:{self.fusion_port}"

    def start_fusion(self) -> Service:
        config = self.workdir / "fusion.yaml"
        defaults = {
            "port": self.fusion_port,
            "session_timeout_s": 3,
            "heartbeat_interval_s": 0.5,
            "tick_interval_s": 0.2,
            "hot_window_s": 4,
            "rules": {"merge-tombstone": {"ttl_s": 600}},
            "journal": {"driver": "sqlite", "path": str(self.workdir / "journal")},
            "registry": {
                "url": self.registry.url,
                "service_token": self.registry.service_token,
                "cache_ttl_s": 2,
            },
        }
        settings = merge_settings(defaults, self.fusion_settings, "rules")
        config.write_text(yaml.safe_dump(settings))
        self.registry.route_datastore(self.fusion_url)
        if self.fusion is None:
            self.fusion = Service(
                "fusion",
                [command_path("fustor-fusion"), "serve", "--config", str(config)],
                log_dir=self.workdir,
                ready_url=f"{self.fusion_url}/readyz",
                env=self.fusion_env,
            )
        return self.fusion.start()

    def start_agent(self, host: str) -> Service:
        port = self.agent_ports.setdefault(host, free_port())
        config = self.workdir / f"agent-{host}.yaml"
        # host a learns Fusion's URL from the Registry (as a real deployment would); b is told it
        where = {"registry_url": self.registry.url} if host == "a" else {"url": self.fusion_url}
        source: dict[str, Any] = {"driver": "fs", "path": str(self.lab.host(host))}
        if host in self.pausable_hosts:
            source = {"driver": "pausable", "gate": str(self.gate.directory), "inner": source}
        defaults = {
            "datastore": DATASTORE,
            "source": source,
            "pusher": {"driver": "http", "api_key": self.registry.ingest_key, **where},
            "modes": {"audit": {"interval_s": 3600}, "sentinel": {"interval_s": 0.5}},
            "heartbeat_interval_s": 0.5,
        }
        pipe = merge_settings(defaults, self.agent_settings, "modes")
        config.write_text(
            yaml.safe_dump(
                {
                    "agent_id": f"host-{host}",
                    "api": {"port": port, "token": AGENT_TOKEN},
                    "state_dir": str(self.agent_state_dir(host)),
                    "pipes": [pipe],
                }
            )
        )
        service = self.agents.get(host)
        if service is None:
            service = self.agents[host] = Service(
                f"agent-{host}",
                [command_path("fustor-agent"), "run", "--config", str(config)],
                log_dir=self.workdir,
                ready_url=f"http://127.0.0.1:{port}/healthz",
            )
        return service.start()

    def agent_state_dir(self, host: str) -> Path:
        """Where ``host``'s agent saves its directory cache (kept across its restarts)."""
        return self.workdir / f"agent-{host}-state"

    def close(self) -> None:
        for service in list(self.agents.values()):
            service.stop()
        if self.fusion is not None:
            self.fusion.stop()
        self.http.close()

    def logs(self) -> str:
        parts = []
        for service in [self.fusion, *self.agents.values()]:
            if service is not None:
                parts.append(f"--- {service.name} ---\n{service.log_tail(30)}")
        return "\n".join(parts)

    # -- Fusion queries ---------------------------------------------------------------------

    def query(self, what: str, **params: Any) -> Any:
        answer = self.http.get(
            f"{self.fusion_url}/api/v1/views/{DATASTORE}/{what}",
            params=params,
            headers={"X-API-Key": self.registry.query_key},
        )
        answer.raise_for_status()
        return answer.json()

    def node(self, path: str, depth: int = 0) -> dict[str, Any] | None:
        answer = self.http.get(
            f"{self.fusion_url}/api/v1/views/{DATASTORE}/tree",
            params={"path": path, "depth": depth},
            headers={"X-API-Key": self.registry.query_key},
        )
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.query("stats")
        return result

    def suspect_paths(self) -> set[str]:
        return {entry["path"] for entry in self.query("suspects")}

    def blind_spots(self) -> tuple[set[str], set[str]]:
        answer = self.query("blind-spots")
        return ({e["path"] for e in answer["additions"]}, {e["path"] for e in answer["deletions"]})

    def roles(self) -> dict[str, str]:
        return {s["agent_id"]: s["role"] for s in self.query("sessions")}

    def wait(self, condition: Any, timeout: float, what: str) -> Any:
        try:
            return wait_for(condition, timeout, what)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def wait_node(self, path: str, timeout: float = 15.0, **expect: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            node = self.node(path)
            if node is not None and all(node.get(k) == v for k, v in expect.items()):
                return node
            return None

        result: dict[str, Any] = self.wait(matches, timeout, f"{path} with {expect} in Fusion")
        return result

    def wait_gone(self, path: str, timeout: float = 15.0) -> None:
        self.wait(lambda: self.node(path) is None, timeout, f"{path} to disappear from Fusion")

    # -- agents -----------------------------------------------------------------------------

    def agent_pipe(self, host: str) -> dict[str, Any]:
        answer = self.http.get(f"http://127.0.0.1:{self.agent_ports[host]}/api/v1/status")
        answer.raise_for_status()
        pipe: dict[str, Any] = answer.json()["pipes"][0]
        return pipe

    def mode_runs(self, host: str, mode: str) -> int:
        return int(self.agent_pipe(host)["modes"].get(mode, {}).get("runs") or 0)

    def run_now(self, host: str, mode: str, timeout: float = 20.0, *, deep: bool = False) -> None:
        """Trigger an audit (``deep``: every directory listed, every file re-stat'ed) or a
        snapshot on ``host``'s agent and wait until it has finished."""
        before = self.mode_runs(host, mode)
        answer = self.http.post(
            f"http://127.0.0.1:{self.agent_ports[host]}/api/v1/pipes/{DATASTORE}/{mode}",
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            json={"deep": True} if deep else None,
        )
        assert answer.status_code == 202, answer.text
        self.wait(lambda: self.mode_runs(host, mode) > before, timeout, f"{mode} on host {host} to finish")

    def wait_leader(self, host: str, timeout: float = 10.0) -> None:
        self.wait(lambda: self.roles().get(f"host-{host}") == "leader", timeout, f"host {host} to lead")

    def wait_snapshot(self, host: str, timeout: float = 20.0) -> None:
        self.wait(lambda: self.mode_runs(host, "snapshot") >= 1, timeout, f"host {host}'s snapshot")

    def wait_first_scan(self, host: str, timeout: float = 20.0) -> None:
        """Until ``host``'s agent finished a snapshot or an audit: a leader that resumed a view it
        had synced (its saved directory cache) starts with an audit, not a snapshot."""
        self.wait(
            lambda: self.mode_runs(host, "snapshot") + self.mode_runs(host, "audit") >= 1,
            timeout,
            f"host {host}'s first scan",
        )


def export_file_count(lab: NfsLab) -> int:
    return sum(1 for path in lab.export.rglob("*") if path.is_file())


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def now() -> float:
    return time.time()


def merge_settings(defaults: dict[str, Any], overrides: dict[str, Any], plugins_key: str) -> dict[str, Any]:
    """``defaults`` with ``overrides`` on top; the plugins' section (``rules`` / ``modes``) is
    merged plugin by plugin and key by key, so ``{"modes": {"audit": {"interval_s": 1}}}`` keeps
    the default sentinel interval (``{"sentinel": False}`` turns it off)."""
    merged = {**defaults, **overrides}
    sections = dict(defaults.get(plugins_key) or {})
    for name, section in (overrides.get(plugins_key) or {}).items():
        both = isinstance(section, dict) and isinstance(sections.get(name), dict)
        sections[name] = {**sections[name], **section} if both else section
    merged[plugins_key] = sections
    return merged
