"""The agent API as an OpenAPI 3.1 document (served at ``GET /api/v1/openapi.json``).

A handful of routes do not need a generator: the document is written here, with its schemas
taken from the pydantic models below and from each triggerable mode's options model, and a test
holds it equal to the app's routes. The trigger route is documented once per mode this agent
can run on request (the installed modes that say they are ``triggerable``), so a client sees
each mode's body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from fustor_agent import __version__

REF = "#/components/schemas/{model}"


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]


class SnapshotProgress(BaseModel):
    """A running snapshot: what the terminal display and the progress log lines show."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["scanning", "finishing"]
    walked: int
    """Files and directories walked so far."""
    rate: int
    """Entries per second over the whole run."""
    elapsed_s: float
    expected: int | None
    """Entries the previous complete snapshot of this pipe walked (None: none seen yet)."""
    eta_s: float | None
    """Seconds left at the current rate (None until ``expected`` is known, or past it)."""


class PipeStatus(BaseModel):
    """One pipe's state; counters and mode progress are free-form (the plugins fill them)."""

    model_config = ConfigDict(extra="allow")

    name: str
    datastore: str
    role: Literal["leader", "follower"] | None
    session_id: str | None
    snapshot_progress: SnapshotProgress | None = None
    """Set while a snapshot runs."""
    last_snapshot_entries: int | None = None
    """Entries the last complete snapshot walked (kept across restarts: the next one's ETA)."""


class AgentStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    agent_id: str
    version: str
    uptime_s: float
    pipes: list[PipeStatus]


class Triggered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pipe: str
    mode: str
    triggered: Literal[True]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def build_openapi(triggerable: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """The document of the agent API; ``triggerable`` maps each mode that can be run on request
    to the model of its trigger's body."""
    models: list[type[BaseModel]] = [Health, AgentStatus, Triggered, ErrorBody]
    options = list(dict.fromkeys(triggerable.values()))
    refs, top = models_json_schema(
        [(m, "serialization") for m in models] + [(m, "validation") for m in options], ref_template=REF
    )
    schema = {m: refs[(m, "serialization")] for m in models}

    def answer(status: int, description: str, model: type[BaseModel]) -> dict[str, Any]:
        return {
            str(status): {
                "description": description,
                "content": {"application/json": {"schema": schema[model]}},
            }
        }

    unknown_query = {
        **answer(400, "A malformed HTTP request (framing or headers)", ErrorBody),
        **answer(422, "An unknown query parameter (no route takes one)", ErrorBody),
    }
    errors = {
        400: "A malformed HTTP request (framing or headers)",
        401: "No or wrong bearer token",
        403: "The API has no token configured",
        404: "No such pipe, or the pipe does not run that mode",
        409: "The pipe is not leader (the mode runs on the leader only), or the mode has not started yet",
        413: "A body larger than 64 KiB",
        422: "A malformed body or an unknown option, or a query parameter (no route takes one)",
    }
    trigger_answers = answer(202, "The mode runs now", Triggered)
    for status, description in errors.items():
        trigger_answers.update(answer(status, description, ErrorBody))

    def trigger(mode: str) -> dict[str, Any]:
        return {
            "post": {
                "operationId": f"trigger_{mode}",
                "summary": f"Run the pipe's {mode} mode now",
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": refs[(triggerable[mode], "validation")]}},
                },
                "security": [{"bearer": []}],
                "responses": trigger_answers,
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fustor agent",
            "version": __version__,
            "description": "The agent's own API: health, status, run a scan now (fustor-agent/README.md).",
        },
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "responses": {**answer(200, "OK", Health), **unknown_query},
                }
            },
            "/api/v1/status": {
                "get": {
                    "operationId": "status",
                    "summary": "Every pipe's role, session, bus and counters",
                    "responses": {**answer(200, "OK", AgentStatus), **unknown_query},
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **unknown_query,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format)",
                    "description": "No credential from the loopback interface; from elsewhere the bearer"
                    " token (api.token).",
                    "security": [{}, {"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **answer(401, "From another host: no or wrong bearer token", ErrorBody),
                        **answer(403, "From another host: the API has no token configured", ErrorBody),
                        **unknown_query,
                    },
                }
            },
            **{f"/api/v1/pipes/{{name}}/{mode}": trigger(mode) for mode in triggerable},
        },
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
