"""Bad input: a clear JSON error, the right status, nothing stored.

In-process (Starlette's TestClient, httpx's ASGITransport): what is tested is the apps' handling,
not the sockets, which tests/test_e2e.py and tests/test_cli.py cover over real loopback HTTP.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from conftest import FAST
from fastapi.testclient import TestClient

from hooklab.core.contract import MAX_BODY_BYTES, SIGNATURE_HEADER
from hooklab.core.signing import sign_stripe
from hooklab.live.provider_app import ProviderService
from hooklab.live.shop_app import ShopService


@pytest.fixture
def b():
    """System B in-process; yields (service, client)."""
    service = ProviderService(seed=7, settlement=FAST, retry_schedule=(0.1, 0.2, 0.4))
    with TestClient(service.app) as client:
        yield service, client


@pytest.fixture
def a():
    """System A (webhook mode) and B, both in-process, A registered; yields (shop, client, b_service).

    A calls B through B's TestClient; B delivers to A's app through an ASGITransport.
    """
    b_service = ProviderService(seed=7, settlement=FAST, retry_schedule=(0.1, 0.2, 0.4))
    with TestClient(b_service.app, base_url="http://127.0.0.1:8000") as b_client:
        shop = ShopService("http://127.0.0.1:8000", mode="webhook", client=b_client)
        b_service.transport = httpx.ASGITransport(app=shop.app)
        with TestClient(shop.app, base_url="http://127.0.0.1:8001") as a_client:
            shop.register_webhook("http://127.0.0.1:8001")
            yield shop, a_client, b_service
        shop.close()


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
def test_create_payment_rejects_bad_bodies(b, body, status, code, words):
    service, client = b
    response = client.post("/payments", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    err = error_of(response)
    assert err["code"] == code and words in err["message"]
    assert service.core.payments == {} and service.core.events == []


def test_unknown_payment_id_is_404_json(b):
    service, client = b
    response = client.get("/payments/pay_doesnotexist")
    assert response.status_code == 404
    assert "POST /payments" in error_of(response)["message"]
    assert service.core.payments == {}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/nope", 404, "unknown_route"), ("DELETE", "/payments", 405, "method_not_allowed"),
     ("PUT", "/payments/pay_1", 405, "method_not_allowed"), ("DELETE", "/webhook-endpoints", 405, "method_not_allowed")],
)  # fmt: skip
def test_unknown_route_or_method_is_json(b, method, path, status, code):
    service, client = b
    response = client.request(method, path)
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
def test_register_endpoint_rejects_bad_urls(b, body, code):
    service, client = b
    response = client.post("/webhook-endpoints", content=body)
    assert response.status_code in (400, 422) and error_of(response)["code"] == code
    assert service.core.endpoints == {}


def test_a_good_request_still_works_after_bad_ones(b):
    service, client = b
    client.post("/payments", content=b"{")
    response = client.post("/payments", json={"amount": 1999, "currency": "EUR"})
    assert response.status_code == 201
    payment = response.json()
    assert set(payment) == {"id", "status", "amount", "currency", "version", "created_at", "updated_at"}
    assert payment["status"] == "pending" and payment["currency"] == "eur" and payment["version"] == 1
    assert client.get(f"/payments/{payment['id']}").json()["id"] == payment["id"]
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
def test_webhook_endpoint_rejects_and_stores_nothing(a, case, status, code, reason):
    shop, client, _ = a
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
    response = client.post("/webhooks/payments", content=body, headers=headers)
    assert response.status_code == status
    err = error_of(response)
    assert err["code"] == code and err["message"]
    if reason:
        assert err["reason"] == reason
    assert shop.snapshot() == {} and shop.core.processed_events == set()
    served = shop.log.to_frame()
    row = served[(served["direction"] == "in") & (served["kind"] == "webhook")].iloc[-1]
    assert row["status"] == status  # every rejection is counted in A's request log


def test_duplicate_delivery_is_acknowledged_but_applied_once(a):
    shop, client, _ = a
    body = _event_body()
    for expected_duplicate in (False, True, True):
        headers = {SIGNATURE_HEADER: sign_stripe(body, _secret(shop), int(time.time()))}
        response = client.post("/webhooks/payments", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["duplicate"] is expected_duplicate
    assert len(shop.core.observations) == 1
    news = shop.log.to_frame().query("kind == 'webhook'")["news"].tolist()
    assert news == [True, False, False]


def test_unknown_payment_on_a_is_404(a):
    _, client, _ = a
    response = client.get("/payments/pay_unknown")
    assert response.status_code == 404 and "POST /orders" in error_of(response)["message"]


def test_orders_on_a_validate_before_calling_b(a):
    shop, client, b_service = a
    response = client.post("/orders", json={"amount": -1, "currency": "eur"})
    assert response.status_code == 422 and error_of(response)["code"] == "invalid_amount"
    assert b_service.core.payments == {} and shop.snapshot() == {}
    ok = client.post("/orders", json={"amount": 250, "currency": "eur"})
    assert ok.status_code == 201 and ok.json()["id"] in b_service.core.payments
