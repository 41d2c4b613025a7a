"""Fusion's query API over httpx, with every failure turned into one line naming its HTTP cause.

A bad key (401), a key for another datastore or without the query scope (403), a path that is
not there (404), a refused parameter (422) and an unreachable Fusion all become a
:class:`FustorError`, which ``fustor`` prints as one line and exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from fustor_client.config import ClientSettings
from fustor_core.errors import FustorError

NEXT_CURSOR = "X-Next-Cursor"


class FusionError(FustorError):
    """Fusion answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.http_status = status


class FusionClient:
    """One datastore's query routes (``/api/v1/views/{ds}/...``)."""

    def __init__(self, settings: ClientSettings, *, timeout_s: float = 60.0) -> None:
        self.settings = settings
        headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
        self.http = httpx.Client(base_url=settings.url, headers=headers, timeout=timeout_s)
        self.prefix = f"/api/v1/views/{quote(settings.datastore, safe='')}"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FusionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, route: str, params: dict[str, Any], *, timeout_s: float | None = None) -> httpx.Response:
        """GET ``route`` of the datastore; the answer when 2xx, else FusionError with its cause."""
        url = self.prefix + route
        try:
            if timeout_s is None:
                answer = self.http.get(url, params=params)
            else:
                answer = self.http.get(url, params=params, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise FusionError(
                f"Fusion at {self.settings.url} did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise FusionError(f"cannot reach Fusion at {self.settings.url}: {exc}") from None
        if answer.is_success:
            return answer
        raise _error(answer, self.settings)

    def json(self, route: str, params: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        return self.get(route, params, timeout_s=timeout_s).json()

    def pages(self, route: str, params: dict[str, Any]) -> Iterator[httpx.Response]:
        """Every page of a paged route, following ``X-Next-Cursor`` until an answer has none."""
        params = dict(params)
        while True:
            answer = self.get(route, params)
            yield answer
            cursor = answer.headers.get(NEXT_CURSOR)
            if not cursor:
                return
            params["cursor"] = cursor


def _error(answer: httpx.Response, settings: ClientSettings) -> FusionError:
    code: str | None = None
    message = answer.text.strip()[:300]
    try:
        body = answer.json()
        code = body["error"]["code"]
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    reason = answer.reason_phrase or "error"
    hint = ""
    if answer.status_code == 401:
        hint = " (check --key / FUSTOR_API_KEY)"
    elif answer.status_code == 403:
        hint = f" (is the key one of datastore {settings.datastore!r}'s, with the query scope?)"
    return FusionError(
        f"HTTP {answer.status_code} {reason} from {settings.url}: {message}{hint}",
        status=answer.status_code,
        code=code,
    )
