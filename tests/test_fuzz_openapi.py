"""Schemathesis, a tool nobody here wrote, fuzzes both systems from their own OpenAPI descriptions.

In-process (ASGI), bounded: ``HOOKLAB_FUZZ_EXAMPLES`` examples per operation (25 in ``make test``,
more with ``make fuzz``). Checks: no 5xx, and every answer conforms to the description (status
documented, content type, body schema, headers). Not checked: that every schema-valid request is
accepted (``positive_data_acceptance``): the description cannot say "a loopback URL" or "a payment
B knows", so such requests are rightly refused with a documented 4xx. A is registered first, as it is when it runs: before that its webhook endpoint
answers a documented ``503 no_secret``, the one 5xx that is meant.
"""

from __future__ import annotations

import os

import httpx
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.shop_app import ShopService

EXAMPLES = int(os.environ.get("HOOKLAB_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
QUICK = SettlementModel(mean_s=0.05, min_s=0.01, failure_share=0.5)

# long polls and event streams bounded to a blink: the fuzzer reads every answer to its end
provider = ProviderService(seed=1, settlement=QUICK, max_wait_s=0.05, stream_s=0.1)
b_schema = schemathesis.openapi.from_asgi("/openapi.json", provider.app)

b_for_a = ProviderService(seed=2, settlement=QUICK)
_b_client = TestClient(b_for_a.app, base_url="http://127.0.0.1:8000")
shop = ShopService("http://127.0.0.1:8000", mode="webhook", client=_b_client)
b_for_a.transport = httpx.ASGITransport(app=shop.app)
shop.register_webhook("http://127.0.0.1:8001")  # as A does when it starts: fuzz the configured A
a_schema = schemathesis.openapi.from_asgi("/openapi.json", shop.app)


@b_schema.parametrize()
@FUZZ
def test_system_b_never_fails_and_never_contradicts_its_description(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


@a_schema.parametrize()
@FUZZ
def test_system_a_never_fails_and_never_contradicts_its_description(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_nothing_malformed_was_stored():
    """After the fuzzing, both systems still answer, and what they hold is well-formed."""
    with TestClient(provider.app) as client:
        assert client.get("/webhook-endpoints").status_code == 200
        assert client.get("/events").status_code == 200
    with TestClient(shop.app) as client:
        listed = client.get("/payments")
        assert listed.status_code == 200
    _b_client.close()
