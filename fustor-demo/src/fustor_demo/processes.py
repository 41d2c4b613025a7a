"""Child service processes: start, wait until an URL answers, stop politely or kill.

Used by ``fustor demo`` and by the end-to-end tests, which run the services exactly as an
operator does. Polling with a deadline is ``fustor_core.testing.wait_for`` (the one copy).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from fustor_core.testing import wait_for


def command_path(name: str) -> str:
    """A console script installed next to this interpreter (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"command {name!r} not found; is its package installed?")
    return found


def url_ok(url: str, headers: dict[str, str] | None = None) -> bool:
    """True when GET ``url`` answers 200."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Service:
    """One service as a child process in its own session, output appended to a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_dir: Path,
        ready_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.ready_url = ready_url
        self.log_path = Path(log_dir) / f"{name}.log"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0) -> Service:
        """Start the process and, with a ``ready_url``, wait until it answers 200."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        if self.ready_url:
            wait_for(self._ready, timeout, f"{self.name} at {self.ready_url}")
        return self

    def _ready(self) -> bool:
        if not self.alive:
            code = self.process.returncode if self.process else None
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.log_tail()}")
        return url_ok(self.ready_url or "")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.process is None:
            return None
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye, like a crash or a power cut."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait(5)

    def restart(self, *, timeout: float = 30.0) -> Service:
        self.stop()
        return self.start(timeout=timeout)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
