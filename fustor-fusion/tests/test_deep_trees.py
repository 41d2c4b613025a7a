"""Tree queries at any depth on any tree answer 200 or a documented 4xx, never 500 (real server).

A directory chain may be 2048 levels deep; an answer nests at most ``MAX_DEPTH`` levels of
``children`` (deeper JSON is refused by common parsers), ``depth=-1`` means that many, and a
larger ``depth`` is 422.
"""

from __future__ import annotations

import itertools
from typing import Any

from fusion_testkit import Agent, Fusion, StartFusion, event, row
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MAX_DEPTH = 100
"""The documented limit (README, OpenAPI ``maximum``)."""

_prefixes = itertools.count()


def _levels(node: dict[str, Any]) -> int:
    """How many levels of children an answer nests (iteratively: answers can be deep)."""
    deepest = 0
    stack = [(node, 0)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in current.get("children") or [])
    return deepest


def _documented_errors(fusion: Fusion) -> set[int]:
    document = fusion.client().get("/api/v1/openapi.json").json()
    responses = document["paths"]["/api/v1/views/{ds}/tree"]["get"]["responses"]
    return {int(status) for status in responses if status.startswith("4")}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    height=st.one_of(st.integers(0, 30), st.integers(95, 130), st.integers(470, 600)),
    side_files=st.lists(st.integers(0, 600), max_size=5),
    depth=st.one_of(
        st.sampled_from(
            [-2, -1, 0, 1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 126, 127, 481, 482, 2048, 2049]
        ),
        st.integers(-10, 3000),
    ),
    start=st.floats(0, 1),
)
@example(height=500, side_files=[], depth=482, start=0.0)
@example(height=500, side_files=[499], depth=-1, start=0.0)
def test_any_depth_on_any_tree_answers_200_or_a_documented_4xx(
    start_fusion: StartFusion, height: int, side_files: list[int], depth: int, start: float
) -> None:
    fusion, leader = _fusion(start_fusion)
    prefix = f"/t{next(_prefixes)}"
    chain = [prefix + "/d" * level for level in range(height + 1)]
    rows = [row(chain[-1], is_dir=True)]
    rows += [row(chain[min(level, height)] + f"/f{i}", size=1) for i, level in enumerate(side_files)]
    leader.send_ok(event("snapshot", "insert", *rows))
    asked = chain[int(start * height)]
    below = height - int(start * height)  # levels of directories below the asked one
    answer = fusion.query().get("tree", path=asked, depth=depth)
    if -1 <= depth <= MAX_DEPTH:
        assert answer.status_code == 200, answer.text[:300]
        wanted = MAX_DEPTH if depth == -1 else depth
        levels = _levels(answer.json())
        assert levels <= MAX_DEPTH
        assert levels >= min(wanted, below)  # side files may add one level below the last dir
    else:
        assert answer.status_code == 422, answer.text[:300]
        assert answer.json()["error"]["code"] == "invalid" and "depth" in answer.json()["error"]["message"]
    assert answer.status_code == 200 or answer.status_code in _documented_errors(fusion)


_running: dict[int, tuple[Fusion, Agent]] = {}


def _fusion(start_fusion: StartFusion) -> tuple[Fusion, Agent]:
    """One Fusion and one leader session per test run, shared by its examples."""
    if id(start_fusion) not in _running:
        fusion = start_fusion()
        _running.clear()
        _running[id(start_fusion)] = (fusion, fusion.agent().open())
    return _running[id(start_fusion)]
