"""Which plugin gives which node flag and stats key: two givers of one name stop the view.

Rules add flags to every node (``fustor_node_flags``) and keys to the stats answer
(``fustor_view_stats``) by merging dicts, so two rules giving the same name would silently
overwrite one another — the answer would depend on plugin order. The view asks every rule once
when it starts and refuses to start on a clash, naming both plugins (and a stats key that is the
view's own, such as ``files``).
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

from fustor_core.errors import PluginError
from fustor_core.plugins import call_each, plugin_origin


class _View(Protocol):
    name: str


VIEW_STATS_KEYS = frozenset(
    {
        "files",
        "dirs",
        "bytes",
        "rows_accepted",
        "rows_unchanged",
        "rows_dropped",
        "clock_skew_s",
        "audit_running",
        "snapshot_running",
        "last_snapshot_end",
        "last_audit_end",
        "leader",
        "leader_agent_id",
        "sessions",
        "journal",
        "fresh",
    }
)
"""Stats keys the view and its datastore fill themselves; no rule may give them."""


def check_answer_keys(pm: pluggy.PluginManager, view: _View) -> None:
    """Ask every rule for its flags and stats keys; PluginError on a name given twice."""
    problems = _clashes(pm, call_each(pm, "fustor_node_flags", view=view), "node flag", frozenset())
    problems += _clashes(pm, call_each(pm, "fustor_view_stats", view=view), "stats key", VIEW_STATS_KEYS)
    if problems:
        raise PluginError(f"datastore {view.name!r}: " + "; ".join(problems))


def _clashes(
    pm: pluggy.PluginManager, answers: list[tuple[str, Any]], kind: str, reserved: frozenset[str]
) -> list[str]:
    owners: dict[str, str] = {}
    problems: list[str] = []
    for plugin, answer in answers:
        for key in answer or {}:
            if key in reserved:
                problems.append(
                    f"plugin {plugin_origin(pm, plugin)} gives the {kind} {key!r}, which is the view's own"
                )
            elif key in owners:
                problems.append(
                    f"two plugins give the {kind} {key!r}: {plugin_origin(pm, owners[key])}"
                    f" and {plugin_origin(pm, plugin)}"
                )
            else:
                owners[key] = plugin
    return problems
