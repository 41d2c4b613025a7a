"""`fustor demo` — the README's first command — works, prints working curl lines, stops cleanly
on Ctrl-C, and works again on a second run that reuses its state."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fustor_core.cli import main
from fustor_core.testing import free_port
from fustor_demo.processes import command_path


def _free_port_base() -> int:
    """A base port with base, +1 and +2 free (registry, Fusion, agent)."""
    for _ in range(50):
        base = free_port()
        if base < 65000 and all(_is_free(base + i) for i in (1, 2)):
            return base
    raise RuntimeError("no three consecutive free ports")


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run_demo(home: Path, port_base: int) -> tuple[str, int]:
    """Start the demo, wait until it says it is ready, run its curl lines, Ctrl-C it."""
    env = {**os.environ, "FUSTOR_HOME": str(home)}
    demo = subprocess.Popen(
        [command_path("fustor"), "demo", "--port-base", str(port_base)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout], daemon=True).start()  # type: ignore[union-attr]
    output: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while not any("Press Ctrl-C" in line for line in output):
            assert demo.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "demo not ready in time:\n" + "".join(output)
            try:
                output.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        text = "".join(output)
        curls = re.findall(r"^\s+(curl .*)$", text, flags=re.M)
        assert len(curls) == 3, text
        for line in curls:
            done = subprocess.run(
                ["curl", "--fail-with-body", *shlex.split(line)[1:]],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0 and done.stdout.startswith(("{", "[")), (line, done.stdout)
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
    while not lines.empty():
        output.append(lines.get())
    return "".join(output), code


def test_fustor_demo_runs_serves_and_stops_cleanly_twice_in_a_row(tmp_path: Path) -> None:
    if subprocess.run(["which", "curl"], capture_output=True).returncode != 0:
        pytest.fail("curl is needed to exercise the demo's printed commands")
    port_base = _free_port_base()
    first, code = _run_demo(tmp_path / "home", port_base)
    assert code == 0, first
    assert "first run: created admin user" in first
    assert re.search(r"fusion\s+http://127\.0\.0\.1:\d+\s+\(2,892 files", first), first
    assert "stopped registry, Fusion and agent" in first
    second, code = _run_demo(tmp_path / "home", port_base)
    assert code == 0, second
    assert "first run" not in second  # state (database, keys) was reused
    assert first.split("query key ")[1].split()[0] == second.split("query key ")[1].split()[0]


def test_fustor_finds_the_demo_command_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fustor demo` comes from this distribution (group fustor.commands), not from core."""
    monkeypatch.setenv("FUSTOR_HOME", str(tmp_path))
    assert main(["demo", "/definitely/not/a/dir"]) == 2
    assert capsys.readouterr().err == "fustor: /definitely/not/a/dir: not a directory\n"
