"""Structured logging: one line per event worth an operator's attention, ``key=value`` (the
default, for people) or one JSON object (``--log-format json``, for log shippers).

Call :func:`configure_logging` once in a service's entry point; elsewhere use
``logging.getLogger(__name__)`` and pass context in ``extra={"fields": {...}}`` or through
:func:`log_event`.

Values in a record often come from a client (a user name at a login, an agent id, a path), so
both formats escape them: a record is always exactly one line, and no value can forge a second
one (``\r``, ``\n``, U+2028) or drive the operator's terminal (ESC, bidirectional overrides).
The text format uses :func:`escape_control`; the JSON format JSON's own ``\\uXXXX`` escapes
(:func:`json_line`), so a JSON reader gets the value back exactly.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import unicodedata
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg="..." key=value ...`` — greppable and machine-readable."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [
            f"ts={stamp}.{int(record.msecs):03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={_quote(record.name)}",
            f"msg={_quote(record.getMessage())}",
        ]
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            parts.extend(f"{escape_control(str(key))}={_quote(value)}" for key, value in fields.items())
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        if record.stack_info:
            parts.append(f"stack={_quote(record.stack_info)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """``{"time": ..., "level": ..., "logger": ..., "message": ..., <fields>...}`` on one line.

    A record's fields (``datastore``, ``session``, ``pipe``, ...) are top-level keys beside the
    four fixed ones; a field that would shadow one of those is written as ``field_<name>``.
    """

    FIXED = ("time", "level", "logger", "message")

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                name = str(key)
                entry[f"field_{name}" if name in self.FIXED or name in ("exc", "stack") else name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json_line(entry)


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff" + "".join(sorted(_BIDI_CONTROLS)) + "]")
"""What ``json.dumps`` leaves raw but a line reader or a terminal could act on: DEL and the C1
controls (NEL is a line break to some readers), the line and paragraph separators, lone
surrogates (not writable as UTF-8), bidirectional overrides. C0 controls are escaped by JSON."""


def json_line(value: Any) -> str:
    """``value`` as one line of JSON: other scripts kept readable, everything a reader could take
    for a line break or a terminal could act on written as a ``\\uXXXX`` escape (same value
    once parsed). Objects JSON cannot hold are written as their ``str()``."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def escape_control(text: str) -> str:
    """``text`` as one printable line: backslash-escapes for every character a reader or a
    terminal could act on.

    Escaped: the backslash itself (so the escaping can be undone unambiguously), C0 and C1
    control characters and DEL (``\\n``, ``\\r``, ``\\t``, else ``\\xNN``), the Unicode line and
    paragraph separators, the bidirectional overrides that can make a line read differently from
    what it holds, and lone surrogates (which a UTF-8 stream cannot even write) as ``\\uNNNN``.
    Everything else, other scripts included, is kept. Any log
    format (key=value here, JSON later) passes untrusted values through this function first.
    """
    if text.isprintable() and "\\" not in text:
        return text  # the common case: nothing to escape (isprintable is False for all of the above)
    return "".join(_escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Zl", "Zp", "Cs"):
        return f"\\u{code:04x}"
    return ch


def _quote(value: Any) -> str:
    """A field value: bare when it is one plain word, else double-quoted and escaped."""
    text = str(value)
    escaped = escape_control(text)
    if text and escaped == text and not any(ch in text for ch in ' "='):
        return text
    return '"' + escaped.replace('"', '\\"') + '"'


def configure_logging(level: str | int = "INFO", log_format: str = "text") -> None:
    """Send one line per record to stderr, ``key=value`` (``text``) or JSON (``json``); safe to
    call more than once. Raises ValueError for an unknown level or format."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (choose from {', '.join(LOG_FORMATS)})")
    root = logging.getLogger()
    root.setLevel(level)  # raises ValueError before the handlers change
    for handler in list(root.handlers):
        if getattr(handler, "_fustor", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    handler._fustor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields``.

    ``fields`` may hold untrusted values as they are: the formatter escapes them (see
    :func:`escape_control`), so a record stays one line whatever a client sent.
    """
    logger.log(level, message, extra={"fields": fields})


def add_log_format_argument(parser: Any) -> None:
    """``--log-format {text,json}`` on a service's command (an ``argparse`` parser); None when
    not given, so the config's ``log_format`` applies."""
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text: key=value lines; json: one JSON object per line (default: config 'log_format', text)",
    )
