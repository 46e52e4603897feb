"""System A's sans-I/O core: applying snapshots, receiving webhooks, planning polls."""

from __future__ import annotations

import json

import pytest

from hooklab.core.contract import MAX_BODY_BYTES, SIGNATURE_HEADER
from hooklab.core.shop import PollSchedule, Shop
from hooklab.core.signing import sign_stripe

SECRET = "whsec_test"
NOW = 1_700_000_000.0


def payment(version=2, status="succeeded", pid="pay_1"):
    return {"id": pid, "status": status, "amount": 100, "currency": "eur", "version": version,
            "created_at": NOW - 5, "updated_at": NOW - 1}  # fmt: skip


def event(eid="evt_1", **kw):
    return {"id": eid, "type": "payment.succeeded", "created": NOW - 1, "data": {"object": payment(**kw)}}


def signed(body: bytes, t=NOW, secret=SECRET):
    return {SIGNATURE_HEADER: sign_stripe(body, secret, int(t))}


def shop():
    return Shop(webhook_secrets=[SECRET])


def test_apply_reports_news_once_and_never_goes_back():
    a = shop()
    assert a.apply(payment(1, "pending"), "poll", NOW) is True
    assert a.apply(payment(1, "pending"), "poll", NOW) is False
    assert a.apply(payment(2), "poll", NOW) is True
    assert a.apply(payment(1, "pending"), "poll", NOW) is False  # a stale answer arriving late
    assert a.payments["pay_1"]["version"] == 2
    assert [o.version for o in a.observations] == [1, 2]


def test_a_valid_webhook_is_applied_and_a_duplicate_is_not():
    a = shop()
    body = json.dumps(event()).encode()
    first = a.receive_webhook(body, signed(body), NOW)
    assert first.status == 200 and first.news is True and first.body["duplicate"] is False
    again = a.receive_webhook(body, signed(body), NOW)
    assert again.status == 200 and again.body["duplicate"] is True and again.news is False
    assert len(a.observations) == 1


def test_header_lookup_is_case_insensitive():
    a = shop()
    body = json.dumps(event()).encode()
    headers = {SIGNATURE_HEADER.lower(): signed(body)[SIGNATURE_HEADER]}
    assert a.receive_webhook(body, headers, NOW).status == 200


@pytest.mark.parametrize(
    ("make_request", "status", "code", "reason"),
    [
        (lambda b: (b, {}), 400, "bad_signature", "missing_header"),
        (lambda b: (b, signed(b, secret="whsec_wrong")), 400, "bad_signature", "signature_mismatch"),
        (lambda b: (b + b" ", signed(b)), 400, "bad_signature", "signature_mismatch"),
        (lambda b: (b, signed(b, t=NOW - 3600)), 400, "bad_signature", "timestamp_too_old"),
        (lambda b: (b, {SIGNATURE_HEADER: "garbage"}), 400, "bad_signature", "malformed_header"),
        (lambda b: (b"{not json", signed(b"{not json")), 400, "malformed_json", None),
        (lambda b: (b'{"id": 1}', signed(b'{"id": 1}')), 422, "invalid_event", None),
        (lambda b: (b"x" * (MAX_BODY_BYTES + 1), {}), 413, "body_too_large", None),
    ],
)
def test_bad_webhooks_are_refused_with_a_reason_and_nothing_is_stored(make_request, status, code, reason):
    a = shop()
    body, headers = make_request(json.dumps(event()).encode())
    reply = a.receive_webhook(body, headers, NOW)
    assert reply.status == status
    assert reply.body["error"]["code"] == code
    assert reply.body["error"]["message"]
    if reason:
        assert reply.body["error"]["reason"] == reason
    assert a.payments == {} and a.processed_events == set() and a.observations == []
    assert a.rejections == [(NOW, code)]


def test_without_a_secret_the_endpoint_refuses_and_says_how_to_fix_it():
    a = Shop()
    body = json.dumps(event()).encode()
    reply = a.receive_webhook(body, signed(body), NOW)
    assert reply.status == 503 and "POST /webhook-endpoints" in reply.body["error"]["message"]
    assert a.payments == {}


def test_rotation_accepts_old_and_new_secret():
    a = shop()
    a.add_webhook_secret("whsec_new")
    for i, secret in enumerate((SECRET, "whsec_new")):
        body = json.dumps(event(eid=f"evt_{i}", pid=f"pay_{i}")).encode()
        assert a.receive_webhook(body, signed(body, secret=secret), NOW).status == 200


def test_out_of_order_events_keep_the_newest_state():
    a = shop()
    newer = json.dumps(event("evt_2", version=3, status="failed")).encode()
    older = json.dumps(event("evt_1", version=2, status="succeeded")).encode()
    assert a.receive_webhook(newer, signed(newer), NOW).news is True
    assert a.receive_webhook(older, signed(older), NOW).news is False
    assert a.payments["pay_1"]["status"] == "failed"


def test_poll_schedule_polls_every_interval_until_done():
    s = PollSchedule(2.0)
    s.add("a", 0.0)
    s.add("b", 1.0)
    assert s.next_at() == 2.0 and s.due(1.9) == []
    assert s.due(2.0) == ["a"]
    s.polled("a", 2.0, done=False)
    assert s.due(3.0) == ["b"]
    s.polled("b", 3.0, done=True)
    assert s.due(100) == ["a"]
    s.polled("a", 4.0, done=True)
    assert s.next_at() is None and len(s) == 0


def test_poll_interval_must_be_positive():
    with pytest.raises(ValueError, match="> 0"):
        PollSchedule(0)


def test_signature_errors_name_hooklabs_own_header():
    reply = shop().receive_webhook(b"{}", {SIGNATURE_HEADER: "nonsense"}, NOW)
    assert SIGNATURE_HEADER in reply.body["error"]["message"]
    assert "Stripe-Signature" not in reply.body["error"]["message"]


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_the_inbox_is_applied_oldest_first_a_group_at_a_time(backend, tmp_path, request):
    from hooklab.live.store import open_store

    where = {"memory": None, "sqlite": tmp_path / "a.db"}.get(backend)
    if backend == "postgres":
        where = request.getfixturevalue("postgres_cluster").create_database(f"inbox_{id(tmp_path)}")
    a = Shop(webhook_secrets=[SECRET], defer=True, store=open_store(where) if where else None)
    replies = a.accept_webhooks(
        [(event("evt_1", version=1, status="pending", pid="pay_1"), NOW), (event("evt_2", pid="pay_2"), NOW),
         (event("evt_3", version=2, pid="pay_1"), NOW), (event("evt_2", pid="pay_2"), NOW)]
    )  # fmt: skip
    assert [r.body["duplicate"] for r in replies] == [False, False, False, True]
    assert [r.news for r in replies[:3]] == [None, None, None]  # waiting, not applied yet
    assert a.apply_pending(NOW + 1, limit=2) == 2
    assert [e for e, _, _ in a.pending_events()] == ["evt_3"]
    assert a.payments["pay_1"]["status"] == "pending" and "pay_2" in a.fulfilments
    assert a.apply_pending(NOW + 2) == 1 and a.apply_pending(NOW + 3) == 0
    assert a.payments["pay_1"]["version"] == 2 and dict(a.fulfilments) == {"pay_2": NOW + 1, "pay_1": NOW + 2}
    assert set(a.processed_events) == {"evt_1", "evt_2", "evt_3"}


def test_what_a_long_running_shop_remembers_is_not_walked_by_the_collector():
    """A keeps a row for every change it learned; as objects they made each full collection walk
    them all (pauses of 20-80 ms under load: A's p99). Plain tuples of plain values are untracked."""
    import gc

    a = shop()
    for i in range(100):
        a.apply(payment(pid=f"pay_{i}"), "webhook", NOW)
    gc.collect()
    assert len(a._learned) == 100 and not any(gc.is_tracked(row) for row in a._learned)
    assert a.observations[0].payment_id == "pay_0" and a.observations[0].via == "webhook"
