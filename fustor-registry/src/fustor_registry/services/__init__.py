"""Units of work over a database session, shared by the HTTP API and the admin CLI.

Each function takes the session, the :class:`~fustor_registry.access.Caller` and a validated
request body, enforces :mod:`fustor_registry.access`, and returns a JSON view. Failures are
``fustor_core.errors`` exceptions, which both front ends know how to present.
"""
