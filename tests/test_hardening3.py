"""Hardening, round 3: what an attacker found in the newer surfaces (SSE, long polling, rate limits,
recovery, ``--public-url``), each reproduced over real HTTP on 127.0.0.1, each bounded now.

The tests follow the issue's order (most severe first). None waits on a fixed sleep: each waits for
a condition with a deadline (:func:`hooklab.live.runs.wait_until`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import FAST
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from hooklab.core.contract import webhook_url
from hooklab.core.provider import PaymentProvider
from hooklab.lab.hostile import (
    NEVER,
    delivered,
    many_events,
    recovering_a_dead_endpoint,
    settle_all,
    sink_app,
)
from hooklab.live.processes import free_port, start
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- 1. one idle connection per endpoint, kept forever --------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_an_endpoints_connections_are_closed_once_it_is_idle():
    """200 endpoints, one event: each delivery opened a connection that stayed open after the
    delivery, so a few hundred endpoints exhausted B's 1,024 files. Now B closes an endpoint's
    connections after ``idle_client_s`` with nothing in flight."""
    b = ProviderService(seed=1, settlement=NEVER, idle_client_s=0.3)
    with serve(sink_app()) as sink, serve(b.app) as running, httpx.Client(base_url=running.url) as api:
        for i in range(200):
            assert api.post("/webhook-endpoints", json={"url": f"{sink.url}/hook/{i}"}).status_code == 201
        baseline = open_fds()
        api.post("/payments", json={"amount": 100, "currency": "eur"})
        settle_all(b)
        wait_until(lambda: delivered(b) == 200,
                   what="200 deliveries")  # fmt: skip
        wait_until(lambda: not b.sender.clients, timeout_s=10, what="B to close every idle client")
        wait_until(lambda: open_fds() <= baseline + 10, timeout_s=10, what="the sockets to close")


def test_delivery_attempts_in_flight_across_all_endpoints_are_bounded():
    """However many endpoints, at most ``max_sending`` attempts (and so sockets) at once."""
    peak, now_open = 0, 0
    lock = threading.Lock()
    release = threading.Event()

    async def slow(request):
        nonlocal peak, now_open
        with lock:
            now_open += 1
            peak = max(peak, now_open)
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        with lock:
            now_open -= 1
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/{path:path}", slow, methods=["POST"])])
    b = ProviderService(seed=1, settlement=NEVER, max_sending=5)
    with serve(app) as sink, serve(b.app) as running, httpx.Client(base_url=running.url) as api:
        for i in range(12):
            api.post("/webhook-endpoints", json={"url": f"{sink.url}/hook/{i}"})
        api.post("/payments", json={"amount": 100, "currency": "eur"})
        settle_all(b)
        wait_until(lambda: now_open == 5, what="five attempts in flight")
        release.set()
        wait_until(lambda: delivered(b) == 12,
                   what="all 12 deliveries")  # fmt: skip
    assert peak == 5


# --- 2. an SSE stream with no cursor replayed the whole history without yielding ------------------
def test_a_replaying_stream_leaves_b_free_to_answer_others():
    """10,000 events and 10 streams replaying them from the start: B answers ``/health`` while the
    replays are still going (before: the first stream's replay held B's loop to the end)."""
    b = ProviderService(seed=1, settlement=NEVER)
    many_events(b, 10_000)
    finished: list[float] = []
    health_at: list[float] = []

    def replay(url: str) -> None:
        seen = 0
        with httpx.Client(timeout=30) as c, c.stream("GET", url + "/events/stream") as response:
            for line in response.iter_lines():
                seen += line.startswith("id:")
                if seen == 10_000:
                    break
        finished.append(time.monotonic())

    with serve(b.app) as running:
        threads = [threading.Thread(target=replay, args=(running.url,)) for _ in range(10)]
        for t in threads:
            t.start()
        wait_until(lambda: b.waiting == 10, what="10 streams open")
        assert httpx.get(running.url + "/health", timeout=30).status_code == 200
        health_at.append(time.monotonic())
        for t in threads:
            t.join(60)
    assert len(finished) == 10
    assert health_at[0] < max(finished), "B answered /health only after every replay had ended"


# --- 8. stopping B waited for held long polls -----------------------------------------------------
def test_stopping_b_ends_held_long_polls_at_once():
    b = ProviderService(seed=1, settlement=NEVER, max_waiting_per_client=20)
    answers: list[int] = []

    def hold(url: str) -> None:
        try:
            answers.append(httpx.get(url + "/events?wait=60", timeout=90).status_code)
        except httpx.HTTPError:
            answers.append(0)

    with serve(b.app) as running:
        threads = [threading.Thread(target=hold, args=(running.url,)) for _ in range(20)]
        for t in threads:
            t.start()
        wait_until(lambda: b.waiting == 20, what="20 held long polls")
    for t in threads:
        t.join(10)
    # each held poll was answered (an empty page) as B stopped; before, they were held until the
    # server's graceful-shutdown timeout cut them off (and `hooklab provider`, with none, waited 60 s)
    assert answers == [200] * 20


# --- 3. one client held every stream place, starving the rest ------------------------------------
def hold_streams(url: str, count: int, headers: dict | None = None) -> tuple[list[int], threading.Event]:
    """Open ``count`` event streams and keep them open until the returned event is set; their statuses."""
    statuses: list[int] = []
    done = threading.Event()

    def one() -> None:
        with httpx.Client(timeout=30, headers=headers) as c, c.stream("GET", url + "/events/stream") as r:
            statuses.append(r.status_code)
            if r.status_code == 200:
                done.wait(30)

    for _ in range(count):
        threading.Thread(target=one, daemon=True).start()
    wait_until(lambda: len(statuses) == count, what=f"{count} streams answered")
    return statuses, done


def test_one_client_cannot_take_every_stream_place():
    """A stranger opens 30 streams (B holds 30 at most): 10 are held (the per-client limit), 20 get
    429; A, in sse mode with its API key, still learns every payment."""
    b = ProviderService(seed=2, settlement=FAST, max_waiting=30, api_keys=["shop-key"])
    with serve(b.app) as running:
        statuses, release = hold_streams(running.url, 30)
        try:
            assert sorted(statuses) == [200] * 10 + [429] * 20
            shop = ShopService(running.url, mode="sse", api_key="shop-key")
            with serve(shop.app):
                for _ in range(20):
                    shop.create_payment()
                wait_until(shop.is_done, what="A to learn all 20 payments over its stream")
                assert shop.snapshot() == b.core.snapshot()
            shop.close()
        finally:
            release.set()


# --- 6. the rate limit: invented keys, concurrent long polls, If-None-Match: * ---------------------
def test_a_key_b_never_issued_is_refused_not_a_fresh_quota():
    b = ProviderService(seed=3, rate_limit="5/60")
    with serve(b.app) as running, httpx.Client(base_url=running.url) as client:
        answers = [
            client.get("/events", headers={"Authorization": f"Bearer invented-{i}"}) for i in range(20)
        ]
        assert {a.status_code for a in answers} == {401}
        assert answers[0].json()["error"]["code"] == "unknown_api_key"
        assert [client.get("/events").status_code for _ in range(6)] == [200] * 5 + [429]


def test_held_long_polls_count_when_they_arrive():
    """20 long polls at once against a limit of 5: 5 are held, 15 refused (before: all 20 passed,
    since a request was counted only when it was answered)."""
    b = ProviderService(seed=3, rate_limit="5/60", settlement=NEVER, max_waiting_per_client=100)
    statuses: list[int] = []
    with serve(b.app) as running:

        def poll() -> None:
            statuses.append(httpx.get(running.url + "/events?wait=2", timeout=10).status_code)

        threads = [threading.Thread(target=poll) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
    assert sorted(statuses) == [200] * 5 + [429] * 15


def test_if_none_match_star_is_not_a_free_answer():
    b = ProviderService(seed=3, rate_limit="3/60")
    with serve(b.app) as running, httpx.Client(base_url=running.url) as client:
        answers = [client.get("/events", headers={"If-None-Match": "*"}).status_code for _ in range(5)]
        assert answers == [304, 304, 304, 429, 429]


# --- 4. --public-url with credentials plus --reconcile registered A again every round -------------
def test_a_url_with_credentials_is_registered_once_however_many_rounds():
    b = ProviderService(seed=4, settlement=FAST)
    port = free_port()
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook", public_url=f"http://user:pw@127.0.0.1:{port}",
                           reconcile_s=0.05, ack="inbox")  # fmt: skip
        with serve(shop.app, port=port):
            wait_until(
                lambda: sum(r.kind == "reconcile" for r in shop.log.records()) >= 10,
                what="10 reconciliations",
            )
            shop.create_payment()
            wait_until(shop.is_done, what="A to learn its payment")
        shop.close()
    assert shop.registrations == 1 and len(b.core.endpoints) == 1
    assert sum(d.state.value == "delivered" for d in b.core.deliveries.values()) == 1


# --- 5. --public-url with a path had A's path appended anyway -------------------------------------
def test_a_full_webhook_url_is_registered_as_given_and_delivered_to():
    b = ProviderService(seed=5, settlement=FAST)
    port = free_port()
    full = f"http://127.0.0.1:{port}/webhooks/payments"
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook", public_url=full)
        with serve(shop.app, port=port):
            shop.create_payment()
            wait_until(shop.is_done, what="A to learn its payment by webhook")
        shop.close()
    assert [e.url for e in b.core.endpoints.values()] == [full]
    assert webhook_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/webhooks/payments"
    assert webhook_url("http://127.0.0.1:9/in/hooks") == "http://127.0.0.1:9/in/hooks"


def test_a_public_url_b_would_refuse_is_a_plain_error_not_a_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "hooklab.cli", "consumer", "--provider", "http://127.0.0.1:9", "--mode", "webhook",
         "--public-url", "http://example.com:8001/hooks"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--public-url" in done.stderr and "127.0.0.1" in done.stderr


# --- 7. recovery grew B without bound; the deliveries list was not paged; `since` took anything ----
def test_recovering_a_dead_endpoint_again_and_again_does_not_grow_b():
    # before: 50 more deliveries per recovery (100, 150, ... 300); now one recovery delivery per event
    assert recovering_a_dead_endpoint(50, 5) == [100] * 5


def test_a_queued_event_is_not_queued_again_by_a_second_recovery():
    core = PaymentProvider(seed=7, retry_schedule=(), settlement=NEVER)
    dead = core.register_endpoint("http://127.0.0.1:9/webhooks/payments")
    payment = core.create_payment(100, "eur", 0.0, settle=False)
    core.update_status(payment["id"], "succeeded", 0.0)
    (delivery,) = core.deliveries_due(0.0)
    core.delivery_finished(delivery, 500, 1.0)
    core.recover(dead["id"], 0.0, 2.0)
    core.recover(dead["id"], 0.0, 3.0)  # the first recovery's delivery is still queued
    assert len(core.deliveries_due(3.0)) == 1 and len(core.deliveries) == 2


def test_the_deliveries_list_is_paged_like_events():
    b = ProviderService(seed=7, settlement=NEVER, retry_schedule=(0.05,))
    with serve(b.app) as running, httpx.Client(base_url=running.url) as client:
        endpoint = client.post(
            "/webhook-endpoints", json={"url": "http://127.0.0.1:9/webhooks/payments"}
        ).json()
        many_events(b, 250)
        b.sender.poke()
        url = f"/webhook-endpoints/{endpoint['id']}/deliveries"
        first = client.get(url).json()
        assert len(first["data"]) == 100 and first["has_more"] is True
        seen, after = [], None
        while True:
            page = client.get(url, params={"limit": 1000, **({"after": after} if after else {})}).json()
            seen += page["data"]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        assert len({d["id"] for d in seen}) == 250
        assert client.get(url, params={"limit": 1001}).status_code == 422
        assert client.get(url, params={"after": "dlv_nope"}).json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("since", ["true", '"0"', "Infinity", "1e400", "-1", "null"])
def test_recover_takes_only_a_moment_as_since(since):
    b = ProviderService(seed=7, settlement=NEVER)
    with serve(b.app) as running, httpx.Client(base_url=running.url) as client:
        endpoint = client.post(
            "/webhook-endpoints", json={"url": "http://127.0.0.1:9/webhooks/payments"}
        ).json()
        answer = client.post(f"/webhook-endpoints/{endpoint['id']}/recover", content=f'{{"since": {since}}}',
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code in (400, 422), answer.text
        assert (
            client.post(f"/webhook-endpoints/{endpoint['id']}/recover", json={"since": 0}).status_code == 202
        )


# --- 9. A's POST /orders passed B's 429 on without Retry-After -------------------------------------
def test_an_order_refused_by_bs_rate_limit_says_when_to_retry():
    b = ProviderService(seed=9, settlement=NEVER, rate_limit="1/60")
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook")
        with serve(shop.app) as a, httpx.Client(base_url=a.url) as client:
            assert client.post("/orders", json={"amount": 100, "currency": "eur"}).status_code == 201
            refused = client.post("/orders", json={"amount": 100, "currency": "eur"})
        shop.close()
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert "refused" in refused.json()["error"]["message"]


# --- 10. chunked bodies over 64 KiB got 400 malformed_json instead of 413 -------------------------
def test_a_chunked_body_over_the_limit_is_413_everywhere():
    def chunks():
        for _ in range(70):
            yield b" " * 1024

    b = ProviderService(seed=10, settlement=NEVER)
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook")
        with serve(shop.app) as a:
            for url in (running.url + "/payments", a.url + "/orders", a.url + "/webhooks/payments"):
                response = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"})
                assert response.status_code == 413, (url, response.text)
                assert response.json()["error"]["code"] == "body_too_large"
        shop.close()
    assert b.core.payments == {}


# --- 11. the request log kept whatever path length a client sent ----------------------------------
def test_the_request_log_keeps_a_bounded_path_and_sender():
    b = ProviderService(seed=11, settlement=NEVER)
    with serve(b.app) as running:
        answer = httpx.get(running.url + "/payments/" + "x" * 8000, headers={"Hooklab-Sender": "s" * 5000})
        assert answer.status_code in (404, 422)
    (row,) = [r for r in b.log.records() if r.path.startswith("/payments/")]
    assert len(row.path) <= 256 and len(row.sender) <= 64


# --- 12. poll-mode A polled payments B had forgotten, forever --------------------------------------
def test_a_payment_b_forgot_is_polled_once_not_forever():
    port = free_port()
    first = ProviderService(seed=12, settlement=NEVER)
    with serve(first.app, port=port) as running:
        shop = ShopService(running.url, mode="poll", interval_s=0.02)
        forgotten = shop.create_payment()["id"]
    with serve(shop.app), serve(ProviderService(seed=12, settlement=FAST).app, port=port):  # B forgot it
        wait_until(lambda: forgotten in shop.unknown_at_b, what="A to hear B forgot the payment")
        # A carries on with payments B does know, and never asks for the forgotten one again
        fresh = [shop.create_payment()["id"] for _ in range(3)]
        wait_until(shop.is_done, what="A to learn the three new payments")
    shop.close()
    polls_of_forgotten = [r for r in shop.log.records() if r.kind == "poll" and r.path.endswith(forgotten)]
    assert [r.status for r in polls_of_forgotten if r.status is not None] == [404]  # None: B not up yet
    assert all(shop.snapshot()[pid]["status"] != "pending" for pid in fresh)


# --- 13. --ack inline --work handled deliveries one at a time --------------------------------------
def test_inline_work_on_concurrent_deliveries_runs_side_by_side():
    """8 deliveries at once to an A that works 1 s on each before answering: they are worked on
    together (before: each request worked through the whole inbox, so one at a time)."""
    b = ProviderService(seed=13, settlement=NEVER)
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook", ack="inline", work_s=1.0)
        with serve(shop.app) as a:
            shop.register_webhook(a.url)
            with b.lock:
                for _ in range(8):
                    b.core.create_payment(100, "eur", b.clock.now(), settle=False)
            settle_all(b)
            wait_until(lambda: shop.working >= 4, what="four events worked on at once")
            wait_until(lambda: len(shop.fulfilment_rows()) == 8, what="8 fulfilments")
        shop.close()


# --- 14. an in-memory A that restarted left its old endpoint at B, failing forever -----------------
def test_a_restarted_in_memory_a_replaces_its_old_endpoint(tmp_path):
    b_port, a_port = free_port(), free_port()
    b = start(["provider", "--settle-mean", "0.3"], b_port, tmp_path / "b.log")
    consumer = ["consumer", "--provider", b.url, "--mode", "webhook"]
    a_url = f"http://127.0.0.1:{a_port}"
    try:
        first = start(consumer, a_port, tmp_path / "a1.log")
        first.kill()  # SIGKILL: no chance to say goodbye, and its secret is gone with it
        second = start(consumer, a_port, tmp_path / "a2.log")
        (endpoint,) = httpx.get(b.url + "/webhook-endpoints").json()["data"]  # the old one is gone
        order = httpx.post(a_url + "/orders", json={"amount": 100, "currency": "eur"}).json()
        wait_until(lambda: httpx.get(f"{a_url}/payments/{order['id']}").json()["status"] != "pending",
                   what="A to learn its payment by webhook")  # fmt: skip
        second.stop()  # a clean stop: an A without a database deletes its endpoint
        assert httpx.get(b.url + "/webhook-endpoints").json()["data"] == []
        assert endpoint["enabled"] is True
    finally:
        b.stop()


# --- 15. HEAD /health answered 405; `make chaos` printed a runpy warning --------------------------
def test_head_health_answers_on_both_systems():
    b = ProviderService(seed=15, settlement=NEVER)
    with serve(b.app) as running:
        shop = ShopService(running.url, mode="webhook")
        with serve(shop.app) as a:
            for url in (running.url, a.url):
                answer = httpx.head(url + "/health")
                assert answer.status_code == 200 and answer.content == b""
        shop.close()


def test_the_chaos_command_runs_without_a_runpy_warning():
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "hooklab.cli", "chaos", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "RuntimeWarning" not in done.stderr and "--kills" in done.stdout
