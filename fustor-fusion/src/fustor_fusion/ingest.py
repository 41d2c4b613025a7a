"""What an ingest call does to a datastore, once HTTP, auth and ordering are dealt with.

Every function here runs under the datastore's write lock, inside the session's turn (see
:mod:`fustor_fusion.ordering`), and calls the synchronous engine inline.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

from fustor_core.arbitration import SentinelUpdate
from fustor_core.errors import Conflict
from fustor_core.event_model import MessageSource
from fustor_core.logs import log_event
from fustor_fusion.api_models import SentinelUpdateIn
from fustor_fusion.datastore import Datastore
from fustor_fusion.engine import BatchResult
from fustor_fusion.sessions import Session
from fustor_fusion.validation import ParsedBatch

logger = logging.getLogger(__name__)

Signal = Literal["snapshot_start", "snapshot_end", "audit_start", "audit_end"]

NOT_LEADER = "not_leader"
"""Drop reason for snapshot/audit rows sent by a follower, which must not scan."""


def require_live(session: Session) -> None:
    """A session that ended while its request waited for its turn must not write any more."""
    if session.closed:
        raise Conflict(
            f"session {session.session_id!r} ended while this request waited; open a new session",
            code="session_expired",
        )


def require_leader(session: Session, what: str) -> None:
    """409 ``not_leader`` for a follower asking for a leader-only operation."""
    if not session.is_leader:
        raise Conflict(
            f"session {session.session_id!r} is a follower; only the datastore's leader may {what}",
            code="not_leader",
        )


def apply_batch(datastore: Datastore, session: Session, batch: ParsedBatch) -> dict[str, Any]:
    """Apply a validated batch event by event; the answer counts every row of the request."""
    require_live(session)
    started = time.perf_counter()
    result = BatchResult()
    for reason, count in batch.invalid.items():
        result.add_dropped(reason, count)
        datastore.refused[reason] += count
    if batch.invalid:
        log_event(
            logger,
            logging.WARNING,
            "rows refused by validation",
            datastore=datastore.name,
            session=session.session_id,
            seq=batch.seq,
            reasons=batch.invalid,
        )
    view = datastore.view
    for event in batch.events:
        if not event.rows:
            continue
        if event.message_source is not MessageSource.REALTIME and not session.is_leader:
            result.add_dropped(NOT_LEADER, len(event.rows))
            datastore.refused[NOT_LEADER] += len(event.rows)
            continue
        result.merge(view.apply_event(event, session_id=session.session_id))
    datastore.observe_batch(time.perf_counter() - started)
    answer = result.as_dict()
    answer["seq"] = batch.seq
    return answer


def apply_signal(datastore: Datastore, session: Session, signal: Signal) -> dict[str, Any]:
    """Pass a snapshot/audit start/end signal to the engine (leader only)."""
    require_live(session)
    require_leader(session, signal.replace("_", " "))
    view = datastore.view
    sid = session.session_id
    answer: dict[str, Any] = {
        "session_id": sid,
        "signal": signal,
        "applied_seq": session.sequencer.applied_seq,
    }
    if signal == "snapshot_start":
        view.snapshot_start(sid)
    elif signal == "snapshot_end":
        answer["deleted"] = len(view.snapshot_end(sid))
    elif signal == "audit_start":
        view.audit_start(sid)
    else:
        answer["deleted"] = len(view.audit_end(sid))
    log_event(logger, logging.INFO, "lifecycle signal", datastore=datastore.name, session=sid, signal=signal)
    return answer


def apply_sentinel_feedback(
    datastore: Datastore, session: Session, updates: list[SentinelUpdateIn], refused: dict[str, int]
) -> dict[str, Any]:
    """Hand the leader's fresh stats to the engine; refused updates are counted as dropped."""
    require_live(session)
    require_leader(session, "send sentinel feedback")
    result = datastore.view.sentinel_feedback(
        [SentinelUpdate(u.path, u.exists, u.mtime, u.size) for u in updates]
    )
    for reason, count in refused.items():
        result.add_dropped(reason, count)
        datastore.refused[reason] += count
    return result.as_dict()
