"""The virtual-time simulation: against theory, against the live system, and against itself."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooklab import cli
from hooklab.core.provider import Change, SettlementModel
from hooklab.core.shop import Observation
from hooklab.measure.requestlog import COLUMNS, frame_from_rows
from hooklab.measure.summary import SUMMARY_KEYS, change_latencies
from hooklab.sim import (
    SIM_SUMMARY_KEYS,
    Bursts,
    ConstantDelay,
    DailyCycle,
    LogNormalDelay,
    Network,
    Poisson,
    simulate,
    sweep,
    theory_poll,
)

# --- theory: fixed-interval polling of Poisson changes ----------------------------------------
# (interval T, lambda*T): empty fraction from 0.90 down to 0.14, T from 1 s to 100 s. Records and
# duration are chosen per case for >= 8000 changes and >= 10000 polls, so that the tolerances
# below are 4 or more standard errors wide (the runs are seeded: these are not flaky).
GRID = [(t, lt) for t in (1.0, 10.0, 100.0) for lt in (0.1, 0.5, 2.0)]


def _theory_case(interval_s: float, lam_t: float):
    rate = lam_t / interval_s
    records = 100
    duration = max(8000 / (records * rate), 10_000 * interval_s / records)
    run = simulate(
        "poll", interval_s=interval_s, records=records, rate_per_s=rate, duration_s=duration, seed=11
    )
    return run, rate


@pytest.mark.parametrize(("interval_s", "lam_t"), GRID)
def test_polling_matches_theory(interval_s, lam_t):
    run, rate = _theory_case(interval_s, lam_t)
    theory = theory_poll(interval_s, rate, records=100)
    s = run.summary
    assert s["changes"] >= 8000 and s["requests"] >= 10_000
    assert s["detected"] == s["changes"], "the drain lets A learn every change of the window"
    # mean detection latency within 3% of T/2
    assert abs(s["latency_mean_s"] - theory["latency_mean_s"]) <= 0.03 * theory["latency_mean_s"]
    # no change waits longer than one interval plus the (modelled) round trip
    polls = run.requests[run.requests["kind"] == "poll"]
    assert s["latency_max_s"] <= interval_s + polls["duration_s"].max()
    # empty polls: exp(-lambda*T) within 0.02
    assert abs(s["empty_fraction"] - theory["empty_fraction"]) <= 0.02
    # load on B: N / T requests per second, exactly (every record polled every T in the window)
    assert s["provider_rps"] == pytest.approx(theory["provider_rps"], rel=0.01)


def test_theory_poll_numbers():
    th = theory_poll(10, 1 / 60, records=100)
    assert th["latency_mean_s"] == 5 and th["latency_max_s"] == 10
    assert th["empty_fraction"] == pytest.approx(math.exp(-10 / 60))
    assert th["provider_rps"] == 10


def test_polling_faster_than_the_network_keeps_one_poll_per_record_in_flight():
    run = simulate("poll", interval_s=0.001, records=5, rate_per_s=1, duration_s=10, seed=1,
                   network=Network(delay=ConstantDelay(0.01)))  # fmt: skip
    assert run.summary["requests"] == pytest.approx(5 * 10 / 0.02, rel=0.01)  # one per round trip
    assert run.requests["time"].is_monotonic_increasing
    assert run.summary["latency_max_s"] <= 0.02 + 0.02 + 1e-9


# --- webhooks ----------------------------------------------------------------------------------
def test_webhook_requests_are_changes_plus_retries():
    run = simulate("webhook", records=50, rate_per_s=1 / 30, duration_s=3600, seed=5, failure_prob=0.2)
    s = run.summary
    assert s["retries"] > 100
    assert s["requests"] == s["changes"] + s["retries"]
    hooks = run.requests[run.requests["kind"] == "webhook"]
    failed = int(hooks["status"].isna().sum())
    stale = int(((hooks["status"] == 200) & (hooks["news"] == False)).sum())  # noqa: E712
    # empty: attempts that failed, and late retries of a change A already knew a newer version of
    assert s["empty_responses"] == failed + stale and 0 < stale < failed
    given_up = [d for d in run.sim.provider.deliveries.values() if d.state == "failed"]
    assert s["detected"] >= s["changes"] - len(given_up)


def test_webhook_without_failures_is_one_request_per_change():
    run = simulate("webhook", records=20, rate_per_s=1 / 60, duration_s=3600, seed=2)
    s = run.summary
    assert s["requests"] == s["changes"] == s["detected"] > 0
    assert s["empty_responses"] == 0 and s["retries"] == 0
    assert s["provider_rps"] == 0  # B serves nothing: it sends


def test_webhook_latency_is_the_modelled_delay():
    const = simulate("webhook", records=20, rate_per_s=1 / 60, duration_s=3600, seed=1,
                     network=Network(delay=ConstantDelay(0.005)))  # fmt: skip
    assert np.allclose(const.latencies["latency_s"], 0.005, atol=1e-9)
    delay = LogNormalDelay(median_s=0.002, sigma=0.5)
    logn = simulate(
        "webhook", records=100, rate_per_s=1 / 30, duration_s=3600, seed=1, network=Network(delay=delay)
    )
    logs = np.log(logn.latencies["latency_s"].to_numpy())
    assert len(logs) > 10_000
    assert logs.mean() == pytest.approx(math.log(0.002), abs=0.02)
    assert logs.std() == pytest.approx(0.5, abs=0.02)


def test_hybrid_reconciliation_catches_lost_deliveries():
    # no retries and a third of deliveries lost: the slow poll must find what webhooks missed
    run = simulate("hybrid", records=50, rate_per_s=1 / 120, duration_s=7200, seed=4, failure_prob=0.3,
                   retry_schedule=(), reconcile_s=300)  # fmt: skip
    s = run.summary
    assert s["detected"] == s["changes"] > 1000
    lat = run.latencies["latency_s"]
    assert (lat < 0.05).mean() == pytest.approx(0.7, abs=0.05)  # delivered at once
    assert lat.max() <= 300 + 0.05
    kinds = run.requests["kind"].value_counts()
    assert kinds["poll"] == pytest.approx(50 * 7200 / 300, rel=0.01)


# --- workloads ---------------------------------------------------------------------------------
def test_same_seed_same_changes_whatever_the_strategy():
    a = simulate("poll", interval_s=5, records=30, duration_s=1800, seed=9).latencies
    b = simulate("webhook", records=30, duration_s=1800, seed=9).latencies
    c = simulate("poll", interval_s=300, records=30, duration_s=1800, seed=9).latencies
    for other in (b, c):  # (record ids and version numbers may differ: creation order, warm-up)
        assert len(other) == len(a)
        assert np.allclose(np.sort(a["changed_at"]), np.sort(other["changed_at"]), rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("workload", "hours", "rel"),
    [
        (Poisson(1 / 60), 4, 0.05),
        (DailyCycle(1 / 60, period_s=3600), 4, 0.05),
        # the number of bursts itself is random (144 expected, sd 12)
        (Bursts(every_s=600, share=0.5, spread_s=10), 24, 0.25),
    ],
)
def test_workloads_have_their_mean_rate(workload, hours, rel):
    # slow polling: cheap, and the workload does not depend on the strategy
    run = simulate("poll", interval_s=600, records=25, duration_s=hours * 3600, seed=3, workload=workload)
    expected = 25 * hours * 3600 * workload.rate_per_s
    assert run.summary["changes"] == pytest.approx(expected, rel=rel)


def test_daily_cycle_peaks_when_it_says():
    work = DailyCycle(1 / 60, amplitude=0.8, period_s=3600, peak_s=900)
    run = simulate("poll", interval_s=600, records=25, duration_s=4 * 3600, seed=3, workload=work)
    phase = run.latencies["changed_at"] % 3600
    near_peak = ((phase > 600) & (phase < 1200)).sum()
    near_trough = ((phase > 2400) & (phase < 3000)).sum()
    assert near_peak > 4 * near_trough


def test_bursts_come_in_bursts():
    run = simulate("poll", interval_s=600, records=100, duration_s=6 * 3600, seed=8,
                   workload=Bursts(every_s=1800, share=0.5, spread_s=10))  # fmt: skip
    per_minute = np.bincount((run.latencies["changed_at"] // 60).astype(int))
    assert (per_minute == 0).mean() > 0.9 and per_minute.max() >= 40


# --- measurements ------------------------------------------------------------------------------
def test_frames_have_the_live_columns_and_dtypes():
    run = simulate("hybrid", records=10, duration_s=1200, seed=1, failure_prob=0.2, reconcile_s=60)
    assert tuple(run.requests.columns) == COLUMNS
    rebuilt = frame_from_rows(list(run.requests.itertuples(index=False, name=None)))
    pd.testing.assert_frame_equal(run.requests, rebuilt)
    assert (run.requests["direction"] == "out").all()
    assert run.requests["time"].is_monotonic_increasing
    assert run.requests["time"].between(0, 1200, inclusive="left").all()
    assert run.requests["status"].isna().any() and run.requests["news"].isna().any()
    assert set(SUMMARY_KEYS) <= set(run.summary) and set(run.summary) == set(SIM_SUMMARY_KEYS)


def test_settlement_workload_ends_consistent():
    run = simulate("poll", interval_s=0.5, records=30, seed=2, workload="settlement",
                   settlement=SettlementModel(mean_s=1.0))  # fmt: skip
    assert run.consistent
    assert run.summary["changes"] == run.summary["detected"] == 30
    assert run.sim.provider.all_settled()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(2, 8), st.floats(0, 100)), max_size=40))
def test_change_latencies_first_known_version_or_later(observed):
    changes = [Change(f"p{p}", v, "x", 0.0, f"e{p}{v}") for p in range(4) for v in range(2, 9)]
    observations = [Observation(f"p{p}", v, "x", t, "poll") for p, v, t in observed]
    lat = change_latencies(changes, observations)
    for row in lat.itertuples():
        times = [t for p, v, t in observed if f"p{p}" == row.payment_id and v >= row.version]
        if times:
            assert row.detected and row.learned_at == min(times)
        else:
            assert not row.detected and math.isnan(row.learned_at)


# --- determinism -------------------------------------------------------------------------------
def test_same_arguments_same_frames_different_seeds_differ():
    kw = dict(records=20, duration_s=1800, failure_prob=0.1)
    a, b = simulate("hybrid", seed=1, **kw), simulate("hybrid", seed=1, **kw)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.latencies, b.latencies)
    assert a.summary == b.summary
    c = simulate("hybrid", seed=2, **kw)
    assert not a.latencies["changed_at"].equals(c.latencies["changed_at"])
    assert a.summary != c.summary


def _cli(capsys, *argv) -> str:
    assert cli.main(["simulate", *argv]) == 0
    return capsys.readouterr().out


def test_cli_simulate_is_byte_identical_and_seeded(capsys):
    args = ["--mode", "poll", "--interval", "5", "--records", "20", "--rate", "0.02", "--duration", "1800"]
    one = _cli(capsys, *args, "--seed", "3", "--json")
    two = _cli(capsys, *args, "--seed", "3", "--json")
    other = _cli(capsys, *args, "--seed", "4", "--json")
    assert one == two and one != other
    summary = json.loads(one)
    assert set(SUMMARY_KEYS) | {"empty_fraction", "provider_rps"} <= set(summary)
    assert summary["provider_rps"] == 4.0
    table = _cli(capsys, *args, "--seed", "3")
    assert table == _cli(capsys, *args, "--seed", "3")
    assert "empty_fraction" in table and "provider_rps" in table
    hook = json.loads(_cli(capsys, "--mode", "webhook", "--records", "20", "--duration", "600", "--json"))
    assert hook["requests"] == hook["changes"]


def test_cli_simulate_rejects_bad_arguments(capsys):
    for bad in (
        ["--interval", "0"],
        ["--records", "0"],
        ["--mode", "carrier-pigeon"],
        ["--failure-prob", "2"],
    ):
        with pytest.raises(SystemExit):
            cli.main(["simulate", *bad])
        assert "error" in capsys.readouterr().err


# --- sweep -------------------------------------------------------------------------------------
def test_sweep_rows_follow_theory():
    frame = sweep([5, 20, 80], records=50, rate_per_s=1 / 60, duration_s=3600, seed=0, workers=1)
    assert list(frame["interval_s"]) == [5, 20, 80]
    assert frame["requests"].is_monotonic_decreasing
    assert frame["latency_mean_s"].is_monotonic_increasing
    assert np.allclose(frame["empty_fraction"], frame["theory_empty_fraction"], atol=0.03)
    assert np.allclose(frame["provider_rps"], frame["theory_provider_rps"], rtol=0.01)
    again = sweep([5, 20, 80], records=50, rate_per_s=1 / 60, duration_s=3600, seed=0, workers=2)
    pd.testing.assert_frame_equal(frame, again)


# --- live versus simulated ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.slow
def test_live_and_simulated_agree():
    """What does not depend on how busy the machine is agrees exactly: the same payments settling the
    same way, one webhook per change; live polling has the property the simulation assumes (each
    change learned by a poll that carried it). How close the counts and latencies come, which does
    depend on the load, is printed by benchmarks/bench_latency.py."""
    from hooklab.live.runs import run_live

    settlement = SettlementModel(mean_s=1.0)
    for mode in ("poll", "webhook"):
        live = run_live(mode, payments=20, interval_s=0.5, seed=3, settlement=settlement)
        sim = simulate(mode, interval_s=0.5, records=20, seed=3, workload="settlement", settlement=settlement)
        assert sim.consistent and live.consistent
        ls, ss = live.summary, sim.summary
        assert ss["changes"] == ls["changes"] == ss["detected"] == ls["detected"] == 20
        if mode == "webhook":
            assert ss["requests"] == ls["requests"] == 20
        else:  # every change was news to exactly one poll, live as in the simulation
            polls = live.requests.query("observer == 'A' and kind == 'poll' and direction == 'out'")
            assert polls["news"].sum() == 20 == sim.requests.query("kind == 'poll'")["news"].sum()
        # same seed: the same payments, settling the same way at the same moments
        key = ["payment_id", "version"]
        lc, sc = live.latencies.sort_values(key), sim.latencies.sort_values(key)
        assert list(lc["payment_id"]) == list(sc["payment_id"]) and list(lc["status"]) == list(sc["status"])


def test_a_change_superseded_before_a_looked_is_detected_but_not_seen_as_it_was():
    from hooklab.core.provider import Change
    from hooklab.core.shop import Observation

    changes = [Change("p", 2, "processing", 1.0, "e1"), Change("p", 3, "pending", 2.0, "e2"),
               Change("p", 4, "processing", 5.0, "e3")]  # fmt: skip
    observations = [
        Observation("p", 3, "pending", 3.0, "poll"),
        Observation("p", 4, "processing", 6.0, "poll"),
    ]
    frame = change_latencies(changes, observations)
    assert frame["detected"].tolist() == [True, True, True]
    assert frame["superseded"].tolist() == [True, False, False]  # version 2 was never seen as it was
    assert frame["learned_at"].tolist() == [3.0, 3.0, 6.0]
