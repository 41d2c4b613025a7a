"""Ingest routes (scope ``ingest``): sessions, event batches, lifecycle signals, sentinel.

The protocol these implement is written down in the package README ("Ingest protocol").
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.event_model import EventBatch
from fustor_fusion.api_models import (
    BatchAnswer,
    HeartbeatAnswer,
    LeaderTasks,
    SentinelFeedbackRequest,
    SentinelTasks,
    SessionClosed,
    SessionOpened,
    SessionOpenRequest,
    SignalAnswer,
    SignalRequest,
    TaskDone,
    TaskDoneRequest,
)
from fustor_fusion.auth import authenticate, key_fingerprint, require
from fustor_fusion.codec import JSONResponse
from fustor_fusion.consistency import mark_view
from fustor_fusion.datastore import Datastore
from fustor_fusion.endpoints import SMALL_BODY_BYTES, Endpoint, QueryParam, fusion, read_body
from fustor_fusion.ingest import Signal, apply_batch, apply_sentinel_feedback, apply_signal, require_leader
from fustor_fusion.paging import MAX_LIMIT, float_param, limit_param
from fustor_fusion.sessions import Session
from fustor_fusion.validation import parse_event_batch, parse_model, parse_sentinel_feedback

PREFIX = "/api/v1/ingest/sessions"
SCOPE = "ingest"


async def _datastore(request: Request) -> Datastore:
    """The key's datastore, if this node takes its ingest (else 307 to the owner / 503)."""
    service = fusion(request)
    grant = await authenticate(request, service.key_checker)
    require(grant, SCOPE)
    datastore = service.datastore(grant.datastore)
    datastore.require_owner("ingest")
    mark_view(request, datastore, durable=True)
    return datastore


async def _session(request: Request) -> tuple[Datastore, Session]:
    datastore = await _datastore(request)
    return datastore, datastore.sessions.get(request.path_params["sid"])


def _timing(request: Request) -> dict[str, float]:
    config = fusion(request).config
    return {
        "heartbeat_interval_s": config.heartbeat_interval_s,
        "session_timeout_s": config.session_timeout_s,
    }


async def open_session(request: Request) -> Response:
    datastore = await _datastore(request)
    body = parse_model(SessionOpenRequest, await read_body(request, SMALL_BODY_BYTES))
    # a new session may take the leader lock, which is an input of the view: through write()
    owner = key_fingerprint(request)
    session = await datastore.write(
        lambda: datastore.sessions.open(body.agent_id, body.source_uri, owner=owner)
    )
    answer = {
        "session_id": session.session_id,
        "role": str(session.role),
        "datastore": datastore.name,
        "view": datastore.view_info(),
        **_timing(request),
    }
    return JSONResponse(answer, status_code=201)


async def heartbeat(request: Request) -> Response:
    datastore = await _datastore(request)
    session = await datastore.write(lambda: datastore.sessions.heartbeat(request.path_params["sid"]))
    leader = datastore.sessions.leader
    answer = {
        "session_id": session.session_id,
        "role": str(session.role),
        "leader_session_id": leader.session_id if leader is not None else None,
        "applied_seq": session.sequencer.applied_seq,
        "view": datastore.view_info(),
        **_timing(request),
    }
    return JSONResponse(answer)


async def close_session(request: Request) -> Response:
    datastore = await _datastore(request)
    session = datastore.sessions.close(request.path_params["sid"])
    return JSONResponse({"session_id": session.session_id, "closed": True})


async def post_events(request: Request) -> Response:
    datastore, session = await _session(request)
    config = fusion(request).config
    batch = parse_event_batch(await read_body(request, config.max_body_bytes), max_rows=config.max_batch_rows)

    async def work() -> dict[str, Any]:
        return await datastore.write(lambda: apply_batch(datastore, session, batch))

    answer, duplicate = await session.sequencer.apply(batch.seq, work)
    return JSONResponse({**answer, "duplicate": duplicate})


def _signal_route(signal: Signal) -> Any:
    async def handle(request: Request) -> Response:
        datastore, session = await _session(request)
        require_leader(session, signal.replace("_", " "))
        body = parse_model(SignalRequest, await read_body(request, SMALL_BODY_BYTES), empty_ok=True)

        async def work() -> dict[str, Any]:
            answer = await datastore.write(lambda: apply_signal(datastore, session, signal))
            # the seq of a durable journal record at or after this signal's: an agent saving its
            # directory cache at a scan's end remembers it, to notice a view that lost records
            return {**answer, "view": datastore.view_info()}

        return JSONResponse(await session.sequencer.after(body.after_seq, work))

    handle.__name__ = signal
    return handle


async def sentinel_tasks(request: Request) -> Response:
    datastore, session = await _session(request)
    require_leader(session, "fetch sentinel tasks")
    return JSONResponse({"paths": datastore.view.sentinel_tasks(limit_param(request))})


async def sentinel_feedback(request: Request) -> Response:
    datastore, session = await _session(request)
    require_leader(session, "send sentinel feedback")
    config = fusion(request).config
    updates, refused = parse_sentinel_feedback(
        await read_body(request, config.max_body_bytes), max_rows=config.max_batch_rows
    )

    async def work() -> dict[str, Any]:
        return await datastore.write(lambda: apply_sentinel_feedback(datastore, session, updates, refused))

    return JSONResponse(await session.sequencer.after(None, work))


MAX_TASK_WAIT_S = 60.0


async def leader_tasks(request: Request) -> Response:
    """The leader's long poll of its task channel (relists asked by ``fresh=true`` queries)."""
    datastore, session = await _session(request)
    require_leader(session, "take tasks")
    wait_s = float_param(request, "wait", 30.0, low=0.0, high=MAX_TASK_WAIT_S)
    stopping = fusion(request).stopping
    return JSONResponse({"tasks": await datastore.fresh.take(session, wait_s, stopping=stopping)})


async def task_done(request: Request) -> Response:
    """The leader's listing for a task is applied (its audit end was answered): wake the queries."""
    datastore, session = await _session(request)
    body = parse_model(TaskDoneRequest, await read_body(request, SMALL_BODY_BYTES), empty_ok=True)
    report = {"agent_id": session.agent_id, **body.model_dump(exclude_none=True)}
    waiting = datastore.fresh.finished(request.path_params["tid"], report, session.session_id)
    return JSONResponse({"id": request.path_params["tid"], "waiting_queries": waiting})


SIGNALS: tuple[tuple[str, Signal], ...] = (
    ("snapshot/start", "snapshot_start"),
    ("snapshot/end", "snapshot_end"),
    ("audit/start", "audit_start"),
    ("audit/end", "audit_end"),
)

ENDPOINTS = [
    Endpoint(
        "POST",
        PREFIX,
        open_session,
        "Open an ingest session (the first one per datastore leads)",
        SCOPE,
        body=SessionOpenRequest,
        answer=SessionOpened,
        status=201,
        errors=(307, 401, 403, 404, 413, 422, 429),
    ),
    Endpoint(
        "POST",
        PREFIX + "/{sid}/heartbeat",
        heartbeat,
        "Keep a session alive; answers its current role",
        SCOPE,
        answer=HeartbeatAnswer,
        errors=(307, 401, 403, 404, 409),
        body_required=False,
    ),
    Endpoint(
        "DELETE",
        PREFIX + "/{sid}",
        close_session,
        "Close a session (releases the leader lock)",
        SCOPE,
        answer=SessionClosed,
        errors=(307, 401, 403, 404, 409),
    ),
    Endpoint(
        "POST",
        PREFIX + "/{sid}/events",
        post_events,
        "Send a batch of events (ordered and idempotent by seq)",
        SCOPE,
        body=EventBatch,
        answer=BatchAnswer,
        errors=(307, 401, 403, 404, 409, 413, 422),
    ),
    *(
        Endpoint(
            "POST",
            PREFIX + f"/{{sid}}/{path}",
            _signal_route(signal),
            f"Leader signal: {signal.replace('_', ' ')}",
            SCOPE,
            body=SignalRequest,
            answer=SignalAnswer,
            errors=(307, 401, 403, 404, 409, 422),
            body_required=False,
        )
        for path, signal in SIGNALS
    ),
    Endpoint(
        "GET",
        PREFIX + "/{sid}/sentinel/tasks",
        sentinel_tasks,
        "Paths the leader should re-check",
        SCOPE,
        answer=SentinelTasks,
        errors=(307, 401, 403, 404, 409, 422),
        query=(
            QueryParam(
                "limit", "most paths to return", "integer", default=1000, minimum=1, maximum=MAX_LIMIT
            ),
        ),
    ),
    Endpoint(
        "POST",
        PREFIX + "/{sid}/sentinel/feedback",
        sentinel_feedback,
        "The leader's fresh stats of re-checked paths",
        SCOPE,
        body=SentinelFeedbackRequest,
        answer=BatchAnswer,
        errors=(307, 401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        PREFIX + "/{sid}/tasks",
        leader_tasks,
        "The leader's task channel: relists asked by fresh=true queries (long poll)",
        SCOPE,
        answer=LeaderTasks,
        errors=(307, 401, 403, 404, 409, 422),
        query=(
            QueryParam(
                "wait",
                "seconds to wait for the first task when there is none",
                "number",
                default=30.0,
                minimum=0,
                maximum=int(MAX_TASK_WAIT_S),
            ),
        ),
    ),
    Endpoint(
        "POST",
        PREFIX + "/{sid}/tasks/{tid}/done",
        task_done,
        "A task's listing is applied (sent after its audit end was answered)",
        SCOPE,
        body=TaskDoneRequest,
        answer=TaskDone,
        errors=(307, 401, 403, 404, 409, 413, 422),
        body_required=False,
    ),
]
