"""What an attacker found (the hardening issue), each reproduced, each refused now.

Every test sends what a stranger could send and checks three things: the answer is a 4xx JSON error
that says what to do (never a 500), nothing was stored, and the system still answers afterwards.
In-process (TestClient) where the socket is not the point; real processes where it is.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import FAST
from fastapi.testclient import TestClient

from hooklab.core.contract import SIGNATURE_HEADER
from hooklab.core.provider import PaymentProvider
from hooklab.core.signing import sign_stripe
from hooklab.live.provider_app import ProviderService
from hooklab.live.shop_app import ShopService
from hooklab.live.store import SqliteStore

LOOPBACK = "http://127.0.0.1:8001/webhooks/payments"


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]


@pytest.fixture
def b():
    service = ProviderService(seed=7, settlement=FAST)
    with TestClient(service.app, raise_server_exceptions=False) as client:
        yield service, client


@pytest.fixture
def a():
    """A in webhook mode with B, both in-process; yields (shop, client, b_service, secret)."""
    b_service = ProviderService(seed=7, settlement=FAST, retry_schedule=(0.1,))
    with TestClient(
        b_service.app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False
    ) as b_client:
        shop = ShopService("http://127.0.0.1:8000", mode="webhook", client=b_client)
        b_service.transport = httpx.ASGITransport(app=shop.app)
        with TestClient(shop.app, base_url="http://127.0.0.1:8001", raise_server_exceptions=False) as client:
            endpoint = shop.register_webhook("http://127.0.0.1:8001")
            yield shop, client, b_service, endpoint["secret"]
        shop.close()


# --- 1. signing secrets come from `secrets`, not from the seed ---------------------------------
def test_two_providers_with_the_same_seed_issue_different_secrets():
    first = PaymentProvider(seed=0).register_endpoint(LOOPBACK)["secret"]
    second = PaymentProvider(seed=0).register_endpoint(LOOPBACK)["secret"]
    assert first != second and first.startswith("whsec_") and len(first) >= 6 + 48


def test_a_forged_high_version_signed_with_the_seeds_secret_is_refused(a):
    """The attack: sign with the secret a fresh B with the default seed would issue."""
    shop, client, _, _ = a
    guessed = PaymentProvider(seed=7).register_endpoint(LOOPBACK)["secret"]
    event = {"id": "evt_forged", "type": "payment.succeeded", "created": 1,
             "data": {"object": {"id": "pay_x", "status": "succeeded", "version": 999}}}  # fmt: skip
    body = json.dumps(event).encode()
    response = client.post("/webhooks/payments", content=body,
                           headers={SIGNATURE_HEADER: sign_stripe(body, guessed, int(time.time()))})  # fmt: skip
    assert response.status_code == 400 and error_of(response)["reason"] == "signature_mismatch"
    assert shop.snapshot() == {}


def test_a_fixed_secret_can_still_be_asked_for():
    """Notebooks that show a fixed signature pass their secret explicitly."""
    endpoint = PaymentProvider(seed=0).register_endpoint(LOOPBACK, secret="whsec_fixed_for_the_notebook")
    assert endpoint["secret"] == "whsec_fixed_for_the_notebook"


# --- 2. payment ids unique across processes ----------------------------------------------------
def test_two_providers_with_the_same_seed_hand_out_different_ids():
    ids = [PaymentProvider(seed=0).create_payment(100, "eur", 0.0)["id"] for _ in range(2)]
    assert ids[0] != ids[1]


def test_seeded_ids_reproduce_where_asked_for():
    ids = [PaymentProvider(seed=0, seeded_ids=True).create_payment(100, "eur", 0.0)["id"] for _ in range(2)]
    assert ids[0] == ids[1]


@pytest.mark.slow
def test_two_provider_processes_with_the_same_seed_share_no_id_and_no_secret():
    from test_cli import _free_port, _wait_for

    answers = []
    for _ in range(2):
        port = _free_port()
        proc = subprocess.Popen([str(Path(sys.executable).with_name("hooklab")), "provider", "--port", str(port),
                                 "--seed", "0", "--log-level", "warning"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(url + "/health", proc)
            endpoint = httpx.post(url + "/webhook-endpoints", json={"url": LOOPBACK}).json()
            payment = httpx.post(url + "/payments", json={"amount": 100, "currency": "eur"}).json()
            answers.append((endpoint["secret"], endpoint["id"], payment["id"]))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    (secret_1, endpoint_1, payment_1), (secret_2, endpoint_2, payment_2) = answers
    assert secret_1 != secret_2 and endpoint_1 != endpoint_2 and payment_1 != payment_2


# --- 3. hostile JSON is a 400 at every JSON route ----------------------------------------------
HOSTILE = {
    "deep nesting": b"[" * 5000,
    "deep object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "a 5000-digit integer": b'{"amount": 1' + b"0" * 5000 + b', "currency": "eur"}',
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("path", ["/payments", "/webhook-endpoints"])
def test_hostile_json_at_b_is_a_400(b, path, body):
    service, client = b
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "malformed_json"
    assert service.core.payments == {} and service.core.endpoints == {}
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_json_at_a_orders_is_a_400(a, body):
    shop, client, b_service, _ = a
    response = client.post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "malformed_json"
    assert shop.snapshot() == {} and b_service.core.payments == {}


# --- 4. a valid signature says who sent it, not that the body is well-formed -------------------
def _payment(**changes) -> dict:
    return {"id": "pay_1", "status": "succeeded", "amount": 100, "currency": "eur", "version": 2,
            "created_at": 1.0, "updated_at": 2.0, **changes}  # fmt: skip


def _event(**changes) -> dict:
    return {
        "id": "evt_1",
        "type": "payment.succeeded",
        "created": 2.0,
        "data": {"object": _payment()},
        **changes,
    }


SIGNED_BUT_MALFORMED = {
    "data is a number": json.dumps(_event(data=5)).encode(),
    "data is a list": json.dumps(_event(data=[])).encode(),
    "object is a list": json.dumps(_event(data={"object": []})).encode(),
    "deep nesting": b'{"id": "evt_1", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "a 5000-digit version": json.dumps(_event())
    .encode()
    .replace(b'"version": 2', b'"version": 1' + b"0" * 5000),
    "a huge version": json.dumps(_event(data={"object": _payment(version=10**30)})).encode(),
    "a boolean version": json.dumps(_event(data={"object": _payment(version=True)})).encode(),
    "a lone surrogate payment id": json.dumps(_event(data={"object": _payment(id="\ud800")})).encode(),
    "a lone surrogate event id": json.dumps(_event(id="\udfff")).encode(),
    "a control character in the id": json.dumps(_event(data={"object": _payment(id="pay_\u0000")})).encode(),
    "an id of 10,000 characters": json.dumps(_event(data={"object": _payment(id="p" * 10_000)})).encode(),
    "an unknown status": json.dumps(_event(data={"object": _payment(status="<script>")})).encode(),
    "NaN in a time": json.dumps(_event(data={"object": _payment(updated_at=float("nan"))})).encode(),
    "a string amount": json.dumps(_event(data={"object": _payment(amount="100")})).encode(),
    "not an object": b"[1, 2, 3]",
}


@pytest.mark.parametrize("body", SIGNED_BUT_MALFORMED.values(), ids=SIGNED_BUT_MALFORMED.keys())
def test_signed_but_malformed_events_are_refused_and_nothing_is_stored(a, body):
    shop, client, _, secret = a
    headers = {SIGNATURE_HEADER: sign_stripe(body, secret, int(time.time()))}
    response = client.post("/webhooks/payments", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert error_of(response)["code"] in ("malformed_json", "invalid_event")
    assert shop.snapshot() == {} and shop.core.processed_events == set()
    listed = client.get("/payments")
    assert listed.status_code == 200 and listed.json() == {"data": []}


def test_a_well_formed_event_is_still_applied(a):
    shop, client, _, secret = a
    body = json.dumps(_event()).encode()
    response = client.post("/webhooks/payments", content=body,
                           headers={SIGNATURE_HEADER: sign_stripe(body, secret, int(time.time()))})  # fmt: skip
    assert response.status_code == 200 and shop.snapshot()["pay_1"]["version"] == 2
    assert client.get("/payments").status_code == 200


# --- 5. webhook URLs: one parser, connectable loopback URLs only -------------------------------
BAD_URLS = {
    "a lone surrogate": "http://127.0.0.1:8001/\ud800",
    "an unclosed IPv6 bracket": "http://[::1/x",
    "an NFKC-confusable host": "http://127.0.0.1\uff0f@evil.example/x",
    "port 99999": "http://127.0.0.1:99999/x",
    "port 0": "http://127.0.0.1:0/x",
    "a tab in the userinfo": "http://u\tser:p@127.0.0.1:8001/x",
    "a space in the path": "http://127.0.0.1:8001/a b",
    "a newline": "http://127.0.0.1:8001/x\r\nX-Injected: 1",
    "no host": "http:///x",
    "a non-loopback host hidden in userinfo": "http://127.0.0.1@example.com/x",
    "a 3000-character URL": "http://127.0.0.1:8001/" + "a" * 3000,
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_unusable_webhook_urls_are_422_and_not_stored(b, url):
    service, client = b
    response = client.post("/webhook-endpoints", content=json.dumps({"url": url}).encode(),
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] in ("invalid_url", "url_not_loopback")
    assert service.core.endpoints == {}
    assert client.get("/webhook-endpoints").status_code == 200


def test_credentials_in_a_url_are_redacted_in_the_listing(b):
    service, client = b
    created = client.post("/webhook-endpoints", json={"url": "http://user:hunter2@127.0.0.1:8001/x"})
    assert created.status_code == 201
    listed = client.get("/webhook-endpoints").json()["data"]
    assert [(e["id"], e["url"]) for e in listed] == [(created.json()["id"], "http://***@127.0.0.1:8001/x")]
    assert "hunter2" not in client.get("/webhook-endpoints").text


class _Exploding(httpx.AsyncBaseTransport):
    """A transport that fails the way no network error does (a bug, a bad URL, anything)."""

    async def handle_async_request(self, request):
        raise RuntimeError("boom")


def test_a_delivery_that_fails_for_any_reason_is_a_failed_attempt_and_retried():
    service = ProviderService(seed=1, settlement=FAST, retry_schedule=(0.05, 0.05), transport=_Exploding())
    with TestClient(service.app) as client:
        client.post("/webhook-endpoints", json={"url": LOOPBACK})
        client.post("/payments", json={"amount": 100, "currency": "eur"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with service.lock:
                states = [d.state for d in service.core.deliveries.values()]
            if states and all(s == "failed" for s in states):
                break
            time.sleep(0.02)
    with service.lock:
        (delivery,) = service.core.deliveries.values()
    assert delivery.state == "failed" and delivery.attempt == 3  # first try + 2 retries, none stuck
    sent = service.log.to_frame().query("kind == 'webhook'")
    assert len(sent) == 3 and sent["status"].isna().all()


# --- 7. A's SQLite file holds the signing secret: only its owner may read it -------------------
def test_a_sqlite_file_is_created_0600(tmp_path):
    store = SqliteStore(tmp_path / "a.db")
    store.add_webhook_secret("whsec_x")
    store.close()
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name


# --- 6. below the app: what the README and SECURITY.md say is what happens ----------------------
def test_garbage_below_http_gets_uvicorns_plain_400_as_documented():
    import socket

    from hooklab.live.serving import serve

    with (
        serve(ProviderService().app) as running,
        socket.create_connection(("127.0.0.1", running.port), 5) as sock,
    ):
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        answer = sock.recv(1000)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"content-type: text/plain" in answer.lower()
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "text/plain" in readme and "SECURITY.md" in readme
