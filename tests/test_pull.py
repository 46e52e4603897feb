"""Pull done well, B's side, over real HTTP: conditional requests, rate limits, the poll-interval
hint, long polling (bounded) and Server-Sent Events."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest
from httpx_sse import connect_sse

from hooklab.core.contract import none_match
from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.ratelimit import parse_rate
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve

SLOW = SettlementModel(mean_s=0.5, min_s=0.4, failure_share=0.0)


def test_if_none_match_follows_rfc_9110_weak_comparison():
    assert none_match('"a"', '"a"') and none_match('W/"a"', '"a"') and none_match('"x", "a"', '"a"')
    assert none_match("*", '"a"') and not none_match('"b"', '"a"') and not none_match(None, '"a"')


def test_a_payment_has_an_etag_and_an_unchanged_one_answers_304_without_a_body():
    b = ProviderService(seed=1, settlement=SLOW)
    with serve(b.app) as run, httpx.Client(base_url=run.url) as client:
        payment = client.post("/payments", json={"amount": 5, "currency": "eur"}).json()
        first = client.get(f"/payments/{payment['id']}")
        tag = first.headers["etag"]
        again = client.get(f"/payments/{payment['id']}", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        wait_until(lambda: b.core.payments[payment["id"]].version == 2, what="the payment to settle")
        changed = client.get(f"/payments/{payment['id']}", headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        assert changed.json()["version"] == 2


def test_the_events_feed_has_an_etag_and_says_how_often_to_poll():
    b = ProviderService(seed=2, settlement=SLOW, poll_interval_s=30)
    with serve(b.app) as run, httpx.Client(base_url=run.url) as client:
        empty = client.get("/events")
        assert empty.headers["x-poll-interval"] == "30" and empty.json() == {"data": [], "has_more": False}
        same = client.get("/events", headers={"If-None-Match": empty.headers["etag"]})
        assert same.status_code == 304 and same.headers["x-poll-interval"] == "30"
        client.post("/payments", json={"amount": 5, "currency": "eur"})
        wait_until(lambda: len(b.core.events) == 1, what="the settlement's event")
        news = client.get("/events", headers={"If-None-Match": empty.headers["etag"]})
        assert news.status_code == 200 and len(news.json()["data"]) == 1


def test_over_the_rate_limit_b_answers_429_with_retry_after_and_both_header_families():
    b = ProviderService(seed=3, rate_limit="3/60", api_keys=["key-2"])
    with serve(b.app) as run, httpx.Client(base_url=run.url) as client:
        answers = [client.get("/events") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
        refused = answers[3]
        assert (
            1 <= int(refused.headers["retry-after"]) <= 60
            and refused.json()["error"]["code"] == "rate_limited"
        )
        assert (
            refused.headers["x-ratelimit-limit"] == "3"
            and int(refused.headers["x-ratelimit-reset"]) > time.time()
        )
        assert refused.headers["ratelimit-policy"] == '"default";q=3;w=60'
        assert refused.headers["ratelimit"].startswith('"default";r=0;t=')
        assert client.get("/health").status_code == 200  # not counted
        other = client.get("/events", headers={"Authorization": "Bearer key-2"})  # another client
        assert other.status_code == 200 and other.headers["x-ratelimit-remaining"] == "2"


def test_a_304_does_not_count_against_the_quota():
    b = ProviderService(seed=4, rate_limit="3/60", api_keys=["k"])
    with serve(b.app) as run, httpx.Client(base_url=run.url, headers={"Authorization": "Bearer k"}) as client:
        tag = client.get("/events").headers["etag"]
        for _ in range(10):
            assert client.get("/events", headers={"If-None-Match": tag}).status_code == 304
        assert client.get("/events").headers["x-ratelimit-remaining"] == "1"  # 1 + 10 free + 1


def test_rate_limits_are_written_n_slash_s():
    assert parse_rate("5000/3600") == (5000, 3600)
    for bad in ("5000", "0/60", "5/0", "five/60", "5/1.5"):
        with pytest.raises(ValueError, match="N/S"):
            parse_rate(bad)


def test_a_long_poll_answers_as_soon_as_an_event_exists_and_empty_when_the_wait_ends():
    b = ProviderService(seed=5, settlement=SLOW)
    with serve(b.app) as run, httpx.Client(base_url=run.url, timeout=10) as client:
        t0 = time.monotonic()
        quiet = client.get("/events?wait=0.5").json()
        # nothing happened: held for the whole wait (a lower bound: a busy machine only adds to it)
        assert quiet == {"data": [], "has_more": False} and time.monotonic() - t0 >= 0.5
        client.post("/payments", json={"amount": 5, "currency": "eur"})
        # the payment settles 0.4-1 s later; a poll held for the whole 60 s would outlast the client's
        # 30 s timeout, so an answer with the event means B answered when the event came
        held = client.get("/events?wait=60", timeout=30).json()
        assert len(held["data"]) == 1
        assert client.get("/events?wait=61").status_code == 422  # at most 60 s
        # (how soon after the event the answer comes: benchmarks/bench_latency.py)


def test_long_polls_are_bounded_so_waiting_clients_cannot_exhaust_b():
    b = ProviderService(seed=6, max_waiting=2)
    with serve(b.app) as run:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            held = [pool.submit(httpx.get, run.url + "/events?wait=1.5", timeout=5) for _ in range(2)]
            wait_until(lambda: b.waiting == 2, what="two long polls held")
            third = httpx.get(run.url + "/events?wait=1.5", timeout=5)
            assert third.status_code == 503 and third.headers["retry-after"] == "1"
            assert third.json()["error"]["code"] == "too_many_waiting"
            assert [f.result().status_code for f in held] == [200, 200]
        assert b.waiting == 0


def test_server_sent_events_stream_each_event_and_resume_from_last_event_id():
    b = ProviderService(seed=7, settlement=SettlementModel(mean_s=0.2, min_s=0.1, failure_share=0.0))
    with serve(b.app) as run, httpx.Client(base_url=run.url, timeout=10) as client:
        for _ in range(3):
            client.post("/payments", json={"amount": 5, "currency": "eur"})
        got = []
        with connect_sse(client, "GET", "/events/stream") as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            for sse in source.iter_sse():
                if sse.event.startswith("payment."):
                    got.append(sse)
                if len(got) == 3:
                    break
        assert [s.id for s in got] == [e["id"] for e in client.get("/events").json()["data"]]
        assert got[0].json()["data"]["object"]["status"] == "succeeded"
        client.post("/payments", json={"amount": 6, "currency": "eur"})
        with connect_sse(client, "GET", "/events/stream", headers={"Last-Event-ID": got[-1].id}) as source:
            resumed = next(s for s in source.iter_sse() if s.event.startswith("payment."))
        assert resumed.json()["data"]["object"]["amount"] == 6  # only what came after
        assert client.get("/events/stream?after=evt_nope").status_code == 404
    assert b.waiting == 0


# --- A's pull modes, end to end: A's view equals B's ---------------------------------------------
QUICK = SettlementModel(mean_s=0.3, min_s=0.1, failure_share=0.2)


@pytest.mark.parametrize("mode", ["poll", "conditional", "feed", "long-poll", "sse", "adaptive"])
def test_every_pull_mode_ends_with_as_view_equal_to_bs(mode):
    from hooklab.live.runs import wait_until
    from hooklab.live.shop_app import ShopService

    # conditional: slow enough settlements that a payment is polled unchanged, with its tag
    settle = SettlementModel(mean_s=1.0, min_s=0.8, failure_share=0.2) if mode == "conditional" else QUICK
    b = ProviderService(seed=11, settlement=settle, poll_interval_s=1)
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode=mode, interval_s=0.2)
        with serve(shop.app):
            for _ in range(5):
                shop.create_payment()

            def synced() -> bool:
                with b.lock:
                    state, done = b.core.snapshot(), b.core.all_settled()
                return done and shop.snapshot() == state

            wait_until(synced, 15, f"A ({mode}) to know what B knows")
        shop.close()
    kinds = set(shop.log.to_frame()["kind"])
    expected = {"poll": "poll", "conditional": "poll", "adaptive": "poll", "feed": "feed",
                "long-poll": "long-poll", "sse": "sse"}[mode]  # fmt: skip
    assert expected in kinds
    if mode == "conditional":
        polls = shop.log.to_frame()
        assert (polls["status"] == 304).any()  # unchanged payments came back without a body


def test_a_conditional_poller_obeys_429_and_retry_after():
    from hooklab.live.runs import wait_until
    from hooklab.live.shop_app import ShopService

    b = ProviderService(seed=12, settlement=SettlementModel(mean_s=2.0, min_s=1.5, failure_share=0),
                        rate_limit="6/2")  # fmt: skip
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="poll", interval_s=0.05)
        with serve(shop.app):
            shop.create_payment()
            wait_until(lambda: not shop.core.pending_ids(), 15, "A to learn the payment despite the limit")
        shop.close()
    log = shop.log.to_frame()
    polls = log[log["kind"] == "poll"].reset_index(drop=True)
    refused = polls.index[polls["status"] == 429]
    assert len(refused) > 0
    first = refused[0]
    # after a 429 the next poll waits for the window to reset (Retry-After), not 0.05 s
    assert polls.loc[first + 1, "time"] - polls.loc[first, "time"] >= 0.5
    assert len(polls) < 60  # 0.05 s polls for 1.5+ s would be 30+ an attempt without the limit


@pytest.mark.parametrize("mode", ["conditional", "adaptive", "feed", "long-poll", "sse"])
def test_every_pull_mode_runs_in_process_on_an_injected_client(mode):
    """No sockets: A's pull loops send through the client a test gives A (a TestClient on B), so
    each mode can be checked in-process; B ends streams after 0.3 s and long polls after 0.5 s, so
    each answer arrives whole."""
    from fastapi.testclient import TestClient

    from hooklab.live.runs import synced
    from hooklab.live.shop_app import ShopService

    b = ProviderService(seed=21, settlement=SettlementModel(mean_s=0.2, min_s=0.05, failure_share=0.2),
                        stream_s=0.3, max_wait_s=0.5, poll_interval_s=0)  # fmt: skip
    with TestClient(b.app, base_url="http://b.test") as b_client:
        shop = ShopService("http://b.test", mode=mode, interval_s=0.05, client=b_client)
        shop.start_poller()
        try:
            for _ in range(4):
                shop.create_payment()
            wait_until(lambda: synced(b, shop), 20, f"A ({mode}) to know what B knows, in-process")
        finally:
            shop.close()
    assert {r.kind for r in shop.log.records()} >= {
        "create",
        {"conditional": "poll", "adaptive": "poll"}.get(mode, mode),
    }
