"""``fresh=true``: a tree query that waits for the leader's relisting, over a real server.

The "leader" here is a test client speaking the ingest protocol (the agent's side is tested on
real agents in ``tests/e2e/test_fresh.py``): it long-polls the task channel, sends the listing
as an audit, reports the task done — or does not, to see the 503s and the 504.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fusion_testkit import INGEST_KEY, Agent, Fusion, error_of, event, row, wait_until

from fustor_fusion import fresh as fresh_module


def tree(fusion: Fusion, path: str, **params: Any) -> httpx.Response:
    return fusion.query().get("tree", path=path, depth=0, **params)


def take_tasks(agent: Agent, wait: float = 5.0) -> list[dict[str, Any]]:
    answer = agent.http.get(agent.url("/tasks"), params={"wait": wait}, timeout=wait + 10)
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["tasks"]
    return tasks


def relist(agent: Agent, task: dict[str, Any], size: int) -> None:
    """What the fresh mode does: an audit of the path, then the task reported done."""
    agent.signal_ok("audit/start")
    agent.send_ok(
        event("audit", "insert", row("/d", is_dir=True, size=0), row("/d/f", size=size, parent_path="/d"))
    )
    agent.signal_ok("audit/end")
    done = agent.http.post(agent.url(f"/tasks/{task['id']}/done"), json={"listed": "/d", "files": 1})
    assert done.status_code == 200 and done.json()["waiting_queries"] is True, done.text


def seed(agent: Agent) -> None:
    agent.send_ok(event("snapshot", "insert", row("/d", is_dir=True, size=0), row("/d/f", size=1)))


def test_no_leader_is_a_503_that_says_so(fusion: Fusion) -> None:
    answer = tree(fusion, "/", fresh="true")
    assert error_of(answer)[:2] == (503, "no_leader"), answer.text
    assert "no agent leads datastore 'demo'" in error_of(answer)[2]


def test_a_leader_that_never_polls_the_task_channel_is_a_503_not_a_wait(fusion: Fusion) -> None:
    fusion.agent().open()  # leads, but is an agent without the fresh mode
    answer = tree(fusion, "/", fresh="true", timeout=30)
    assert error_of(answer)[:2] == (503, "leader_cannot_relist"), answer.text
    assert "'host-a' does not take relist requests" in error_of(answer)[2]


def test_the_answer_waits_for_the_relisting_and_carries_its_proof(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    seed(agent)
    assert take_tasks(agent, wait=0) == []  # polls: now it can be asked
    with ThreadPoolExecutor(2) as pool:
        queries = [pool.submit(tree, fusion, "/d/f", fresh="true", timeout=20) for _ in range(2)]
        fresh = fusion.service.datastores["demo"].fresh
        wait_until(lambda: fresh.stats()["queries"] == 2)  # both asked before the agent takes it
        tasks = take_tasks(agent)
        assert [(t["kind"], t["path"]) for t in tasks] == [("relist", "/d/f")]  # two queries, one task
        assert not any(query.done() for query in queries)
        assert tree(fusion, "/d/f").json()["size"] == 1  # a plain query answers at once, as it stands
        relist(agent, tasks[0], size=7)
        answers = [query.result(timeout=10) for query in queries]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["size"] == 7
        assert body["fresh"]["agent_id"] == "host-a" and body["fresh"]["listed"] == "/d"
        assert body["fresh"]["waited_s"] >= 0


def test_no_answer_within_the_timeout_is_a_504_that_says_where_it_stuck(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    seed(agent)
    take_tasks(agent, wait=0)
    answer = tree(fusion, "/d", fresh="true", timeout=0.3)  # nobody takes it
    assert error_of(answer)[:2] == (504, "fresh_timeout"), answer.text
    assert "did not take the request" in error_of(answer)[2]
    with ThreadPoolExecutor(1) as pool:
        query = pool.submit(tree, fusion, "/d", fresh="true", timeout=1)
        assert [t["path"] for t in take_tasks(agent)] == ["/d"]  # taken, never reported done
        answer = query.result(timeout=10)
    assert error_of(answer)[:2] == (504, "fresh_timeout"), answer.text
    assert "took it" in error_of(answer)[2] and "still listing" in error_of(answer)[2]


def test_a_task_a_leader_took_and_dropped_goes_to_the_next_leader(fusion: Fusion) -> None:
    first = fusion.agent("host-a").open()
    seed(first)
    take_tasks(first, wait=0)
    with ThreadPoolExecutor(1) as pool:
        query = pool.submit(tree, fusion, "/d/f", fresh="true", timeout=20)
        assert len(take_tasks(first)) == 1
        assert first.http.delete(first.url("")).status_code == 200  # the leader goes away
        second = fusion.agent("host-b").open()
        wait_until(lambda: second.heartbeat().json()["role"] == "leader")
        tasks = take_tasks(second)
        assert [t["path"] for t in tasks] == ["/d/f"]
        relist(second, tasks[0], size=9)
        answer = query.result(timeout=10)
    assert answer.status_code == 200 and answer.json()["size"] == 9, answer.text


def test_the_task_channel_is_the_leaders(fusion: Fusion) -> None:
    fusion.agent("host-a").open()
    follower = fusion.agent("host-b").open()
    answer = follower.http.get(follower.url("/tasks"), params={"wait": 0})
    assert error_of(answer)[:2] == (409, "not_leader"), answer.text


def test_a_waiting_long_poll_ends_when_its_session_closes_or_fusion_stops(fusion: Fusion) -> None:
    """An open poll must not hold Fusion's graceful shutdown for the rest of its wait."""
    agent = fusion.agent().open()
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(take_tasks, agent, 30)
        time.sleep(0.3)  # the poll is in its wait
        assert agent.http.delete(agent.url("")).status_code == 200
        started = time.monotonic()
        assert poll.result(timeout=10) == []
        assert time.monotonic() - started < 5
    own = httpx.Client(base_url=fusion.url, headers={"X-API-Key": INGEST_KEY})  # outlives fusion.stop()
    second = Agent(own, "host-b").open()
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(lambda: own.get(second.url("/tasks"), params={"wait": 30}, timeout=40))
        time.sleep(0.3)
        started = time.monotonic()
        fusion.stop()
        answer = poll.result(timeout=15)
        assert answer.status_code == 200 and answer.json() == {"tasks": []}
        assert time.monotonic() - started < 5
    own.close()


def test_only_the_session_that_took_a_task_can_report_it_done(fusion: Fusion) -> None:
    leader = fusion.agent("host-a").open()
    follower = fusion.agent("host-b").open()
    seed(leader)
    take_tasks(leader, wait=0)
    with ThreadPoolExecutor(1) as pool:
        query = pool.submit(tree, fusion, "/d/f", fresh="true", timeout=20)
        tasks = take_tasks(leader)
        forged = follower.http.post(follower.url(f"/tasks/{tasks[0]['id']}/done"), json={"files": 0})
        assert forged.status_code == 200 and forged.json()["waiting_queries"] is False, forged.text
        assert not query.done()  # a listing nobody made does not answer the query
        relist(leader, tasks[0], size=5)
        answer = query.result(timeout=10)
    assert answer.status_code == 200 and answer.json()["size"] == 5, answer.text


def test_distinct_paths_waiting_at_once_are_bounded(fusion: Fusion, monkeypatch: Any) -> None:
    monkeypatch.setattr(fresh_module, "MAX_PENDING_PATHS", 2)
    agent = fusion.agent().open()
    seed(agent)
    take_tasks(agent, wait=0)
    with ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(tree, fusion, path, fresh="true", timeout=3) for path in ("/d", "/d/f")]
        fresh = fusion.service.datastores["demo"].fresh
        wait_until(lambda: fresh.stats()["waiting"] == 2)
        third = tree(fusion, "/", fresh="true", timeout=3)
        assert error_of(third)[:2] == (429, "too_many_fresh_requests"), third.text
        shared = pool.submit(tree, fusion, "/d", fresh="true", timeout=0.2)  # joins a waiting path
        assert error_of(shared.result(timeout=10))[:2] == (504, "fresh_timeout")
        assert [error_of(query.result(timeout=10))[0] for query in waiting] == [504, 504]


def test_a_leader_that_stopped_polling_long_ago_is_a_503_not_a_wait(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    take_tasks(agent, wait=0)
    fresh = fusion.service.datastores["demo"].fresh
    pollers = fresh._pollers
    (session_id,) = pollers
    pollers[session_id] -= fresh_module.POLL_SILENCE_S + 1  # as if its last poll were that old
    answer = tree(fusion, "/", fresh="true", timeout=30)
    assert error_of(answer)[:2] == (503, "leader_cannot_relist"), answer.text
    assert "has not asked for relist requests for" in error_of(answer)[2]
