"""Log records stay one line whatever a client puts in a value (no forged lines, no terminal
escapes); the processes-level proof is in tests/test_log_forging.py."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from fustor_core.logs import JsonFormatter, KeyValueFormatter, configure_logging, escape_control

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


def _json(text: str, /, *args: object, exc_info: object = None, **fields: object) -> str:
    record = logging.LogRecord("fustor.test", logging.WARNING, __file__, 1, text, args or None, exc_info)  # type: ignore[arg-type]
    record.fields = fields
    return JsonFormatter().format(record)


def test_a_json_record_is_one_object_with_the_fields_at_the_top() -> None:
    line = _json("session opened", datastore="demo", session="s-1", rows=3, reasons={"invalid": 2})
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "datastore", "session", "rows", "reasons"}
    assert entry["level"] == "warning" and entry["logger"] == "fustor.test"
    assert entry["message"] == "session opened"
    assert (entry["datastore"], entry["session"], entry["rows"], entry["reasons"]) == (
        "demo",
        "s-1",
        3,
        {"invalid": 2},
    )
    assert entry["time"].endswith("Z") and "T" in entry["time"]


def test_a_forged_value_stays_on_its_json_line_and_reads_back_exactly() -> None:
    line = _json("login failed", user=FORGED + "\x85\ud800", client="127.0.0.1")
    assert len(line.splitlines()) == 1  # str.splitlines breaks at \r, \n, \x85, \u2028 ... too
    assert line.isprintable() and "\x1b" not in line
    assert json.loads(line)["user"] == FORGED + "\x85\ud800"
    assert "über" in _json("x", name="über")  # other scripts stay readable


def test_a_field_named_like_a_fixed_key_does_not_replace_it() -> None:
    entry = json.loads(_json("real message", message="forged", level="debug", time="never"))
    assert entry["message"] == "real message" and entry["field_message"] == "forged"
    assert entry["level"] == "warning" and entry["field_level"] == "debug"


def test_a_json_traceback_is_one_line() -> None:
    try:
        raise ValueError(FORGED)
    except ValueError:
        line = _json("bad %s", FORGED, exc_info=sys.exc_info())
    assert len(line.splitlines()) == 1
    entry = json.loads(line)
    assert entry["message"] == f"bad {FORGED}" and "Traceback" in entry["exc"]


def test_configure_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("INFO", "xml")
