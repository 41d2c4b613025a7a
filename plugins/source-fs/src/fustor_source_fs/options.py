"""The ``source:`` section of a pipe for ``driver: fs``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.config import FustorConfig


class FsSourceOptions(FustorConfig):
    """Options of the file-system source (unknown keys are errors)."""

    path: str
    """The watched root. Rows are relative to it, so mount points may differ between hosts."""
    settle_ms: float = Field(default=1.0, ge=0)
    """Realtime: after an event, wait this long for more of the same burst before sending."""
    max_delay_ms: float = Field(default=20.0, ge=0)
    """Realtime: never hold an event longer than this to batch it with others."""
    racy_window_s: float = Field(default=2.0, ge=0)
    """Audit: a directory modified this recently when listed is listed again next time (its
    mtime might not change for an entry added in the same clock tick)."""
