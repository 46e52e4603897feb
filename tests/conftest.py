"""Shared fixtures: live System B / System A on 127.0.0.1 ephemeral ports."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService

# no progress bars under pytest: nbval's kernels inherit this, so notebook outputs match the stored
# ones (tests/test_progress.py turns bars on where it checks them)
os.environ["HOOKLAB_PROGRESS"] = "0"

FAST = SettlementModel(mean_s=0.3, min_s=0.05, failure_share=0.2)


@pytest.fixture
def provider():
    """A live System B; yields (service, base_url)."""
    service = ProviderService(seed=7, settlement=FAST, retry_schedule=(0.1, 0.2, 0.4))
    with serve(service.app) as running:
        yield service, running.url


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture
def webhook_shop(provider):
    """A live System A in webhook mode, registered with the live B; yields (shop, url, b_service)."""
    b_service, b_url = provider
    shop = ShopService(b_url, mode="webhook")
    with serve(shop.app) as running:
        shop.register_webhook(running.url)
        yield shop, running.url, b_service
    shop.close()


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every server and poller a test starts is gone when it ends."""
    before = {t.name for t in threading.enumerate()}
    yield
    leaked = [t for t in threading.enumerate() if t.name.startswith("hooklab-") and t.name not in before]
    for t in leaked:
        t.join(timeout=3)
    assert not [t for t in leaked if t.is_alive()], f"threads left running: {leaked}"
