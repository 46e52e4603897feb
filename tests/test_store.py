"""System A's durable memory in real SQLite: nothing A acknowledged is lost when A crashes."""

from __future__ import annotations

import json

import httpx
import pytest

from hooklab.core.contract import SIGNATURE_HEADER
from hooklab.core.provider import SettlementModel
from hooklab.core.shop import Shop
from hooklab.core.signing import sign_stripe
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService
from hooklab.live.store import SqliteStore, open_store

NOW = 1_700_000_000.0


def test_payments_and_event_ids_behave_like_a_dict_and_a_set(store_at):
    store = open_store(store_at)
    store.payments["pay_2"] = {"id": "pay_2", "version": 1}
    store.payments["pay_1"] = {"id": "pay_1", "version": 1}
    store.payments["pay_1"] = {"id": "pay_1", "version": 2}
    assert dict(store.payments) == {
        "pay_1": {"id": "pay_1", "version": 2},
        "pay_2": {"id": "pay_2", "version": 1},
    }
    assert store.payments.get("nope") is None and len(store.payments) == 2
    del store.payments["pay_2"]
    with pytest.raises(KeyError):
        del store.payments["pay_2"]
    store.processed_events.add("evt_1")
    store.processed_events.add("evt_1")
    assert "evt_1" in store.processed_events and store.processed_events == {"evt_1"}
    store.close()


def test_what_was_committed_survives_reopening(store_at):
    store = open_store(store_at)
    store.payments["pay_1"] = {"id": "pay_1", "version": 3}
    store.processed_events.add("evt_9")
    store.add_webhook_secret("whsec_old")
    store.add_webhook_secret("whsec_new")
    store.close()
    again = open_store(store_at)
    assert again.payments["pay_1"]["version"] == 3 and "evt_9" in again.processed_events
    assert again.webhook_secrets() == ["whsec_old", "whsec_new"]
    again.close()


def test_a_failed_transaction_leaves_nothing_behind(store_at):
    store = open_store(store_at)
    with pytest.raises(RuntimeError), store.transaction():
        store.processed_events.add("evt_1")
        store.payments["pay_1"] = {"id": "pay_1", "version": 2}
        raise RuntimeError("the process dies half-way")
    assert len(store.payments) == 0 and len(store.processed_events) == 0
    store.close()


def test_the_core_on_a_store_dedupes_across_a_restart(store_at):
    payment = {"id": "pay_1", "status": "succeeded", "amount": 1, "currency": "eur", "version": 2,
               "created_at": NOW - 5, "updated_at": NOW - 1}  # fmt: skip
    body = json.dumps(
        {"id": "evt_1", "type": "payment.succeeded", "created": NOW, "data": {"object": payment}}
    )
    headers = {SIGNATURE_HEADER: sign_stripe(body.encode(), "whsec_s", int(NOW))}
    first = Shop(webhook_secrets=["whsec_s"], store=open_store(store_at))
    assert first.receive_webhook(body.encode(), headers, NOW).body["duplicate"] is False
    first.store.close()
    # a new process on the same file: it knows the secret and that evt_1 was handled
    second = Shop(store=open_store(store_at))
    assert second.webhook_secrets == ["whsec_s"]
    reply = second.receive_webhook(body.encode(), headers, NOW)
    assert reply.status == 200 and reply.body["duplicate"] is True
    assert second.snapshot() == {"pay_1": payment}
    second.store.close()


def test_a_crashes_and_restarts_over_http_losing_nothing(tmp_path):
    """A acknowledges an event, its process dies, a new A on the same SQLite file carries on."""
    db = tmp_path / "shop.db"
    b = ProviderService(seed=2, settlement=SettlementModel(mean_s=0.1, min_s=0.05, failure_share=0))
    with serve(b.app) as b_running:

        def synced(shop: ShopService) -> bool:
            with b.lock:
                done = b.core.all_settled() and all(
                    d.state == "delivered" for d in b.core.deliveries.values()
                )
                state = b.core.snapshot()
            return done and shop.snapshot() == state

        first = ShopService(b_running.url, mode="webhook", db_path=db)
        with serve(first.app) as a_running:
            port = a_running.port
            first.register_webhook(a_running.url)
            first.create_payment(100, "eur")
            wait_until(lambda: synced(first), what="the first settlement at A")
        first.close()  # the process is gone: everything in its memory with it

        second = ShopService(b_running.url, mode="webhook", db_path=db)
        assert second.snapshot() == b.core.snapshot()  # it remembers every payment
        with serve(second.app, port=port):
            with b.lock:
                (delivered,) = b.core.deliveries.values()
                url, headers, body = delivered.request(b.clock.now())
            again = httpx.post(url, content=body, headers=headers)  # B retries the old event
            assert again.status_code == 200 and again.json()["duplicate"] is True
            second.create_payment(200, "eur")  # and new events verify with the remembered secret
            wait_until(lambda: synced(second), what="the second settlement at the restarted A")
        second.close()
    assert len(b.core.payments) == 2


def test_after_close_what_a_knew_stays_readable(tmp_path):
    shop = ShopService("http://127.0.0.1:9", mode="webhook", db_path=tmp_path / "a.db")
    shop.core.apply({"id": "pay_1", "status": "pending", "version": 1}, "create", NOW)
    shop.close()
    assert shop.snapshot() == {"pay_1": {"id": "pay_1", "status": "pending", "version": 1}}
    assert SqliteStore(tmp_path / "a.db").payments["pay_1"]["version"] == 1  # and it is on disk


def test_the_questions_asked_for_every_event_use_an_index(tmp_path):
    """Each applied event asks whether its payment is fulfilled: a scan of every fulfilment would
    make A slower the longer it runs (it did: the benchmark's endpoint lost a fifth of its rate)."""
    store = SqliteStore(tmp_path / "a.db")
    plans = {
        sql: " ".join(row[-1] for row in store.execute("EXPLAIN QUERY PLAN " + sql, params))
        for sql, params in [
            ("SELECT MIN(fulfilled_at) FROM fulfilments WHERE payment_id = ?", ("pay_1",)),
            ("SELECT 1 FROM processed_events WHERE id = ?", ("evt_1",)),
            ("SELECT id FROM processed_events WHERE at < ?", (NOW,)),
        ]
    }
    assert all("USING" in plan and "INDEX" in plan for plan in plans.values()), plans
    store.close()


def test_the_oldest_inbox_events_are_read_a_page_at_a_time(tmp_path):
    """Taking the oldest few of a large inbox reads a page, not every row: draining a backlog stays
    linear in its size. Iterating while rows are deleted sees each row once, in order."""
    import itertools

    store = SqliteStore(tmp_path / "a.db")
    with store.transaction():
        for i in range(1000):
            store.inbox[f"evt_{i}"] = ({"id": f"evt_{i}"}, "webhook", NOW + i)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    oldest = list(itertools.islice(store.inbox.items(), 3))
    store._conn.set_trace_callback(None)
    assert [k for k, _ in oldest] == ["evt_0", "evt_1", "evt_2"] and oldest[0][1][1:] == ("webhook", NOW)
    assert len(statements) == 1 and "LIMIT" in statements[0]
    seen = []
    for event_id, _ in store.inbox.items():
        seen.append(event_id)
        del store.inbox[event_id]
    assert seen == [f"evt_{i}" for i in range(1000)] and len(store.inbox) == 0
    store.close()
