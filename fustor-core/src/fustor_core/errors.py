"""One exception hierarchy for every Fustor package.

Services map these to HTTP answers in exactly one place (each carries the status it maps to),
so code deep inside the engine can say *what* went wrong without knowing about HTTP.
"""

from __future__ import annotations


class FustorError(Exception):
    """Base of every error Fustor raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(FustorError):
    """A configuration file or value is invalid; the message names the offending key."""

    code = "config_error"


class PluginError(FustorError):
    """A plugin is missing, broken, or was asked for something it does not provide."""

    code = "plugin_error"


class InvalidInput(FustorError):
    """A request body or argument is malformed (HTTP 422)."""

    status = 422
    code = "invalid"


class Unauthorized(FustorError):
    """No credential, or one that is unknown, revoked or expired (HTTP 401)."""

    status = 401
    code = "unauthorized"


class Forbidden(FustorError):
    """A valid credential without the right scope, datastore or role (HTTP 403)."""

    status = 403
    code = "forbidden"


class NotFound(FustorError):
    """An unknown datastore, path, session or record (HTTP 404)."""

    status = 404
    code = "not_found"


class Conflict(FustorError):
    """The request conflicts with current state, e.g. a stale session (HTTP 409)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(FustorError):
    """A batch or body larger than the configured limit (HTTP 413)."""

    status = 413
    code = "payload_too_large"


class TooManyRequests(FustorError):
    """The caller is throttled, e.g. after repeated failed logins (HTTP 429)."""

    status = 429
    code = "too_many_requests"


class Unavailable(FustorError):
    """The service cannot answer this yet, e.g. a view still loading after a restart (HTTP 503)."""

    status = 503
    code = "unavailable"


class TimedOut(FustorError):
    """Something the answer waits for did not happen in time, e.g. the leader agent's listing
    for a ``fresh=true`` query (HTTP 504)."""

    status = 504
    code = "timeout"
