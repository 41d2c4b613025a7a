"""Untrusted request bodies → validated objects, one bad row at a time.

A batch is validated in one go first (the common case, and the fast one). Only when that fails
is it taken apart: a malformed *envelope* (not JSON, ``events`` not a list, an event's
``message_source`` unknown...) refuses the request with 422 naming the field, while a malformed
*row* is dropped with its reason and the good rows of the batch still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt, ValidationError

from fustor_core.errors import InvalidInput, PayloadTooLarge
from fustor_core.event_model import Event, EventBatch, EventType, MessageSource, Row
from fustor_fusion import codec
from fustor_fusion.api_models import SentinelFeedbackRequest, SentinelUpdateIn

ModelT = TypeVar("ModelT", bound=BaseModel)


_SEGMENT = r"(?:[^/\x00.][^/\x00]*|\.[^/\x00.][^/\x00]*|\.\.[^/\x00]+)"
WIRE_PATH_PATTERN = rf"^(?:/|(?:/{_SEGMENT})+)$"
"""The valid paths of :func:`fustor_core.event_model.path_problem` as one regex (a segment is
anything without '/' or NUL except '.' and '..'), so pydantic checks them in Rust. Lone
surrogates never reach it: the JSON parser refuses them and the row-by-row path reports them."""

_WirePath = Annotated[str, Field(max_length=4096, pattern=WIRE_PATH_PATTERN)]
_WireFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]


class _WireRow(Row):
    """:class:`Row` with its Python validators replaced by equivalent Rust-side constraints.

    Validating a 1,000-row batch in one go is the hot path of ingest; per-row Python validator
    calls would double its cost. Accepts exactly what ``Row`` accepts (a test holds them equal).
    """

    path: _WirePath
    parent_path: _WirePath | None = None
    mtime: _WireFloat = 0.0
    parent_mtime: _WireFloat | None = None


class _WireEvent(Event):
    rows: list[_WireRow]  # type: ignore[assignment]


class _WireBatch(EventBatch):
    events: list[_WireEvent]  # type: ignore[assignment]


class _EventShell(BaseModel):
    """An event with its rows still unchecked."""

    model_config = ConfigDict(extra="forbid")

    message_source: MessageSource
    event_type: EventType
    index: StrictInt = Field(ge=0)
    rows: list[Any]


class _BatchShell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[_EventShell]
    seq: StrictInt | None = Field(default=None, ge=1)


@dataclass
class ParsedBatch:
    """An events request after validation: the good rows, plus what was refused and why."""

    events: list[Event]
    seq: int | None
    invalid: dict[str, int] = field(default_factory=dict)
    """Rows refused by validation, counted by reason."""

    @property
    def invalid_count(self) -> int:
        return sum(self.invalid.values())


def parse_event_batch(body: bytes, *, max_rows: int) -> ParsedBatch:
    """Validate an events body; 422 for a bad envelope, 413 for too many rows."""
    try:
        batch = _WireBatch.model_validate_json(body)
    except ValidationError:
        return _parse_row_by_row(body, max_rows=max_rows)
    _check_rows(sum(len(event.rows) for event in batch.events), max_rows)
    return ParsedBatch(events=list(batch.events), seq=batch.seq)


def _parse_row_by_row(body: bytes, *, max_rows: int) -> ParsedBatch:
    shell = validate_model(_BatchShell, codec.loads(body))
    _check_rows(sum(len(event.rows) for event in shell.events), max_rows)
    parsed = ParsedBatch(events=[], seq=shell.seq)
    for event in shell.events:
        rows = validate_items(Row, event.rows, parsed.invalid)
        parsed.events.append(
            Event.model_construct(
                message_source=event.message_source,
                event_type=event.event_type,
                index=event.index,
                rows=rows,
            )
        )
    return parsed


class _FeedbackShell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updates: list[Any]


def parse_sentinel_feedback(body: bytes, *, max_rows: int) -> tuple[list[SentinelUpdateIn], dict[str, int]]:
    """Validate a sentinel feedback body: the good updates, and the refused ones by reason."""
    refused: dict[str, int] = {}
    try:
        updates = SentinelFeedbackRequest.model_validate_json(body).updates
    except ValidationError:
        updates = validate_items(
            SentinelUpdateIn, validate_model(_FeedbackShell, codec.loads(body)).updates, refused
        )
    _check_rows(len(updates) + sum(refused.values()), max_rows, what="updates")
    return updates, refused


def _check_rows(count: int, max_rows: int, *, what: str = "events") -> None:
    if count > max_rows:
        raise PayloadTooLarge(
            f"{what}: {count} rows in one request; the limit is {max_rows}, split the batch"
        )


def validate_model(model: type[ModelT], data: Any) -> ModelT:
    """Validate ``data`` or raise InvalidInput naming each offending field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"body: expected a JSON object, got {_json_type(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc)) from None


def parse_model(model: type[ModelT], body: bytes, *, empty_ok: bool = False) -> ModelT:
    """Parse and validate a small JSON body (an empty body means ``{}`` when ``empty_ok``)."""
    if not body.strip():
        if empty_ok:
            return model.model_validate({})
        raise InvalidInput("body: a JSON object is required")
    return validate_model(model, codec.loads(body))


def validate_items(model: type[ModelT], items: list[Any], refused: dict[str, int]) -> list[ModelT]:
    """Validate each item alone; count each refusal under ``invalid: <field>: <message>``."""
    good: list[ModelT] = []
    for item in items:
        try:
            good.append(model.model_validate(item))
        except ValidationError as exc:
            reason = "invalid: " + _first_problem(exc)
            refused[reason] = refused.get(reason, 0) + 1
    return good


def _describe(exc: ValidationError, *, most: int = 5) -> str:
    """The first few problems, each naming its field (a hostile body can have thousands)."""
    problems = exc.errors()
    lines = []
    for item in problems[:most]:
        location = ".".join(str(part) for part in item["loc"]) or "body"
        lines.append(f"{location}: {item['msg'].removeprefix('Value error, ')}")
    if len(problems) > most:
        lines.append(f"... and {len(problems) - most} more")
    return "; ".join(lines)


def _first_problem(exc: ValidationError) -> str:
    item = exc.errors()[0]
    location = ".".join(str(part) for part in item["loc"]) or "row"
    if item["type"] == "string_unicode":  # a lone surrogate: a name that was not valid UTF-8
        return f"{location}: {item['loc'][-1]} is not valid UTF-8"
    message = item["msg"].removeprefix("Value error, ")
    return f"{location}: {message}"


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
