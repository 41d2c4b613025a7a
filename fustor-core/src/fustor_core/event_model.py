"""The event model: what agents send and Fusion arbitrates (docs/event-model.md).

An :class:`Event` is one batch from one source with one ``message_source``. Paths are relative
to the watched root and start with ``/``, so two agents mounting the same export at different
mount points produce the same paths.

Services validate untrusted input with these models; hot in-process code may build rows with
:meth:`Row.model_construct` (no validation) once the input is known to be good.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt


class MessageSource(StrEnum):
    """Where an event's evidence comes from; arbitration trusts them differently."""

    REALTIME = "realtime"
    SNAPSHOT = "snapshot"
    AUDIT = "audit"


class EventType(StrEnum):
    """What the rows of an event say happened."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a valid datastore path, or ``None`` when it is.

    A valid path is absolute ('/'-separated, starting with '/'), has no empty, '.' or '..'
    segments, no trailing '/' (except the root itself), no NUL byte, and is valid UTF-8
    (lone surrogates from undecodable names are refused per row, never per batch).
    """
    if not path.startswith("/"):
        return "path must start with '/'"
    if "\x00" in path:
        return "path must not contain NUL bytes"
    if path == "/":
        return None
    if path.endswith("/"):
        return "path must not end with '/'"
    for segment in path[1:].split("/"):
        if segment in ("", ".", ".."):
            return "path must not contain empty, '.' or '..' segments"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "path is not valid UTF-8"
    return None


def _valid_path(path: str) -> str:
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(problem)
    return path


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


DatastorePath = Annotated[str, Field(max_length=4096), AfterValidator(_valid_path)]
"""A validated absolute path inside a datastore."""

FiniteFloat = Annotated[float, Strict(), AfterValidator(_finite)]
"""A finite JSON number (an integer is fine; ``true`` or ``"1.5"`` are not)."""

# Types are strict: a wire value of the wrong JSON type is refused, never coerced ("10" is not
# a size, "yes" is not a boolean), so what the OpenAPI document says is exactly what is accepted.


class Row(BaseModel):
    """One file or directory observation."""

    model_config = ConfigDict(extra="forbid")

    path: DatastorePath
    is_dir: StrictBool = False
    size: StrictInt = Field(default=0, ge=0, lt=2**63)
    """Bytes; bounded so every store can keep it in a signed 64-bit field."""
    mtime: FiniteFloat = 0.0
    """Modification time in float seconds, as the storage reports it (its clock, not ours)."""
    parent_path: DatastorePath | None = None
    parent_mtime: FiniteFloat | None = None
    """Scan rows: the parent directory's mtime when the scan listed it."""
    audit_skipped: StrictBool = False
    """Scan directory rows: this directory's children were not (all) listed — its mtime was
    unchanged since the last audit, or listing it or stat'ing one of its entries failed — so
    Fusion must infer nothing about children missing from the scan. The rows that were read
    still apply."""
    local_write: StrictBool = False
    """Realtime file rows: the row reports a write made on the agent's own host (a regular file
    created, modified or closed after writing), so its mtime is a fresh sample of the storage
    clock. Rows of files moved in, or found by walking a new directory, keep their old mtimes
    and are not samples."""


class Event(BaseModel):
    """One batch of rows from one source, all with the same meaning."""

    model_config = ConfigDict(extra="forbid")

    message_source: MessageSource
    event_type: EventType
    index: StrictInt = Field(ge=0)
    """The agent's physical observation time, milliseconds since the epoch."""
    rows: list[Row]


class EventBatch(BaseModel):
    """The body of ``POST /api/v1/ingest/sessions/{sid}/events``."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event]
    seq: StrictInt | None = Field(default=None, ge=1)
    """Per-session batch sequence number (1, 2, 3, ...); a re-sent batch with a seen ``seq`` is
    applied once."""


__all__ = [
    "DatastorePath",
    "Event",
    "EventBatch",
    "EventType",
    "MessageSource",
    "Row",
    "path_problem",
]
