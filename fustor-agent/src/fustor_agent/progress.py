"""Showing the initial snapshot's progress: a live line on a terminal, log lines elsewhere.

On a TTY, one status line is redrawn a few times a second (log lines clear it first, so the two
never mix). In a pipe or under systemd there is no redraw, only a structured log line every
``log_every_s`` while a snapshot runs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

from fustor_agent.pipe import Pipe
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

ACTIVE = ("scanning", "finishing")


def snapshot_line(pipe: Pipe) -> str | None:
    """``pipe: snapshot 123,456 scanned (45,000/s), 100,000 sent, 2,000 queued`` or None."""
    progress = pipe.status()["modes"].get("snapshot") or {}
    if progress.get("state") not in ACTIVE:
        return None
    scanned = int(progress.get("files", 0)) + int(progress.get("dirs", 0))
    sent = pipe.counters.get("rows_sent", 0)
    state = "snapshot" if progress.get("state") == "scanning" else "snapshot (scan done, sending)"
    return (
        f"{pipe.name}: {state} {scanned:,} scanned ({int(progress.get('rate', 0)):,}/s), "
        f"{sent:,} sent, {pipe.bus.depth:,} queued"
    )


class _ClearLine(logging.Filter):
    """Clears the live line before a log record is written under it."""

    def __init__(self, display: TerminalProgress) -> None:
        super().__init__()
        self.display = display

    def filter(self, record: logging.LogRecord) -> bool:
        self.display.clear()
        return True


class TerminalProgress:
    """A live status line on a terminal."""

    def __init__(self, pipes: list[Pipe], stream: TextIO = sys.stderr, every_s: float = 0.25) -> None:
        self.pipes = pipes
        self.stream = stream
        self.every_s = every_s
        self._shown = False
        self._filter = _ClearLine(self)

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    async def run(self) -> None:
        handlers = logging.getLogger().handlers
        for handler in handlers:
            handler.addFilter(self._filter)
        try:
            while True:
                lines = [line for pipe in self.pipes if (line := snapshot_line(pipe))]
                if lines:
                    self.stream.write("\r\x1b[K" + " | ".join(lines))
                    self.stream.flush()
                    self._shown = True
                else:
                    self.clear()
                await asyncio.sleep(self.every_s)
        finally:
            self.clear()
            for handler in handlers:
                handler.removeFilter(self._filter)


class LogProgress:
    """A structured progress log line every ``every_s`` while a snapshot runs."""

    def __init__(self, pipes: list[Pipe], every_s: float = 10.0) -> None:
        self.pipes = pipes
        self.every_s = every_s

    async def run(self) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(self.every_s)
            for pipe in self.pipes:
                progress = pipe.status()["modes"].get("snapshot") or {}
                if progress.get("state") in ACTIVE:
                    log_event(
                        logger,
                        logging.INFO,
                        "snapshot progress",
                        pipe=pipe.name,
                        files=progress.get("files", 0),
                        dirs=progress.get("dirs", 0),
                        rate=progress.get("rate", 0),
                        sent=pipe.counters.get("rows_sent", 0),
                        queued=pipe.bus.depth,
                        elapsed_s=round(time.monotonic() - started),
                    )


def progress_for(pipes: list[Pipe], stream: TextIO = sys.stderr) -> TerminalProgress | LogProgress:
    """The live line on a terminal, log lines otherwise."""
    return TerminalProgress(pipes, stream) if stream.isatty() else LogProgress(pipes)
