"""The gate: files in one directory through which a test and the pausable source talk.

Files, not sockets or signals, because the two sides are different processes (the test and a
``fustor-agent run``) and a file is the one thing both can see without any extra service. Each
file is written whole (temporary name, then ``os.replace``), so a reader never sees half of one.

* ``hold.json`` — written by the test: ``{"scan": "audit", "path": "/d/f.dat"}`` arms the next
  scan of that kind; the source consumes it when that scan starts.
* ``paused.json`` — written by the source when it holds back the batch with that path's row.
* ``missed.json`` — written by the source when the armed scan ended without meeting the row.
* ``release`` — written by the test: let the held batch go.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

Scan = Literal["snapshot", "audit"]

ARM = "hold.json"
PAUSED = "paused.json"
MISSED = "missed.json"
RELEASE = "release"


class ScanMissedRow(AssertionError):
    """The armed scan ended without a row for the path (e.g. an audit skipped its directory)."""


class Gate:
    """Both sides of the conversation; the test and the source each build one on the same directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # -- the test's side --------------------------------------------------------------------

    def arm(self, scan: Scan, path: str) -> None:
        """Hold the next ``scan`` back on the batch with ``path``'s row (clears earlier answers)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in (PAUSED, MISSED, RELEASE):
            (self.directory / name).unlink(missing_ok=True)
        self._write(ARM, {"scan": scan, "path": path})

    def wait_paused(self, timeout: float) -> dict[str, Any]:
        """What the source announced when it paused; raises :class:`ScanMissedRow` if the scan
        ended without meeting the row, TimeoutError if nothing happened within ``timeout``."""

        deadline = time.monotonic() + timeout
        while True:
            missed = self._read(MISSED)
            if missed is not None:
                raise ScanMissedRow(f"the {missed['scan']} ended without a row for {missed['path']}")
            paused = self._read(PAUSED)
            if paused is not None:
                return paused
            if time.monotonic() > deadline:
                raise TimeoutError(f"the armed scan did not pause within {timeout:.1f}s ({self.directory})")
            time.sleep(0.02)

    def release(self) -> None:
        """Let the held batch go."""
        self._write(RELEASE, {"at": time.time()})

    # -- the source's side ------------------------------------------------------------------

    def take_arm(self, scan: str) -> str | None:
        """The path this ``scan`` must pause on, if the test armed one for it (consumed)."""
        armed = self._read(ARM)
        if armed is None or armed.get("scan") != scan:
            return None
        (self.directory / ARM).unlink(missing_ok=True)
        return str(armed["path"])

    def announce_paused(self, scan: str, path: str, rows: int) -> None:
        self._write(PAUSED, {"scan": scan, "path": path, "rows_held": rows, "at": time.time()})

    def announce_missed(self, scan: str, path: str) -> None:
        self._write(MISSED, {"scan": scan, "path": path, "at": time.time()})

    def wait_release(self, stop: threading.Event, max_hold_s: float) -> bool:
        """Block until the test releases (True), or until ``stop`` is set or ``max_hold_s`` passes
        (False). Polls: a scan worker thread has nothing better to do meanwhile."""
        release = self.directory / RELEASE
        deadline = time.monotonic() + max_hold_s
        while not release.exists():
            if stop.wait(0.01) or time.monotonic() > deadline:
                return False
        release.unlink(missing_ok=True)
        return True

    # -- files ------------------------------------------------------------------------------

    def _write(self, name: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{name}.tmp"
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.directory / name)

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.directory / name).read_text())
        except FileNotFoundError:
            return None
        return data


__all__ = ["ARM", "MISSED", "PAUSED", "RELEASE", "Gate", "Scan", "ScanMissedRow"]
