"""System B's sans-I/O core: time passed in as ``now`` (read off a manual clock), no sockets."""

from __future__ import annotations

import json

import pytest

from hooklab.core.clock import ManualClock
from hooklab.core.contract import SIGNATURE_HEADER, check_webhook_url
from hooklab.core.delivery import IllegalTransition
from hooklab.core.errors import ApiError
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.signing import verify_stripe


def make(seed=1, **kw):
    clock = ManualClock(1_000_000.0)
    return clock, PaymentProvider(seed=seed, **kw)


def test_payment_starts_pending_and_settles_once_with_an_event():
    clock, b = make()
    p = b.create_payment(1999, "eur", clock.now())
    assert p["status"] == "pending" and p["version"] == 1 and p["created_at"] == clock.now()
    assert b.settle_due(clock.now()) == []  # nothing is due yet
    due = b.next_wakeup()
    assert due > clock.now()
    clock.set(due)
    (event,) = b.settle_due(clock.now())
    assert event["id"].startswith("evt_")
    assert event["type"] in ("payment.succeeded", "payment.failed")
    after = b.get_payment(p["id"])
    assert after["version"] == 2 and after["updated_at"] == due
    assert event["data"]["object"] == after
    assert b.changes[-1].changed_at == due and b.changes[-1].version == 2
    clock.advance(3600)
    assert b.settle_due(clock.now()) == []  # final statuses never change again
    assert b.all_settled()


def test_seed_fixes_ids_and_settlement_times():
    def run(seed):
        clock, b = make(seed, seeded_ids=True)
        ids = [b.create_payment(100, "eur", clock.now())["id"] for _ in range(5)]
        clock.advance(1000)
        b.settle_due(clock.now())
        return ids, [(c.payment_id, c.status, c.changed_at) for c in b.changes]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_failure_share_is_respected_roughly():
    clock, b = make(settlement=SettlementModel(mean_s=1, min_s=0, failure_share=0.25))
    for _ in range(2000):
        b.create_payment(100, "eur", clock.now())
    clock.advance(10_000)
    b.settle_due(clock.now())
    failed = sum(c.status == "failed" for c in b.changes) / len(b.changes)
    assert 0.22 < failed < 0.28


def test_settlement_delay_has_the_configured_mean_and_floor():
    clock, b = make(settlement=SettlementModel(mean_s=2.0, min_s=0.5, failure_share=0))
    created = clock.now()
    for _ in range(4000):
        b.create_payment(100, "eur", clock.now())
    clock.advance(10_000)
    b.settle_due(clock.now())
    delays = [c.changed_at - created for c in b.changes]
    assert min(delays) >= 0.5
    assert abs(sum(delays) / len(delays) - 2.0) < 0.08


def test_deliveries_are_signed_retried_and_given_up():
    clock, b = make(retry_schedule=(1.0, 2.0))
    endpoint = b.register_endpoint("http://127.0.0.1:9/hook")
    p = b.create_payment(500, "usd", clock.now(), settle=False)
    event = b.update_status(p["id"], "succeeded", clock.now())
    (d,) = b.deliveries_due(clock.now())
    url, headers, body = d.request(clock.now())
    assert url == endpoint["url"] and json.loads(body) == event
    assert verify_stripe(body, headers[SIGNATURE_HEADER], endpoint["secret"], now=clock.now()) == int(
        clock.now()
    )
    b.delivery_finished(d, 500, clock.now())  # fails: retry 1 s later
    assert b.deliveries_due(clock.now()) == [] and b.next_wakeup() == clock.now() + 1.0
    clock.advance(1.0)
    (d,) = b.deliveries_due(clock.now())
    b.delivery_finished(d, None, clock.now())  # no answer at all: retry 2 s later
    clock.advance(2.0)
    (d,) = b.deliveries_due(clock.now())
    b.delivery_finished(d, 503, clock.now())  # out of retries
    assert d.state == "failed" and d.attempt == 3 and b.next_wakeup() is None


def one_delivery_in_flight():
    """A provider with one endpoint, one change, and its delivery taken (in flight)."""
    clock, b = make()
    b.register_endpoint("http://127.0.0.1:9/hook")
    b.update_status(b.create_payment(500, "usd", clock.now())["id"], "failed", clock.now())
    (d,) = b.deliveries_due(clock.now())
    return clock, b, d


def test_a_2xx_delivers():
    clock, b, d = one_delivery_in_flight()
    b.delivery_finished(d, 204, clock.now())
    assert d.state == "delivered" and d.delivered_at == clock.now()


def test_events_feed_pages_after_an_id():
    clock, b = make()
    ids = [b.create_payment(100, "eur", clock.now())["id"] for _ in range(3)]
    events = [b.update_status(pid, "succeeded", clock.now()) for pid in ids]
    assert b.list_events() == events
    assert b.list_events(after=events[0]["id"]) == events[1:]
    with pytest.raises(ApiError) as err:
        b.list_events(after="evt_nope")
    assert err.value.status == 404


def test_unknown_payment_is_a_404_that_says_what_to_do():
    _, b = make()
    with pytest.raises(ApiError) as err:
        b.get_payment("pay_missing")
    assert err.value.status == 404 and "POST /payments" in err.value.message


def test_a_finished_delivery_reported_again_raises_instead_of_counting_an_attempt():
    clock, b, d = one_delivery_in_flight()
    b.delivery_finished(d, 200, clock.now())
    with pytest.raises(IllegalTransition, match="delivered"):
        b.delivery_finished(d, 500, clock.now())
    assert d.state == "delivered" and d.attempt == 1


def test_a_delivery_not_yet_sent_cannot_be_reported():
    clock, b = make()
    b.register_endpoint("http://127.0.0.1:9/hook")
    b.update_status(b.create_payment(500, "usd", clock.now())["id"], "failed", clock.now())
    (pending,) = b.deliveries.values()
    with pytest.raises(IllegalTransition, match="pending"):
        b.delivery_finished(pending, 200, clock.now())


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://127.0.0.1/x", "invalid_url"),
        ("not a url", "invalid_url"),
        ("http://example.com/hook", "url_not_loopback"),
        ("http://10.0.0.1/hook", "url_not_loopback"),
    ],
)
def test_endpoints_must_be_loopback_urls(url, code):
    _, b = make()
    with pytest.raises(ApiError) as err:
        b.register_endpoint(url)
    assert err.value.code == code and b.endpoints == {}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001/h", "http://localhost/h", "http://[::1]:80/h"])
def test_loopback_endpoints_are_accepted(url):
    assert check_webhook_url(url) == url


def _backlog(provider: PaymentProvider, n: int, now: float = 0.0) -> str:
    endpoint = provider.register_endpoint("http://127.0.0.1:9/webhooks/payments", secret="whsec_rate")
    for _ in range(n):
        payment = provider.create_payment(1999, "eur", now, settle=False)
        provider.update_status(payment["id"], "succeeded", now)
    return endpoint["id"]


def test_an_endpoint_rate_sends_at_most_n_attempts_per_window_and_wakes_when_it_allows_more():
    b = PaymentProvider(seed=1, seeded_ids=True, endpoint_rate=(5, 1.0))
    _backlog(b, 20)
    assert len(b.deliveries_due(0.0)) == 5  # a full bucket: 5 at once
    for d in b.deliveries_due(0.0):  # nothing more now
        raise AssertionError(d)
    assert b.next_wakeup(0.0) == pytest.approx(0.2)  # 5 a second: the next in 0.2 s
    assert len(b.deliveries_due(0.2)) == 1 and len(b.deliveries_due(1.0)) == 4
    sent = 10
    t = 1.0
    while sent < 20:  # the rest drain at the rate, never faster
        t = b.next_wakeup(t)
        sent += len(b.deliveries_due(t))
    assert t == pytest.approx(3.0)  # 20 attempts at 5 a second after a burst of 5: 3 s


def test_without_an_endpoint_rate_a_backlog_goes_at_once():
    b = PaymentProvider(seed=1, seeded_ids=True)
    _backlog(b, 20)
    assert len(b.deliveries_due(0.0)) == 20


def test_a_recovered_backlog_is_released_over_the_spread_not_at_once():
    b = PaymentProvider(seed=1, seeded_ids=True, recovery_spread_s=60.0, retry_schedule=[1.0])
    endpoint_id = _backlog(b, 30)
    for attempt in (0.0, 1.0):  # every delivery fails twice: the schedule is used up
        for d in b.deliveries_due(attempt):
            b.delivery_finished(d, 500, attempt)
    assert b.deliveries_due(100.0) == []
    assert b.recover(endpoint_id, since=0.0, now=100.0)["recovering"] == 30
    due = sorted(d.due_at for d in b.deliveries.values() if d.recovered)
    assert len(due) == 30 and due[0] >= 100.0 and due[-1] < 160.0
    at_once = len(b.deliveries_due(100.0))
    assert at_once < 5  # not a thundering herd the moment A is back
    assert at_once + len(b.deliveries_due(160.0)) == 30  # and all of it within the spread
