"""Log records stay one line whatever a client puts in a value (no forged lines, no terminal
escapes); the processes-level proof is in tests/test_log_forging.py."""

from __future__ import annotations

import logging
import sys

import pytest

from fustor_core.logs import KeyValueFormatter, escape_control

FORGED = "eve\r\nts=2030-01-01T00:00:00.000Z level=info msg=login user=admin\x1b[2J\u2028\u202e"


def _format(message: str, **fields: object) -> str:
    record = logging.LogRecord("fustor.test", logging.WARNING, __file__, 1, message, None, None)
    record.fields = fields
    return KeyValueFormatter().format(record)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("tab\there", "tab\\there"),
        ("esc\x1b[31m", "esc\\x1b[31m"),
        ("nul\x00del\x7fnel\x85", "nul\\x00del\\x7fnel\\x85"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("rlo\u202eevil", "rlo\\u202eevil"),
        ("lone\ud800", "lone\\ud800"),
        ("back\\slash", "back\\\\slash"),
        ("\u00fcber \u65e5\u672c", "\u00fcber \u65e5\u672c"),
    ],
)
def test_escape_control(raw: str, escaped: str) -> None:
    assert escape_control(raw) == escaped


def test_a_forged_value_stays_on_its_line() -> None:
    line = _format("login failed", user=FORGED, client="127.0.0.1")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.isprintable()
    assert 'user="eve\\r\\nts=2030-01-01T00:00:00.000Z level=info msg=login user=admin\\x1b[2J' in line
    assert line.endswith("client=127.0.0.1")


def test_message_and_traceback_are_escaped_too() -> None:
    try:
        raise ValueError(FORGED)
    except ValueError:
        record = logging.LogRecord(
            "fustor.test", logging.ERROR, __file__, 1, "bad %s", (FORGED,), exc_info=sys.exc_info()
        )
    line = KeyValueFormatter().format(record)
    assert line.count("\n") == 0 and line.isprintable()
    assert "exc=" in line and "Traceback" in line
