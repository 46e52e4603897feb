"""Live runs: System B and System A as real servers on 127.0.0.1, talking real HTTP.

:func:`run_live` is the experiment behind ``hooklab demo`` and the live cells of the notebooks:
start B, start A in one mode, have A create payments, wait until B has settled them all and A
has learned every change, and return the request logs, the per-change latencies and a summary.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from hooklab.core.provider import SettlementModel
from hooklab.live.provider_app import ProviderService
from hooklab.live.serving import serve
from hooklab.live.shop_app import ShopService
from hooklab.measure.progress import bar as progress_bar
from hooklab.measure.progress import tracking
from hooklab.measure.requestlog import combine
from hooklab.measure.summary import change_latencies, summarize

#: Seconds between progress lines while a live run waits for payments to settle.
PROGRESS_EVERY_S = 2.0
#: Seconds between updates of a live run's progress bar.
BAR_EVERY_S = 0.25


@dataclass
class LiveRun:
    """The outcome of one live run. Times in ``requests`` and ``latencies`` are seconds since start."""

    mode: str
    requests: pd.DataFrame
    latencies: pd.DataFrame
    summary: dict
    provider_state: dict[str, dict]
    shop_state: dict[str, dict]
    wall_s: float

    @property
    def consistent(self) -> bool:
        """A's view of every payment equals B's."""
        return self.provider_state == self.shop_state


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "the condition") -> float:
    """Check ``condition`` every 10 ms until it holds; return the seconds waited. A wait of over a
    second shows a bar of the seconds waited (:mod:`hooklab.measure.progress`).

    Raises ``TimeoutError`` naming ``what`` it waited for, so a stuck demo says what is missing.
    """
    with tracking(total=math.ceil(timeout_s), desc=f"waiting for {what}", unit="s") as waited:

        def check() -> bool:
            waited.update(int(time.monotonic() - started) - waited.n)  # whole seconds waited so far
            return condition()

        started = time.monotonic()
        return _poll_until(check, timeout_s, what)


def _poll_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"gave up waiting for {what} after {timeout_s} s")
        time.sleep(0.01)
    return time.monotonic() - started


def synced(provider: ProviderService, shop: ShopService) -> bool:
    """B has settled everything and finished every delivery, and A's view equals B's."""
    b_state = provider.snapshot()
    return provider.is_quiet() and shop.snapshot() == b_state


def frames_since(
    t0: float, requests: pd.DataFrame, provider: ProviderService, shop: ShopService
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``requests`` and the per-change latencies of a live run, times in seconds since ``t0``."""
    requests["time"] -= t0
    latencies = change_latencies(provider.changes(), shop.observations())
    latencies[["changed_at", "learned_at"]] -= t0
    return requests, latencies


def run_live(
    mode: str = "poll",
    *,
    payments: int = 10,
    interval_s: float = 1.0,
    seed: int = 0,
    settlement: SettlementModel | None = None,
    timeout_s: float = 120.0,
    progress: Callable[[str], None] | None = None,
    poll_interval_s: int = 60,
) -> LiveRun:
    """Run B and A live in ``mode`` until every payment settled and A knows it.

    Raises ``TimeoutError`` (with what was still missing) if that takes over ``timeout_s``.
    ``poll_interval_s``: what B's ``X-Poll-Interval`` says (the ``feed`` mode waits at least that).
    """
    say = progress or (lambda message: None)
    rng = random.Random(seed)
    # seeded ids: the run is compared with a simulation of the same seed, payment by payment
    provider = ProviderService(
        seed=seed, settlement=settlement, seeded_ids=True, poll_interval_s=poll_interval_s
    )
    with serve(provider.app) as b:
        shop = ShopService(b.url, mode=mode, interval_s=interval_s)
        try:
            with serve(shop.app) as a:
                t0 = time.time()
                if mode == "webhook":
                    shop.register_webhook(a.url)
                for _ in range(payments):
                    shop.create_payment(amount=rng.randint(100, 50_000), currency="eur")
                say(f"{mode}: created {payments} payments; waiting for them to settle")
                next_report = [time.monotonic() + PROGRESS_EVERY_S]
                bar = progress_bar(total=payments, desc=f"{mode}: settlements A knows", unit="payment")

                next_bar = [time.monotonic() + BAR_EVERY_S]

                def finished() -> bool:
                    if synced(provider, shop):
                        return True
                    now = time.monotonic()
                    # A's store is read only now and then: reading it every 10 ms slows A's handlers
                    if now >= next_bar[0]:
                        next_bar[0] = now + BAR_EVERY_S
                        bar.update(payments - shop.pending_count() - bar.n)
                    if now >= next_report[0]:  # a heartbeat, so a slow run never looks stuck
                        next_report[0] += PROGRESS_EVERY_S
                        say(f"{mode}: A knows {bar.n}/{payments} settlements so far ...")
                    return False

                try:
                    _poll_until(
                        finished, timeout_s, f"the {mode} run to finish (A to learn every settlement B made)"
                    )
                finally:
                    bar.close()
                wall_s = time.time() - t0
        finally:
            shop.close()
    requests, latencies = frames_since(t0, combine(provider.log, shop.log), provider, shop)
    say(f"{mode}: done in {wall_s:.1f} s")
    return LiveRun(
        mode=mode,
        requests=requests,
        latencies=latencies,
        summary=summarize(requests, latencies, mode),
        provider_state=provider.snapshot(),
        shop_state=shop.snapshot(),
        wall_s=wall_s,
    )
