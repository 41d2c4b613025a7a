"""Real service processes for the end-to-end tests (the same helper ``fustor demo`` uses)."""

from fustor_core.testing import free_port, wait_for
from fustor_demo.processes import Service, command_path, url_ok

__all__ = ["Service", "command_path", "free_port", "url_ok", "wait_for"]
