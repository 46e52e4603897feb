"""B's held requests: long polls (``GET /events?wait=``) and event streams (``GET /events/stream``).

A held request waits for B's next event on an :class:`asyncio.Event` that B's sender replaces each
time it makes events (:meth:`Holds.announce`). Places are bounded: ``max_waiting`` in all
(``503``), ``max_per_client`` for one client, an API key or an address (``429``). A stream replays
history in pages of :data:`STREAM_PAGE` and hands B's loop back after each; when the server stops,
every held request answers or ends at once (:meth:`Holds.stop_holding`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json

from fastapi import Request
from sse_starlette.sse import EventSourceResponse

from hooklab.core.errors import ApiError
from hooklab.live.provider_context import ProviderContext

#: Long polls and event streams B holds open at once at most; more get 503 with Retry-After.
MAX_WAITING = 100
#: Of those, held for one client (API key, else address) at most; more get 429 with Retry-After.
MAX_WAITING_PER_CLIENT = 10
#: The longest a long poll may wait (``GET /events?wait=``), seconds.
MAX_WAIT_S = 60.0
#: How long one event stream stays open before B closes it (the client reconnects), seconds.
STREAM_S = 600.0
#: Events per page when an event stream replays history; B's loop serves others between pages.
STREAM_PAGE = 100


class Holds:
    """``waiting``: long polls and streams held open now."""

    def __init__(
        self,
        ctx: ProviderContext,
        *,
        max_waiting: int = MAX_WAITING,
        max_per_client: int = MAX_WAITING_PER_CLIENT,
        max_wait_s: float = MAX_WAIT_S,
        stream_s: float = STREAM_S,
        poll_interval_s: int = 60,
    ) -> None:
        self.ctx = ctx
        self.max_waiting, self.max_per_client = max_waiting, max_per_client
        self.max_wait_s, self.stream_s, self.poll_interval_s = max_wait_s, stream_s, poll_interval_s
        self.waiting = 0
        self._held: collections.Counter[str] = collections.Counter()  # held places per client
        self._events_seen = 0
        self._news: asyncio.Event | None = None  # set (and replaced) when B makes events
        self.stopping = False

    def start(self) -> None:
        """Serving starts (on B's event loop)."""
        self._news = asyncio.Event()
        self.stopping = False

    def stop_holding(self) -> None:
        """The server is shutting down: every held long poll answers now and every stream ends, so
        stopping B does not wait for them (call it on B's event loop)."""
        self.stopping = True
        if self._news is not None:
            self._news.set()

    def close(self) -> None:
        """Serving ended: nothing is held any more."""
        news, self._news = self._news, None
        if news is not None:
            news.set()

    def announce(self) -> None:
        """Wake every long poll and stream if B made events since the last call (the sender calls
        it with ``lock`` held)."""
        count = len(self.ctx.core.events)
        if count != self._events_seen and self._news is not None:
            self._events_seen = count
            news, self._news = self._news, asyncio.Event()
            news.set()

    def _hold(self, request: Request) -> str:
        """Count one more held connection for the request's client (returned, for :meth:`_release`),
        or refuse it: 429 when that client holds ``max_per_client`` already (one client must not
        take every place), 503 when ``max_waiting`` are held in all."""
        client = request.state.client
        if self._held[client] >= self.max_per_client:
            raise ApiError(429, "too_many_waiting",
                           f"this client already holds {self._held[client]} long polls or streams (the "
                           f"limit per client is {self.max_per_client}); close one, or retry after "
                           "a second", retry_after=1)  # fmt: skip
        if self.waiting >= self.max_waiting:
            raise ApiError(503, "too_many_waiting",
                           f"{self.waiting} clients are already waiting for events (the limit is "
                           f"{self.max_waiting}); retry after a second, or poll without wait",
                           retry_after=1)  # fmt: skip
        self.waiting += 1
        self._held[client] += 1
        return client

    def _release(self, client: str) -> None:
        self.waiting -= 1
        self._held[client] -= 1
        if not self._held[client]:
            del self._held[client]

    async def wait_for_events(
        self, request: Request, after: str | None, limit: int, wait: float
    ) -> tuple[list, bool]:
        """A long poll: the page after ``after`` as soon as it has events, or empty after ``wait``."""
        ctx = self.ctx
        client = self._hold(request)
        try:
            deadline = ctx.clock.now() + min(wait, self.max_wait_s)
            while True:
                news = self._news
                with ctx.lock:
                    data, has_more = ctx.core.events_page(after, limit)
                left = deadline - ctx.clock.now()
                # a client that went away frees its place at once (and lets B shut down)
                if data or left <= 0 or news is None or self.stopping or await request.is_disconnected():
                    return data, has_more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), min(left, 0.25))
        finally:
            self._release(client)

    def stream(self, request: Request, cursor: str | None) -> EventSourceResponse:
        """Every event after ``cursor``, then each new one as B makes it, as Server-Sent Events."""
        ctx = self.ctx
        client = self._hold(request)

        async def events():
            nonlocal cursor
            # a stream ends after stream_s: the client reconnects with Last-Event-ID and loses nothing
            ends = ctx.clock.now() + self.stream_s
            try:
                while not self.stopping and self._news is not None and ctx.clock.now() < ends:
                    news = self._news
                    with ctx.lock:
                        page, _ = ctx.core.events_page(cursor, STREAM_PAGE)
                    for event in page:
                        cursor = event["id"]
                        yield {"id": event["id"], "event": event["type"], "data": json.dumps(event)}
                    # a socket that takes every byte never makes the sender wait, so a replay of a
                    # long history would keep B's loop to itself: hand it back after each page
                    await asyncio.sleep(0)
                    if not page:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(news.wait(), min(1.0, max(0.0, ends - ctx.clock.now())))
            finally:
                self._release(client)

        return EventSourceResponse(events(), ping=15, headers={"X-Poll-Interval": str(self.poll_interval_s)})
