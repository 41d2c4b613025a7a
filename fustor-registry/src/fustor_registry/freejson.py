"""Free-form JSON objects (datastore ``settings``, storage-environment ``details``): what may be
stored, and what is served back.

A value is accepted only if it can be stored in both databases *and* encoded again by the JSON
encoder of the answers (orjson), so a write can never create a row that breaks a later listing:

* a JSON object at the top, every key a string;
* numbers within the signed 64-bit integer range, ``-2**63 .. 2**63-1`` (orjson refuses larger
  integers; the same bound for fractions keeps the rule one JSON Schema can state, since JSON
  Schema cannot tell ``1e20`` from ``100000000000000000000``), finite above all (``1e999``
  parses as infinity, which JSON cannot carry back);
* no NUL character and no lone surrogate in any string or key (PostgreSQL cannot store the
  first, UTF-8 cannot encode the second);
* at most :data:`MAX_DEPTH` levels of nesting and :data:`MAX_BYTES` bytes once encoded.

Rows written before these rules (or by hand) may still break them. Reading goes through
:func:`servable_object`, which serves such a value as ``{}`` and logs a warning (once per value
and process) instead of failing the whole answer.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from typing import Any

import orjson

from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

MAX_BYTES = 16 * 1024
"""Largest accepted object, encoded as compact JSON (UTF-8)."""
MAX_DEPTH = 8
"""Deepest accepted nesting: ``{"a": 1}`` has depth 1, ``{"a": [1]}`` depth 2."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_MAX_WARNED = 1024


class UnreadableJson:
    """Stands for a stored value the database driver could not even decode (hand-written text)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def load_stored(text: str | bytes) -> Any:
    """The engines' JSON decoder: a stored value that does not parse becomes :class:`UnreadableJson`
    (instead of an exception that would fail the whole query it is part of)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        return UnreadableJson(f"not valid JSON in the database ({type(exc).__name__})")


def check_object(value: Any) -> dict[str, Any]:
    """``value`` unchanged if it follows the rules above; ValueError naming the first breach.

    Walks the value with an explicit stack, so a deep value costs no recursion.
    """
    if isinstance(value, UnreadableJson):
        raise ValueError(value.reason)
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            for key, member in item.items():
                if not isinstance(key, str):
                    raise ValueError("keys must be strings")
                _check_text(key)
                stack.append((member, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((member, depth + 1) for member in item)
        else:
            _check_scalar(item)
    size = len(orjson.dumps(value))
    if size > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes once encoded ({size})")
    return value


def _check_scalar(item: Any) -> None:
    if item is None or isinstance(item, bool):
        return
    if isinstance(item, float) and not math.isfinite(item):
        raise ValueError("numbers must be finite (no Infinity or NaN, e.g. from 1e999)")
    if isinstance(item, (int, float)):
        if not INT64_MIN <= item <= INT64_MAX:
            raise ValueError("numbers must be within 64 bits (-2**63 .. 2**63-1)")
    elif isinstance(item, str):
        _check_text(item)
    else:
        raise ValueError(f"holds a {type(item).__name__}, which is not JSON")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise ValueError("must not contain lone surrogates")


def json_schema_defs(ref_template: str) -> dict[str, Any]:
    """The rules above as JSON Schema definitions (for the OpenAPI document): types, number
    bounds and strings exactly; nesting depth and encoded size in the description only (JSON
    Schema can state a depth only by one definition per level, which makes schema-driven test
    generators explore every level's every branch).
    """
    text = {"type": "string", "maxLength": MAX_BYTES, "pattern": "^[^\\u0000]*$"}
    value = {"$ref": ref_template.format(model="FreeJsonValue")}
    return {
        "FreeJsonValue": {
            "anyOf": [
                {"type": "null"},
                {"type": "boolean"},
                {"type": "number", "minimum": INT64_MIN, "maximum": INT64_MAX},
                text,
                {"type": "array", "items": value},
                {"type": "object", "propertyNames": text, "additionalProperties": value},
            ]
        },
        "FreeJsonObject": {
            "type": "object",
            "propertyNames": text,
            "additionalProperties": value,
            "description": f"Free-form JSON object: numbers within -2**63 .. 2**63-1, no NUL, at most "
            f"{MAX_DEPTH} levels deep and {MAX_BYTES} bytes encoded as compact JSON.",
        },
    }


_warned: set[str] = set()
_warned_lock = threading.Lock()


def servable_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it can be served; else ``{}``, with a warning naming ``what`` (once)."""
    try:
        return check_object(value)
    except ValueError as exc:
        _warn_once(what, str(exc))
        return {}


def _warn_once(what: str, reason: str) -> None:
    """Listings are polled (Fusion refreshes its list every few seconds): one line per bad value
    and process is enough, a line per poll would bury everything else."""
    key = f"{what}\x00{reason}"
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) >= _MAX_WARNED:
            _warned.clear()
        _warned.add(key)
    log_event(
        logger,
        logging.WARNING,
        "stored JSON cannot be served; answering {} instead (fix the record)",
        record=what,
        reason=reason,
    )
