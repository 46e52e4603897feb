"""Both systems describe themselves: OpenAPI at /openapi.json, interactive docs at /docs.

The description must list every route; the docs page must work with no network beyond this
machine (its assets are served by the app itself). The last test opens B's /docs in a real
headless Chromium, creates a payment from the page, and watches the webhook arrive at A.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.runs import wait_until
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, docs pages aside."""
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }


def described(spec: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


@pytest.mark.parametrize("system", ["B", "A"])
def test_openapi_lists_every_route(system):
    app = ProviderService().app if system == "B" else ShopService("http://127.0.0.1:9", mode="webhook").app
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
    routes = api_routes(app)
    assert described(spec) == routes
    assert len(routes) >= 5
    expected = {("POST", "/payments"), ("GET", "/payments/{payment_id}"), ("POST", "/webhook-endpoints")}
    if system == "B":
        assert expected <= routes and ("GET", "/events") in routes
    else:
        assert ("POST", "/webhooks/payments") in routes and ("POST", "/orders") in routes


def test_request_bodies_are_described_with_their_limits():
    with TestClient(ProviderService().app) as client:
        spec = client.get("/openapi.json").json()
    payment = spec["components"]["schemas"]["PaymentRequest"]
    assert payment["additionalProperties"] is False
    assert payment["properties"]["amount"]["exclusiveMinimum"] == 0
    assert "minor units" in payment["properties"]["amount"]["description"]


@pytest.mark.parametrize("system", ["B", "A"])
def test_docs_page_and_its_assets_are_served_locally(system):
    app = ProviderService().app if system == "B" else ShopService("http://127.0.0.1:9", mode="webhook").app
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        assert "cdn." not in page.text and "https://" not in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert client.get(f"/static-offline-docs/{asset}").status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("HOOKLAB_REQUIRE_BROWSER"),
    reason="needs Debian's chromium (.ci/run installs it, and there a missing browser fails)",
)
def test_a_learner_creates_a_payment_from_b_docs_and_a_gets_the_webhook():
    from playwright.sync_api import sync_playwright

    provider = ProviderService(seed=1, settlement=SettlementModel(mean_s=0.3, min_s=0.1, failure_share=0))
    requested: list[str] = []
    with serve(provider.app) as b:
        shop = ShopService(b.url, mode="webhook")
        try:
            with serve(shop.app) as a, sync_playwright() as pw:
                shop.register_webhook(a.url)
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync"],  # a fresh profile each launch (Playwright's own)
                )  # fmt: skip
                page = browser.new_page()
                page.on("request", lambda request: requested.append(request.url))
                page.goto(b.url + "/docs")
                page.wait_for_selector("text=System B: payment provider")
                for system_url in (a.url, b.url):  # both pages render their operations
                    page.goto(system_url + "/docs")
                    page.wait_for_selector(".opblock-summary-path")
                assert page.locator(".opblock-summary-path").count() >= 6
                # create a payment from the page: open POST /payments, try it out, execute
                page.locator("#operations-default-create_payment_payments_post").click()
                page.get_by_role("button", name="Try it out").click()
                page.get_by_role("button", name="Execute").click()
                page.wait_for_selector(".response .response-col_status >> text=201")
                page.screenshot(path=str(b_docs_png()))
                browser.close()
                wait_until(lambda: len(shop.snapshot()) == 1, what="A to learn the payment by webhook")
                (payment,) = shop.snapshot().values()
                wait_until(
                    lambda: shop.snapshot()[payment["id"]]["status"] == "succeeded", what="the settlement"
                )
        finally:
            shop.close()
    assert requested, "the browser made no request at all"
    off_machine = [url for url in requested if not url.startswith("http://127.0.0.1:")]
    assert off_machine == []
    webhooks = shop.log.to_frame().query("kind == 'webhook' and direction == 'in'")
    assert (webhooks["status"] == 200).all() and len(webhooks) >= 1


def b_docs_png():
    """Where the browser test leaves its screenshot (outside the repository)."""
    return os.path.join(tempfile.gettempdir(), "hooklab-b-docs.png")
