"""Real processes for the agent's end-to-end tests: Fusion, agents, and tree comparisons."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from fustor_core.testing import free_port, wait_for

INGEST_KEY = "ingest-secret"
QUERY_KEY = "query-secret"
API_TOKEN = "agent-token"
BIN = Path(sys.executable).parent


def remove_tree(root: Path) -> None:
    """Delete a tree however deep, whatever its permissions."""
    dirs: list[str] = []
    stack = [str(root)]
    while stack:
        path = stack.pop()
        os.chmod(path, 0o755)
        dirs.append(path)
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for path in reversed(dirs):
        os.rmdir(path)


def disk_listing(root: Path) -> dict[str, tuple[bool, int, float]]:
    """``path -> (is_dir, size, mtime)`` of everything below ``root`` as the agent should send it.

    Names that are not valid UTF-8 are left out (they cannot be sent); symlinks are entries.
    """
    listing: dict[str, tuple[bool, int, float]] = {}
    stack = [(os.fsencode(root), "")]
    while stack:
        absolute, rel = stack.pop()
        for entry in os.scandir(absolute):
            try:
                name = entry.name.decode("utf-8")
            except UnicodeDecodeError:
                continue
            path = f"{rel}/{name}"
            st = entry.stat(follow_symlinks=False)
            is_dir = entry.is_dir(follow_symlinks=False)
            listing[path] = (is_dir, 0 if is_dir else st.st_size, st.st_mtime)
            if is_dir:
                stack.append((entry.path, path))
    return listing


class Service:
    """A child process with its output kept in a log file for failure messages."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        wait_for(self._ready_or_dead, timeout, f"{self.name} to start")

    def _ready_or_dead(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
        return self.ready()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it hangs); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise AssertionError(f"{self.name} ignored SIGTERM:\n{self.log_tail()}") from None
        return self.process.returncode

    def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait(5)

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class FusionProcess(Service):
    """``fustor-fusion serve`` with static keys for datastore ``demo``."""

    def __init__(self, workdir: Path, *, session_timeout_s: float = 2.0, datastore: str = "demo") -> None:
        super().__init__("fusion", workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.datastore = datastore
        self.config_path = workdir / "fusion.yaml"
        self.configure(session_timeout_s=session_timeout_s)
        self.client = httpx.Client(base_url=self.url, headers={"X-API-Key": QUERY_KEY}, timeout=10)

    def configure(self, **settings: Any) -> None:
        config = {
            "session_timeout_s": 2.0,
            "heartbeat_interval_s": 0.3,
            "tick_interval_s": 0.2,
            # memory only: these tests restart Fusion to see the agent rebuild an empty view
            "journal": {"driver": "none"},
            **settings,
            "datastores": {
                self.datastore: {
                    "api_keys": [
                        {"key": INGEST_KEY, "scopes": ["ingest"]},
                        {"key": QUERY_KEY, "scopes": ["query"]},
                    ]
                }
            },
        }
        self.config_path.write_text(yaml.safe_dump(config))

    def argv(self) -> list[str]:
        exe = (
            str(BIN / "fustor-fusion") if (BIN / "fustor-fusion").exists() else shutil.which("fustor-fusion")
        )
        assert exe, "fustor-fusion is not installed"
        return [exe, "serve", "--config", str(self.config_path), "--port", str(self.port)]

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200

    def stats(self) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/views/{self.datastore}/stats")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def sessions(self) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/views/{self.datastore}/sessions")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def listing(self) -> dict[str, tuple[bool, int, float]]:
        """Fusion's whole tree as ``path -> (is_dir, size, mtime)`` (root excluded).

        An answer nests at most 100 levels: a directory there that has entries but lists no
        children is asked for again at its own path, as any client of a deep tree does.
        """
        listing: dict[str, tuple[bool, int, float]] = {}
        roots = ["/"]
        while roots:
            response = self.client.get(
                f"/api/v1/views/{self.datastore}/tree",
                params={"path": roots.pop(), "depth": -1, "max_nodes": 100000},
            )
            response.raise_for_status()
            stack = list(response.json().get("children", []))
            while stack:
                node = stack.pop()
                listing[node["path"]] = (node["is_dir"], 0 if node["is_dir"] else node["size"], node["mtime"])
                if node["is_dir"] and "children" not in node and node["files"] + node["dirs"] > 0:
                    roots.append(node["path"])
                stack.extend(node.get("children") or [])
        return listing

    def matches(self, root: Path) -> bool:
        """True when Fusion's tree has exactly the disk's entries, files with their size and mtime."""
        return _same(self.listing(), disk_listing(root))

    def difference(self, root: Path) -> str:
        fusion, disk = self.listing(), disk_listing(root)
        missing = sorted(set(disk) - set(fusion))[:10]
        extra = sorted(set(fusion) - set(disk))[:10]
        differ = sorted(p for p in set(disk) & set(fusion) if not _same({p: fusion[p]}, {p: disk[p]}))[:10]
        return f"missing in Fusion: {missing}; extra in Fusion: {extra}; differing: {differ}"


def _same(fusion: dict[str, tuple[bool, int, float]], disk: dict[str, tuple[bool, int, float]]) -> bool:
    if set(fusion) != set(disk):
        return False
    for path, (is_dir, size, mtime) in disk.items():
        f_dir, f_size, f_mtime = fusion[path]
        if f_dir != is_dir:
            return False
        if not is_dir and (f_size != size or abs(f_mtime - mtime) > 1e-6):
            return False
    return True


TEST_MODES: dict[str, Any] = {"audit": {"interval_s": 1.0}, "sentinel": {"interval_s": 1.0}}
"""Short intervals for the tests; a test's ``modes={...}`` is merged over them mode by mode."""


class AgentProcess(Service):
    """``fustor-agent run`` watching ``root``, pushing to ``fusion``, with short test intervals.

    ``agent`` keys go into the top level of agent.yaml, ``pipe`` keys into the pipe's config;
    ``modes={"audit": {"interval_s": 3600}}`` is merged
    over :data:`TEST_MODES` mode by mode (``{"sentinel": False}`` turns a mode off).
    """

    def __init__(
        self,
        workdir: Path,
        agent_id: str,
        root: Path,
        fusion: FusionProcess,
        agent: dict[str, Any] | None = None,
        **pipe: Any,
    ) -> None:
        super().__init__(agent_id, workdir)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.config_path = workdir / "agent.yaml"
        modes = dict(TEST_MODES)
        for name, section in (pipe.pop("modes", None) or {}).items():
            merged = isinstance(section, dict) and isinstance(modes.get(name), dict)
            modes[name] = {**modes[name], **section} if merged else section
        settings = {"heartbeat_interval_s": 0.3, "modes": modes, **pipe}
        self.state_dir = workdir / "state"
        """Where the agent saves its directory cache (the pipe's is ``state/demo/dircache``)."""
        config = {
            "agent_id": agent_id,
            "shutdown_timeout_s": 5.0,
            "state_dir": str(self.state_dir),
            **(agent or {}),
            "api": {"token": API_TOKEN},
            "pipes": [
                {
                    "datastore": fusion.datastore,
                    "source": {"driver": "fs", "path": str(root)},
                    "pusher": {
                        "driver": "http",
                        "url": fusion.url,
                        "api_key": INGEST_KEY,
                        "retry_max_s": 0.5,
                        "timeout_s": 5.0,
                    },
                    **settings,
                }
            ],
        }
        self.config_path.write_text(yaml.safe_dump(config))

    def argv(self) -> list[str]:
        exe = str(BIN / "fustor-agent") if (BIN / "fustor-agent").exists() else shutil.which("fustor-agent")
        assert exe, "fustor-agent is not installed"
        return [exe, "run", "--config", str(self.config_path), "--port", str(self.api_port)]

    def ready(self) -> bool:
        return httpx.get(f"{self.api_url}/healthz", timeout=1).status_code == 200

    def status(self) -> dict[str, Any]:
        response = httpx.get(f"{self.api_url}/api/v1/status", timeout=5)
        response.raise_for_status()
        return response.json()["pipes"][0]  # type: ignore[no-any-return]

    def mode(self, name: str) -> dict[str, Any]:
        return self.status()["modes"].get(name, {})  # type: ignore[no-any-return]

    def runs(self, name: str) -> int:
        return int(self.mode(name).get("runs", 0))

    def source_counter(self, name: str) -> int:
        return int(self.status()["source"]["counters"].get(name, 0))

    def trigger(self, mode: str, token: str | None = API_TOKEN, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.api_url}/api/v1/pipes/demo/{mode}", headers=headers, json=body, timeout=5)

    def run_now(self, mode: str, timeout: float = 20.0, body: Any = None) -> None:
        """Trigger ``mode`` and wait until that run has finished."""
        before = self.runs(mode)
        answer = self.trigger(mode, body=body)
        assert answer.status_code == 202, answer.text
        wait_for(lambda: self.runs(mode) > before, timeout, f"the {mode} to finish")
