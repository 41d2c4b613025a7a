"""The HTTP face of the Registry: ``create_app(config)`` and the route handlers."""

from fustor_registry.api.app import create_app

__all__ = ["create_app"]
