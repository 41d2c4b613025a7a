"""FakePusherLink hands out the queued stream as the agent's link does: in order, about
``max_rows`` rows a take (an event is never split), then ``[]``; ended tenures are not current."""

from __future__ import annotations

import asyncio

from fustor_core.agent_api import OutgoingEvent, SessionInfo
from fustor_core.testing import FakePusherLink


def test_the_stream_is_taken_in_order_by_rows_then_ends() -> None:
    async def scenario() -> tuple[list[list[str]], FakePusherLink]:
        start = FakePusherLink.signal("snapshot/start", 1)
        link = FakePusherLink(
            [
                start,
                OutgoingEvent(
                    "snapshot", "insert", [{"path": "/a"}, {"path": "/b"}, {"path": "/c"}], tenure=1
                ),
                OutgoingEvent("snapshot", "insert", [{"path": "/d"}], tenure=2),
                OutgoingEvent("realtime", "insert", [{"path": "/e"}]),
            ],
            ended_tenures={2},
        )
        takes = []
        while items := await link.take(2):
            takes.append([getattr(i, "name", None) or ",".join(r["path"] for r in i.rows) for i in items])
            assert [link.is_current(i) for i in items] == [getattr(i, "tenure", None) != 2 for i in items]
        assert start.done is not None and not start.done.done()
        link.session_changed(SessionInfo("s", "leader"))
        link.count("rows_sent", 3)
        link.count("rows_sent")
        link.error("boom")
        return takes, link

    takes, link = asyncio.run(scenario())
    assert takes == [["snapshot/start", "/a,/b,/c"], ["/d", "/e"]]
    assert link.counters == {"rows_sent": 4} and link.errors == ["boom"]
    assert link.sessions == [SessionInfo("s", "leader")]
