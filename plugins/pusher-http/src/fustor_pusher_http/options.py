"""The ``pusher:`` section of a pipe for ``driver: http``."""

from __future__ import annotations

from pydantic import Field, model_validator

from fustor_core.config import FustorConfig


class HttpPusherOptions(FustorConfig):
    """Where Fusion is and how patiently to talk to it (unknown keys are errors)."""

    url: str | None = None
    """Fusion's base URL, e.g. ``http://127.0.0.1:8102``; or leave it out and give ``registry_url``."""
    registry_url: str | None = None
    """The Registry's base URL: Fusion's URL (and storage credentials) are learnt from it at start."""
    api_key: str
    """A key with scope ``ingest``; it also selects the datastore."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Per request (a large batch on a busy Fusion can take a while)."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    retry_initial_s: float = Field(default=0.1, gt=0)
    """First retry delay; doubles per failure (with jitter) up to ``retry_max_s``."""
    retry_max_s: float = Field(default=5.0, gt=0)
    close_timeout_s: float = Field(default=3.0, gt=0)
    """On shutdown: how long closing the session may take."""

    @model_validator(mode="after")
    def _knows_where_fusion_is(self) -> HttpPusherOptions:
        if self.url is None and self.registry_url is None:
            raise ValueError("url: give Fusion's url, or a registry_url to learn it from")
        return self
