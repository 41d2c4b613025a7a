"""Request bodies built straight from row dicts with orjson — no per-row models in the agent.

Each event is encoded once (a batch re-sent after a failure reuses the bytes), and a batch body
is the concatenation of its events' bytes. A row that cannot be encoded (it should never
happen: sources refuse undecodable names) costs that row, not the batch.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from fustor_core.agent_api import OutgoingEvent
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)


class EncodedEvent:
    """An event's JSON bytes and how many rows they hold."""

    __slots__ = ("data", "event", "rows")

    def __init__(self, event: OutgoingEvent) -> None:
        self.event = event
        try:
            self.data = orjson.dumps(event.as_json_obj())
            self.rows = len(event.rows)
        except (orjson.JSONEncodeError, TypeError):
            good = [row for row in event.rows if _encodable(row)]
            log_event(
                logger,
                logging.ERROR,
                "rows that cannot be encoded were dropped",
                dropped=len(event.rows) - len(good),
                message_source=event.message_source,
            )
            obj = event.as_json_obj()
            obj["rows"] = good
            self.data = orjson.dumps(obj)
            self.rows = len(good)


def _encodable(row: dict[str, Any]) -> bool:
    try:
        orjson.dumps(row)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True


def batch_body(events: list[EncodedEvent], seq: int) -> bytes:
    """``{"seq": N, "events": [...]}`` from already encoded events."""
    return b'{"seq":%d,"events":[%s]}' % (seq, b",".join(event.data for event in events))
