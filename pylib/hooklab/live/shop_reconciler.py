"""A's reconciler: reads B's ``GET /events`` after A's cursor into the inbox, every ``every_s``.

At start-up and every round it reads to the end (the cursor is kept durably with a database), so
what B never delivered is learned anyway, and in webhook mode it checks that B still knows A's
endpoint (:meth:`~hooklab.live.shop_registration.Registration.ensure`).

An A receiving in the ``stripe`` scheme reconciles the way Stripe's API allows instead: it lists
``GET /v1/events`` created since its last round (Stripe keeps events for 30 days:
https://docs.stripe.com/api/events/list), newest first, a page at a time.
"""

from __future__ import annotations

import contextlib

import httpx

from hooklab.core.contract import EVENTS_PATH, validate_event
from hooklab.core.errors import ApiError
from hooklab.core.schemes import IGNORED, shop_event
from hooklab.live.shop_context import ShopContext
from hooklab.live.shop_registration import Registration

#: Events per reconciliation page.
RECONCILE_PAGE = 100


class Reconciler:
    def __init__(self, ctx: ShopContext, registration: Registration, every_s: float | None) -> None:
        self.ctx, self.registration, self.every_s = ctx, registration, every_s

    def reconcile_once(self) -> int | None:
        """Read B's events after A's cursor to the end into the inbox; how many were new to A
        (``None``: B did not answer). A cursor B does not know (a restarted in-memory B) starts
        over from B's first event: the inbox drops what A has already."""
        ctx = self.ctx
        if ctx.core.scheme.name == "stripe":
            return self._reconcile_stripe()
        if ctx.mode == "webhook":
            self.registration.ensure()
        started = ctx.clock.now()
        new = 0
        while True:
            cursor = ctx.core.meta.get("cursor")
            url = f"{EVENTS_PATH}?limit={RECONCILE_PAGE}" + (f"&after={cursor}" if cursor else "")
            response = ctx.send("reconcile", "GET", url)
            if response is None:
                return None
            if response.status_code == 404 and cursor:
                with ctx.lock:
                    del ctx.core.meta["cursor"]
                continue
            if response.status_code != 200:
                return None
            page = response.json()
            new += ctx.accept_page(page["data"], "reconcile")
            if not page["has_more"]:
                break
        with ctx.lock:
            ctx.core.meta["reconciled_at"] = repr(started)
        return new

    def _reconcile_stripe(self) -> int | None:
        """Read Stripe's ``GET /v1/events`` created since the last round (the same second again:
        Stripe's times are whole seconds, and the inbox drops what A has), newest first, page by page."""
        ctx = self.ctx
        since = int(ctx.core.meta.get("stripe_since", "0"))
        newest, new, after = since, 0, None
        while True:
            url = f"/v1/events?limit={RECONCILE_PAGE}&created[gte]={since}" + (
                f"&starting_after={after}" if after else ""
            )
            response = ctx.send("reconcile", "GET", url)
            if response is None or response.status_code != 200:
                return None
            page = response.json()
            events = []
            for raw in page["data"]:
                newest = max(newest, int(raw.get("created", 0)))
                mapped = shop_event(raw)
                if mapped is not IGNORED:
                    with contextlib.suppress(ApiError):  # one malformed event does not stop the round
                        events.append(validate_event(mapped))
            new += ctx.accept_page(events, "reconcile")
            if not page.get("has_more") or not page["data"]:
                break
            after = page["data"][-1]["id"]
        with ctx.lock:
            ctx.core.meta["stripe_since"] = str(newest)
        return new

    def run(self) -> None:
        """The reconciler thread: a round now, then one every ``every_s`` until A stops."""
        while not self.ctx.stop.is_set():
            # B answered something unreadable or refused the registration: try again next round
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, ConnectionError):
                self.reconcile_once()
            self.ctx.clock.wait(self.ctx.stop, self.every_s)
