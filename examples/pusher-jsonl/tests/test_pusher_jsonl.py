"""The jsonl pusher on core's fake pusher link: the stream, in order, in the file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pusher_jsonl import JsonlOptions, JsonlPusher

from fustor_core.agent_api import OutgoingEvent
from fustor_core.errors import ConfigError
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import FakePusherLink


def test_the_stream_is_written_in_order_and_signals_are_answered(tmp_path: Path) -> None:
    out = tmp_path / "stream.jsonl"

    async def scenario() -> tuple[FakePusherLink, list[object]]:
        start, end, stale = (FakePusherLink.signal(name, 1) for name in ("audit/start", "audit/end", "x"))
        stale.tenure = 2
        link = FakePusherLink(
            [
                start,
                OutgoingEvent("audit", "insert", [{"path": "/a"}, {"path": "/b"}], tenure=1),
                OutgoingEvent("audit", "insert", [{"path": "/old"}], tenure=2),
                end,
                stale,
                OutgoingEvent("realtime", "delete", [{"path": "/a"}]),
            ],
            ended_tenures={2},
        )
        await JsonlPusher(JsonlOptions(path=out, max_rows=2)).run(link)
        answers = await asyncio.gather(start.done, end.done, stale.done, return_exceptions=True)  # type: ignore[arg-type]
        return link, answers

    link, answers = asyncio.run(scenario())
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line.get("signal") or [row["path"] for row in line["rows"]] for line in lines] == [
        "audit/start",
        ["/a", "/b"],
        "audit/end",
        ["/a"],
    ], "an ended tenure's event and signal are not written"
    assert answers[:2] == [{}, {}] and isinstance(answers[2], LookupError)
    assert link.counters == {"rows_sent": 3, "rows_dropped": 1}
    assert link.sessions[0] is not None and link.sessions[0].role == "leader"


def test_the_driver_is_registered_and_validates_its_section(tmp_path: Path) -> None:
    drivers: dict[str, object] = {}
    get_plugin_manager(only=["pusher-jsonl"]).hook.fustor_pusher_drivers(register=drivers.__setitem__)
    factory = drivers["jsonl"]
    assert callable(factory)
    assert factory({"path": str(tmp_path / "s.jsonl")}).options.max_rows == 1000
    with pytest.raises(ConfigError, match=r"pusher: max_rows: Input should be a valid integer"):
        factory({"path": "s.jsonl", "max_rows": "many"})
