"""The simulation's model of A's capacity (the stability issue): a queue of workers, checked against
queueing theory, and the retry storm it makes when B stops waiting."""

from __future__ import annotations

import statistics

import pytest

from hooklab.sim import simulate
from hooklab.sim.capacity import Capacity

#: 100 records, each changing every 10 s on average: Poisson arrivals at A, 10 a second (a Poisson
#: process delayed by independent network delays is still Poisson)
RECORDS, RATE_PER_S = 100, 1 / 10
LAMBDA = RECORDS * RATE_PER_S


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.5, 0.8])
@pytest.mark.parametrize("exponential", [True, False], ids=["M/M/1", "M/D/1"])
def test_the_mean_wait_for_a_worker_matches_queueing_theory_within_10_percent(rho, exponential):
    mu = LAMBDA / rho  # the service rate that gives utilisation rho
    run = simulate("webhook", records=RECORDS, rate_per_s=RATE_PER_S, duration_s=3600, seed=1,
                   capacity=Capacity(workers=1, service_s=1 / mu, exponential=exponential))  # fmt: skip
    waits = run.sim.workers.waits
    # Pollaczek-Khinchine: Wq = rho / (mu - lambda) for exponential service, half that for fixed
    theory = rho / (mu - LAMBDA) if exponential else rho / (2 * mu * (1 - rho))
    assert len(waits) > 30_000 and run.engine == "events"
    assert statistics.mean(waits) == pytest.approx(theory, rel=0.10)


def test_an_overloaded_a_that_answers_late_makes_b_retry_and_a_faster_one_does_not():
    common = dict(records=RECORDS, rate_per_s=RATE_PER_S, duration_s=120, seed=2, retry_schedule="fast")
    # 10 events a second against 8 a second of capacity: the queue grows, answers come later and later
    storm = simulate(
        "webhook", capacity=Capacity(workers=1, service_s=1 / 8, timeout_s=1.0), **common
    ).summary
    calm = simulate("webhook", capacity=Capacity(workers=2, service_s=1 / 8, timeout_s=1.0), **common).summary
    assert storm["retries"] > storm["changes"]  # attempts per event climb: a retry storm ...
    assert storm["lost"] > 0  # ... until B's schedule runs out for many of them
    assert calm["retries"] < calm["changes"] / 100 and calm["lost"] == 0  # two workers keep up
    assert storm["applied_twice"] == 0  # the inbox still applies each event once
