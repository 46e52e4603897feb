"""Tests for the poll-timeline helpers of hooklab.lab.plots_tradeoff (notebook 01 and its slider)."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from hooklab import sim  # noqa: E402
from hooklab.lab import experiments, plots_tradeoff  # noqa: E402


def test_poll_timeline_draws_the_same_lanes_as_first_lanes():
    ax, requests, changes = plots_tradeoff.poll_timeline(30, records=6, rate_per_s=1 / 300, window_s=300)
    run = sim.simulate("poll", interval_s=30, records=6, rate_per_s=1 / 300, duration_s=300, seed=0)
    expected_requests, expected_changes = experiments.first_lanes(run, 6)  # a lane for each record
    assert requests.equals(expected_requests) and changes.equals(expected_changes)
    found = int(requests["news"].sum())
    assert (
        ax.figure.get_suptitle()
        == f"Polling every 30 s: {len(requests)} polls, {found} found news, the rest nothing"
    )
    plt.close("all")
    ax, requests, _ = plots_tradeoff.poll_timeline(30, records=6, rate_per_s=1 / 300, window_s=300, lanes=4)
    assert "(4 of 6 records)" in ax.figure.get_suptitle() and requests["path"].nunique() <= 4
    plt.close("all")


def test_frontier_refuses_a_point_a_log_axis_cannot_show():
    import pandas as pd

    poll = pd.DataFrame({"interval_s": [10.0], "requests_per_hour": [360.0], "latency_mean_s": [5.0]})
    point = {"requests_per_hour": 10.0, "latency_mean_s": 0.001}
    with pytest.raises(ValueError, match="log axis"):
        plots_tradeoff.frontier(poll, point, title="t", others={"SSE": {**point, "requests_per_hour": 0}})
    plt.close("all")


def test_interval_explorer_prints_simulation_next_to_theory_and_returns_nothing(capsys):
    assert plots_tradeoff.interval_explorer(60, records=10, rate_per_s=1 / 600) is None
    line = capsys.readouterr().out
    assert line.startswith("T = 60 s, 10 records, one simulated hour: 600 requests")
    assert "(theory 90.5%)" in line and "(theory 30 s)" in line
    plt.close("all")
