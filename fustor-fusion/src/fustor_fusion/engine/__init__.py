"""The arbitration engine: one :class:`View` per datastore, rules supplied by plugins."""

from fustor_fusion.engine.clock import SkewClock
from fustor_fusion.engine.results import BatchResult
from fustor_fusion.engine.view import View

__all__ = ["BatchResult", "SkewClock", "View"]
