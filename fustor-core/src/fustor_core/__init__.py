"""Fustor core: the contracts shared by services and plugins.

Plugins import :data:`hookimpl` from here to mark their hook implementations::

    from fustor_core import hookimpl

    @hookimpl
    def fustor_filter_batch(view, batch): ...
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "fustor"
"""The pluggy project name and the entry-point group plugins register under."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

try:
    __version__ = version("fustor-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
