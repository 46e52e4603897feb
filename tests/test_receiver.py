"""A's receiver under load (the stability issue): group commits, a 200 only once stored, SIGKILL
in the middle of a load, back-pressure. Real processes and real SQLite files on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import threading
import time

import httpx
import pytest

from hooklab.core.contract import SIGNATURE_HEADER, WEBHOOK_PATH
from hooklab.lab.hostile import signed_events
from hooklab.live.processes import free_port, start
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

pytestmark = pytest.mark.slow


def _post(client: httpx.Client, url: str, header: str, body: bytes) -> httpx.Response | None:
    try:
        return client.post(
            url, content=body, headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"}
        )
    except httpx.TransportError:  # A was killed while this one was in flight: not acknowledged
        return None


def _column(db, sql: str) -> list:
    """The first column of ``sql``'s rows in A's database (an SQLite file or a PostgreSQL URL)."""
    if str(db).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return [row[0] for row in conn.execute(sql)]
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute(sql)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_event_a_answered_200_is_in_its_database_after_a_sigkill_during_a_load(
    tmp_path, backend, request
):
    log = tmp_path / "processes.log"
    db = str(tmp_path / "a.db")
    if backend == "postgres":
        db = request.getfixturevalue("postgres_cluster").create_database(f"sigkill_{id(tmp_path)}")
    b = start(["provider"], free_port(), log)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    a = start(
        ["consumer", "--provider", b.url, "--mode", "webhook", "--db", db, "--public-url", url], port, log
    )
    try:
        [secret] = _column(db, "SELECT secret FROM webhook_secrets")
        events = signed_events(secret, 3000, time.time())
        acknowledged: list[str] = []
        lock = threading.Lock()

        def send(chunk: list) -> None:
            with httpx.Client(timeout=10) as client:
                for header, body in chunk:
                    answer = _post(client, url + WEBHOOK_PATH, header, body)
                    if answer is None:
                        return
                    if answer.status_code == 200:
                        with lock:
                            acknowledged.append(json.loads(body)["id"])

        chunks = [events[k::8] for k in range(8)]  # eight senders at once
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(send, chunk) for chunk in chunks]
            wait_until(lambda: len(acknowledged) >= 300, timeout_s=60, what="300 events acknowledged")
            a.kill()  # SIGKILL in the middle of the load: requests in flight, commits under way
            for future in futures:
                future.result(timeout=60)
        assert 300 <= len(acknowledged) < len(events)  # killed mid-load, not after it
        a = start(
            ["consumer", "--provider", b.url, "--mode", "webhook", "--db", db, "--public-url", url], port, log
        )
        stored = set(_column(db, "SELECT id FROM processed_events"))
        assert set(acknowledged) <= stored  # every 200 was committed before it was sent
    finally:
        a.stop()
        b.stop()


def test_back_pressure_answers_503_with_retry_after_and_stores_nothing_of_what_it_refuses(tmp_path):
    # a slow worker (0.3 s of work per event) and room for 3 events received and not yet applied
    shop = ShopService("http://127.0.0.1:1", mode="webhook", ack="inbox", work_s=0.3, max_backlog=3,
                       db_path=tmp_path / "a.db")  # fmt: skip
    shop.core.add_webhook_secret("whsec_backpressure")
    events = signed_events("whsec_backpressure", 12, time.time())
    with serve(shop.app) as running, httpx.Client(timeout=10) as client:
        answers = [_post(client, running.url + WEBHOOK_PATH, header, body) for header, body in events]
        refused = [a for a in answers if a.status_code == 503]
        taken = [
            json.loads(body)["id"]
            for (_, body), a in zip(events, answers, strict=True)
            if a.status_code == 200
        ]
        assert refused and taken and len(refused) + len(taken) == len(events)
        assert all(
            a.headers["Retry-After"] == "1" and a.json()["error"]["code"] == "backlog_full" for a in refused
        )
        with shop.lock:
            kept = set(shop.core.processed_events)
        assert kept == set(taken)  # nothing of a refused event was stored
        wait_until(lambda: shop.backlog() == 0, timeout_s=30, what="the worker to catch up")
        retried = _post(client, running.url + WEBHOOK_PATH, *events[-1])
        assert retried.status_code == 200  # once A has caught up, the sender's retry is taken
    shop.close()


def test_b_sends_an_endpoint_at_most_its_rate_however_large_the_backlog():
    from hooklab.core.provider import SettlementModel
    from hooklab.live.provider_app import ProviderService
    from hooklab.live.runs import synced

    b = ProviderService(seed=3, settlement=SettlementModel(mean_s=0.05, min_s=0.01, failure_share=0.0),
                        endpoint_rate=(5, 1.0))  # fmt: skip
    with serve(b.app) as b_run:
        shop = ShopService(b_run.url, mode="webhook", ack="inbox")
        with serve(shop.app) as a_run:
            shop.register_webhook(a_run.url)
            for _ in range(15):
                shop.create_payment()
            wait_until(lambda: synced(b, shop), timeout_s=30, what="A to learn all 15 payments")
        shop.close()
    starts = sorted(a["started_at"] for d in b.deliveries() for a in d["attempts"])
    assert len(starts) == 15
    # a bucket of 5, refilled at 5 a second: the k-th attempt no sooner than (k - 5) / 5 s after the first
    assert all(t - starts[0] >= (k - 5) * 0.2 - 0.05 for k, t in enumerate(starts))
    assert starts[-1] - starts[0] >= 1.8  # 15 attempts could not all go at once


@pytest.mark.parametrize("handlers", [1, 4])
def test_an_inline_a_works_on_at_most_its_handlers_events_at_once(tmp_path, handlers):
    """``--handlers N`` bounds A's inline work: 4 events of 0.2 s each take 0.8 s with one handler
    (each waits for the one before), 0.2 s with four (A's capacity: N / work seconds)."""
    shop = ShopService("http://127.0.0.1:1", mode="webhook", ack="inline", work_s=0.2, handlers=handlers,
                       db_path=tmp_path / "a.db")  # fmt: skip
    shop.core.add_webhook_secret("whsec_handlers")
    events = signed_events("whsec_handlers", 4, time.time())
    with serve(shop.app) as running, httpx.Client(timeout=10) as client:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda e: _post(client, running.url + WEBHOOK_PATH, *e), events))
        took = time.monotonic() - started
    shop.close()
    assert [a.status_code for a in answers] == [200] * 4
    if handlers == 1:
        assert took >= 0.8  # one at a time: a floor, whatever the machine
    else:
        assert took < 0.8  # side by side


def test_b_says_on_its_health_how_many_requests_and_bytes_it_served():
    from hooklab.live.provider_app import ProviderService

    b = ProviderService()
    with serve(b.app) as running, httpx.Client(base_url=running.url, timeout=5) as client:
        before = client.get("/health").json()["traffic"]
        client.post("/payments", json={"amount": 100, "currency": "eur"})
        after = client.get("/health").json()["traffic"]
    assert after["requests"] == before["requests"] + 2  # the payment and the first health check
    assert after["bytes"] > before["bytes"] + 100


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_a_bug_in_as_own_work_sets_the_event_aside_and_the_inbox_moves_on(
    tmp_path, backend, monkeypatch, request
):
    """Never a 500 for A's own bug: the endpoint stores and answers 200; the worker's work on one
    event raises; that event goes to the dead letters with its error, the others are applied, and
    later events still are."""
    db = {"memory": None, "sqlite": tmp_path / "a.db"}.get(backend)
    if backend == "postgres":
        db = request.getfixturevalue("postgres_cluster").create_database(f"poison_{id(tmp_path)}")
    shop = ShopService("http://127.0.0.1:1", mode="webhook", ack="inbox", db_path=db)
    shop.core.add_webhook_secret("whsec_poison")
    events = signed_events("whsec_poison", 4, time.time())
    poison = json.loads(events[1][1])["data"]["object"]["id"]
    real_apply = shop.core._apply_many

    def buggy(snapshots):  # a bug that shows on one payment only
        if any(payment["id"] == poison for _, payment, _, _ in snapshots):
            raise ZeroDivisionError("the handler divided by the amount of discount")
        return real_apply(snapshots)

    monkeypatch.setattr(shop.core, "_apply_many", buggy)
    with serve(shop.app) as running, httpx.Client(timeout=10) as client:
        answers = [_post(client, running.url + WEBHOOK_PATH, *e) for e in events[:3]]
        assert [a.status_code for a in answers] == [200, 200, 200]
        wait_until(lambda: not shop.core.inbox and len(shop.core.dead_letters) == 1, 10, "the worker")
        assert _post(client, running.url + WEBHOOK_PATH, *events[3]).status_code == 200
        wait_until(lambda: len(shop.core.payments) == 3, 10, "the next event to be applied")
    [(event_id, (event, via, error, _at))] = shop.core.dead_letters.items()
    assert (
        event["data"]["object"]["id"] == poison and via == "webhook" and error.startswith("ZeroDivisionError")
    )
    assert poison not in shop.core.payments and event_id in shop.core.processed_events
    shop.close()


def test_the_webhook_served_past_fastapis_layers_still_logs_documents_and_answers_json(tmp_path):
    from fastapi.testclient import TestClient

    service = ShopService("http://127.0.0.1:9", mode="webhook", secret="whsec_" + "ab" * 24)
    try:
        with TestClient(service.app) as client:
            refused = client.post(WEBHOOK_PATH, content=b"{}")  # straight to the endpoint: unsigned
            assert refused.status_code == 400 and refused.json()["error"]["reason"] == "missing_header"
            wrong_method = client.get(WEBHOOK_PATH)  # any other method: FastAPI's routing, as before
            assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"

            async def broken(request):
                raise RuntimeError("a bug in the handler")

            service._fast_routes[("POST", WEBHOOK_PATH)] = broken
            bug = client.post(WEBHOOK_PATH, content=b"{}")
            assert bug.status_code == 500 and bug.json()["error"]["code"] == "internal_error"
            assert "a bug in the handler" in bug.json()["error"]["message"]
        log = service.log.to_frame()
        assert log[log["path"] == WEBHOOK_PATH]["status"].tolist() == [400, 405, 500]
        assert "post" in service.app.openapi()["paths"][WEBHOOK_PATH]  # still described
    finally:
        service.close()
