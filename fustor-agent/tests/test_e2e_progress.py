"""On a terminal the agent draws a live snapshot progress line; log lines never mix into it."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from agent_testkit import AgentProcess, FusionProcess, wait_for


def test_a_terminal_shows_live_snapshot_progress(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    for i in range(200):
        (tree / f"f{i}").touch()
    template = start_agent(tree, "template")  # only used for its config; stopped right away
    template.stop()
    # without the cache it may have saved, the agent below starts with a snapshot (not an audit)
    shutil.rmtree(template.state_dir, ignore_errors=True)
    controller, terminal = pty.openpty()
    agent = subprocess.Popen(
        [*template.argv()], stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True
    )
    os.close(terminal)
    screen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: b"snapshot complete" in screen, 15, "the first snapshot")
        fusion.pause()  # the next snapshot's rows cannot leave: it stays visibly in progress
        try:
            assert template.trigger("snapshot").status_code == 202
            wait_for(lambda: b"\r\x1b[Kdemo: snapshot" in screen, 10, "the live progress line")
        finally:
            fusion.resume()
        wait_for(lambda: screen.count(b"snapshot complete") == 2, 15, "the second snapshot")
    finally:
        agent.terminate()
        agent.wait(15)
        os.close(controller)
    text = screen.decode(errors="replace")
    line = text.split("\r\x1b[K")[-2] if "\r\x1b[K" in text else ""
    assert "scanned" in text and "queued" in text, line
    for log_line in text.splitlines():
        if "msg=" in log_line:  # every log line starts clean, never glued to the progress line
            assert log_line.lstrip("\r\x1b[K").startswith("ts="), log_line
