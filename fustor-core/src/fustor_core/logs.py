"""Structured logging: one ``key=value`` line per event worth an operator's attention.

Call :func:`configure_logging` once in a service's entry point; elsewhere use
``logging.getLogger(__name__)`` and pass context in ``extra={"fields": {...}}`` or through
:func:`log_event`.

Values in a record often come from a client (a user name at a login, an agent id, a path), so
the formatter escapes them with :func:`escape_control`: a record is always exactly one line, and
no value can forge a second one (``\r``, ``\n``) or drive the operator's terminal (ESC).
"""

from __future__ import annotations

import logging
import sys
import time
import unicodedata
from typing import Any

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


def configure_logging(level: str | int = "INFO") -> None:
    """Send key=value lines to stderr; safe to call more than once."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fustor", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler._fustor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields``.

    ``fields`` may hold untrusted values as they are: the formatter escapes them (see
    :func:`escape_control`), so a record stays one line whatever a client sent.
    """
    logger.log(level, message, extra={"fields": fields})
