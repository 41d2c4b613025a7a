"""Real service processes for the end-to-end tests (the same helper ``fustor demo`` uses)."""

from fustor_core.demo.processes import Service, command_path, free_port, url_ok, wait_for

__all__ = ["Service", "command_path", "free_port", "url_ok", "wait_for"]
