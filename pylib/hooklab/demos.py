"""Live webhook demos: System B pushing to System A over real HTTP, one short cell at a time.

:func:`webhook_pair` serves B and A (webhook mode, registered) for the length of a ``with``
block and gives the notebook a few verbs: take payments, take A's server down and bring it back,
make B send an event again. The tables the notebook shows are built from the request logs.
Introduced in notebooks/02-webhooks.ipynb.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

import httpx
import pandas as pd

from hooklab.http import SENDER_HEADER
from hooklab.provider import DEFAULT_RETRY_SCHEDULE, SettlementModel
from hooklab.provider_app import ProviderService
from hooklab.serving import serve
from hooklab.shop_app import WEBHOOK_PATH, ShopService

#: Payments settle quickly in the demos, and none fail (the outcome is not the point here).
DEMO_SETTLEMENT = SettlementModel(mean_s=0.4, min_s=0.1, failure_share=0.0)


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "the condition") -> float:
    """Poll ``condition`` every 10 ms until it holds; return the seconds waited or raise ``TimeoutError``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s} s")
        time.sleep(0.01)
    return time.monotonic() - started


@dataclass
class WebhookPair:
    """B and A served on 127.0.0.1, A registered with B. Made by :func:`webhook_pair`."""

    provider: ProviderService
    shop: ShopService
    b_url: str
    a_url: str
    endpoint: dict
    _restart: Callable[[], contextlib.AbstractContextManager] = field(repr=False)
    _stack: contextlib.ExitStack = field(repr=False)

    @property
    def webhook_url(self) -> str:
        """The URL B delivers to (A's endpoint)."""
        return self.a_url + WEBHOOK_PATH

    def checkout(self, n: int = 1, amount: int = 1999) -> list[dict]:
        """A creates ``n`` payments at B (customers check out), then waits until A knows they settled."""
        payments = [self.shop.create_payment(amount) for _ in range(n)]
        self.wait_until_synced()
        return payments

    def pay_at_b(self, amount: int = 1999) -> dict:
        """A customer pays on B's own checkout page: A is not involved and learns only by webhook."""
        response = httpx.post(self.b_url + "/payments", json={"amount": amount, "currency": "eur"})
        response.raise_for_status()
        return response.json()

    def synced(self) -> bool:
        """B has settled everything and delivered every event, and A's view equals B's."""
        with self.provider.lock:
            core = self.provider.core
            done = core.all_settled() and all(
                d.state in ("delivered", "failed") for d in core.deliveries.values()
            )
            state = core.snapshot()
        return done and self.shop.snapshot() == state

    def wait_until_synced(self, timeout_s: float = 15.0) -> float:
        return wait_until(self.synced, timeout_s, "A to learn every change B made")

    def failed_attempts(self) -> int:
        """How many delivery attempts B has seen fail (no answer or not 2xx)."""
        log = self.provider.log.to_frame()
        sent = log[(log["kind"] == "webhook") & (log["direction"] == "out")]
        return int((~sent["status"].between(200, 299).fillna(False)).sum())

    @contextlib.contextmanager
    def a_down(self) -> Iterator[None]:
        """Stop A's server (a crash, a deploy) for the ``with`` block; restart it on the same port after."""
        self._stack.close()
        try:
            yield
        finally:
            self._stack.enter_context(self._restart())

    def redeliver(self) -> httpx.Response:
        """B sends its last delivered event again, as a retry would after A answered too slowly.

        Same event id and body, fresh signature (B signs every attempt), logged in B's log.
        """
        with self.provider.lock:
            delivered = [d for d in self.provider.core.deliveries.values() if d.state == "delivered"]
            if not delivered:
                raise RuntimeError("nothing was delivered yet: take a payment first (pair.checkout())")
            url, headers, body = delivered[-1].request(self.provider.clock.now())
        started, t0 = self.provider.clock.now(), time.perf_counter()
        response = httpx.post(url, content=body, headers={**headers, SENDER_HEADER: self.provider.name})
        self.provider.log.record(
            time=started, direction="out", sender="B", receiver="A", kind="webhook", method="POST",
            path=WEBHOOK_PATH, status=response.status_code, duration_s=time.perf_counter() - t0,
            bytes=len(body) + len(response.content),
        )  # fmt: skip
        return response


@contextlib.contextmanager
def webhook_pair(
    *,
    seed: int = 0,
    settlement: SettlementModel = DEMO_SETTLEMENT,
    retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
) -> Iterator[WebhookPair]:
    """Serve B, serve A in webhook mode, register A's endpoint with B; stop both after the block.

    Introduced in notebooks/02-webhooks.ipynb.
    """
    provider = ProviderService(seed=seed, settlement=settlement, retry_schedule=retry_schedule)
    with serve(provider.app) as b:
        shop = ShopService(b.url, mode="webhook")
        stack = contextlib.ExitStack()
        try:
            a = stack.enter_context(serve(shop.app))
            endpoint = shop.register_webhook(a.url)
            yield WebhookPair(
                provider, shop, b.url, a.url, endpoint, lambda: serve(shop.app, port=a.port), stack
            )
        finally:
            stack.close()
            shop.close()


def delivery_attempts(pair: WebhookPair) -> pd.DataFrame:
    """B's delivery attempts, one row each: when (s since the first), the answer, the wait before it.

    ``planned_wait_s`` is what B's retry schedule prescribed after the previous failure;
    ``waited_s`` what the log shows. Introduced in notebooks/02-webhooks.ipynb.
    """
    log = pair.provider.log.to_frame()
    sent = log[(log["kind"] == "webhook") & (log["direction"] == "out")].reset_index(drop=True)
    schedule = pair.provider.core.retry_schedule
    t = sent["time"] - sent["time"].iloc[0] if len(sent) else sent["time"]
    return pd.DataFrame(
        {
            "attempt": range(1, len(sent) + 1),
            "at_s": t.round(3),
            "answer": [("no answer" if pd.isna(s) else str(int(s))) for s in sent["status"]],
            "waited_s": t.diff().round(3),
            "planned_wait_s": [float("nan")] + [schedule[i] for i in range(len(sent) - 1)],
        }
    )


def attempt_times(retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE) -> list[float]:
    """Seconds after a change at which B tries to deliver it: 0, then after each retry wait."""
    return [0.0, *accumulate(retry_schedule)]


def first_attempt_after(
    down_s: float, retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE
) -> int | None:
    """Which attempt (1 = the first) reaches A if A is down for ``down_s`` s from the change on.

    ``None`` if B gives up first: the event is lost unless A reconciles (notebooks/05-reliability.ipynb).
    Introduced in notebooks/02-webhooks.ipynb (an exercise checks against it).
    """
    for number, at in enumerate(attempt_times(retry_schedule), start=1):
        if at >= down_s:
            return number
    return None
