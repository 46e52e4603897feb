"""Bad input over real HTTP on 127.0.0.1: a clear JSON error, the right status, nothing stored."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from hooklab.core.contract import MAX_BODY_BYTES, SIGNATURE_HEADER
from hooklab.core.signing import sign_stripe


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


# --- System B --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"{not json", 400, "malformed_json", "not valid JSON"),
        (b"", 400, "malformed_json", "empty"),
        (b"\xff\xfe", 400, "malformed_json", "not valid JSON"),
        (b"[1, 2]", 422, "invalid_body", "JSON object"),
        (b'{"amount": "12", "currency": "eur"}', 422, "invalid_amount", "integer"),
        (b'{"amount": -100, "currency": "eur"}', 422, "invalid_amount", "between 1 and"),
        (b'{"amount": 100, "currency": 12}', 422, "invalid_currency", "3-letter"),
        (b'{"amount": 100}', 422, "missing_field", "currency"),
        (b'{"amount": 100, "currency": "eur", "x": 1}', 422, "unknown_field", "x"),
        (b'{"amount": 1' + b"0" * MAX_BODY_BYTES + b"}", 413, "body_too_large", "limit"),
    ],
)
def test_create_payment_rejects_bad_bodies(provider, client, body, status, code, words):
    service, url = provider
    response = client.post(f"{url}/payments", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    err = error_of(response)
    assert err["code"] == code and words in err["message"]
    assert service.core.payments == {} and service.core.events == []


def test_unknown_payment_id_is_404_json(provider, client):
    service, url = provider
    response = client.get(f"{url}/payments/pay_doesnotexist")
    assert response.status_code == 404
    assert "POST /payments" in error_of(response)["message"]
    assert service.core.payments == {}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nope", 404, "unknown_route"), ("DELETE", "/payments", 405, "method_not_allowed"),
     ("PUT", "/payments/pay_1", 405, "method_not_allowed"), ("DELETE", "/webhook-endpoints", 405, "method_not_allowed")],
)  # fmt: skip
def test_unknown_route_or_method_is_json(provider, client, method, path, status, code):
    service, url = provider
    response = client.request(method, url + path)
    assert response.status_code == status and error_of(response)["code"] == code
    if status == 405:  # says which methods would work, in the message and in Allow
        allowed = response.headers["allow"]
        assert allowed and allowed in error_of(response)["message"]
    assert service.core.payments == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [(b'{"url": "http://example.com/hook"}', "url_not_loopback"), (b'{"url": 5}', "invalid_body"),
     (b"nope", "malformed_json")],
)  # fmt: skip
def test_register_endpoint_rejects_bad_urls(provider, client, body, code):
    service, url = provider
    response = client.post(f"{url}/webhook-endpoints", content=body)
    assert response.status_code in (400, 422) and error_of(response)["code"] == code
    assert service.core.endpoints == {}


def test_a_good_request_still_works_after_bad_ones(provider, client):
    service, url = provider
    client.post(f"{url}/payments", content=b"{")
    response = client.post(f"{url}/payments", json={"amount": 1999, "currency": "EUR"})
    assert response.status_code == 201
    payment = response.json()
    assert set(payment) == {"id", "status", "amount", "currency", "version", "created_at", "updated_at"}
    assert payment["status"] == "pending" and payment["currency"] == "eur" and payment["version"] == 1
    assert client.get(f"{url}/payments/{payment['id']}").json()["id"] == payment["id"]
    # every request, bad ones included, is in B's log with its status
    statuses = service.log.to_frame()["status"].tolist()
    assert statuses == [400, 201, 200]


# --- System A's webhook endpoint ---------------------------------------------------------------
def _event_body(pid="pay_x", eid="evt_x"):
    payment = {"id": pid, "status": "succeeded", "amount": 1, "currency": "eur", "version": 2,
               "created_at": 0.0, "updated_at": 1.0}  # fmt: skip
    return json.dumps(
        {"id": eid, "type": "payment.succeeded", "created": 1.0, "data": {"object": payment}}
    ).encode()


def _secret(shop):
    return shop.core.webhook_secrets[0]


@pytest.mark.parametrize(
    ("case", "status", "code", "reason"),
    [
        ("unsigned", 400, "bad_signature", "missing_header"),
        ("forged", 400, "bad_signature", "signature_mismatch"),
        ("tampered", 400, "bad_signature", "signature_mismatch"),
        ("replayed", 400, "bad_signature", "timestamp_too_old"),
        ("not-json", 400, "malformed_json", None),
        ("wrong-shape", 422, "invalid_event", None),
        ("oversized", 413, "body_too_large", None),
    ],
)
def test_webhook_endpoint_rejects_and_stores_nothing(webhook_shop, client, case, status, code, reason):
    shop, url, _ = webhook_shop
    body, now = _event_body(), int(time.time())
    secret = _secret(shop)
    headers = {SIGNATURE_HEADER: sign_stripe(body, secret, now)}
    if case == "unsigned":
        headers = {}
    elif case == "forged":
        headers = {SIGNATURE_HEADER: sign_stripe(body, "whsec_attacker", now)}
    elif case == "tampered":
        body = body.replace(b"succeeded", b"failed")
    elif case == "replayed":
        headers = {SIGNATURE_HEADER: sign_stripe(body, secret, now - 3600)}
    elif case == "not-json":
        body = b"{oops"
        headers = {SIGNATURE_HEADER: sign_stripe(body, secret, now)}
    elif case == "wrong-shape":
        body = b'{"id": "evt_1", "data": {}}'
        headers = {SIGNATURE_HEADER: sign_stripe(body, secret, now)}
    elif case == "oversized":
        body = b" " * (MAX_BODY_BYTES + 1)
    response = client.post(f"{url}/webhooks/payments", content=body, headers=headers)
    assert response.status_code == status
    err = error_of(response)
    assert err["code"] == code and err["message"]
    if reason:
        assert err["reason"] == reason
    assert shop.snapshot() == {} and shop.core.processed_events == set()
    served = shop.log.to_frame()
    row = served[(served["direction"] == "in") & (served["kind"] == "webhook")].iloc[-1]
    assert row["status"] == status  # every rejection is counted in A's request log


def test_duplicate_delivery_is_acknowledged_but_applied_once(webhook_shop, client):
    shop, url, _ = webhook_shop
    body = _event_body()
    for expected_duplicate in (False, True, True):
        headers = {SIGNATURE_HEADER: sign_stripe(body, _secret(shop), int(time.time()))}
        response = client.post(f"{url}/webhooks/payments", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["duplicate"] is expected_duplicate
    assert len(shop.core.observations) == 1
    news = shop.log.to_frame().query("kind == 'webhook'")["news"].tolist()
    assert news == [True, False, False]


def test_unknown_payment_on_a_is_404(webhook_shop, client):
    _, url, _ = webhook_shop
    response = client.get(f"{url}/payments/pay_unknown")
    assert response.status_code == 404 and "POST /orders" in error_of(response)["message"]


def test_orders_on_a_validate_before_calling_b(webhook_shop, client):
    shop, url, b_service = webhook_shop
    response = client.post(f"{url}/orders", json={"amount": -1, "currency": "eur"})
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_amount"
    assert b_service.core.payments == {} and shop.snapshot() == {}
    ok = client.post(f"{url}/orders", json={"amount": 250, "currency": "eur"})
    assert ok.status_code == 201 and ok.json()["id"] in b_service.core.payments
