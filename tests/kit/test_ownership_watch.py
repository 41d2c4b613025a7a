"""OwnershipWatch tells a hand-over from two owners at once (scripted /readyz answers)."""

from __future__ import annotations

from typing import Any

from cluster import Cluster, OwnershipWatch


class ScriptedNode:
    """Answers ``/readyz`` from a list of roles, one per poll (the last one repeats)."""

    def __init__(self, node_id: str, roles: list[str | None]) -> None:
        self.node_id = node_id
        self.roles = roles
        self.alive = True

    def readyz(self) -> dict[str, Any] | None:
        role = self.roles.pop(0) if len(self.roles) > 1 else self.roles[0]
        return {"views": {"v": {"role": role}}} if role else None


def watch_rounds(nodes: list[ScriptedNode], rounds: int) -> OwnershipWatch:
    cluster = Cluster.__new__(Cluster)
    cluster.nodes = nodes  # type: ignore[assignment]
    watch = OwnershipWatch(cluster, ["v"])
    for _ in range(rounds):
        watch._round("v")
    return watch


def test_a_hand_over_is_no_overlap() -> None:
    a = ScriptedNode("a", ["owner", "owner", "replica", "replica"])
    b = ScriptedNode("b", ["replica", "replica", "replica", "owner"])
    watch = watch_rounds([a, b], 4)
    assert watch.overlaps == []
    assert [node for _, node in watch.owned_since["v"]] == ["a", "", "b"]


def test_a_new_owner_while_the_old_one_still_says_so_is_an_overlap() -> None:
    a = ScriptedNode("a", ["owner", "owner", "owner"])
    b = ScriptedNode("b", ["replica", "owner", "owner"])
    watch = watch_rounds([a, b], 3)
    assert (watch.overlaps[0].first, watch.overlaps[0].second) == ("a", "b")  # and on, while it lasts


def test_a_silent_live_node_is_counted_not_taken_for_a_replica() -> None:
    a = ScriptedNode("a", ["owner", None, None])
    watch = watch_rounds([a], 3)
    assert watch.unanswered == {"a": 2}
