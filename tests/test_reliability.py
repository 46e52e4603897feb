"""Reliability: retry policies against their published numbers, B's per-endpoint queues, disabling,
Retry-After, the recovery API, durable B, A's inbox, fulfilments, reconciliation and restarts.

Each bad outcome is reproduced first (the test with the cure switched off), then shown cured.
"""

from __future__ import annotations

import json
import random
import time

import httpx
import pytest

from hooklab.core.delivery import DeliveryState
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.retry import MAX_RETRY_AFTER_S, POLICIES, parse_retry_after, retry_policy
from hooklab.lab.reliability import healthy_beside_dead
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import synced, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

H, MIN = 3600.0, 60.0
QUICK = SettlementModel(mean_s=0.2, min_s=0.05, failure_share=0.0)


# --- policies, against their published numbers ------------------------------------------------
def test_svix_schedule_is_exactly_as_published():
    # https://docs.svix.com/retries: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    svix = POLICIES["svix"]
    assert svix.waits_s == (5, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 10 * H)
    assert svix.attempts == 8
    # "fails three times before eventually succeeding ... roughly 35 minutes and 5 seconds"
    assert svix.attempt_offsets_s()[3] == 35 * MIN + 5
    assert svix.disable_after_s == 5 * 86400


def test_standard_webhooks_is_the_specs_example_schedule():
    # spec/standard-webhooks.md, "Example retry schedule": immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
    # 10 h, 14 h, 20 h, 24 h; "time since start" of the last: 75:35:05
    standard = POLICIES["standard"]
    assert standard.waits_s == (5, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H)
    assert standard.attempt_offsets_s()[-1] == 75 * H + 35 * MIN + 5
    assert standard.attempt_offsets_s()[2] == 5 * MIN + 5  # 00:05:05


def test_shopify_retries_8_times_within_4_hours_exponentially():
    shopify = POLICIES["shopify"]
    assert len(shopify.waits_s) == 8 and shopify.span_s <= 4 * H + 1e-6
    assert all(b == pytest.approx(2 * a) for a, b in zip(shopify.waits_s, shopify.waits_s[1:], strict=False))
    assert shopify.approximate


def test_stripe_is_an_approximation_that_ends_at_three_days():
    stripe = POLICIES["stripe"]
    assert stripe.approximate and "approximation" in stripe.note
    assert stripe.span_s == pytest.approx(3 * 86400)
    assert all(b >= a for a, b in zip(stripe.waits_s[:6], stripe.waits_s[1:7], strict=False))


def test_github_does_not_retry_and_fast_is_the_old_teaching_schedule():
    assert POLICIES["github"].waits_s == () and POLICIES["github"].attempts == 1
    assert POLICIES["fast"].waits_s == (0.5, 1.0, 2.0, 4.0, 8.0)


def test_a_policy_from_a_list_of_waits_and_a_clear_error_for_a_bad_name():
    assert retry_policy("0.5, 1,2").waits_s == (0.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="unknown retry policy 'sivx'.*svix"):
        retry_policy("sivx")


def test_jitter_spreads_a_wait_within_its_bounds():
    rng = random.Random(1)
    waits = [POLICIES["svix"].wait_s(2, rng, 0.1) for _ in range(1000)]
    assert 270 <= min(waits) < 280 and 320 < max(waits) <= 330
    assert POLICIES["svix"].wait_s(8) is None  # the 8th attempt was the last


def test_retry_after_is_read_as_seconds_or_a_date_and_bounded():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 30) == 30
    assert parse_retry_after("99999999") == MAX_RETRY_AFTER_S
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# --- B's core: waits, disabling, Retry-After, queues, recovery ---------------------------------
def _b(**kw) -> tuple[PaymentProvider, str]:
    b = PaymentProvider(seed=1, **kw)
    endpoint = b.register_endpoint("http://127.0.0.1:9/x")["id"]
    return b, endpoint


def _event(b: PaymentProvider, now: float) -> None:
    payment = b.create_payment(100, "eur", now, settle=False)
    b.update_status(payment["id"], "succeeded", now)


def test_waits_count_from_when_an_attempt_ended():
    b, _ = _b(retry_schedule="svix")
    _event(b, 0.0)
    (d,) = b.deliveries_due(0.0)
    b.delivery_finished(d, None, 15.0, started_at=0.0)  # a 15 s timeout
    assert d.due_at == 15.0 + 5.0 and d.attempts[0].ended_at == 15.0


def test_a_410_disables_the_endpoint_at_once_and_later_events_wait_for_recovery():
    b, endpoint = _b()
    _event(b, 0.0)
    (d,) = b.deliveries_due(0.0)
    b.delivery_finished(d, 410, 0.1)
    assert d.state is DeliveryState.FAILED and not b.endpoints[endpoint].enabled
    _event(b, 1.0)
    assert b.deliveries_due(100.0) == [] and b.next_wakeup() is None
    answer = b.recover(endpoint, since=0.0, now=2.0)
    assert answer["recovering"] == 2 and answer["endpoint"]["enabled"]
    assert len(b.deliveries_due(2.0)) == 2


def test_an_endpoint_failing_longer_than_the_policy_allows_is_disabled():
    b, endpoint = _b(retry_schedule="fast")  # disabled after 60 s of failing
    now = 0.0
    while b.endpoints[endpoint].enabled and now < 200:
        _event(b, now)
        for d in b.deliveries_due(now):
            b.delivery_finished(d, 500, now)
        now += 1.0
    assert not b.endpoints[endpoint].enabled and 60 <= now <= 62
    assert "failing for 60 s" in b.endpoints[endpoint].disabled_reason


def test_retry_after_is_honoured_on_429_and_503_only():
    for status, expected in ((429, 30.0), (503, 30.0), (500, 0.5)):
        b, _ = _b()
        _event(b, 0.0)
        (d,) = b.deliveries_due(0.0)
        b.delivery_finished(d, status, 1.0, retry_after_s=30.0)
        assert d.due_at == 1.0 + expected, status


def test_each_endpoint_has_its_own_bounded_queue():
    b = PaymentProvider(seed=1, max_in_flight=2)
    dead = b.register_endpoint("http://127.0.0.1:9/dead")["id"]
    healthy = b.register_endpoint("http://127.0.0.1:8001/ok")["id"]
    for _ in range(5):
        _event(b, 0.0)
    due = b.deliveries_due(0.0)
    assert sorted(d.endpoint.id for d in due) == sorted([dead, dead, healthy, healthy])
    for d in due:
        if d.endpoint.id == healthy:
            b.delivery_finished(d, 200, 0.01)
    # the dead endpoint's two attempts still hang; the healthy one goes on regardless
    assert {d.endpoint.id for d in b.deliveries_due(0.01)} == {healthy}


def test_redeliver_and_the_deliveries_listing():
    b, endpoint = _b(retry_schedule="github")
    _event(b, 0.0)
    (d,) = b.deliveries_due(0.0)
    b.delivery_finished(d, None, 0.5, error="ConnectError")
    (listed,) = b.endpoint_deliveries(endpoint)
    assert listed["state"] == "failed" and listed["attempts"][0]["error"] == "ConnectError"
    again = b.redeliver(d.id, 10.0)
    assert again["redelivery_of"] == d.id and again["event_id"] == d.event_id
    assert [x.id for x in b.deliveries_due(10.0)] == [again["id"]]


def test_events_are_paged_with_has_more():
    b, _ = _b()
    for k in range(5):
        _event(b, float(k))
    page, more = b.events_page(None, 2)
    assert len(page) == 2 and more
    page, more = b.events_page(page[-1]["id"], 10)
    assert len(page) == 3 and not more


# --- durable B ---------------------------------------------------------------------------------
def test_a_restarted_durable_b_keeps_its_payments_events_endpoints_outbox_and_settlements(tmp_path):
    db = tmp_path / "b.db"
    from hooklab.live.provider_store import SqliteProviderStore

    store = SqliteProviderStore(db)
    b = PaymentProvider(seed=1, store=store, settlement=SettlementModel(mean_s=100, min_s=50))
    endpoint = b.register_endpoint("http://127.0.0.1:8001/x")["id"]
    settled = b.create_payment(100, "eur", 0.0, settle=False)
    b.update_status(settled["id"], "succeeded", 1.0)  # its delivery waits in the outbox
    later = b.create_payment(200, "eur", 2.0)  # settles in 50+ s
    store.close()

    again = PaymentProvider(seed=1, store=SqliteProviderStore(db))
    assert again.snapshot() == b.snapshot() and [e["id"] for e in again.events] == [e["id"] for e in b.events]
    assert (
        list(again.endpoints) == [endpoint]
        and again.endpoints[endpoint].secret == b.endpoints[endpoint].secret
    )
    (d,) = again.deliveries_due(1.0)
    assert d.event_id == b.events[0]["id"]
    assert again.settle_due(10_000.0)[0]["data"]["object"]["id"] == later["id"]


def test_seeded_ids_and_a_durable_store_are_refused_together(tmp_path):
    from hooklab.live.provider_store import SqliteProviderStore

    with pytest.raises(ValueError, match="same ids again"):
        PaymentProvider(seeded_ids=True, store=SqliteProviderStore(tmp_path / "b.db"))


# --- live: a dead endpoint does not slow a healthy one -------------------------------------------
@pytest.mark.slow
def test_a_healthy_endpoint_stays_fast_beside_20_black_holes():
    # black holes accept connections (the kernel's backlog) and never answer: the worst endpoint
    result = healthy_beside_dead(20, payments=60)
    print(f"healthy endpoint beside 20 black holes: p50 {result['p50_ms']} ms, max {result['max_ms']} ms")
    assert result["learned"] == 60  # how fast: benchmarks/bench_latency.py


# --- live A: the inbox, fulfilments, reconciliation, restarts ----------------------------------
def test_the_inbox_answers_before_the_work_and_fulfils_each_payment_once(tmp_path):
    b = ProviderService(seed=5, settlement=QUICK)
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="webhook", ack="inbox", work_s=0.3, db_path=tmp_path / "a.db")
        with serve(shop.app) as a_run:
            shop.register_webhook(a_run.url)
            for _ in range(4):
                shop.create_payment()
            wait_until(lambda: synced(b, shop), 15, "A to apply its inbox")
            fulfilled = httpx.get(a_run.url + "/fulfilments").json()["data"]
        shop.close()
    # 2xx before the 0.3 s of work: every delivery's answer came before its payment was fulfilled
    fulfilled_at = {f["payment_id"]: f["fulfilled_at"] for f in fulfilled}
    for delivery in b.core.deliveries.values():
        payment_id = json.loads(delivery.body)["data"]["object"]["id"]
        if payment_id in fulfilled_at:
            assert delivery.attempts[0].ended_at < fulfilled_at[payment_id]
    assert sorted(f["payment_id"] for f in fulfilled) == sorted(shop.snapshot())


def test_work_before_answering_slower_than_bs_timeout_makes_b_send_again():
    b = ProviderService(seed=5, settlement=QUICK, delivery_timeout_s=0.2, retry_schedule="0.1,0.1,0.1")
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="webhook", ack="inline", work_s=0.4)
        with serve(shop.app) as a_run:
            shop.register_webhook(a_run.url)
            shop.create_payment()
            wait_until(lambda: synced(b, shop), 15, "A to learn the payment")
            # B's retries of what A already had: its delivery ends, delivered on a later attempt
            wait_until(lambda: all(d.finished for d in b.core.deliveries.values()), 15, "B's delivery to end")
            fulfilled = shop.fulfilment_rows()
        shop.close()
    attempts = [d.attempt for d in b.core.deliveries.values()]
    assert max(attempts) >= 2  # timed out, retried: A did the work and B never heard
    assert len(fulfilled) == 1  # yet the order shipped once


def _kill_a_for(b: ProviderService, shop_kw: dict, payments: int = 6):
    """A takes orders and goes away while B settles and retries until it gives up; A comes back."""
    with serve(b.app) as b_run:
        first = ShopService(b_run.url, mode="webhook", **shop_kw)
        with serve(first.app) as a_run:
            port = a_run.port
            first.register_webhook(a_run.url)
            for _ in range(payments):
                first.create_payment()
        first.close()  # A is gone: B's deliveries find nothing listening
        # down for longer than B's schedule: until every payment settled and B gave up on each event
        wait_until(lambda: len(b.core.deliveries) == payments and all(
            d.state.value == "failed" for d in b.core.deliveries.values()), 30, "B to give up")  # fmt: skip
        again = ShopService(b_run.url, mode="webhook", **shop_kw)
        with serve(again.app, port=port):
            ok = True
            try:
                wait_until(lambda: synced(b, again), 6, "A to catch up")
            except TimeoutError:
                ok = False
            lost = sum(1 for pid, p in b.core.snapshot().items() if again.snapshot().get(pid) != p)
        again.close()
    return ok, lost


def test_an_outage_longer_than_bs_schedule_loses_payments_without_reconciliation(tmp_path):
    # payments settle 1 s or more after they are made: after A is gone, however busy the machine
    late = SettlementModel(mean_s=1.2, min_s=1.0, failure_share=0.0)
    b = ProviderService(seed=6, settlement=late, retry_schedule="0.1,0.2")
    ok, lost = _kill_a_for(b, {"db_path": tmp_path / "a.db"})
    assert not ok and lost == 6  # the bad outcome: B gave up, A never learns


def test_reconciliation_loses_nothing_after_an_outage_longer_than_the_schedule(tmp_path):
    late = SettlementModel(mean_s=1.2, min_s=1.0, failure_share=0.0)
    b = ProviderService(seed=6, settlement=late, retry_schedule="0.1,0.2")
    ok, lost = _kill_a_for(b, {"db_path": tmp_path / "a.db", "reconcile_s": 0.5})
    assert ok and lost == 0


def test_refetch_treats_an_event_as_a_hint_and_reads_bs_state():
    b = ProviderService(seed=7, settlement=QUICK)
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="webhook", ack="inbox", on_event="refetch")
        with serve(shop.app) as a_run:
            shop.register_webhook(a_run.url)
            for _ in range(3):
                shop.create_payment()
            wait_until(lambda: synced(b, shop), 15, "A to learn every payment")
        shop.close()
    kinds = shop.log.to_frame()["kind"]
    assert (kinds == "refetch").sum() == 3


def test_a_restarted_poll_mode_a_finishes_its_pending_payments(tmp_path):
    slow = SettlementModel(mean_s=1.5, min_s=1.0, failure_share=0.0)
    b = ProviderService(seed=8, settlement=slow)
    with serve(b.app) as b_run:
        first = ShopService(b_run.url, mode="poll", interval_s=0.2, db_path=tmp_path / "a.db")
        with serve(first.app):
            for _ in range(4):
                first.create_payment()
        first.close()  # before anything settled
        assert len(first.snapshot()) == 4 and all(p["status"] == "pending" for p in first.snapshot().values())
        again = ShopService(b_run.url, mode="poll", interval_s=0.2, db_path=tmp_path / "a.db")
        with serve(again.app):
            wait_until(lambda: synced(b, again), 10, "the restarted poller to finish")
        again.close()


def test_a_restarted_in_memory_b_gets_as_registration_again():
    b = ProviderService(seed=9, settlement=QUICK)
    with serve(b.app) as b_run:
        port = b_run.port
        shop = ShopService(b_run.url, mode="webhook", reconcile_s=0.3)
        a = serve(shop.app)
        a_run = a.__enter__()
        shop.register_webhook(a_run.url)
    # B restarts on the same port with an empty memory: it no longer knows A
    b2 = ProviderService(seed=10, settlement=QUICK)
    try:
        with serve(b2.app, port=port):
            wait_until(lambda: len(b2.core.endpoints) == 1, 5, "A to register again")
            rounds = sum(r.kind == "reconcile" for r in shop.log.records())
            wait_until(lambda: sum(r.kind == "reconcile" for r in shop.log.records()) >= rounds + 3, 10,
                       "three more reconciliation rounds")  # fmt: skip
            assert len(b2.core.endpoints) == 1 and shop.registrations == 2
            payment = shop.create_payment()
            wait_until(lambda: shop.snapshot()[payment["id"]]["status"] != "pending", 10, "the webhook")
    finally:
        a.__exit__(None, None, None)
        shop.close()


# --- live B: status codes from A, and the recovery API over HTTP ---------------------------------
def _answering(status: int, headers: dict | None = None):
    """A receiver that answers every delivery with ``status`` (and ``headers``), counting them."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen: list[float] = []

    async def hook(request):
        seen.append(time.monotonic())
        return JSONResponse({"status": status}, status_code=status, headers=headers)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])]), seen


def test_b_disables_an_endpoint_that_answers_410_gone_over_http():
    app, seen = _answering(410)
    b = ProviderService(seed=11, settlement=QUICK, retry_schedule="0.1,0.1,0.1")
    with serve(app) as a_run, serve(b.app) as b_run, httpx.Client(base_url=b_run.url) as client:
        endpoint = client.post("/webhook-endpoints", json={"url": a_run.url + "/hook"}).json()
        client.post("/payments", json={"amount": 5, "currency": "eur"})
        wait_until(lambda: len(seen) >= 1, 5, "the first delivery")
        # the delivery has ended (no retry can follow a final state), so `seen` is complete
        wait_until(lambda: all(d.finished for d in b.core.deliveries.values()), 5, "the delivery to end")
        (listed,) = client.get("/webhook-endpoints").json()["data"]
        assert listed["enabled"] is False and "410" in listed["disabled_reason"]
        assert len(seen) == 1  # no retry after 410
        (delivery,) = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["data"]
        assert delivery["state"] == "failed" and delivery["attempts"][0]["status"] == 410
        refused = client.post(f"/deliveries/{delivery['id']}/redeliver")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "endpoint_disabled"
        recovered = client.post(f"/webhook-endpoints/{endpoint['id']}/recover", json={"since": 0})
        assert recovered.status_code == 202 and recovered.json()["recovering"] == 1
        wait_until(lambda: len(seen) >= 2, 5, "the recovered delivery")


def test_b_waits_as_long_as_a_429_retry_after_says():
    app, seen = _answering(429, {"Retry-After": "1"})
    b = ProviderService(seed=12, settlement=QUICK, retry_schedule="0.05,0.05")
    with serve(app) as a_run, serve(b.app) as b_run, httpx.Client(base_url=b_run.url) as client:
        client.post("/webhook-endpoints", json={"url": a_run.url + "/hook"})
        client.post("/payments", json={"amount": 5, "currency": "eur"})
        wait_until(lambda: len(seen) >= 2, 5, "the retry")
    assert seen[1] - seen[0] >= 0.95  # the policy said 0.05 s; A said 1 s


def test_the_recovery_api_refuses_unknown_ids_and_bad_bodies_with_json_errors():
    b = ProviderService(seed=13)
    with serve(b.app) as b_run, httpx.Client(base_url=b_run.url) as client:
        assert client.get("/webhook-endpoints/we_nope/deliveries").status_code == 404
        assert client.post("/deliveries/dlv_nope/redeliver").json()["error"]["code"] == "not_found"
        endpoint = client.post("/webhook-endpoints", json={"url": "http://127.0.0.1:9/x"}).json()
        for body in ({}, {"since": -1}, {"since": "yesterday"}, {"since": 1, "extra": 2}):
            answer = client.post(f"/webhook-endpoints/{endpoint['id']}/recover", json=body)
            assert answer.status_code == 422 and "error" in answer.json(), body
        assert client.get("/events?limit=0").status_code == 422
        assert client.get("/events?after=evt_nope").status_code == 404
        assert client.get("/events?limit=5").json() == {"data": [], "has_more": False}


def test_reconciliation_rounds_come_when_as_clock_says_not_after_a_sleep():
    """A's loops wait on A's clock: with a SteppedClock a round comes when the test advances it."""
    from fastapi.testclient import TestClient

    from hooklab.live.clocks import SteppedClock

    clock = SteppedClock()
    b = ProviderService(seed=31, settlement=QUICK)
    with TestClient(b.app, base_url="http://b.test") as b_client:
        shop = ShopService("http://b.test", mode="webhook", client=b_client, reconcile_s=60, clock=clock)

        def rounds() -> int:
            return sum(r.kind == "reconcile" for r in shop.log.records())

        with TestClient(shop.app):  # serving starts the reconciler: its first round at once
            wait_until(lambda: rounds() == 1, 10, "the first round")
            clock.advance(59.0)
            assert rounds() == 1  # 59 s of A's clock: not yet
            clock.advance(1.0)
            wait_until(lambda: rounds() == 2, 10, "the round 60 s of A's clock later")
            clock.advance(60.0)
            wait_until(lambda: rounds() == 3, 10, "the next one")
        shop.close()
    assert rounds() == 3


def test_a_clock_its_threads_cannot_wait_on_is_refused():
    from hooklab.core.clock import ManualClock

    with pytest.raises(ValueError, match="wait on"):
        ShopService("http://127.0.0.1:9", mode="webhook", clock=ManualClock())
