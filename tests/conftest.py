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


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL server for the session (hooklab.live.postgres_server). Locally, a
    machine without PostgreSQL skips, saying how to install it; in CI (HOOKLAB_REQUIRE_POSTGRES=1,
    set by .ci/run) its absence is a failure."""
    from hooklab.live.postgres_server import INSTALL_HINT, find_initdb, throwaway_cluster

    if find_initdb() is None:
        if os.environ.get("HOOKLAB_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {INSTALL_HINT}")
        pytest.skip(f"needs PostgreSQL: {INSTALL_HINT}")
    with throwaway_cluster() as cluster:
        yield cluster


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request, tmp_path):
    """Where A's store lives, for each backend: an SQLite file, or a new database in the session's
    PostgreSQL server; pass it to ``open_store`` (again, to reopen the same store)."""
    if request.param == "sqlite":
        return tmp_path / "a.db"
    cluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"store_{os.getpid()}_{next(_databases)}")
