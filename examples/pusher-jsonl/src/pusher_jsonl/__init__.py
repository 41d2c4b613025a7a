"""Pusher driver ``jsonl``: the pipe's stream goes to a JSON-lines file instead of Fusion — a
record of what the agent saw, for an offline pipeline or for debugging a source. Alone, the
pipe is always the leader; each signal is written in its place and answered at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, PusherLink, RegisterPusher, SentinelCheck, SessionInfo
from fustor_core.config import FustorConfig, parse_config


class JsonlOptions(FustorConfig):
    path: Path  # pipes.N.pusher.path in agent.yaml
    max_rows: int = 1000  # rows written between two flushes


class JsonlPusher:
    def __init__(self, options: JsonlOptions) -> None:
        self.options = options

    async def run(self, link: PusherLink) -> None:
        link.session_changed(SessionInfo("jsonl", "leader"))
        with self.options.path.open("a") as out:
            while items := await link.take(self.options.max_rows):
                for item in items:
                    current = link.is_current(item)  # False: a scan whose tenure ended
                    if isinstance(item, OutgoingEvent):
                        out.write(json.dumps(item.as_json_obj()) + "\n" if current else "")
                        link.count("rows_sent" if current else "rows_dropped", len(item.rows))
                        continue
                    out.write(json.dumps({"signal": item.name}) + "\n" if current else "")
                    if item.done is None or item.done.done():
                        continue
                    if current:
                        item.done.set_result({})  # e.g. audit/end, once every row before it is written
                    else:
                        item.done.set_exception(LookupError(f"{item.name}: its tenure ended"))
                out.flush()

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        return []  # no Fusion, no suspects to re-check

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        return {}


@hookimpl
def fustor_pusher_drivers(register: RegisterPusher) -> None:
    register("jsonl", lambda section: JsonlPusher(parse_config(JsonlOptions, section, source="pusher")))
