"""The figures every progress display shows (terminal, log lines, ``fustor-agent status``)."""

from __future__ import annotations

from pathlib import Path

from fustor_agent.snapshot_progress import SnapshotHistory, figures_text, snapshot_figures

T = 1_800_000_000.0


def _scanning(files: int, dirs: int, rate: int, started: float) -> dict[str, object]:
    return {"state": "scanning", "files": files, "dirs": dirs, "rate": rate, "started_at": started}


def test_no_figures_unless_a_snapshot_runs() -> None:
    assert snapshot_figures({"state": "idle", "runs": 1, "files": 10}, 10, now=T) is None
    assert snapshot_figures({}, None, now=T) is None


def test_the_eta_comes_from_the_previous_count_and_the_rate() -> None:
    figures = snapshot_figures(_scanning(9_000, 1_000, 1_000, T - 10), 100_000, now=T)
    assert figures is not None
    assert (figures.walked, figures.rate, figures.elapsed_s, figures.eta_s) == (10_000, 1_000, 10.0, 90.0)
    text = figures_text(figures.as_dict())
    assert text == "10,000 walked of ~100,000, 1,000/s, elapsed 10s, ETA 1m30s"


def test_without_a_previous_count_there_is_no_eta() -> None:
    figures = snapshot_figures(_scanning(50, 0, 25, T - 2), None, now=T)
    assert figures is not None and figures.eta_s is None
    assert figures_text(figures.as_dict()).endswith("ETA after the first complete snapshot")


def test_past_the_previous_count_the_eta_is_unknown_not_negative() -> None:
    figures = snapshot_figures(_scanning(200, 0, 100, T - 2), 150, now=T)
    assert figures is not None and figures.eta_s is None
    assert figures_text(figures.as_dict()).endswith("ETA ? (more than last time)")


def test_the_count_is_kept_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "agent.snapshots.json"
    history = SnapshotHistory(path)
    assert history.expected("demo") is None
    history.record("demo", 1234)
    assert SnapshotHistory(path).expected("demo") == 1234
    path.write_text("{not json")
    assert SnapshotHistory(path).expected("demo") is None  # unreadable: no ETA, no failure
