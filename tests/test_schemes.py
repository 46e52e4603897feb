"""One receiver, four senders' conventions (hooklab.core.schemes): B signs in each, A verifies and
reads each, Stripe's PaymentIntent events map onto A's payments, and a refusal says what to fix."""

from __future__ import annotations

import itertools
import json

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note

from hooklab.core.contract import encode_event
from hooklab.core.provider import make_event
from hooklab.core.schemes import IGNORED, SCHEMES, STRIPE_TYPES, scheme, shop_event
from hooklab.core.shop import Shop
from hooklab.lab.pair import webhook_pair

SECRET = "whsec_" + "ab12" * 12  # hex is base64 too: one secret serves every scheme
NOW = 1_800_000_000


def _payment(status="succeeded", version=2, pid="pay_1"):
    return {"id": pid, "amount": 1999, "currency": "eur", "status": status, "version": version}


def _delivery(name, event, *, secret=SECRET, now=NOW):
    s = scheme(name)
    body = s.encode(event)
    return body, s.sign(body, secret, now, event_id=event["id"], delivery_id="dlv_1")


@pytest.mark.parametrize("name", list(SCHEMES))
def test_a_receives_what_b_signs_in_every_scheme(name):
    shop = Shop(webhook_secrets=[SECRET], scheme_name=name)
    body, headers = _delivery(name, make_event("evt_1", _payment(), NOW))
    reply = shop.receive_webhook(body, headers, NOW)
    assert reply.status == 200 and reply.body == {"received": True, "duplicate": False, "event": "evt_1"}
    assert shop.snapshot()["pay_1"]["status"] == "succeeded"
    assert shop.receive_webhook(body, headers, NOW).body["duplicate"] is True


@pytest.mark.parametrize(("sender", "receiver"), list(itertools.permutations(SCHEMES, 2)))
def test_a_refuses_another_scheme_naming_the_header_it_wants(sender, receiver):
    shop = Shop(webhook_secrets=[SECRET], scheme_name=receiver)
    body, headers = _delivery(sender, make_event("evt_1", _payment(), NOW))
    reply = shop.receive_webhook(body, headers, NOW)
    error = reply.body["error"]
    assert reply.status == 400 and error["code"] == "bad_signature" and error["reason"] == "missing_header"
    if receiver != "standard":  # its message lists the three webhook-* headers instead
        assert SCHEMES[receiver].header in error["message"]
    assert f"signed in the {sender} scheme" in error["message"] and f"--scheme {sender}" in error["message"]
    assert shop.snapshot() == {}


def test_stripe_writes_indented_json_and_the_others_compact():
    event = make_event("evt_1", _payment(), NOW)
    assert scheme("stripe").encode(event) == json.dumps(event, indent=2).encode()
    for name in ("hooklab", "github", "standard"):
        assert scheme(name).encode(event) == encode_event(event)


def test_github_scheme_signs_no_time_and_names_the_delivery():
    body, headers = _delivery("github", make_event("evt_1", _payment(), NOW))
    assert headers["X-Hub-Signature-256"].startswith("sha256=") and headers["X-GitHub-Delivery"] == "dlv_1"
    shop = Shop(webhook_secrets=[SECRET], scheme_name="github")
    # no timestamp is signed: a week-old capture still verifies; only the event id stops a replay
    assert shop.receive_webhook(body, headers, NOW + 7 * 86400).status == 200
    assert shop.receive_webhook(body, headers, NOW + 7 * 86400).body["duplicate"] is True


def test_standard_scheme_uses_the_event_id_as_webhook_id():
    _, headers = _delivery("standard", make_event("evt_9", _payment(), NOW))
    assert headers["webhook-id"] == "evt_9" and headers["webhook-timestamp"] == str(NOW)


def test_a_mismatch_says_a_relay_may_have_re_serialised_the_body():
    body, headers = _delivery("stripe", make_event("evt_1", _payment(), NOW))
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    reply = Shop(webhook_secrets=[SECRET], scheme_name="stripe").receive_webhook(reserialised, headers, NOW)
    error = reply.body["error"]
    assert reply.status == 400 and error["reason"] == "signature_mismatch"
    assert "re-serialised" in error["message"] and "byte for byte" in error["message"]


def _stripe_event(event_type, status, *, evt="evt_s1", pi="pi_1", created=NOW):
    intent = {"id": pi, "object": "payment_intent", "amount": 2500, "currency": "usd", "status": status,
              "created": created - 5}  # fmt: skip
    return {"id": evt, "object": "event", "type": event_type, "created": created, "data": {"object": intent}}


def test_stripe_payment_intent_events_map_onto_payments():
    succeeded = shop_event(_stripe_event("payment_intent.succeeded", "succeeded"))
    assert succeeded["type"] == "payment.succeeded"
    assert succeeded["data"]["object"] == {"id": "pi_1", "status": "succeeded", "version": 3, "amount": 2500,
                                           "currency": "usd", "created_at": NOW - 5, "updated_at": NOW}  # fmt: skip
    failed = shop_event(_stripe_event("payment_intent.payment_failed", "requires_payment_method"))
    assert failed["data"]["object"]["status"] == "failed"
    assert shop_event(_stripe_event("customer.created", "x")) is IGNORED
    assert shop_event(None) is None and shop_event([1]) == [1]  # not Stripe's: the validator decides


def test_a_late_stripe_event_cannot_undo_a_final_status():
    shop = Shop(webhook_secrets=[SECRET], scheme_name="stripe")
    for evt, event_type, status in (("evt_a", "payment_intent.succeeded", "succeeded"),
                                    ("evt_b", "payment_intent.processing", "processing")):  # fmt: skip
        body, headers = _delivery("stripe", _stripe_event(event_type, status, evt=evt))
        assert shop.receive_webhook(body, headers, NOW).status == 200
    assert shop.snapshot()["pi_1"]["status"] == "succeeded"
    assert shop.fulfil_count["pi_1"] == 1


def test_a_stripe_event_a_does_not_handle_is_answered_200_and_stores_nothing():
    shop = Shop(webhook_secrets=[SECRET], scheme_name="stripe")
    body, headers = _delivery("stripe", _stripe_event("charge.refunded", "x"))
    reply = shop.receive_webhook(body, headers, NOW)
    assert reply.status == 200 and reply.body["ignored"] == "charge.refunded"
    assert shop.snapshot() == {} and len(shop.processed_events) == 0


def test_a_malformed_stripe_event_is_a_422():
    shop = Shop(webhook_secrets=[SECRET], scheme_name="stripe")
    event = _stripe_event("payment_intent.succeeded", "succeeded")
    event["data"]["object"]["amount"] = "lots"
    body, headers = _delivery("stripe", event)
    assert shop.receive_webhook(body, headers, NOW).status == 422


def test_an_unknown_scheme_is_refused_with_the_list():
    with pytest.raises(ValueError, match="hooklab"):
        Shop(scheme_name="paypal")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCHEMES))
def test_b_and_a_over_http_in_every_scheme(name):
    with webhook_pair(scheme=name) as pair:
        pair.checkout(3)
        assert pair.synced()
        headers = pair.captured[-1].headers
        assert SCHEMES[name].header.lower() in headers
        assert pair.failed_attempts() == 0


def test_a_secret_the_scheme_cannot_use_is_refused_at_start_up():
    from hooklab.live.shop_app import ShopService

    with pytest.raises(ValueError, match="standard scheme"):
        ShopService("http://127.0.0.1:9", mode="webhook", scheme="standard", secret="whsec_not base64!")
    scheme("standard").check_secret(SECRET)  # hex is base64: fine


# --- hostile input in every scheme: never a 5xx, nothing stored unless a valid event arrives -----
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
stripe_events = st.fixed_dictionaries(
    {"id": st.one_of(st.from_regex(r"evt_[a-z0-9]{1,8}", fullmatch=True), json_values), "object": st.just("event"),
     "type": st.one_of(st.sampled_from(sorted(STRIPE_TYPES)), st.text(max_size=20)),
     "created": st.one_of(st.integers(0, 2_000_000_000), json_values),
     "data": st.one_of(json_values, st.fixed_dictionaries({"object": st.fixed_dictionaries(
         {"id": st.one_of(st.sampled_from(["pi_1", "pi_2"]), json_values)},
         optional={"amount": st.one_of(st.integers(1, 10**6), st.integers(-5, 10**13), json_values),
                   "currency": st.one_of(st.sampled_from(["eur", "usd"]), json_values),
                   "created": st.one_of(st.integers(0, 2_000_000_000), json_values)})}))},
)  # fmt: skip
bodies = st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                   stripe_events.map(lambda e: json.dumps(e, indent=2).encode()))  # fmt: skip
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
hostile_headers = st.dictionaries(
    st.sampled_from([s.header for s in SCHEMES.values()] + ["webhook-id", "webhook-timestamp", "x-other"]),
    header_text,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(list(SCHEMES)), body=bodies, extra=hostile_headers, sign=st.booleans())
def test_no_input_in_any_scheme_makes_a_answer_5xx_or_store_a_refused_event(name, body, extra, sign):
    shop = Shop(webhook_secrets=[SECRET], scheme_name=name)
    headers = {
        **extra,
        **(scheme(name).sign(body, SECRET, NOW, event_id="evt_p", delivery_id="d") if sign else {}),
    }
    reply = shop.receive_webhook(body, headers, NOW)
    ignored = "ignored" in reply.body
    event_note(f"{name}: {reply.status}{' ignored' if ignored else ''}")
    assert reply.status in (200, 400, 413, 422), reply
    if reply.status != 200 or ignored:
        assert shop.snapshot() == {} and len(shop.processed_events) == 0
    else:
        assert len(shop.processed_events) == 1 and sign


@settings(max_examples=300, deadline=None)
@given(event=stripe_events)
def test_a_signed_stripe_event_is_recorded_as_its_type_says_or_refused_whole(event):
    shop = Shop(webhook_secrets=[SECRET], scheme_name="stripe")
    body, headers = _delivery("stripe", event)
    reply = shop.receive_webhook(body, headers, NOW)
    recorded = reply.status == 200 and "ignored" not in reply.body
    event_note("recorded" if recorded else f"{reply.status}{' ignored' if 'ignored' in reply.body else ''}")
    assert reply.status in (200, 422), reply
    if recorded:
        [payment] = shop.snapshot().values()
        assert (
            payment["status"] == STRIPE_TYPES[event["type"]]
            and payment["id"] == event["data"]["object"]["id"]
        )
    else:
        assert shop.snapshot() == {} and len(shop.processed_events) == 0
