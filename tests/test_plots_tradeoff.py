"""Tests for the poll-timeline helpers of hooklab.lab.plots_tradeoff (notebook 01 and its slider)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from hooklab import sim  # noqa: E402
from hooklab.lab import experiments, plots_tradeoff  # noqa: E402


def test_poll_timeline_draws_the_same_lanes_as_first_lanes():
    ax, requests, changes = plots_tradeoff.poll_timeline(30, records=6, rate_per_s=1 / 300, window_s=300)
    run = sim.simulate("poll", interval_s=30, records=6, rate_per_s=1 / 300, duration_s=300, seed=0)
    expected_requests, expected_changes = experiments.first_lanes(run, 4)
    assert requests.equals(expected_requests) and changes.equals(expected_changes)
    found = int(requests["news"].sum())
    assert (
        ax.figure.get_suptitle()
        == f"Polling every 30 s: {len(requests)} polls, {found} found news, the rest nothing"
    )
    plt.close("all")


def test_interval_explorer_prints_simulation_next_to_theory_and_returns_nothing(capsys):
    assert plots_tradeoff.interval_explorer(60, records=10, rate_per_s=1 / 600) is None
    line = capsys.readouterr().out
    assert line.startswith("T = 60 s, 10 records, one simulated hour: 600 requests")
    assert "(theory 90.5%)" in line and "(theory 30 s)" in line
    plt.close("all")
