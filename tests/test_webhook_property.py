"""Hypothesis on A's webhook endpoint: any bytes and headers, signed or not.

Properties, for every request: the answer is never a 5xx (A has its secret, so 503 cannot
apply); A's state changes only when the event is valid and new, and then by exactly that event
(one more processed id; the payment as the contract allows it, and only if its version is newer).
Run on the core (many examples, fast) and through the HTTP app in-process (fewer).
"""

from __future__ import annotations

import json
import os
import time

import hypothesis.strategies as st
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note

from hooklab.core.contract import PAYMENT_STATUSES, SIGNATURE_HEADER, validate_event
from hooklab.core.errors import ApiError
from hooklab.core.shop import Shop
from hooklab.core.signing import sign_stripe
from hooklab.live.shop_app import ShopService

SECRET = "whsec_property"
NOW = 1_700_000_000

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
good_ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
payments = st.fixed_dictionaries(
    {"id": st.one_of(good_ids, json_values), "status": st.sampled_from(["pending", "succeeded", "failed", "x"]),
     "version": st.one_of(st.integers(-2, 5), json_values)},
    optional={"amount": st.one_of(st.integers(-5, 10**13), json_values), "currency": st.text(max_size=4),
              "created_at": st.floats(), "updated_at": json_values, "extra": json_values},
)  # fmt: skip
events = st.fixed_dictionaries(
    {"id": st.one_of(good_ids, json_values), "type": st.text(max_size=20),
     "data": st.one_of(st.fixed_dictionaries({"object": payments}), json_values)},
)  # fmt: skip
# valid events too, with few ids, so duplicates and out-of-order versions happen often
valid_events = st.fixed_dictionaries(
    {"id": st.sampled_from(["evt_1", "evt_2", "evt_3"]), "type": st.just("payment.succeeded"),
     "data": st.fixed_dictionaries({"object": st.fixed_dictionaries(
         {"id": st.sampled_from(["pay_1", "pay_2"]), "status": st.sampled_from(sorted(PAYMENT_STATUSES)),
          "version": st.integers(1, 4)})})},
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    events.map(lambda e: json.dumps(e).encode()),
    valid_events.map(lambda e: json.dumps(e).encode()),
)
# header values as HTTP can carry them (printable ASCII); the core gets the same
headers = st.dictionaries(
    st.sampled_from([SIGNATURE_HEADER, "content-type", "x-other"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
how_signed = st.sampled_from(["right secret", "wrong secret", "as sent", "stale"])


def send(shop: Shop, body: bytes, extra: dict, signed: str):
    hdrs = dict(extra)
    if signed == "right secret":
        hdrs[SIGNATURE_HEADER] = sign_stripe(body, SECRET, NOW)
    elif signed == "wrong secret":
        hdrs[SIGNATURE_HEADER] = sign_stripe(body, "whsec_other", NOW)
    elif signed == "stale":
        hdrs[SIGNATURE_HEADER] = sign_stripe(body, SECRET, NOW - 3600)
    return hdrs


def expected_event(body: bytes) -> dict | None:
    """What the contract makes of this body: the event A may store, or None."""
    try:
        return validate_event(json.loads(body))
    except (ApiError, ValueError, RecursionError):
        return None


EXAMPLES = int(os.environ.get("HOOKLAB_FUZZ_EXAMPLES", "25"))


@settings(
    max_examples=24 * EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(st.lists(st.tuples(bodies, headers, how_signed), min_size=1, max_size=4))
def test_the_core_never_fails_and_changes_only_on_a_valid_new_event(requests):
    shop = Shop(webhook_secrets=[SECRET])
    for body, extra, signed in requests:
        before_payments, before_seen = shop.snapshot(), set(shop.processed_events)
        reply = shop.receive_webhook(body, send(shop, body, extra, signed), NOW)
        assert reply.status < 500 and (reply.status == 200) == ("error" not in reply.body)
        event = expected_event(body) if signed == "right secret" else None
        applied = reply.status == 200 and reply.body["duplicate"] is False
        assert applied == (event is not None and event["id"] not in before_seen)
        event_note("applied" if applied else f"refused or duplicate ({reply.status})")
        if not applied:
            assert shop.snapshot() == before_payments and set(shop.processed_events) == before_seen
            continue
        payment = event["data"]["object"]
        assert set(shop.processed_events) == before_seen | {event["id"]}
        known = before_payments.get(payment["id"])
        newer = known is None or payment["version"] > known["version"]
        assert shop.snapshot() == {**before_payments, **({payment["id"]: payment} if newer else {})}
        json.dumps(shop.snapshot(), ensure_ascii=False).encode()  # what A stores, A can serve again


shop_app = ShopService("http://127.0.0.1:9", mode="webhook")
shop_app.core.add_webhook_secret(SECRET)


@settings(max_examples=6 * EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(bodies, headers, st.sampled_from(["right secret", "wrong secret", "as sent"]))
def test_the_http_endpoint_never_answers_5xx(body, extra, signed):
    hdrs = send(shop_app.core, body, extra, signed)
    if signed == "right secret":  # the live endpoint checks against the wall clock
        hdrs[SIGNATURE_HEADER] = sign_stripe(body, SECRET, int(time.time()))
    with TestClient(shop_app.app, raise_server_exceptions=False) as client:
        response = client.post("/webhooks/payments", content=body, headers=hdrs)
        assert response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert client.get("/payments").status_code == 200
