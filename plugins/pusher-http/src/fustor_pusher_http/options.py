"""The ``pusher:`` section of a pipe for ``driver: http``."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from fustor_core.config import FustorConfig


class HttpPusherOptions(FustorConfig):
    """Where Fusion is and how patiently to talk to it (unknown keys are errors)."""

    url: str | list[str] | None = None
    """Fusion's base URL, e.g. ``http://127.0.0.1:8102``, or several (``[http://a:8102,
    http://b:8102]``): the entry points of a cluster, tried in turn when the node in use stops
    answering. Or leave it out and give ``registry_url``."""
    registry_url: str | None = None
    """The Registry's base URL: Fusion's URL (and storage credentials) are learnt from it at start,
    and asked again when the Fusion node in use stops answering."""
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
    max_redirects: int = Field(default=5, ge=1, le=50)
    """307 answers (a node that does not own the view naming the one that does) followed for one
    request before giving up on it as a loop (the request is then retried from an entry point)."""

    @field_validator("url")
    @classmethod
    def _urls_are_given(cls, value: str | list[str] | None) -> str | list[str] | None:
        urls = [value] if isinstance(value, str) else value
        if urls is not None and (not urls or not all(url.strip() for url in urls)):
            raise ValueError("give a base URL, or a non-empty list of them")
        return value

    @model_validator(mode="after")
    def _knows_where_fusion_is(self) -> HttpPusherOptions:
        if self.url is None and self.registry_url is None:
            raise ValueError("url: give Fusion's url, or a registry_url to learn it from")
        return self

    @property
    def entry_urls(self) -> list[str]:
        """``url`` as a list of base URLs without a trailing ``/`` (empty with a registry_url only)."""
        if self.url is None:
            return []
        urls = [self.url] if isinstance(self.url, str) else self.url
        return [url.strip().rstrip("/") for url in urls]
