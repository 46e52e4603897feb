"""End to end over real loopback HTTP: both systems live, both modes, and downtime."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import run_live, wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

QUICK = SettlementModel(mean_s=0.6, min_s=0.1, failure_share=0.2)


def served(frame, observer, kind, direction):
    return frame[(frame.observer == observer) & (frame.kind == kind) & (frame.direction == direction)]


@pytest.fixture(scope="module")
def poll_run():
    return run_live("poll", payments=30, interval_s=0.25, seed=11, settlement=QUICK)


@pytest.fixture(scope="module")
def webhook_run():
    return run_live("webhook", payments=30, seed=11, settlement=QUICK)


@pytest.mark.slow
def test_poll_mode_ends_with_a_equal_to_b(poll_run):
    assert len(poll_run.provider_state) == 30
    assert poll_run.consistent
    assert all(p["status"] in ("succeeded", "failed") for p in poll_run.shop_state.values())


def test_poll_requests_equal_gets_b_served(poll_run):
    frame, summary = poll_run.requests, poll_run.summary
    b_served_gets = served(frame, "B", "poll", "in")
    assert (b_served_gets["method"] == "GET").all()
    assert summary["requests"] == len(b_served_gets) == len(served(frame, "A", "poll", "out"))
    assert summary["changes"] == summary["detected"] == 30
    assert summary["empty_responses"] == summary["requests"] - 30
    # every change was noticed by a poll that carried it (its size: benchmarks/bench_latency.py)
    assert summary["latency_max_s"] > 0 and served(frame, "A", "poll", "out")["news"].sum() == 30


@pytest.mark.slow
def test_webhook_mode_ends_with_a_equal_to_b(webhook_run):
    assert len(webhook_run.provider_state) == 30 and webhook_run.consistent


def test_webhook_requests_equal_events_delivered(webhook_run):
    frame, summary = webhook_run.requests, webhook_run.summary
    deliveries = served(frame, "B", "webhook", "out")
    assert summary["requests"] == len(deliveries) == 30  # one settlement, one event, one delivery each
    assert len(served(frame, "A", "webhook", "in")) == 30
    assert (deliveries["status"] == 200).all()
    assert summary["empty_responses"] == 0 and summary["detected"] == 30
    assert served(frame, "B", "poll", "in").empty  # nobody polled


def test_push_is_faster_than_pull(poll_run, webhook_run):
    assert webhook_run.summary["latency_p50_s"] < poll_run.summary["latency_p50_s"]
    assert webhook_run.summary["requests"] < poll_run.summary["requests"]


@pytest.mark.slow
def test_demo_json_cli_shows_webhook_faster_at_interval_1():
    out = subprocess.run(
        [sys.executable, "-m", "hooklab.cli", "demo", "--payments", "8", "--interval", "1", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    keys = {"requests", "empty_responses", "changes", "detected", "superseded", "latency_mean_s", "latency_p50_s",
            "latency_p95_s", "latency_max_s"}  # fmt: skip
    assert set(result) == {"poll", "webhook"}
    assert keys <= set(result["poll"]) and keys <= set(result["webhook"])
    assert result["webhook"]["latency_p50_s"] < result["poll"]["latency_p50_s"]
    assert result["poll"]["detected"] == result["webhook"]["detected"] == 8


def test_a_down_loses_nothing_b_retries_until_a_is_back():
    """B keeps an event while A is down and delivers it on a later retry."""
    b = ProviderService(seed=3, settlement=SettlementModel(mean_s=0.1, min_s=0.05, failure_share=0),
                        retry_schedule=(0.3, 0.3, 0.3, 0.3, 0.3, 0.3))  # fmt: skip
    with serve(b.app) as b_running:
        shop = ShopService(b_running.url, mode="webhook")
        with serve(shop.app) as a_running:
            a_url, a_port = a_running.url, a_running.port
            shop.register_webhook(a_url)
        # A is down now: its port is closed. A payment settles and B tries to deliver.
        with b.lock:
            b.core.create_payment(100, "eur", b.clock.now())
        b.sender.poke()
        wait_until(lambda: any(r.status is None for r in b.log.records()), what="a failed delivery")
        assert shop.snapshot() == {}
        with serve(shop.app, port=a_port):  # A is back on the same address
            wait_until(lambda: shop.snapshot() == b.core.snapshot(), what="the retried delivery")
        shop.close()
    attempts = [r.status for r in b.log.records() if r.kind == "webhook"]
    assert attempts[0] is None and attempts[-1] == 200, attempts


def test_b_down_the_poller_keeps_trying_and_catches_up():
    b = ProviderService(seed=4, settlement=SettlementModel(mean_s=0.2, min_s=0.1, failure_share=0))
    with serve(b.app) as b_running:
        port = b_running.port
        shop = ShopService(b_running.url, mode="poll", interval_s=0.1, timeout_s=1.0)
        payment = shop.create_payment(100, "eur")
    # B is down: polls fail with no response, A records them and carries on
    shop.start_poller()
    try:
        wait_until(lambda: any(r.kind == "poll" and r.status is None for r in shop.log.records()),
                   what="a failed poll")  # fmt: skip
        assert shop.snapshot()[payment["id"]]["status"] == "pending"
        with serve(b.app, port=port):
            wait_until(shop.is_done, what="A to learn the settlement")
    finally:
        shop.close()
    assert shop.snapshot() == b.core.snapshot()


def test_a_cannot_create_payments_while_b_is_down():
    b = ProviderService(seed=5)
    with serve(b.app) as running:
        url = running.url
    shop = ShopService(url, mode="poll", timeout_s=1.0)
    with pytest.raises(ConnectionError, match="is it running"):
        shop.create_payment(100, "eur")
    shop.close()
    assert shop.snapshot() == {}


@pytest.mark.slow
def test_servers_can_start_and_stop_many_times_in_one_process():
    for _ in range(5):
        b = ProviderService()
        with serve(b.app) as running:
            shop = ShopService(running.url, mode="poll", interval_s=0.05)
            shop.create_payment(100, "eur")
            shop.close()
