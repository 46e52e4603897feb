"""Tests for hooklab.lab.experiments: rate-limit arithmetic, sweep helpers, theory checks."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hooklab import sim
from hooklab.lab import experiments


def test_rate_limit_arithmetic_is_consistent():
    assert experiments.requests_per_hour(50, 10) == 18_000
    assert experiments.min_interval_under_limit(1_000) == pytest.approx(720.0)
    n = experiments.max_records_under_limit(60)
    assert n == 83
    assert experiments.requests_per_hour(n, 60) <= experiments.GITHUB_RATE_LIMIT_PER_HOUR
    assert experiments.requests_per_hour(n + 1, 60) > experiments.GITHUB_RATE_LIMIT_PER_HOUR


def test_per_hour_scales_by_window():
    table = pd.DataFrame({"requests": [100, 50]})
    assert experiments.per_hour(table, 1800)["requests_per_hour"].tolist() == [200.0, 100.0]
    assert "requests_per_hour" not in table  # the input is left alone


def test_theory_check_matches_a_simulated_run():
    run = sim.simulate("poll", interval_s=10, records=20, rate_per_s=1 / 300, duration_s=1800, seed=1)
    check = experiments.theory_check(run)
    assert check.loc["provider_rps", "simulated"] == pytest.approx(check.loc["provider_rps", "theory"])
    assert check.loc["latency_max_s", "simulated"] <= 10.05
    assert abs(check.loc["empty_fraction", "simulated"] - math.exp(-10 / 300)) < 0.02


def test_first_lanes_keeps_only_the_chosen_records():
    run = sim.simulate("poll", interval_s=30, records=6, rate_per_s=1 / 300, duration_s=300, seed=0)
    requests, latencies = experiments.first_lanes(run, 2)
    ids = set(latencies["payment_id"])
    assert len(ids) == 2
    assert set(requests["path"]) == {f"/payments/{pid}" for pid in ids}


def test_scan_gives_one_row_per_value_and_both_modes():
    table = experiments.scan("records", [5, 10], interval_s=60, rate_per_s=1 / 120, duration_s=600)
    assert table["records"].tolist() == [5, 10]
    assert table["poll_requests_per_hour"].tolist() == [300.0, 600.0]
    # webhooks: one delivery per change, no failures modelled here
    assert (table["webhook_requests_per_hour"] == table["changes_per_hour"]).all()
