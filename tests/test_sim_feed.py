"""The changes-feed strategy (``simulate("feed")``): one ``GET /events`` for all records every T.

Checked like polling in test_sim.py: against theory (T/2, exp(-N·λ·T), 1/T), against B's event
log (every page request is a tick or follows a full page), and against itself (seeds).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from hooklab import cli
from hooklab.core.provider import SettlementModel
from hooklab.sim import MODES, ConstantDelay, Feed, Network, simulate
from hooklab.sim.world import json_size


def _after_positions(run) -> tuple[pd.DataFrame, list[int]]:
    """Every feed request of the whole run in order, and the position in B's event log of the
    event each one asked to read after (-1: from the start)."""
    frame, _ = run.sim.request_frame()
    feed = frame[frame["kind"] == "feed"].reset_index(drop=True)
    index = {e["id"]: k for k, e in enumerate(run.sim.provider.events)}
    after = [-1 if p == "/events" else index[p.split("after=", 1)[1]] for p in feed["path"]]
    return feed, after


def _window_start(run, interval_s: float) -> float:
    """Where the measured window starts after the feed's first tick: one interval of warm-up, then
    creates done."""
    return interval_s + 2 * run.sim.network.delay.high_s


def _first_tick(run, interval_s: float) -> float:
    """The sim time of the feed's first tick (its grid starts there)."""
    return run.window[0] - _window_start(run, interval_s)


def _on_grid(times: np.ndarray, interval_s: float) -> np.ndarray:
    k = np.round(times / interval_s)
    return np.abs(times - k * interval_s) < 1e-9


# --- requests: one per interval, whatever the number of records --------------------------------
@pytest.mark.parametrize("records", [1, 10, 100, 1000])
def test_one_request_per_interval_whatever_the_records(records):
    run = simulate("feed", interval_s=10, records=records, rate_per_s=1 / 600, duration_s=3600, seed=3)
    s = run.summary
    assert s["requests"] == 3600 / 10  # exactly duration / T: no page was full at these rates
    assert s["provider_rps"] == pytest.approx(1 / 10)
    assert _on_grid(run.requests["time"].to_numpy() + _window_start(run, 10), 10).all()
    assert set(run.requests["kind"]) == {"feed"} and set(run.requests["method"]) == {"GET"}
    assert s["detected"] == s["changes"]
    assert run.consistent  # A's view of every payment equals B's


def test_paging_adds_exactly_one_request_per_full_page():
    limit, interval = 5, 10.0
    run = simulate(Feed(interval, limit=limit), records=200, rate_per_s=1 / 60, duration_s=3600, seed=2)
    feed, after = _after_positions(run)
    returned = np.diff(after)  # events each request read (all but the last request)
    assert returned.max() == limit and (returned >= 0).all()
    grid = _on_grid(feed["time"].to_numpy() - _first_tick(run, interval), interval)
    # a request is off the grid exactly when the one before it came back full
    assert (~grid[1:] == (returned == limit)).all()
    # in the window: duration / T ticks plus the follow-up pages
    s = run.summary
    in_window = _on_grid(run.requests["time"].to_numpy() + _window_start(run, interval), interval)
    assert in_window.sum() == 3600 / interval
    assert s["requests"] == 3600 / interval + (~in_window).sum()
    assert s["requests"] > 2 * 3600 / interval  # ~33 events per tick in pages of 5
    assert s["detected"] == s["changes"] and run.consistent


def test_pages_slower_than_the_interval_skip_ticks_and_still_catch_up():
    strategy = Feed(1.0, limit=1)
    run = simulate(strategy, records=50, rate_per_s=1 / 20, duration_s=600, seed=1,
                   network=Network(delay=ConstantDelay(0.05)))  # fmt: skip
    assert strategy.skipped > 0  # 2.5 events per second, one page (0.1 s) each: chains overrun ticks
    feed, _ = _after_positions(run)
    assert (np.diff(feed["time"].to_numpy()) >= 0.1 - 1e-9).all()  # one request in flight at a time
    assert run.summary["detected"] == run.summary["changes"] and run.consistent


def test_page_bytes_are_the_json_body():
    run = simulate("feed", interval_s=60, records=30, rate_per_s=1 / 30, duration_s=600, seed=0)
    strategy = Feed(60, limit=7)
    strategy.sim = run.sim
    for after in (None, run.sim.provider.events[3]["id"], run.sim.provider.events[-1]["id"]):
        status, page, nbytes = strategy._serve(after)
        assert status == 200 and nbytes == json_size({"data": page})


# --- theory: Poisson changes ----------------------------------------------------------------
# (T, N·λ·T): the share of empty feed reads from 0.90 down to 0.14. Durations give >= 8000
# changes and >= 10000 reads, so the tolerances are 4 or more standard errors wide (seeded runs).
GRID = [(t, nlt) for t in (1.0, 10.0, 100.0) for nlt in (0.1, 0.5, 2.0)]


@pytest.mark.parametrize(("interval_s", "nlt"), GRID)
def test_feed_matches_theory(interval_s, nlt):
    records = 100
    rate = nlt / (records * interval_s)
    duration = max(8000 / (records * rate), 10_000 * interval_s)
    run = simulate(
        "feed", interval_s=interval_s, records=records, rate_per_s=rate, duration_s=duration, seed=11
    )
    s = run.summary
    assert s["changes"] >= 8000 and s["requests"] == round(duration / interval_s)
    assert s["detected"] == s["changes"]
    # mean detection latency within 3% of T/2
    assert abs(s["latency_mean_s"] - interval_s / 2) <= 0.03 * interval_s / 2
    assert s["latency_max_s"] <= interval_s + run.requests["duration_s"].max()
    # a read finds nothing new when no record changed in the last T: exp(-N·λ·T)
    assert abs(s["empty_fraction"] - math.exp(-nlt)) <= 0.02


def test_feed_and_polling_see_the_same_changes_and_wait_alike():
    kw = dict(interval_s=30, records=40, rate_per_s=1 / 120, duration_s=7200, seed=9)
    feed, poll = simulate("feed", **kw), simulate("poll", **kw)
    pd.testing.assert_series_equal(feed.latencies["changed_at"], poll.latencies["changed_at"])
    assert feed.summary["requests"] * 40 == poll.summary["requests"]  # one read vs one per record
    assert feed.summary["latency_mean_s"] == pytest.approx(poll.summary["latency_mean_s"], rel=0.1)


def test_settlement_workload_ends_consistent():
    run = simulate("feed", interval_s=0.5, records=30, seed=2, workload="settlement",
                   settlement=SettlementModel(mean_s=1.0))  # fmt: skip
    assert run.consistent and run.sim.provider.all_settled()
    assert run.summary["changes"] == run.summary["detected"] == 30
    assert not run.sim.env.pending()  # the feed stopped once every payment was final: the run ended by itself


# --- determinism and the CLI ------------------------------------------------------------------
def test_same_seed_same_run_different_seeds_differ():
    kw = dict(interval_s=20, records=30, rate_per_s=1 / 60, duration_s=1800)
    a, b, c = simulate("feed", seed=1, **kw), simulate("feed", seed=1, **kw), simulate("feed", seed=2, **kw)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.latencies, b.latencies)
    assert a.summary == b.summary and a.summary != c.summary


def test_cli_simulate_feed(capsys):
    assert "feed" in MODES
    args = ["simulate", "--mode", "feed", "--interval", "30", "--records", "500", "--rate", "0.001",
            "--duration", "1800"]  # fmt: skip
    outputs = []
    for _ in range(2):
        assert cli.main([*args, "--json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    summary = json.loads(outputs[0])
    assert summary["requests"] == 60 and summary["provider_rps"] == pytest.approx(1 / 30, rel=1e-4)
    assert cli.main(args) == 0
    assert "changes feed" in capsys.readouterr().out
