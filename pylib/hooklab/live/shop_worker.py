"""A's inbox worker: applies the events its webhook endpoint (or its pulls) kept.

With ``ack="inbox"`` the endpoint only verifies, stores and answers; this worker, in a thread of
its own, applies the waiting events: all of them in one transaction when each is applied as it came
(a group, like the endpoint's commits), or one at a time when each first needs B
(``on_event="refetch"``, the event as a hint, Stripe's advice) or its ``work_s`` of work. It also
forgets old event ids.
"""

from __future__ import annotations

import logging
import math

from hooklab.core.contract import PAYMENTS_PATH
from hooklab.live.shop_commits import MAX_GROUP
from hooklab.live.shop_context import ShopContext

LOG = logging.getLogger("hooklab.shop")

#: After applying a group smaller than :data:`MAX_GROUP`, the worker waits this long for more: under
#: load it applied a handful per transaction, each one a commit and a turn at the GIL the endpoint
#: needed (benchmarks/bench_receiver.py); an event waits at most this much longer to be applied.
GATHER_S = 0.02


class InboxWorker:
    """Applies inbox events; ``working``: events in their ``work_s`` of work right now."""

    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx
        self.working = 0

    def fetch_payment(self, payment_id: str) -> dict | None:
        """B's current state of one payment (``--on-event refetch``), or ``None`` if B did not answer."""
        response = self.ctx.send("refetch", "GET", f"{PAYMENTS_PATH}/{payment_id}")
        return response.json() if response is not None and response.status_code == 200 else None

    def work_once(self) -> int:
        """Apply the events waiting in the inbox (at most :data:`MAX_GROUP` in one transaction, so the
        endpoint's commits wait at most that long); how many were applied."""
        if self.ctx.on_event == "apply" and not self.ctx.work_s:
            try:
                with self.ctx.lock:  # read and applied under one lock: no other thread applies them between
                    return self.ctx.core.apply_pending(self.ctx.clock.now(), limit=MAX_GROUP)
            except Exception:  # noqa: BLE001 - a bug in the work: nothing of the group was kept
                pass  # find the event that fails, one at a time, below
        with self.ctx.lock:
            pending = self.ctx.core.pending_events()
        done = 0
        for event_id, event, _via in pending:
            applied = self.work_on(event_id, event)
            if applied is None:
                break  # B is down: the event stays in the inbox for the next round
            done += applied
        return done

    def work_on(self, event_id: str, event: dict) -> bool | None:
        """Apply one inbox event (re-fetching its payment first with ``on_event="refetch"``): whether
        A applied it (``False``: another thread did), ``None`` if B did not answer the re-fetch."""
        ctx = self.ctx
        payment = event["data"]["object"]
        if ctx.on_event == "refetch":
            payment = self.fetch_payment(payment["id"])
            if payment is None:
                return None
        if ctx.work_s:
            with ctx.lock:
                self.working += 1
            try:
                ctx.clock.wait(ctx.stop, ctx.work_s)  # the work a real handler does (ship, e-mail, ...)
            finally:
                with ctx.lock:
                    self.working -= 1
        with ctx.lock:
            if event_id not in ctx.core.inbox:
                return False
            try:
                ctx.core.apply_event(event_id, payment, ctx.clock.now())
            except Exception as err:  # noqa: BLE001 - a bug in A's own work must not stop the inbox
                # set aside, never retried for ever: the sender had its 200 (the event is stored),
                # the events behind it are applied, and a person fixes the bug and replays this one
                ctx.core.dead_letter(event_id, f"{type(err).__name__}: {err}", ctx.clock.now())
                LOG.error("event %s set aside (dead letter): %s: %s", event_id, type(err).__name__, err)
                return False
            return True

    def run(self) -> None:
        """The worker thread: apply what waits, then sleep until woken (or a second passes); forget
        old event ids once a second (each time it was woken, under load, was a write transaction
        for every commit of the endpoint's)."""
        ctx = self.ctx
        forgot_at = -math.inf
        while not ctx.stop.is_set():
            done = self.work_once()
            if done == 0:
                ctx.clock.wait(ctx.inbox_wake, 1.0)
                ctx.inbox_wake.clear()
            elif done < MAX_GROUP:  # let the next group gather: fewer, larger transactions
                ctx.stop.wait(GATHER_S)
            if ctx.clock.now() - forgot_at >= 1.0:
                with ctx.lock:
                    forgot_at = ctx.clock.now()
                    ctx.core.forget_old_events(forgot_at)
