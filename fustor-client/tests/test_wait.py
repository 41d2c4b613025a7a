"""``fustor wait PATH --complete``: exit status 0 once PATH is marked complete, 1 at the timeout.

A test plugin supplies the ``complete`` flag (a set of paths the test fills), so a test decides
when a path completes; the command runs as a subprocess against the real server, which holds
``wait=complete`` requests until the flag is set. (Against an older Fusion that refuses the
parameter the command polls instead.)
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from clientkit import FUSTOR, QUERY_KEY, Fusion, fustor, serve_fusion, wait_until

from fustor_core import hookimpl


class Completion:
    """A rule that marks the paths in ``done`` complete, and counts how often it was asked."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.asked = 0

    def is_complete(self, path: str) -> bool:
        self.asked += 1
        return path in self.done

    @hookimpl
    def fustor_node_flags(self, view: Any) -> dict[str, Callable[[str], bool]]:
        return {"complete": self.is_complete}


@pytest.fixture(scope="module")
def completion() -> Completion:
    return Completion()


@pytest.fixture(scope="module")
def fusion(completion: Completion) -> Iterator[Fusion]:
    with serve_fusion(extra_plugins=[completion]) as served:
        served.ingest().send(
            [
                {"path": "/up", "is_dir": True, "size": 0, "mtime": 1.0e9},
                {"path": "/up/a", "is_dir": True, "size": 0, "mtime": 1.0e9},
                {"path": "/up/b", "is_dir": True, "size": 0, "mtime": 1.0e9},
            ]
        )
        yield served


def start_wait(fusion: Fusion, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")}
    env.update(FUSTOR_URL=fusion.url, FUSTOR_API_KEY=QUERY_KEY, FUSTOR_DATASTORE="demo")
    return subprocess.Popen([FUSTOR, "wait", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_exits_0_once_the_path_is_complete(fusion: Fusion, completion: Completion) -> None:
    process = start_wait(fusion, "/up/a", "--complete", "--timeout", "60")
    asked = completion.asked
    wait_until(lambda: completion.asked > asked + 1, timeout=20)  # it asked, and it is still waiting
    assert process.poll() is None
    completion.done.add("/up/a")
    assert process.wait(timeout=20) == 0


def test_exits_1_at_the_timeout(fusion: Fusion) -> None:
    started = time.monotonic()
    result = fustor(fusion, "wait", "/up/b", "--complete", "--timeout", "1.5")
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started >= 1.5
    assert b"not complete after 1.5s" in result.stderr


def test_a_path_that_does_not_exist_yet_is_waited_for(fusion: Fusion, completion: Completion) -> None:
    absent = fustor(fusion, "wait", "/up/never", "--complete", "--timeout", "1")
    assert absent.returncode == 1, absent.stderr  # not an error (2): not complete yet
    completion.done.add("/up/later")
    process = start_wait(fusion, "/up/later", "--complete", "--timeout", "60")
    fusion.ingest().send([{"path": "/up/later", "is_dir": True, "size": 0, "mtime": 1.0e9}])
    assert process.wait(timeout=20) == 0


def test_without_a_completion_rule_it_says_so() -> None:
    with serve_fusion() as plain:
        plain.ingest().send([{"path": "/up", "is_dir": True, "size": 0, "mtime": 1.0e9}])
        result = fustor(plain, "wait", "/up", "--complete", "--timeout", "5")
    assert result.returncode == 2
    assert b"no merge rule gives the flag 'complete'" in result.stderr, (
        result.stderr
    )  # Fusion's 422, one line
