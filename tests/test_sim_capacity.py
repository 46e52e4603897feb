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


def test_an_inbox_answers_at_once_so_a_burst_costs_no_retries_and_back_pressure_loses_nothing():
    from hooklab.lab import stability

    table = stability.burst_table()
    inline, inbox, refusing, throttled = (table.loc[name] for name in stability.RECEIVERS)
    assert inline.attempts_per_event > 3 and inline.timed_out > 1000  # the storm
    assert inline.A_busy_s > 4 * inbox.A_busy_s  # A worked on copies B had stopped waiting for
    assert inbox.attempts == inbox.events and inbox.timed_out == 0  # the inbox absorbs it ...
    assert inbox.max_s == pytest.approx(inline.max_s, abs=1)  # ... while the work takes as long
    assert refusing.refused_503 > 0 and refusing.lost == 0  # back-pressure: B slowed, nothing lost
    assert refusing.max_s > 5 * inbox.max_s  # ... at the price of the sender's retry schedule
    assert throttled.attempts == throttled.events and throttled.timed_out == 0
    assert (table.lost == 0).all() and (table.applied_twice == 0).all()


def test_a_sender_limited_to_n_a_second_never_sends_more_than_the_bucket_allows():
    from hooklab.lab import stability

    arrivals = stability.burst_arrivals(bin_s=1.0, until_s=120)
    assert arrivals["inline: work, then 200"].max() > 50  # the burst as it happened: ~100 a second
    assert arrivals["inline, B sends at most 10/s"].max() <= 20  # a bucket of 10, then 10 a second


def test_pushed_and_pulled_model_the_same_worker_and_match_the_simulation():
    from hooklab.lab import stability

    changes = stability.burst_change_times()
    assert len(changes) == stability.RECORDS and changes[-1] < stability.BURST_S
    push = stability.pushed(changes)
    sim_inbox = stability.burst_table().loc["inbox: store, 200, work later"]
    assert statistics.median(push["latencies"]) == pytest.approx(sim_inbox.p50_s, abs=0.1)
    pull = stability.pulled(changes, 5.0)
    assert pull["most_waiting_at_A"] == 100 and pull["requests"] < 20  # A never holds more than a page
    assert pull["latencies"].min() >= stability.WORK_S * 0.999  # every event waits at least its work


def test_retries_after_an_outage_come_back_together_unless_jittered():
    from hooklab.lab import stability

    herd = stability.herd_table(("svix",))
    published, jittered, limited = (herd.loc[("svix", s)] for s in stability.HERD_SENDERS)
    assert published.busiest_second > 5 * stability.CAPACITY_PER_S  # the herd
    assert jittered.busiest_second < published.busiest_second / 5
    assert limited.busiest_second <= 2 * 20  # a bucket of 20, then 20 a second
    assert (herd.lost == 0).all()


def test_one_burst_changes_the_share_of_records_within_its_window():
    from hooklab.sim.workloads import OneBurst

    with pytest.raises(ValueError):
        OneBurst(length_s=0)
    run = simulate("webhook", workload=OneBurst(at_s=10, length_s=5, share=0.5), records=200,
                   duration_s=60, seed=4, engine="events")  # fmt: skip
    times = sorted(c.changed_at for c in run.sim.provider.changes)
    assert 80 <= len(times) <= 120 and times[-1] - times[0] < 5


def test_capacity_refuses_back_pressure_without_an_inbox():
    with pytest.raises(ValueError, match="max_backlog"):
        Capacity(ack="inline", max_backlog=10)
    with pytest.raises(ValueError):
        Capacity(ack="sometimes")
