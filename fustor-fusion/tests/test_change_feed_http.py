"""The change feed through the HTTP API: ``GET /api/v1/views/{ds}/changes``, long poll and SSE.

Real Fusion apps on 127.0.0.1 (the sqlite journal in the test's directory unless a test says
otherwise), driven by the ingest API and read by plain HTTP clients.
"""

from __future__ import annotations

import base64
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fusion_testkit import QUERY_KEY, T0, FakeClock, Fusion, StartFusion, error_of, event, row, wait_until

from fustor_core import hookimpl
from fustor_core.pathlist import PathList

CHANGES = "/api/v1/views/demo/changes"
SSE = {"Accept": "text/event-stream"}


def journal(path: Path, **extra: Any) -> dict[str, Any]:
    return {"driver": "sqlite", "path": str(path), **extra}


def started(start_fusion: StartFusion, tmp_path: Path, **settings: Any) -> Fusion:
    settings.setdefault("journal", journal(tmp_path))
    fusion = start_fusion(**settings)
    client = fusion.client()
    wait_until(lambda: client.get("/readyz").status_code == 200, timeout=20)
    return fusion


def changes(client: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = client.get(CHANGES, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"changes", "next", "reset"}
    return body


def drain(client: httpx.Client, since: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every change after ``since`` (page by page) and the cursor after them."""
    seen: list[dict[str, Any]] = []
    while True:
        page = changes(client, since=since, **params)
        assert not page["reset"]
        seen.extend(page["changes"])
        if not page["changes"]:
            return seen, page["next"]
        since = page["next"]


def upload(
    agent: Any, directory: str, files: int, *, mtime: float = T0 - 3600, source: str = "snapshot"
) -> None:
    rows = [row(directory, is_dir=True, mtime=mtime)]
    rows += [row(f"{directory}/f{i}", size=i + 1, mtime=mtime) for i in range(files)]
    assert agent.send_ok(event(source, "insert", *rows))["accepted"] == len(rows)


def paths(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["op"], entry["path"]) for entry in entries]


def query_client(fusion: Fusion) -> httpx.Client:
    return fusion.client(QUERY_KEY)


# -- the long poll ----------------------------------------------------------------------------------


def test_a_client_starts_at_the_current_position_and_then_sees_each_change_once(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    agent = fusion.agent().open()
    upload(agent, "/before", 2)
    client = query_client(fusion)
    start = changes(client)
    assert start["changes"] == [] and start["reset"] is False

    upload(agent, "/up", 3)
    agent.send_ok(event("realtime", "delete", row("/before")))
    seen, after = drain(client, start["next"])
    assert paths(seen) == [
        ("upsert", "/up"),
        ("upsert", "/up/f0"),
        ("upsert", "/up/f1"),
        ("upsert", "/up/f2"),
        ("delete", "/before"),  # one entry: it stands for the directory's subtree
    ]
    numbers = [entry["seq"] for entry in seen]
    assert numbers == sorted(set(numbers))
    assert seen[1] == {
        "seq": seen[1]["seq"],
        "op": "upsert",
        "path": "/up/f0",
        "is_dir": False,
        "size": 1,
        "mtime": T0 - 3600,
        "integrity_suspect": False,
        "agent_missing": False,
        "complete": False,
    }
    assert seen[-1]["is_dir"] is True and seen[-1]["size"] is None and seen[-1]["mtime"] is None
    assert changes(client, since=after)["changes"] == []
    assert changes(client, since=start["next"], limit=2)["changes"] == seen[:2]


def test_limit_pages_through_one_batch_without_repeating_or_skipping(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    since = changes(client)["next"]
    upload(fusion.agent().open(), "/big", 9)
    pages = []
    while True:
        page = changes(client, since=since, limit=4)
        if not page["changes"]:
            break
        pages.append(paths(page["changes"]))
        since = page["next"]
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [item for page in pages for item in page] == [("upsert", "/big")] + [
        ("upsert", f"/big/f{i}") for i in range(9)
    ]


def test_a_long_poll_answers_at_the_first_change_and_at_its_timeout_without_one(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    agent = fusion.agent().open()
    since = changes(client)["next"]

    started_at = time.monotonic()
    quiet = changes(client, since=since, wait=0.4)
    assert quiet["changes"] == [] and quiet["reset"] is False
    assert time.monotonic() - started_at >= 0.4

    feed = fusion.service.datastores["demo"].feed
    with ThreadPoolExecutor(1) as pool:
        started_at = time.monotonic()
        pending = pool.submit(changes, fusion.client(QUERY_KEY), since=since, wait=30)
        wait_until(lambda: feed.waiting == 1)  # the request is parked, not polling
        agent.send_ok(event("realtime", "update", row("/new", size=5)))
        answer = pending.result(timeout=10)
    assert paths(answer["changes"]) == [("upsert", "/new")]
    assert time.monotonic() - started_at < 10


def test_a_long_poll_ignores_changes_outside_its_path_until_one_inside(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    agent = fusion.agent().open()
    since = changes(client)["next"]
    feed = fusion.service.datastores["demo"].feed
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(changes, fusion.client(QUERY_KEY), since=since, wait=30, path="/in")
        wait_until(lambda: feed.waiting == 1)
        agent.send_ok(event("realtime", "update", row("/out/x")))
        wait_until(lambda: feed.waiting == 1 and feed.next_number == 2)  # woke, found nothing, waits again
        assert not pending.done()
        agent.send_ok(event("realtime", "update", row("/in/y")))
        assert paths(pending.result(timeout=10)["changes"]) == [("upsert", "/in/y")]


def test_the_path_filter_keeps_a_subtree_and_the_deletions_above_it(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    agent = fusion.agent().open()
    since = changes(client)["next"]
    upload(agent, "/a", 1)
    upload(agent, "/a/b", 1)
    upload(agent, "/ab", 1)  # a lookalike sibling: not below /a/b
    agent.send_ok(event("realtime", "delete", row("/a", is_dir=True)))
    seen, _ = drain(client, since, path="/a/b")
    assert paths(seen) == [("upsert", "/a/b"), ("upsert", "/a/b/f0"), ("delete", "/a")]
    everything, _ = drain(client, since)
    assert len(everything) == 7


def test_parameters_are_checked(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    for params, field in (
        ({"wait": "61"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wait": "soon"}, "wait"),
        ({"limit": "0"}, "limit"),
        ({"path": "relative"}, "path"),
    ):
        status, _, message = error_of(client.get(CHANGES, params=params))
        assert status == 422 and message.startswith(field), (params, message)
    assert client.get("/api/v1/views/other/changes").status_code == 403
    assert fusion.client().get(CHANGES).status_code == 401


# -- reset ------------------------------------------------------------------------------------------


def cursor(view_id: str, record: int, number: int) -> str:
    return base64.urlsafe_b64encode(f"c1.{view_id}.{record}.{number}".encode()).decode().rstrip("=")


def last_change(since: str) -> int:
    """The change number a cursor stands after (cursors also name a journal record, which
    moves on with every input, ticks included)."""
    return int(base64.urlsafe_b64decode(since + "=" * (-len(since) % 4)).decode().rsplit(".", 1)[1])


def test_a_cursor_that_cannot_be_continued_answers_reset(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path / "one")
    client = query_client(fusion)
    upload(fusion.agent().open(), "/x", 2)
    here = changes(client)["next"]
    view_id = fusion.query().ok("stats")["journal"]["id"]

    other = started(start_fusion, tmp_path / "two")  # another view: another incarnation
    foreign = changes(query_client(other))["next"]
    for since in ("garbage", "%%%", "", cursor(view_id, 10**6, 1), cursor(view_id, 1, 10**6), foreign):
        answer = changes(client, since=since, wait=5)
        assert answer["changes"] == [] and answer["reset"] is True, since
        assert last_change(answer["next"]) == last_change(here) == 3
    assert changes(client, since=cursor(view_id, 0, 0))["changes"]  # from the very start: fine


def test_a_cursor_older_than_the_journal_keeps_answers_reset(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    settings: dict[str, Any] = {"journal": journal(tmp_path, retention_s=0)}
    first = started(start_fusion, tmp_path, **settings)
    client = query_client(first)
    agent = first.agent().open()
    since = changes(client)["next"]
    upload(agent, "/x", 3)
    middle = changes(client, since=since, limit=2)["next"]
    end = drain(client, since)[1]
    first.stop()  # the snapshot written at stop contains every record: retention 0 trims them

    again = started(start_fusion, tmp_path, **settings)
    client = query_client(again)
    assert changes(client, since=middle)["reset"] is True  # changes after it are gone
    answer = changes(client, since=end)  # nothing after it was lost
    assert (
        answer["changes"] == []
        and answer["reset"] is False
        and last_change(answer["next"]) == last_change(end)
    )


@pytest.mark.parametrize("final_snapshot", [True, False], ids=["clean-stop", "replay-only"])
def test_cursors_survive_a_restart(start_fusion: StartFusion, tmp_path: Path, final_snapshot: bool) -> None:
    settings: dict[str, Any] = {"journal": journal(tmp_path, snapshot_on_stop=final_snapshot)}
    first = started(start_fusion, tmp_path, **settings)
    client = query_client(first)
    agent = first.agent().open()
    since = changes(client)["next"]
    upload(agent, "/a", 4)
    before, middle = [], since
    page = changes(client, since=since, limit=3)
    before, middle = page["changes"], page["next"]
    first.stop()

    again = started(start_fusion, tmp_path, **settings)
    client = query_client(again)
    upload(again.agent().open(), "/b", 1)
    rest, _ = drain(client, middle)
    assert paths(before + rest) == [
        ("upsert", p) for p in ("/a", "/a/f0", "/a/f1", "/a/f2", "/a/f3", "/b", "/b/f0")
    ]
    numbers = [entry["seq"] for entry in before + rest]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_old_cursors_are_read_back_from_the_journal(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path, change_feed={"memory_entries": 4})
    client = query_client(fusion)
    since = changes(client)["next"]
    agent = fusion.agent().open()
    for i in range(6):
        upload(agent, f"/u{i}", 2)
    assert fusion.query().ok("stats")["change_feed"]["in_memory"] <= 4
    seen, _ = drain(client, since, limit=5)  # the first pages come from the journal
    assert paths(seen) == [("upsert", f"/u{i}{suffix}") for i in range(6) for suffix in ("", "/f0", "/f1")]
    assert [e["seq"] for e in seen] == list(range(seen[0]["seq"], seen[0]["seq"] + 18))


def test_without_a_journal_changes_are_kept_in_memory_only(start_fusion: StartFusion) -> None:
    fusion = start_fusion(journal={"driver": "none"}, change_feed={"memory_entries": 3})
    client = query_client(fusion)
    wait_until(lambda: client.get("/readyz").status_code == 200)
    agent = fusion.agent().open()
    since = changes(client)["next"]
    upload(agent, "/a", 1)
    seen, since = drain(client, since)
    assert paths(seen) == [("upsert", "/a"), ("upsert", "/a/f0")]
    upload(agent, "/b", 4)  # five changes: more than memory keeps
    assert changes(client, since=since)["reset"] is True


# -- flags ------------------------------------------------------------------------------------------


def test_flag_transitions_are_changes(start_fusion: StartFusion, tmp_path: Path) -> None:
    clock = FakeClock()
    fusion = started(
        start_fusion, tmp_path, rules=True, clock=clock, suspect_ttl_s=30, session_timeout_s=3600
    )
    client = query_client(fusion)
    agent = fusion.agent().open()
    since = changes(client)["next"]
    upload(agent, "/up", 1, mtime=T0 - 5)  # younger than the hot window: suspect
    seen, since = drain(client, since)
    assert [(e["path"], e["integrity_suspect"]) for e in seen] == [("/up", False), ("/up/f0", True)]

    clock.advance(31)  # the suspect's TTL passes; a tick finds the file unchanged and releases it
    answer = changes(client, since=since, wait=10)
    assert [(e["op"], e["path"], e["integrity_suspect"]) for e in answer["changes"]] == [
        ("upsert", "/up/f0", False)
    ]
    assert answer["changes"][0]["size"] == 1 and answer["changes"][0]["mtime"] == T0 - 5

    since = answer["next"]
    agent.signal_ok("audit/start")  # an audit finds a file no agent reported: a blind spot
    assert agent.send_ok(event("audit", "insert", row("/up", is_dir=True, mtime=T0 - 5), row("/up/f9")))
    agent.signal_ok("audit/end")
    seen, _ = drain(client, since)
    assert [(e["path"], e["agent_missing"]) for e in seen if e["path"] == "/up/f9"] == [("/up/f9", True)]


class MarkerCompletion:
    """A stand-in for a directory-completion rule (the real one is its own plugin): a directory
    is ``complete`` while a file named ``DONE`` is in it.

    It publishes the flag the generic way, through ``fustor_node_flags``. ``backed_by_list``: the
    predicate is the membership of a list the rule registered (the feed watches the list);
    otherwise it is computed (a plain set here) and the rule reports each transition with
    ``view.flags_changed`` — unless ``report`` is False, which shows that the report is what
    makes a computed flag's transition a change.
    """

    def __init__(self, *, backed_by_list: bool, report: bool = True) -> None:
        self.backed_by_list = backed_by_list
        self.report = report
        self.complete: dict[str, Any] = {}
        """View name -> its complete directories (a PathList or a set)."""

    @hookimpl
    def fustor_view_started(self, view: Any) -> None:
        if self.backed_by_list:
            entries = PathList()
            view.register_list("complete_directories", entries)
            self.complete[view.name] = entries
        else:
            self.complete[view.name] = set()

    @hookimpl
    def fustor_batch_applied(self, view: Any, batch: Any, changes: Any) -> None:
        marked = [batch.rows[i].path for i in changes.upserted]
        self._mark(view, [path for path in marked if path.endswith("/DONE")], True)
        self._mark(view, [path for path in changes.deleted if path.endswith("/DONE")], False)

    def _mark(self, view: Any, markers: list[str], complete: bool) -> None:
        directories = [marker.rsplit("/", 1)[0] or "/" for marker in markers]
        entries = self.complete[view.name]
        for directory in directories:
            if isinstance(entries, PathList):
                entries.put(directory) if complete else entries.discard(directory)
            else:
                entries.add(directory) if complete else entries.discard(directory)
        if directories and self.report and not self.backed_by_list:
            view.flags_changed(directories)

    @hookimpl
    def fustor_node_flags(self, view: Any) -> dict[str, Any]:
        return {"complete": self.complete[view.name].__contains__}


@pytest.mark.parametrize("backed_by_list", [True, False], ids=["list-backed", "computed"])
def test_a_rules_complete_flag_and_its_transitions_are_changes(
    start_fusion: StartFusion, tmp_path: Path, backed_by_list: bool
) -> None:
    rule = MarkerCompletion(backed_by_list=backed_by_list)
    fusion = started(start_fusion, tmp_path, extra_plugins=(rule,), session_timeout_s=3600)
    client = query_client(fusion)
    agent = fusion.agent().open()
    start = since = changes(client)["next"]
    upload(agent, "/run1", 2)
    seen, since = drain(client, since)
    assert [(e["path"], e["complete"]) for e in seen] == [
        ("/run1", False),
        ("/run1/f0", False),
        ("/run1/f1", False),
    ]

    assert agent.send_ok(event("realtime", "insert", row("/run1/DONE")))["accepted"] == 1
    seen, since = drain(client, since)
    assert [(e["op"], e["path"], e["complete"]) for e in seen] == [
        ("upsert", "/run1/DONE", False),
        ("upsert", "/run1", True),  # the directory completed: a change of its own
    ]
    assert fusion.query().ok("tree", path="/run1", depth=0)["complete"] is True

    assert agent.send_ok(event("realtime", "delete", row("/run1/DONE")))["accepted"] == 1
    seen, since = drain(client, since)
    assert [(e["op"], e["path"], e["complete"]) for e in seen] == [
        ("upsert", "/run1", False),  # no longer complete
        ("delete", "/run1/DONE", False),
    ]

    fusion.stop()  # the same entries, read back from the journal by a restarted Fusion
    again = started(start_fusion, tmp_path, extra_plugins=(rule,), session_timeout_s=3600)
    replayed, _ = drain(query_client(again), start)
    assert [(e["op"], e["path"], e["complete"]) for e in replayed] == [
        ("upsert", "/run1", False),
        ("upsert", "/run1/f0", False),
        ("upsert", "/run1/f1", False),
        ("upsert", "/run1/DONE", False),
        ("upsert", "/run1", True),
        ("upsert", "/run1", False),
        ("delete", "/run1/DONE", False),
    ]


def test_a_computed_flag_whose_rule_does_not_report_it_changes_unseen(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    """The other side of the contract: a computed predicate's transition is a change only when
    its rule says so (``view.flags_changed``); the node's next change carries the new value."""
    rule = MarkerCompletion(backed_by_list=False, report=False)
    fusion = started(start_fusion, tmp_path, extra_plugins=(rule,), session_timeout_s=3600)
    client = query_client(fusion)
    agent = fusion.agent().open()
    upload(agent, "/run1", 1)
    since = changes(client)["next"]
    assert agent.send_ok(event("realtime", "insert", row("/run1/DONE")))["accepted"] == 1
    seen, since = drain(client, since)
    assert [(e["path"], e["complete"]) for e in seen] == [("/run1/DONE", False)]
    upload(agent, "/run1", 0)
    seen, _ = drain(client, since)
    assert [(e["path"], e["complete"]) for e in seen] == [("/run1", True)]


# -- Server-Sent Events -----------------------------------------------------------------------------


class EventStream:
    """A minimal SSE client: events as dicts of their fields (comments under ``comment``)."""

    def __init__(self, client: httpx.Client, **params: Any) -> None:
        headers = dict(SSE)
        last = params.pop("last_event_id", None)
        if last is not None:
            headers["Last-Event-ID"] = last
        self._context = client.stream("GET", CHANGES, params=params, headers=headers, timeout=30)
        self.response = self._context.__enter__()
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self._lines = self.response.iter_lines()

    def next(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            if not name:
                fields["comment"] = value.strip()
                continue
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def changes(self, count: int) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        while len(out) < count:
            fields = self.next()
            if "data" in fields and "event" not in fields:
                out.append(fields)
        return out

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def data(fields: dict[str, str]) -> dict[str, Any]:
    return httpx.Response(200, content=fields["data"]).json()  # type: ignore[no-any-return]


def test_the_stream_sends_each_change_as_an_event_and_resumes_with_last_event_id(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path, change_feed={"keepalive_s": 0.2})
    agent = fusion.agent().open()
    stream = EventStream(query_client(fusion))
    start = stream.next()
    assert start["event"] == "start" and data(start)["next"] == start["id"]
    upload(agent, "/s", 2)
    first = stream.changes(2)
    assert [data(f)["path"] for f in first] == ["/s", "/s/f0"]
    stream.close()  # the client goes away after the second event

    feed = fusion.service.datastores["demo"].feed
    wait_until(lambda: feed.streams == 0)  # the server's side ended with it
    agent.send_ok(event("realtime", "update", row("/s/late")))
    resumed = EventStream(query_client(fusion), last_event_id=first[-1]["id"])
    rest = resumed.changes(2)
    assert [data(f)["path"] for f in rest] == ["/s/f1", "/s/late"]
    assert [data(f)["seq"] for f in first + rest] == list(
        range(data(first[0])["seq"], data(first[0])["seq"] + 4)
    )
    comment = resumed.next()  # nothing more: a keep-alive comment
    assert comment == {"comment": "keep-alive"}
    resumed.close()

    with_cursor = EventStream(query_client(fusion), since=start["id"], limit=1)
    assert [data(f)["path"] for f in with_cursor.changes(4)] == ["/s", "/s/f0", "/s/f1", "/s/late"]
    with_cursor.close()


def test_a_large_catch_up_page_arrives_whole_as_json_and_as_events(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    """More than LARGE_PAGE changes in one page: built in the large-answer turn; the event
    stream hands it over in 64 KiB pieces (here about 90 KiB), which the client joins."""
    fusion = started(start_fusion, tmp_path)
    client = query_client(fusion)
    start = changes(client)["next"]
    upload(fusion.agent().open(), "/big", 349)
    expected = ["/big", *(f"/big/f{i}" for i in range(349))]
    page = changes(client, since=start, limit=1000)
    assert [e["path"] for e in page["changes"]] == expected
    stream = EventStream(client, since=start, limit=1000)
    events = stream.changes(350)
    stream.close()
    assert sum(len(f["data"]) + len(f["id"]) for f in events) > 64 * 1024
    assert [data(f)["path"] for f in events] == expected
    assert last_change(events[-1]["id"]) == last_change(page["next"])  # (a tick may move the record)


def test_the_stream_says_reset_and_continues_from_the_current_position(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path)
    agent = fusion.agent().open()
    stream = EventStream(query_client(fusion), last_event_id="not-a-cursor")
    reset = stream.next()
    assert reset["event"] == "reset" and data(reset) == {"next": reset["id"], "reset": True}
    agent.send_ok(event("realtime", "update", row("/after-reset")))
    assert [data(f)["path"] for f in stream.changes(1)] == ["/after-reset"]
    stream.close()


def test_a_filtered_stream_moves_its_event_id_past_changes_it_leaves_out(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    fusion = started(start_fusion, tmp_path, change_feed={"keepalive_s": 0.2})
    agent = fusion.agent().open()
    stream = EventStream(query_client(fusion), path="/wanted")
    start = stream.next()
    agent.send_ok(event("realtime", "update", row("/other/x")))
    while True:
        beat = stream.next()
        assert beat.get("comment") == "keep-alive" and "data" not in beat
        if "id" in beat:
            break
    assert beat["id"] != start["id"]
    stream.close()
    resumed = changes(query_client(fusion), since=beat["id"])
    assert resumed["changes"] == [] and resumed["reset"] is False


def test_streams_end_when_fusion_stops(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path)
    since = changes(query_client(fusion))["next"]
    # clients of their own: the test kit closes the ones it made before it stops the server
    with (
        httpx.Client(base_url=fusion.url, headers={"X-API-Key": QUERY_KEY}) as streaming,
        httpx.Client(base_url=fusion.url, headers={"X-API-Key": QUERY_KEY}, timeout=90) as polling,
        ThreadPoolExecutor(1) as pool,
    ):
        stream = EventStream(streaming)
        stream.next()
        pending = pool.submit(changes, polling, since=since, wait=60)
        feed = fusion.service.datastores["demo"].feed
        wait_until(lambda: feed.waiting == 2)
        started_at = time.monotonic()
        fusion.stop()  # uvicorn waits for open requests: the feed ends them first
        assert time.monotonic() - started_at < 5
        assert pending.result(timeout=5)["changes"] == []
        with pytest.raises(EOFError):
            stream.next()
        stream.close()


def test_a_stream_that_is_not_read_does_not_hold_up_ingest(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path)
    host, port = fusion.url.removeprefix("http://").split(":")
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    stalled.sendall(
        f"GET {CHANGES}?limit=10000 HTTP/1.1\r\nHost: x\r\nX-API-Key: {QUERY_KEY}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    feed = fusion.service.datastores["demo"].feed
    wait_until(lambda: feed.streams == 1)
    agent = fusion.agent().open()
    started_at = time.monotonic()
    for i in range(40):  # ~2 MB of events for a client that reads nothing
        upload(agent, f"/bulk/{i}", 250, source="realtime" if i % 2 else "snapshot")
    took = time.monotonic() - started_at
    assert took < 30, took
    assert fusion.query().ok("stats")["files"] == 40 * 250
    # the stream did not fall apart: reading now gets the events, in order
    stalled.settimeout(10)
    received = b""
    while received.count(b"\ndata: ") < 500:
        chunk = stalled.recv(65536)
        assert chunk
        received += chunk
    stalled.close()
    wait_until(lambda: feed.streams == 0)


def test_the_feed_is_in_the_openapi_document(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = started(start_fusion, tmp_path)
    document = fusion.client().get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/views/{ds}/changes"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["wait"] == {"type": "number", "default": 0, "minimum": 0, "maximum": 60}
    assert params["limit"]["maximum"] == 10_000 and set(params) == {
        "ds",
        "since",
        "limit",
        "wait",
        "path",
        "min_seq",
    }
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}
    entry = document["components"]["schemas"]["ChangeEntry"]
    assert {
        "seq",
        "op",
        "path",
        "is_dir",
        "size",
        "mtime",
        "integrity_suspect",
        "agent_missing",
        "complete",
    } <= set(entry["required"])
