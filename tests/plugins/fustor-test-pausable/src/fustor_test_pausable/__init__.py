"""Test-only source driver ``pausable``: holds a snapshot or audit back on a chosen row.

Registers the source driver ``pausable`` (see :mod:`fustor_test_pausable.source`); tests drive
it through :class:`fustor_test_pausable.gate.Gate`. Never part of a default install.
"""

from __future__ import annotations

from fustor_core import hookimpl
from fustor_core.agent_api import RegisterSource
from fustor_test_pausable.gate import Gate, ScanMissedRow
from fustor_test_pausable.source import DRIVER, PausableSource


@hookimpl
def fustor_source_drivers(register: RegisterSource) -> None:
    register(DRIVER, PausableSource.from_config)


__all__ = ["Gate", "PausableSource", "ScanMissedRow", "fustor_source_drivers"]
