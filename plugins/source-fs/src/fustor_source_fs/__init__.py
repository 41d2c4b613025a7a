"""File-system source: realtime (inotify), snapshot, audit and sentinel checks of one directory.

Registers the source driver ``fs``; a pipe selects it with ``source: {driver: fs, path: ...}``.
The driver lives in :mod:`fustor_source_fs.source`; this module is what the entry point loads.
"""

from __future__ import annotations

from fustor_core import hookimpl
from fustor_core.agent_api import RegisterSource
from fustor_source_fs.options import FsSourceOptions
from fustor_source_fs.source import FsSource


@hookimpl
def fustor_source_drivers(register: RegisterSource) -> None:
    register("fs", FsSource.from_config)


__all__ = ["FsSource", "FsSourceOptions", "fustor_source_drivers"]
