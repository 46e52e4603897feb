"""System B's sans-I/O core under a manual clock: no sockets, no sleeping."""

from __future__ import annotations

import json

import pytest

from hooklab.clock import ManualClock
from hooklab.errors import ApiError
from hooklab.provider import (
    SIGNATURE_HEADER,
    PaymentProvider,
    SettlementModel,
    validate_endpoint_request,
    validate_payment_request,
)
from hooklab.signing import verify_stripe


def make(seed=1, **kw):
    clock = ManualClock(1_000_000.0)
    return clock, PaymentProvider(clock, seed=seed, **kw)


def test_payment_starts_pending_and_settles_once_with_an_event():
    clock, b = make()
    p = b.create_payment(1999, "eur")
    assert p["status"] == "pending" and p["version"] == 1 and p["created_at"] == clock.now()
    assert b.settle_due() == []  # nothing is due yet
    due = b.next_wakeup()
    assert due > clock.now()
    clock.set(due)
    (event,) = b.settle_due()
    assert event["id"].startswith("evt_")
    assert event["type"] in ("payment.succeeded", "payment.failed")
    after = b.get_payment(p["id"])
    assert after["version"] == 2 and after["updated_at"] == due
    assert event["data"]["object"] == after
    assert b.changes[-1].changed_at == due and b.changes[-1].version == 2
    clock.advance(3600)
    assert b.settle_due() == []  # final statuses never change again
    assert b.all_settled()


def test_seed_fixes_ids_and_settlement_times():
    def run(seed):
        clock, b = make(seed)
        ids = [b.create_payment(100, "eur")["id"] for _ in range(5)]
        clock.advance(1000)
        b.settle_due()
        return ids, [(c.payment_id, c.status, c.changed_at) for c in b.changes]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_failure_share_is_respected_roughly():
    clock, b = make(settlement=SettlementModel(mean_s=1, min_s=0, failure_share=0.25))
    for _ in range(2000):
        b.create_payment(100, "eur")
    clock.advance(10_000)
    b.settle_due()
    failed = sum(c.status == "failed" for c in b.changes) / len(b.changes)
    assert 0.22 < failed < 0.28


def test_settlement_delay_has_the_configured_mean_and_floor():
    clock, b = make(settlement=SettlementModel(mean_s=2.0, min_s=0.5, failure_share=0))
    created = clock.now()
    for _ in range(4000):
        b.create_payment(100, "eur")
    clock.advance(10_000)
    b.settle_due()
    delays = [c.changed_at - created for c in b.changes]
    assert min(delays) >= 0.5
    assert abs(sum(delays) / len(delays) - 2.0) < 0.08


def test_deliveries_are_signed_retried_and_given_up():
    clock, b = make(retry_schedule=(1.0, 2.0))
    endpoint = b.register_endpoint("http://127.0.0.1:9/hook")
    p = b.create_payment(500, "usd", settle=False)
    event = b.update_status(p["id"], "succeeded")
    (d,) = b.deliveries_due()
    url, headers, body = d.request(clock.now())
    assert url == endpoint["url"] and json.loads(body) == event
    assert verify_stripe(body, headers[SIGNATURE_HEADER], endpoint["secret"], now=clock.now()) == int(
        clock.now()
    )
    b.delivery_finished(d, 500)  # fails: retry 1 s later
    assert b.deliveries_due() == [] and b.next_wakeup() == clock.now() + 1.0
    clock.advance(1.0)
    (d,) = b.deliveries_due()
    b.delivery_finished(d, None)  # no answer at all: retry 2 s later
    clock.advance(2.0)
    (d,) = b.deliveries_due()
    b.delivery_finished(d, 503)  # out of retries
    assert d.state == "failed" and d.attempt == 3 and b.next_wakeup() is None


def test_a_2xx_delivers():
    clock, b = make()
    b.register_endpoint("http://localhost:9/hook")
    b.update_status(b.create_payment(500, "usd")["id"], "failed")
    (d,) = b.deliveries_due()
    b.delivery_finished(d, 204)
    assert d.state == "delivered" and d.delivered_at == clock.now()


def test_events_feed_pages_after_an_id():
    clock, b = make()
    ids = [b.create_payment(100, "eur")["id"] for _ in range(3)]
    events = [b.update_status(pid, "succeeded") for pid in ids]
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


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "invalid_body"),
        ({"amount": 100}, "missing_field"),
        ({"currency": "eur"}, "missing_field"),
        ({"amount": "100", "currency": "eur"}, "invalid_amount"),
        ({"amount": 1.5, "currency": "eur"}, "invalid_amount"),
        ({"amount": True, "currency": "eur"}, "invalid_amount"),
        ({"amount": -5, "currency": "eur"}, "invalid_amount"),
        ({"amount": 0, "currency": "eur"}, "invalid_amount"),
        ({"amount": 100, "currency": "euro"}, "invalid_currency"),
        ({"amount": 100, "currency": 978}, "invalid_currency"),
        ({"amount": 100, "currency": "eur", "note": "x"}, "unknown_field"),
    ],
)
def test_payment_validation(body, code):
    with pytest.raises(ApiError) as err:
        validate_payment_request(body)
    assert err.value.code == code and err.value.status == 422


def test_currency_is_normalised():
    assert validate_payment_request({"amount": 5, "currency": "EUR"}) == (5, "eur")


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
    with pytest.raises(ApiError) as err:
        validate_endpoint_request({"url": url})
    assert err.value.code == code


@pytest.mark.parametrize("url", ["http://127.0.0.1:8001/h", "http://localhost/h", "http://[::1]:80/h"])
def test_loopback_endpoints_are_accepted(url):
    assert validate_endpoint_request({"url": url}) == url
