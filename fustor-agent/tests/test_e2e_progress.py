"""A snapshot's progress as people and log shippers meet it, on a real ``fustor-agent run``.

On a terminal the agent draws a live display (rich): entries walked, rate, elapsed, and an ETA
once a previous snapshot's count is known; log lines are printed above it, never glued to it.
``fustor-agent status`` shows the same figures. Off a terminal the agent writes ``snapshot
progress`` log lines instead, and the previous count survives a restart (the first snapshot
after it has an ETA).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import termios
import threading
from collections.abc import Callable
from pathlib import Path

from agent_testkit import BIN, AgentProcess, FusionProcess, wait_for

CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _segments(raw: bytes) -> list[str]:
    """The text written to the terminal between line starts (a newline or a carriage return),
    control sequences (cursor moves, line erases) dropped: each is what one drawing of a line
    put on the screen."""
    text = CSI.sub("", raw.decode(errors="replace"))
    return [segment for segment in re.split(r"[\r\n]", text) if segment]


def _patient(fusion: FusionProcess) -> None:
    """Restart Fusion with a long session timeout: these tests pause it (SIGSTOP) for a few
    seconds to keep a snapshot in progress, and the leader's session must outlive the pause
    (a new tenure would resume with an audit instead of finishing the snapshot)."""
    fusion.stop()
    fusion.configure(session_timeout_s=60)
    fusion.start()


def _status(agent: AgentProcess, *extra: str) -> str:
    command = [str(BIN / "fustor-agent"), "status", "--port", str(agent.api_port), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout


def test_a_terminal_shows_live_snapshot_progress_and_status_the_same_figures(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    _patient(fusion)
    for i in range(200):
        (tree / f"f{i}").touch()
    template = start_agent(tree, "template")  # only used for its config; stopped right away
    template.stop()
    # without the cache it may have saved, the agent below starts with a snapshot (not an audit)
    shutil.rmtree(template.state_dir, ignore_errors=True)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))  # 200 columns
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the pty's size rules
    agent = subprocess.Popen(
        [*template.argv()], stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True, env=env
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
        expected = template.status()["last_snapshot_entries"]
        assert expected == 201  # 200 files and the root directory
        fusion.pause()  # the next snapshot's rows cannot leave: it stays visibly in progress
        try:
            assert template.trigger("snapshot").status_code == 202
            wait_for(lambda: f"walked of ~{expected}".encode() in screen, 10, "the live display with the ETA")
            status = template.status()["snapshot_progress"]
            assert status["expected"] == expected and status["walked"] >= 1 and status["rate"] >= 0
            text = _status(template)
            assert f"walked of ~{expected:,}" in text and "elapsed" in text, text
            assert "snapshot_progress" in json.loads(_status(template, "--json"))["pipes"][0]
        finally:
            fusion.resume()
        wait_for(lambda: screen.count(b"snapshot complete") >= 2, 15, "the second snapshot")
    finally:
        agent.terminate()
        agent.wait(15)
        os.close(controller)
    drawn = _segments(bytes(screen))
    display = [line for line in drawn if line.startswith("demo: snapshot")]
    # 201 entries are walked at once: the display shows the run finishing (ETA: see test_snapshot_progress)
    assert any(f"walked of ~{expected:,}" in line and "/s, elapsed" in line for line in display), display
    for line in drawn:
        if "msg=" in line:  # every log line starts clean, never glued to the live display
            assert line.startswith("ts="), line


def test_off_a_terminal_progress_is_logged_and_the_eta_survives_a_restart(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    _patient(fusion)
    for i in range(100):
        (tree / f"f{i}").touch()
    settings = {"progress_log_interval_s": 0.2}
    first = start_agent(tree, "host-a", agent=settings)
    wait_for(lambda: first.runs("snapshot") == 1, 15, "the first snapshot")
    assert first.status()["last_snapshot_entries"] == 101  # 100 files and the root
    first.stop()

    for i in range(100, 150):
        (tree / f"f{i}").touch()
    fusion.pause()  # the restarted agent gets no session, so no scan: the count is the file's
    try:
        again = start_agent(tree, "host-a", agent=settings)  # the same state directory
        assert again.status()["last_snapshot_entries"] == 101
    finally:
        fusion.resume()
    wait_for(lambda: again.status()["role"] == "leader", 15, "the restarted agent to lead")

    before = again.runs("snapshot")
    fusion.pause()  # a snapshot kept in progress: its log lines carry the figures
    try:
        assert again.trigger("snapshot").status_code == 202
        wait_for(lambda: '"snapshot progress"' in again.log_path.read_text(), 10, "a progress log line")
        progress = again.status()["snapshot_progress"]
        assert progress["expected"] == 101 and progress["walked"] >= 1, progress
    finally:
        fusion.resume()
    wait_for(lambda: again.runs("snapshot") > before, 15, "the snapshot to complete")
    assert again.status()["last_snapshot_entries"] == 151
    line = next(line for line in again.log_path.read_text().splitlines() if '"snapshot progress"' in line)
    assert "expected=101" in line and "eta_s=" in line and "walked=" in line and "rate=" in line, line
