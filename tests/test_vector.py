"""The arithmetic engine (hooklab.sim.vector) gives what the event engine gives: the same frames,
row for row and bit for bit, and the same summaries, over a grid of modes, intervals, workloads,
network models and seeds; and it steps aside where it does not apply."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from hooklab.sim import ConstantDelay, LogNormalDelay, Network, simulate
from hooklab.sim.network import ExponentialDelay, draw_stream
from hooklab.sim.workloads import Bursts


def assert_same(**kwargs) -> str:
    events = simulate(engine="events", **kwargs)
    auto = simulate(engine="auto", **kwargs)
    assert events.engine == "events"
    pd.testing.assert_frame_equal(events.requests, auto.requests, check_exact=True)
    pd.testing.assert_frame_equal(events.latencies, auto.latencies, check_exact=True)
    assert events.summary == auto.summary
    assert events.params == auto.params
    return auto.engine


GRID = list(
    itertools.product(("poll", "webhook", "hybrid"), (1.0, 7.5, 60.0), (1, 2), ("poisson", "bursts", "daily"))
)


@pytest.mark.parametrize(("mode", "interval_s", "seed", "workload"), GRID)
def test_vector_equals_events(mode, interval_s, seed, workload):
    # reconcile_s is hybrid's poll interval (with webhooks it would mean reading GET /events)
    extra = {"reconcile_s": 3 * interval_s} if mode == "hybrid" else {}
    engine = assert_same(mode=mode, interval_s=interval_s, records=13, rate_per_s=1 / 30, duration_s=1200,
                         seed=seed, workload=workload, **extra)  # fmt: skip
    assert engine == "vector"


@pytest.mark.parametrize(
    "delay", [ConstantDelay(0.01), ExponentialDelay(0.05, 0.001), LogNormalDelay(0.02, 0.8)], ids=repr
)
@pytest.mark.parametrize("mode", ["poll", "webhook", "hybrid"])
def test_vector_equals_events_under_other_networks(mode, delay):
    # changes every 5 s per record against polls every 5 s: many changes superseded, out-of-order
    # webhook arrivals where the delays are long
    engine = assert_same(mode=mode, interval_s=5, records=20, rate_per_s=1 / 5, duration_s=600, seed=3,
                         network=Network(delay=delay))  # fmt: skip
    assert engine == "vector"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mode="poll", records=1, rate_per_s=0, duration_s=600),  # nothing ever changes
        dict(mode="webhook", records=1, rate_per_s=0, duration_s=600),
        dict(mode="poll", interval_s=2, records=200, rate_per_s=1 / 60, duration_s=3600),  # 360,000 polls
        dict(mode="hybrid", reconcile_s=60, records=300, rate_per_s=1 / 60, duration_s=3600),
        dict(mode="poll", interval_s=3600, records=50, rate_per_s=1 / 600, duration_s=7200, seed=9),
        dict(mode="webhook", records=30, duration_s=900, workload=Bursts(every_s=120, share=0.5)),
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_vector_equals_events_at_the_edges(kwargs):
    assert assert_same(**kwargs) == "vector"


def test_a_network_slower_than_the_interval_falls_back_to_the_events():
    # a 23 s tail on a 5 s interval: some answers come after the next poll was due
    slow = dict(mode="poll", interval_s=5, records=20, rate_per_s=1 / 5, duration_s=600, seed=3,
                network=Network(delay=LogNormalDelay(0.2, 1.0)))  # fmt: skip
    assert assert_same(**slow) == "events"
    with pytest.raises(ValueError, match="next poll was due"):
        simulate(engine="vector", **slow)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        (dict(mode="feed"), "mode 'feed'"),
        (dict(mode="webhook", failure_prob=0.1), "lost deliveries"),
        (dict(mode="poll", workload="settlement", records=5), "Settlement workload"),
    ],
)
def test_where_the_vector_engine_does_not_apply(kwargs, why):
    assert simulate(duration_s=300, **kwargs).engine == "events"
    with pytest.raises(ValueError, match=why):
        simulate(duration_s=300, engine="vector", **kwargs)


def test_vector_runs_keep_no_cores_and_say_so():
    run = simulate("poll", records=5, duration_s=300)
    assert run.engine == "vector" and run.sim is None
    with pytest.raises(ValueError, match="engine='events'"):
        _ = run.consistent
    with pytest.raises(ValueError, match="engine must be one of"):
        simulate("poll", engine="fast")


def test_a_delay_stream_is_the_same_in_any_chunk_size():
    # the event engine draws delays in chunks; the vector engine draws them all at once
    draw = LogNormalDelay().draw
    at_once = draw(np.random.default_rng(7), 300)
    for chunk in (1, 64, 4096):
        next_delay = draw_stream(draw, np.random.default_rng(7), chunk)
        assert [next_delay() for _ in range(300)] == at_once.tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(interval_s=60, records=50, rate_per_s=1 / 600, duration_s=3600),
        dict(interval_s=5, records=20, rate_per_s=1 / 5, duration_s=600, seed=3),  # changes between polls
        dict(interval_s=10, records=30, duration_s=1800, workload="bursts"),
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_conditional_polling_is_plain_pollings_polls_with_304s_and_the_engines_agree(kwargs):
    assert assert_same(mode="conditional", **kwargs) == "vector"
    plain, cond = simulate("poll", **kwargs), simulate("conditional", **kwargs)
    assert (cond.requests["status"] == 304).sum() == plain.summary["empty_responses"]
