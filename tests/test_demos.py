"""Tests for hooklab.lab.demos (the live webhook demos of notebooks/02-webhooks.ipynb)."""

from __future__ import annotations

import httpx
import pytest

from hooklab.core.provider import DEFAULT_RETRY_SCHEDULE, PaymentProvider
from hooklab.lab import demos


def test_registering_an_endpoint_does_not_change_the_workload():
    """Same seed, same settlement times, with or without a webhook endpoint (fair pull vs push)."""

    def settle_times(register: bool) -> list[float]:
        b = PaymentProvider(seed=5)
        if register:
            b.register_endpoint("http://127.0.0.1:9/webhooks/payments")
        for _ in range(5):
            b.create_payment(100, "eur", 0.0)
        b.settle_due(1000.0)
        return [c.changed_at for c in b.changes]

    assert settle_times(False) == settle_times(True)


def test_attempt_times_and_first_attempt_after():
    assert demos.attempt_times((0.5, 1.0, 2.0)) == [0.0, 0.5, 1.5, 3.5]
    assert demos.first_attempt_after(0) == 1
    assert (
        demos.first_attempt_after(10, DEFAULT_RETRY_SCHEDULE) == 6
    )  # attempts at 0, .5, 1.5, 3.5, 7.5, 15.5
    assert demos.first_attempt_after(16, DEFAULT_RETRY_SCHEDULE) is None  # B gave up


@pytest.mark.slow
def test_webhook_pair_survives_a_down_and_redelivers_as_duplicate():
    # The third attempt must find A back. It was due 0.2 s after the second failure, and A's restart
    # (new ShopService, SQLite, uvicorn) measured 0.03-0.16 s on a loaded 2-core machine, plus the
    # 10 ms polls that notice the failure: a race lost about 1 run in 4. A 1 s wait there is 6x
    # the slowest restart, and the assertions below still check every wait against the schedule.
    with demos.webhook_pair(seed=3, retry_schedule=(0.1, 1.0, 0.4)) as pair:
        with pair.a_down():
            payment = pair.pay_at_b()
            demos.wait_until(lambda: pair.failed_attempts() >= 2, what="two failed attempts")
        pair.wait_until_synced()
        assert (
            pair.shop.snapshot()[payment["id"]]["status"] == pair.provider.core.payments[payment["id"]].status
        )
        again = pair.redeliver()
        unsigned = httpx.post(pair.webhook_url, json={"id": "evt_x"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert unsigned.status_code == 400 and unsigned.json()["error"]["reason"] == "missing_header"
    attempts = demos.delivery_attempts(pair)
    assert attempts["answer"].tolist() == ["no answer", "no answer", "200", "200"]
    waited, planned = attempts["waited_s"].iloc[1:3], attempts["planned_wait_s"].iloc[1:3]
    assert ((waited - planned) >= 0).all() and ((waited - planned) < 0.5).all()


def test_checkout_waits_until_a_knows():
    with demos.webhook_pair(seed=4) as pair:
        payments = pair.checkout(2)
        known = pair.shop.snapshot()
    assert sorted(known) == sorted(p["id"] for p in payments)
    assert all(p["status"] in ("succeeded", "failed") for p in known.values())


def test_redeliver_needs_a_delivery_first():
    with demos.webhook_pair(seed=5) as pair, pytest.raises(RuntimeError, match="nothing was delivered"):
        pair.redeliver()


@pytest.mark.slow
def test_a_down_is_a_real_crash_that_sqlite_survives():
    """After a_down A is a new process: empty memory, same SQLite file, so it still knows everything."""
    with demos.webhook_pair(seed=6) as pair:
        (first,) = pair.checkout(1)
        before = pair.shop
        with pair.a_down():
            pass
        assert pair.shop is not before and pair.shop.core.observations == []  # memory is gone...
        assert first["id"] in pair.shop.snapshot()  # ...what A committed is not
        again = pair.redeliver()
        assert again.status_code == 200 and again.json()["duplicate"] is True
