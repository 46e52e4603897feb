"""A's poller: the thread that asks B, in every mode but ``webhook``.

``poll``, ``conditional`` and ``adaptive`` poll each pending payment (with ``If-None-Match`` in the
last two) on :class:`~hooklab.core.shop.PollSchedule`'s timetable; ``feed``, ``long-poll`` and
``sse`` run :mod:`hooklab.live.pullers`' loop for the mode on an event loop of their own, which
:meth:`Poller.stop` cancels at once. A ``429``/``503`` pauses polling for its ``Retry-After``; a
payment B answers ``404`` for (an in-memory B that restarted) is no longer polled.
"""

from __future__ import annotations

import functools
import threading
import time

import httpx

from hooklab.core.contract import FINAL_STATUSES, PAYMENTS_PATH
from hooklab.core.modes import PULL_LOOP_MODES
from hooklab.live import pullers
from hooklab.live.shop_context import ShopContext


class Poller:
    """``unknown_at_b``: payments B answered 404 for, no longer polled."""

    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx
        self.unknown_at_b: set[str] = set()
        self._etags: dict[str, str | None] = {}  # conditional polling: each payment's last ETag
        self._paused_until = 0.0  # a 429 / 503 from B: no polls before this (time.monotonic)
        self._adaptive = pullers.AdaptiveIntervals(ctx) if ctx.mode == "adaptive" else None
        self._thread: threading.Thread | None = None
        self.own_loop = pullers.OwnLoop()  # the feed's, long poll's or stream's event loop

    def poll_once(self, payment_id: str) -> bool | None:
        """``GET`` one payment from B and apply it. News -> ``True``; no answer -> ``None``. In
        ``conditional`` and ``adaptive`` mode with the payment's ``ETag`` (a ``304``: nothing new);
        a ``429``/``503`` makes the poller wait what ``Retry-After`` says."""
        ctx = self.ctx
        conditional = ctx.mode in ("conditional", "adaptive")
        tag = self._etags.get(payment_id) if conditional else None

        def apply(response: httpx.Response) -> bool | None:
            if response.status_code == 304:
                return False
            if response.status_code == 404:  # B forgot it (an in-memory B restarted): stop asking
                self.unknown_at_b.add(payment_id)
            if response.status_code != 200:
                return None
            if conditional:
                self._etags[payment_id] = response.headers.get("etag")
            with ctx.lock:
                return ctx.core.apply(response.json(), "poll", ctx.clock.now())

        learned: list[bool | None] = []
        response = ctx.send(
            "poll", "GET", f"{PAYMENTS_PATH}/{payment_id}",
            news_of=lambda response: learned.append(apply(response)) or learned[-1],
            headers={"If-None-Match": tag} if tag else None,
        )  # fmt: skip
        wait = pullers.told_to_wait(response, ctx.clock.now())
        if wait is not None:
            self._paused_until = time.monotonic() + wait
        if self._adaptive is not None and response is not None and response.status_code in (200, 304):
            self._adaptive.polled(payment_id, changed=response.status_code == 200)
        return learned[-1] if learned else None

    def is_done(self) -> bool:
        """True when A believes every payment it created has settled (or B no longer knows it)."""
        with self.ctx.lock:
            return not set(self.ctx.core.pending_ids()) - self.unknown_at_b

    def _poll_loop(self) -> None:
        ctx = self.ctx
        while not ctx.stop.is_set():
            paused = self._paused_until - time.monotonic()
            if paused > 0:  # B said 429 / 503: wait Retry-After, then carry on where we were
                ctx.stop.wait(paused)  # Retry-After is real seconds, whatever A's clock
                continue
            with ctx.lock:
                due = ctx.schedule.due(ctx.clock.now())
            for payment_id in due:
                at = ctx.clock.now()
                self.poll_once(payment_id)
                with ctx.lock:
                    done = ctx.core.payments[payment_id]["status"] in FINAL_STATUSES
                    ctx.schedule.polled(payment_id, at, done=done or payment_id in self.unknown_at_b)
            with ctx.lock:
                next_at = ctx.schedule.next_at()
            timeout = None if next_at is None else max(0.0, next_at - ctx.clock.now())
            ctx.clock.wait(ctx.poll_wake, timeout)
            ctx.poll_wake.clear()

    def start(self) -> None:
        if self._thread is None:
            self.ctx.stop.clear()
            if self.ctx.mode in PULL_LOOP_MODES:
                target = functools.partial(pullers.run_in_own_loop, self.ctx, self.own_loop,
                                           pullers.LOOPS[self.ctx.mode])  # fmt: skip
            else:
                target = self._poll_loop
            self._thread = threading.Thread(target=target, name=f"hooklab-{self.ctx.mode}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.ctx.stop.set()
            self.ctx.poll_wake.set()
            self.own_loop.cancel()  # ends a held long poll or an open stream at once
            self._thread.join()
            self._thread = None
