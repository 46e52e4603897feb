"""Fault injection over real processes and real SQLite: B and A as ``hooklab`` processes, a fault
proxy between them, A killed with SIGKILL (once for longer than B's retry schedule)."""

from __future__ import annotations

import pytest

from hooklab.lab.chaos import chaos_run
from hooklab.live.faultproxy import Faults

pytestmark = pytest.mark.slow


def test_without_reconciliation_the_long_outage_loses_payments():
    # no proxy faults: the loss is the long kill's alone (B gives up while A is dead)
    result = chaos_run(payments=16, kills=1, reconcile_s=None, faults=Faults(0, 0, 0, 0, 0), timeout_s=6)
    assert result.lost > 0 and not result.a_equals_b
    assert result.unfulfilled > 0  # succeeded payments A never shipped


def test_chaos_ends_with_nothing_lost_nothing_fulfilled_twice_and_a_equal_to_b():
    result = chaos_run(payments=30, kills=3, seed=1)
    print(result.table().T.to_string(header=False))
    assert result.longest_down_s > result.schedule_s  # one outage B could not retry across
    assert result.faults["dropped"] > 0 and result.faults["duplicated"] > 0 and result.faults["delayed"] > 0
    assert result.duplicates_received > 0  # A saw duplicates and answered them without acting twice
    assert result.lost == 0 and result.fulfilled_twice == 0 and result.unfulfilled == 0
    assert result.a_equals_b


def test_a_durable_b_killed_with_sigkill_keeps_everything_and_delivers_what_was_pending(tmp_path):
    import httpx

    from hooklab.live.processes import free_port, start
    from hooklab.live.runs import wait_until

    port, log = free_port(), tmp_path / "b.log"
    args = ["provider", "--db", str(tmp_path / "b.db"), "--settle-mean", "0.2", "--retries", "svix"]
    b = start(args, port, log)
    hole = free_port()  # nothing listens: every delivery fails and waits for svix's next retry (5 s)
    try:
        endpoint = httpx.post(b.url + "/webhook-endpoints", json={"url": f"http://127.0.0.1:{hole}/x"}).json()
        ids = [
            httpx.post(b.url + "/payments", json={"amount": 100, "currency": "eur"}).json()["id"]
            for _ in range(5)
        ]
        # every payment settled, each event's delivery planned
        wait_until(lambda: len(httpx.get(b.url + "/events?limit=100").json()["data"]) == 5, 15, "5 events")
        before = httpx.get(b.url + "/events?limit=100").json()["data"]
        b.kill()
        b = start(args, port, log)
        after = httpx.get(b.url + "/events?limit=100").json()
        assert [e["id"] for e in after["data"]] == [e["id"] for e in before] and after["has_more"] is False
        assert [p["id"] for p in (httpx.get(f"{b.url}/payments/{pid}").json() for pid in ids)] == ids
        (listed,) = httpx.get(b.url + "/webhook-endpoints").json()["data"]
        assert listed["id"] == endpoint["id"]
        deliveries = httpx.get(f"{b.url}/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
        assert {d["event_id"] for d in deliveries} == {e["id"] for e in before}
        assert all(
            d["state"] == "pending" and d["next_attempt_at"] for d in deliveries
        )  # still to be retried
    finally:
        b.kill()
