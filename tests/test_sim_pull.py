"""Smarter pulling in virtual time, checked against theory: conditional requests, freshness of
periodic polling, long polling and Server-Sent Events, and how to spend a polling budget."""

from __future__ import annotations

import json
import math

import pytest

from hooklab.cli import main
from hooklab.core import adaptive
from hooklab.lab.pulling import budget_allocations
from hooklab.sim import simulate
from hooklab.sim.network import LogNormalDelay
from hooklab.sim.workloads import MixedPoisson

HOP_S = LogNormalDelay().mean_s


@pytest.mark.parametrize(("interval_s", "rate_per_s"), [(10, 1 / 60), (60, 1 / 600), (60, 1 / 60)])
def test_conditional_polling_answers_304_with_probability_exp_minus_lambda_t(interval_s, rate_per_s):
    kw = dict(interval_s=interval_s, records=100, rate_per_s=rate_per_s, duration_s=3600)
    plain, cond = simulate("poll", **kw).summary, simulate("conditional", **kw).summary
    assert cond["not_modified"] / cond["requests"] == pytest.approx(
        math.exp(-rate_per_s * interval_s), abs=0.02
    )
    # the quota pays for the changes seen, nothing else; a 304 carries no body
    assert (
        cond["quota_used"]
        == cond["requests"] - cond["not_modified"]
        == cond["requests"] - cond["empty_responses"]
    )
    assert plain["quota_used"] == plain["requests"]
    assert cond["latency_mean_s"] == plain["latency_mean_s"]  # the same polls, the same waits
    assert cond["bytes"] < (1 - 0.8 * math.exp(-rate_per_s * interval_s)) * plain["bytes"]


@pytest.mark.parametrize("r", [0.1, 1.0, 3.0])
def test_freshness_of_periodic_polling_is_one_minus_e_to_the_minus_r_over_r(r):
    interval_s = 60.0
    run = simulate("poll", interval_s=interval_s, records=200, rate_per_s=r / interval_s, duration_s=7200)
    assert run.summary["freshness"] == pytest.approx(adaptive.freshness(r / interval_s, interval_s), abs=0.02)


def test_long_polling_learns_in_one_hop_for_about_one_request_per_change():
    run = simulate("long-poll", records=50, rate_per_s=1 / 600, duration_s=3600)
    s = run.summary
    assert s["latency_mean_s"] < 3 * HOP_S and s["lost"] == 0
    timeouts = 3600 / run.params["wait_s"]
    assert s["changes"] * 0.8 <= s["requests"] <= s["changes"] + timeouts + 2


def test_server_sent_events_learn_in_one_hop_over_one_connection_per_stream():
    run = simulate("sse", records=50, rate_per_s=1 / 600, duration_s=3600)
    s = run.summary
    assert s["latency_mean_s"] < 3 * HOP_S and s["lost"] == 0
    assert s["requests"] <= math.ceil(3600 / run.params["stream_s"]) + 1


def test_under_a_fixed_budget_uniform_beats_proportional_and_adaptive_beats_both():
    # half the records change every 30 s, half hourly; one budget: each polled every 120 s on average
    records, interval_s, rates_per_s = 100, 120.0, (1 / 30, 1 / 3600)
    got = budget_allocations(rates_per_s, records=records, interval_s=interval_s, duration_s=6 * 3600)
    fresh, requests = got["freshness"], got["requests_per_hour"]
    rates = [MixedPoisson(rates_per_s).rate_of(j) for j in range(records)]
    theory = sum(adaptive.freshness(lam, interval_s) for lam in rates) / records
    assert fresh["uniform"] == pytest.approx(theory, abs=0.02)
    assert fresh["uniform"] > fresh["proportional"] + 0.05  # Cho and Garcia-Molina's result
    assert fresh["adaptive"] > fresh["uniform"] + 0.02
    assert all(abs(requests[k] / requests["uniform"] - 1) < 0.02 for k in ("proportional", "adaptive"))
    assert fresh["adaptive"] <= fresh["optimum (rates known)"] + 0.01  # close to knowing the rates


def test_the_estimator_is_finite_when_every_poll_found_a_change_and_unbiased_where_x_over_n_is_not():
    assert math.isfinite(adaptive.estimate_rate(10, 10, 1.0))
    # lambda T = 1: X/n estimates 1 - e^-1 = 0.63 per interval; the estimator recovers about 1
    assert adaptive.estimate_rate(1000, round(1000 * (1 - math.exp(-1))), 1.0) == pytest.approx(1.0, rel=0.01)


def test_the_cli_reports_not_modified_and_quota_used(capsys):
    assert main(["simulate", "--mode", "conditional", "--interval", "60", "--records", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["not_modified"] > 0 and out["quota_used"] == out["requests"] - out["not_modified"]
    assert main(["simulate", "--mode", "long-poll", "--records", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["latency_mean_s"] < 0.01
