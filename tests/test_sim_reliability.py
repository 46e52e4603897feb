"""The simulation's reliability: policies, outages, lost replies, inbox memory, reconciliation."""

from __future__ import annotations

import json

import pytest

from hooklab.cli import main
from hooklab.sim import simulate

# a day of 50 payments-like records changing once an hour: few enough to be quick, enough to count
BASE = dict(records=50, rate_per_s=1 / 3600, duration_s=6 * 3600, seed=2)


def test_an_outage_longer_than_svix_schedule_loses_changes_and_reconciliation_recovers_them():
    # svix gives up 27.6 h after the first attempt: A down from 1 h for 40 h (beyond the last change
    # plus the schedule) never learns what changed after it went down, not even a later version
    down = [(3600.0, 40 * 3600.0)]
    lost = simulate("webhook", retry_schedule="svix", outages=down, **BASE).summary
    assert lost["lost"] > 0.7 * lost["changes"]
    for mode, extra in (("webhook", {"reconcile_s": 600.0}), ("hybrid", {"reconcile_s": 3600.0})):
        cured = simulate(mode, retry_schedule="svix", outages=down, **BASE, **extra)
        assert cured.summary["lost"] == 0, mode
        assert cured.engine == "events"


def test_an_outage_within_the_schedule_loses_nothing_and_retries_say_how_long_it_took():
    run = simulate("webhook", retry_schedule="svix", outages=[(3600.0, 3 * 3600.0)], **BASE)
    s = run.summary
    assert s["lost"] == 0 and s["retries"] > 0
    # a change made as A went down waits for the first retry after A is back: 5 h after the
    # 2 h one (svix: 5 s, 5 min, 30 min, 2 h, 5 h): at most 2.6 h + 5 h
    assert 3 * 3600 < s["latency_max_s"] <= (5 * 60 + 30 * 60 + 5 + 2 * 3600 + 5 * 3600) + 60


def test_github_never_retries_so_failed_deliveries_are_lost_until_reconciled():
    failing = dict(BASE, records=200, rate_per_s=1 / 600)
    run = simulate("webhook", retry_schedule="github", failure_prob=0.2, **failing)
    assert run.summary["retries"] == 0 and run.summary["lost"] > 0
    assert (
        simulate("webhook", retry_schedule="github", failure_prob=0.2, reconcile_s=300, **failing).summary[
            "lost"
        ]
        == 0
    )


def test_a_short_inbox_memory_applies_a_genuine_retry_twice():
    lossy = dict(retry_schedule="fast", reply_loss_prob=0.2, records=50, rate_per_s=1 / 60, duration_s=1800)
    assert simulate("webhook", retention_s=0.2, **lossy).summary["applied_twice"] > 0  # retries come 0.5 s on
    assert simulate("webhook", **lossy).summary["applied_twice"] == 0  # the default keeps ids 7 days


def test_a_fast_endpoint_down_longer_than_its_disable_rule_is_disabled():
    run = simulate("webhook", retry_schedule="fast", outages=[(60.0, 120.0)], records=20, rate_per_s=1 / 30,
                   duration_s=600, engine="events")  # fmt: skip
    (endpoint,) = run.sim.provider.endpoints.values()
    assert not endpoint.enabled and "policy fast" in endpoint.disabled_reason
    assert run.summary["lost"] > 0  # everything after the outage: until A recovers the endpoint


def test_the_vector_engine_steps_aside_for_outages():
    with pytest.raises(ValueError, match="outages"):
        simulate("webhook", outages=[(10.0, 10.0)], records=5, duration_s=60, engine="vector")


def test_the_cli_takes_policies_and_outages_and_reports_lost_and_applied_twice(capsys):
    code = main(["simulate", "--mode", "webhook", "--retries", "svix", "--outage", "3600:144000",
                 "--records", "20", "--rate", "1/3600", "--duration", "21600", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["lost"] > 0 and out["applied_twice"] == 0
    main(["simulate", "--mode", "webhook", "--retries", "svix", "--outage", "3600:144000", "--reconcile", "600",
          "--records", "20", "--rate", "1/3600", "--duration", "21600", "--json"])  # fmt: skip
    assert json.loads(capsys.readouterr().out)["lost"] == 0
    with pytest.raises(SystemExit):
        main(["simulate", "--outage", "10-20"])
    assert "START:DURATION" in capsys.readouterr().err


def test_jitter_moves_retries_reproducibly():
    kw = dict(failure_prob=0.3, records=20, duration_s=600)
    plain, jittered = simulate("webhook", **kw), simulate("webhook", jitter=0.5, **kw)
    assert plain.summary["retries"] == jittered.summary["retries"]  # the same failures...
    assert plain.summary["latency_mean_s"] != jittered.summary["latency_mean_s"]  # ...retried at other times
    assert simulate("webhook", jitter=0.5, **kw).summary == jittered.summary  # seeded
