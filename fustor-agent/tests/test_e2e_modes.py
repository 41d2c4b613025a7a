"""A pipe's ``modes:`` on a real agent: a mode's options change what it does, ``false`` stops it,
and the deprecated flat keys still work (with a warning in the log)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent_testkit import AgentProcess, FusionProcess, wait_for


def test_a_modes_options_set_its_interval(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    """Sentinel every 0.2 s, audit every hour: ten sweeps (2 s; 10 s at the test default of 1 s)
    and not one audit (one a second at the test default)."""
    agent = start_agent(tree, modes={"sentinel": {"interval_s": 0.2}, "audit": {"interval_s": 3600}})
    wait_for(lambda: agent.runs("sentinel") >= 10, 8, "ten sentinel sweeps")
    assert agent.runs("audit") == 0
    assert agent.runs("snapshot") == 1


def test_false_turns_a_mode_off(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(tree, modes={"sentinel": False, "audit": {"interval_s": 0.2}})
    wait_for(lambda: agent.runs("audit") >= 5, 10, "five audits: the leader modes are running")
    assert "sentinel" not in agent.status()["modes"], "never started"
    answer = agent.trigger("sentinel")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == (
        "pipe 'demo' runs no mode 'sentinel' (triggerable: snapshot, audit)"
    )


def test_a_deprecated_pipe_key_still_sets_the_option_and_is_logged(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(
        tree, sentinel_interval_s=0.2, modes={"sentinel": True, "audit": {"interval_s": 3600}}
    )
    wait_for(lambda: agent.runs("sentinel") >= 10, 8, "ten sentinel sweeps")
    warnings = [line for line in agent.log_tail(200).splitlines() if 'msg="deprecated config key"' in line]
    assert len(warnings) == 1, agent.log_tail()
    assert "key=pipes.0.sentinel_interval_s use=pipes.0.modes.sentinel.interval_s" in warnings[0]


def test_any_triggerable_mode_runs_on_request(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    """The sentinel says it is triggerable: the API runs it although its interval is an hour."""
    agent = start_agent(tree, modes={"sentinel": {"interval_s": 3600}, "audit": {"interval_s": 3600}})
    wait_for(lambda: agent.runs("snapshot") == 1 and "sentinel" in agent.status()["modes"], 10, "leading")
    assert agent.status()["triggerable"] == ["snapshot", "audit", "sentinel"]
    before = agent.runs("sentinel")  # its first sweep comes an hour after the tenure began
    agent.run_now("sentinel")
    assert agent.runs("sentinel") == before + 1
    assert agent.trigger("realtime").status_code == 404
