"""Tests for hooklab.lab.attacks: the attacker's tools of notebooks/03-signature-verification.ipynb."""

from __future__ import annotations

import json
import time

import pytest

from hooklab.core.clock import ManualClock
from hooklab.core.contract import SIGNATURE_HEADER
from hooklab.core.shop import Shop
from hooklab.core.signing import sign_stripe, verify_stripe
from hooklab.lab import attacks
from hooklab.lab.attacks import CapturedRequest, ShiftableClock

SECRET = "whsec_attack_tests"
T0 = 1_700_000_000
EVENT = {
    "id": "evt_1",
    "type": "payment.failed",
    "data": {"object": {"id": "pay_1", "status": "failed", "amount": 1999, "currency": "eur", "version": 2}},
}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def captured(at: int = T0) -> CapturedRequest:
    """A delivery as A's server would have received it (lowercase names, transport headers too)."""
    return CapturedRequest(
        {
            "host": "127.0.0.1:1",
            "content-length": str(len(BODY)),
            "content-type": "application/json",
            SIGNATURE_HEADER.lower(): sign_stripe(BODY, SECRET, at),
            "hooklab-sender": "B",
        },
        BODY,
    )


def shop_that_processed(request: CapturedRequest, clock: ManualClock) -> Shop:
    shop = Shop(webhook_secrets=[SECRET])
    assert shop.receive_webhook(request.body, request.headers, clock.now()).status == 200
    return shop


def test_verdict_names_the_reason_or_accepts():
    header = sign_stripe(BODY, SECRET, T0)
    assert attacks.verdict(verify_stripe, BODY, header, SECRET, now=T0) == "accepted"
    assert attacks.verdict(verify_stripe, BODY + b" ", header, SECRET, now=T0) == "signature_mismatch"
    assert attacks.verdict(verify_stripe, BODY, header, SECRET, now=T0 + 301) == "timestamp_too_old"


def test_outcome_of_answers():
    assert (
        attacks.outcome({"error": {"code": "bad_signature", "reason": "missing_header"}}) == "missing_header"
    )
    assert attacks.outcome({"error": {"code": "malformed_json"}}) == "malformed_json"
    assert attacks.outcome({"received": True, "duplicate": True}) == "duplicate"
    assert attacks.outcome({"received": True, "duplicate": False}) == "accepted"


def test_timestamps_read_and_rewritten():
    header = sign_stripe(BODY, [SECRET, "whsec_other"], T0)
    assert attacks.signed_timestamp(header) == T0
    redated = attacks.with_timestamp(header, T0 + 5)
    assert attacks.signed_timestamp(redated) == T0 + 5
    assert redated.split(",")[1:] == header.split(",")[1:]  # both v1 entries kept
    with pytest.raises(ValueError):
        attacks.signed_timestamp("v1=abc")


def test_shiftable_clock_moves_forward_only():
    clock = ShiftableClock()
    before = clock.now()
    clock.shift(301)
    assert clock.now() - before >= 301
    with pytest.raises(ValueError):
        clock.shift(-1)


def test_captured_request_drops_transport_headers():
    request = captured()
    assert request.signed_at == T0
    assert request.event == EVENT
    assert set(request.replay_headers()) == {"content-type", "hooklab-signature", "hooklab-sender"}


def test_every_early_attack_is_refused_by_the_core_and_nothing_changes():
    clock = ManualClock(T0)
    genuine = captured()
    shop = shop_that_processed(genuine, clock)
    before = shop.snapshot()
    expected = {
        "unsigned": (400, "missing_header"),
        "forged": (400, "signature_mismatch"),
        "tampered": (400, "signature_mismatch"),
        "replayed": (200, "duplicate"),
    }
    requests = attacks.attack_requests(genuine, now=T0 + 1)
    assert list(requests) == list(expected)
    for name, (body, headers) in requests.items():
        reply = shop.receive_webhook(body, headers, clock.now())
        assert (reply.status, attacks.outcome(reply.body)) == expected[name], name
    assert shop.snapshot() == before
    assert shop.processed_events == {"evt_1"}


def test_tampered_event_would_pass_dedupe_and_ordering_without_the_signature():
    genuine = captured()
    body, _ = attacks.attack_requests(genuine, now=T0)["tampered"]
    event = json.loads(body)
    assert event["id"] != EVENT["id"]
    assert event["data"]["object"]["status"] == "succeeded"
    assert event["data"]["object"]["version"] == 3
    # accepted by a shop that does not check signatures at all? Sign it with the real secret:
    shop = shop_that_processed(genuine, ManualClock(T0))
    reply = shop.receive_webhook(body, {SIGNATURE_HEADER: sign_stripe(body, SECRET, T0)}, T0)
    assert reply.status == 200 and shop.payments["pay_1"]["status"] == "succeeded"


def test_late_replays_are_refused():
    clock = ManualClock(T0)
    genuine = captured()
    shop = shop_that_processed(genuine, clock)
    clock.advance(301)
    outcomes = {
        name: attacks.outcome(shop.receive_webhook(body, headers, clock.now()).body)
        for name, (body, headers) in attacks.late_replays(genuine, now=clock.now()).items()
    }
    assert outcomes == {"replayed late": "timestamp_too_old", "replayed late, re-dated": "signature_mismatch"}
    assert set(attacks.DESCRIPTIONS) >= set(outcomes) | set(attacks.attack_requests(genuine, now=T0))


def test_late_replay_in_the_same_second_is_refused_as_pointless():
    with pytest.raises(ValueError):
        attacks.late_replays(captured(), now=T0 + 0.5)


def test_header_replacement_is_case_insensitive():
    genuine = captured()
    _, headers = attacks.late_replays(genuine, now=T0 + 400)["replayed late, re-dated"]
    names = [k for k in headers if k.lower() == SIGNATURE_HEADER.lower()]
    assert len(names) == 1 and attacks.signed_timestamp(headers[names[0]]) == T0 + 400


def test_live_attacks_against_a_served_shop():
    with attacks.live_pair(seed=5) as pair:
        genuine = pair.pay_and_capture()
        before = pair.shop.snapshot()
        early = attacks.run_attacks(pair.webhook_url, attacks.attack_requests(genuine, now=time.time()))
        pair.clock.shift(301)
        late = attacks.run_attacks(pair.webhook_url, attacks.late_replays(genuine, now=pair.clock.now()))
        after, b_view = pair.shop.snapshot(), pair.b_snapshot()
        log = pair.shop.log.to_frame()
    assert genuine.event["type"] == "payment.failed"
    assert early["outcome"].tolist() == [
        "missing_header",
        "signature_mismatch",
        "signature_mismatch",
        "duplicate",
    ]
    assert late["outcome"].tolist() == ["timestamp_too_old", "signature_mismatch"]
    assert after == before == b_view
    seen = log[log["sender"] == attacks.ATTACKER]
    assert seen["status"].tolist() == early["status"].tolist() + late["status"].tolist()


def test_compare_timings_shape():
    frame = attacks.compare_timings(64, number=10, repeat=1)
    assert list(frame.columns) == ["comparison", "differs at", "ns per call"]
    assert len(frame) == 4 and (frame["ns per call"] > 0).all()
    with pytest.raises(ValueError):
        attacks.compare_timings(1)
