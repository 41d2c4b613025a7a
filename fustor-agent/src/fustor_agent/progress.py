"""Showing a snapshot's progress: a live display on a terminal, log lines elsewhere.

On a TTY, ``rich`` draws one line per pipe whose snapshot runs — entries walked, rate, elapsed
time, and a bar with an ETA once the previous snapshot's count is known — redrawn a few times a
second; log records are printed above it by the same console, so the two never mix. In a pipe
or under systemd there is no redraw, only a structured log line every ``every_s`` while a
snapshot runs. Both show :func:`~fustor_agent.snapshot_progress.snapshot_figures`, the numbers
``fustor-agent status`` shows.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Column

from fustor_agent.pipe import Pipe
from fustor_agent.snapshot_progress import SnapshotFigures, figures_text
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)


def _sent_and_queued(pipe: Pipe) -> str:
    return f"{pipe.counters.get('rows_sent', 0):,} sent, {pipe.bus.depth:,} queued"


class _ThroughConsole(logging.Filter):
    """Prints a log record through the live display's console (above the display) instead of
    letting its handler write under the display."""

    def __init__(self, console: Console, handler: logging.Handler) -> None:
        super().__init__()
        self.console = console
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        line = self.handler.format(record)
        self.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        return False


class TerminalProgress:
    """A live display on a terminal, one line per pipe whose snapshot runs."""

    def __init__(self, pipes: list[Pipe], stream: TextIO = sys.stderr, every_s: float = 0.25) -> None:
        self.pipes = pipes
        self.every_s = every_s
        self.console = Console(file=stream, force_terminal=True, highlight=False)
        label = max((len(pipe.name) for pipe in pipes), default=0) + len(": snapshot")
        # on a narrow terminal the bar goes first, then the end of the figures (sent, queued)
        self.progress = Progress(
            TextColumn("{task.fields[pipe]}: snapshot", table_column=Column(no_wrap=True, min_width=label)),
            BarColumn(bar_width=16),
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=self.console,
            transient=True,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def _show(self, pipe: Pipe, figures: SnapshotFigures | None) -> None:
        task = self._tasks.get(pipe.name)
        if figures is None:
            if task is not None:
                self.progress.remove_task(task)
                del self._tasks[pipe.name]
            return
        text = f"{figures_text(figures.as_dict())}, {_sent_and_queued(pipe)}"
        fields: dict[str, Any] = {
            "description": text,
            "completed": min(figures.walked, figures.expected) if figures.expected else 0,
            "total": figures.expected or None,  # None: an indeterminate (pulsing) bar
        }
        if task is None:
            self._tasks[pipe.name] = self.progress.add_task(pipe=pipe.name, **fields)
        else:
            self.progress.update(task, **fields)

    async def run(self) -> None:
        filters = [
            (handler, _ThroughConsole(self.console, handler)) for handler in logging.getLogger().handlers
        ]
        for handler, through in filters:
            handler.addFilter(through)
        try:
            with self.progress:
                while True:
                    for pipe in self.pipes:
                        self._show(pipe, pipe.snapshot_progress())
                    self.progress.refresh()
                    await asyncio.sleep(self.every_s)
        finally:
            for handler, through in filters:
                handler.removeFilter(through)


class LogProgress:
    """A structured progress log line every ``every_s`` while a snapshot runs."""

    def __init__(self, pipes: list[Pipe], every_s: float = 10.0) -> None:
        self.pipes = pipes
        self.every_s = every_s

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            for pipe in self.pipes:
                figures = pipe.snapshot_progress()
                if figures is not None:
                    log_event(
                        logger,
                        logging.INFO,
                        "snapshot progress",
                        pipe=pipe.name,
                        walked=figures.walked,
                        rate=figures.rate,
                        elapsed_s=figures.elapsed_s,
                        expected=figures.expected,
                        eta_s=figures.eta_s,
                        sent=pipe.counters.get("rows_sent", 0),
                        queued=pipe.bus.depth,
                    )


def progress_for(
    pipes: list[Pipe], stream: TextIO = sys.stderr, every_s: float = 10.0
) -> TerminalProgress | LogProgress:
    """The live display on a terminal, log lines (every ``every_s``) otherwise."""
    return TerminalProgress(pipes, stream) if stream.isatty() else LogProgress(pipes, every_s)
