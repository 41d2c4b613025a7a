"""Printing as the GNU tools do: human sizes, marks for the flags, streamed lines, quiet on a
closed pipe (``fustor find ... | head`` is not an error)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_UNITS = "KMGTPE"

MARKS = (("integrity_suspect", "S"), ("agent_missing", "B"), ("complete", "C"))
"""The flags ``ls -l`` and ``watch`` show, as one letter each (``-`` when false or absent)."""


def human(value: int) -> str:
    """GNU ``-h``: powers of 1024, rounded up, one decimal below 10 (``1.5K``, ``12M``, ``512``)."""
    if value < 1024:
        return str(value)
    scaled = float(value)
    for index, unit in enumerate(_UNITS):
        scaled /= 1024
        if scaled < 10:
            tenths = math.ceil(scaled * 10) / 10
            if tenths < 10:
                return f"{tenths:.1f}{unit}"
        whole = math.ceil(scaled)
        if whole < 1024 or index == len(_UNITS) - 1:
            return f"{whole}{unit}"
    raise AssertionError("unreachable")


def marks(node: dict[str, Any]) -> str:
    """``dSBC`` with ``-`` for each flag that is false (``d``: a directory)."""
    kind = "d" if node.get("is_dir") else "-"
    return kind + "".join(letter if node.get(flag) else "-" for flag, letter in MARKS)


def mtime_text(mtime: float | None) -> str:
    """Local time as ``ls --time-style=long-iso`` prints it."""
    if mtime is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))


class Out:
    """stdout as bytes: paths are written as the view holds them (non-UTF-8 names included)."""

    def __init__(self) -> None:
        self.stream = sys.stdout.buffer

    def write(self, text: str) -> None:
        self.stream.write(text.encode("utf-8", errors="surrogateescape"))

    def flush(self) -> None:
        self.stream.flush()


def quiet_on_closed_pipe(run: Callable[[Any], int]) -> Callable[[Any], int]:
    """``run``, ending with status 0 when the reader of stdout went away (``| head``)."""

    def guarded(args: Any) -> int:
        try:
            return run(args)
        except BrokenPipeError:
            # Python flushes stdout again at exit: point it at /dev/null so that flush is silent.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    return guarded
