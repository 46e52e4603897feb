"""System A's smarter pulling, live: conditional and adaptive polls in A's poller thread; the
feed, long polling and SSE each on an event loop of its own, which stopping A cancels at once.

- ``conditional``: poll each payment with ``If-None-Match``; a ``304`` costs B no body and no quota;
- ``adaptive``: conditional polls at per-payment intervals, re-allocated every ``10 x interval``
  from each payment's estimated rate of change under the same budget (:mod:`hooklab.core.adaptive`);
- ``feed``: one cursor over ``GET /events`` (with ``If-None-Match``), pages read to the end;
- ``long-poll``: ``GET /events?after=<cursor>&wait=30``, asked again as soon as it answers;
- ``sse``: ``GET /events/stream``, resumed with ``Last-Event-ID`` (httpx-sse).

Every mode honours ``429``/``503`` with ``Retry-After``, waits at least ``X-Poll-Interval`` between
feed reads, and backs off with jitter when B does not answer. Events go through A's inbox
(:meth:`~hooklab.core.shop.Shop.accept`), so nothing is applied twice, and the cursor is kept in
A's database (with ``db_path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time

import httpx
import httpx_sse
from httpx_sse import aconnect_sse

from hooklab.core import adaptive
from hooklab.core.contract import EVENTS_PATH, EVENTS_STREAM_PATH
from hooklab.core.retry import parse_retry_after
from hooklab.live.client import AsyncLoggingTransport, tagged
from hooklab.live.shop_context import ShopContext

#: How long a long poll asks B to hold it, seconds.
LONG_POLL_WAIT_S = 30.0
#: The longest pause after repeated errors, seconds.
MAX_BACKOFF_S = 30.0


class Backoff:
    """Exponential backoff with full jitter: after the n-th error in a row, a uniform wait in
    ``[0, min(cap, base * 2^n)]`` (so that many clients do not retry in step)."""

    def __init__(
        self, base_s: float = 0.2, cap_s: float = MAX_BACKOFF_S, rng: random.Random | None = None
    ) -> None:
        self.base_s, self.cap_s, self.errors = base_s, cap_s, 0
        self.rng = rng or random.Random()

    def next_s(self) -> float:
        self.errors += 1
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (self.errors - 1)))

    def reset(self) -> None:
        self.errors = 0


def told_to_wait(response: httpx.Response | None, now: float) -> float | None:
    """Seconds B asked A to wait (``429`` or ``503`` with ``Retry-After``), else ``None``."""
    if response is not None and response.status_code in (429, 503):
        return parse_retry_after(response.headers.get("retry-after"), now) or 1.0
    return None


def _accept(ctx: ShopContext, page: list[dict], via: str) -> bool:
    return ctx.accept_page(page, via) > 0


class OwnLoop:
    """The event loop and task a pull loop runs on, so another thread can cancel it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None

    def cancel(self) -> None:
        """Cancel the loop :func:`run_in_own_loop` runs (from any thread)."""
        if self.loop is not None and self.task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self.loop.call_soon_threadsafe(self.task.cancel)


def run_in_own_loop(ctx: ShopContext, own: OwnLoop, loop_fn) -> None:
    """Run ``await loop_fn(ctx, client)`` on an event loop of this thread's own, with an async
    client to B, until A stops: :meth:`OwnLoop.cancel` cancels it, which ends a held long poll or
    an open stream at once (a blocking read could not be interrupted)."""

    async def main() -> None:
        own.loop = asyncio.get_running_loop()
        own.task = asyncio.current_task()
        if ctx.stop.is_set():
            return
        transport = ctx.pull_transport or AsyncLoggingTransport(
            httpx.AsyncHTTPTransport(), ctx.log, ctx.clock, "B"
        )
        async with httpx.AsyncClient(
            base_url=ctx.provider_url, timeout=5.0, headers=dict(ctx.auth_headers), transport=transport
        ) as client:
            with contextlib.suppress(asyncio.CancelledError):
                await loop_fn(ctx, client)

    asyncio.run(main())


async def _send(
    ctx: ShopContext, client: httpx.AsyncClient, kind: str, url: str, headers: dict, timeout: float | None
):
    request = client.build_request("GET", url, headers=headers, extensions=tagged(kind),
                                   **({} if timeout is None else {"timeout": timeout}))  # fmt: skip
    try:
        return await client.send(request)
    except httpx.TransportError:
        return None


async def feed_loop(ctx: ShopContext, client: httpx.AsyncClient, *, long_poll: bool) -> None:
    """``feed`` and ``long-poll``: read B's events after A's cursor, page by page."""
    backoff, etag, kind = Backoff(), None, "long-poll" if long_poll else "feed"
    while not ctx.stop.is_set():
        cursor = ctx.core.meta.get("cursor")
        url = f"{EVENTS_PATH}?limit=100" + (f"&after={cursor}" if cursor else "")
        headers = {}
        if long_poll:
            url += f"&wait={LONG_POLL_WAIT_S:g}"
        elif etag:
            headers["If-None-Match"] = etag
        response = await _send(ctx, client, kind, url, headers, LONG_POLL_WAIT_S + 10 if long_poll else None)
        wait = told_to_wait(response, ctx.clock.now())
        if wait is not None:
            await asyncio.sleep(wait)
            continue
        if response is None or response.status_code >= 500:
            await asyncio.sleep(backoff.next_s())
            continue
        backoff.reset()
        if response.status_code == 404 and cursor:  # B forgot the cursor (restarted): from the start
            with ctx.lock:
                del ctx.core.meta["cursor"]
            etag = None
            continue
        hint = float(response.headers.get("x-poll-interval", "0") or 0)
        if response.status_code == 200:
            body = response.json()
            etag = response.headers.get("etag")
            _accept(ctx, body["data"], kind)
            if body["has_more"] or long_poll:
                continue  # the next page, or the next long poll, at once
        await asyncio.sleep(max(ctx.schedule.interval_s, hint))


async def long_poll_loop(ctx: ShopContext, client: httpx.AsyncClient) -> None:
    await feed_loop(ctx, client, long_poll=True)


async def plain_feed_loop(ctx: ShopContext, client: httpx.AsyncClient) -> None:
    await feed_loop(ctx, client, long_poll=False)


async def sse_loop(ctx: ShopContext, client: httpx.AsyncClient) -> None:
    """``sse``: one stream, resumed from A's cursor with ``Last-Event-ID`` whenever it ends."""
    backoff = Backoff()
    timeout = httpx.Timeout(5.0, read=60.0)  # B pings every 15 s; a silent minute is a dead stream
    while not ctx.stop.is_set():
        cursor = ctx.core.meta.get("cursor")
        headers = {"Last-Event-ID": cursor} if cursor else {}
        news = {"news": False}  # the stream's row says whether any event on it was new to A
        try:
            async with aconnect_sse(client, "GET", EVENTS_STREAM_PATH, headers=headers, timeout=timeout,
                                    extensions=tagged("sse", news=news)) as source:  # fmt: skip
                status = source.response.status_code
                wait = told_to_wait(source.response, ctx.clock.now())
                if wait is not None:
                    await asyncio.sleep(wait)
                    continue
                if status == 404 and cursor:
                    with ctx.lock:
                        del ctx.core.meta["cursor"]
                    continue
                backoff.reset()
                async for sse in source.aiter_sse():
                    if sse.event.startswith("payment."):
                        news["news"] = _accept(ctx, [json.loads(sse.data)], "sse") or news["news"]
        except (httpx.HTTPError, httpx_sse.SSEError):
            await asyncio.sleep(backoff.next_s())


class AdaptiveIntervals:
    """``adaptive``, live: A's polls counted in a :class:`~hooklab.core.adaptive.PollBudget` and,
    every ``every_s``, the pending payments' intervals re-allocated from it."""

    def __init__(self, ctx: ShopContext, every_s: float | None = None) -> None:
        self.ctx = ctx
        self.every_s = every_s or 10 * ctx.schedule.interval_s
        self.budget = adaptive.PollBudget(ctx.schedule.interval_s)
        self.next_at = time.monotonic() + self.every_s

    def polled(self, payment_id: str, changed: bool) -> None:
        self.budget.polled(payment_id, changed, self.ctx.schedule.interval_of(payment_id))
        if time.monotonic() >= self.next_at:
            self.reallocate()

    def reallocate(self) -> None:
        with self.ctx.lock:
            ids = self.ctx.core.pending_ids()
        self.next_at = time.monotonic() + self.every_s
        for pid, interval in zip(ids, self.budget.intervals(ids), strict=True):
            self.ctx.schedule.set_interval(pid, interval)


#: The loop of each mode that runs on an event loop of its own (``core.modes.PULL_LOOP_MODES``).
LOOPS = {"feed": plain_feed_loop, "long-poll": long_poll_loop, "sse": sse_loop}
