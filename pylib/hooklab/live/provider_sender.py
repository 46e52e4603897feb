"""B's sender: the background pump that settles payments when due and delivers webhooks.

It runs inside the server's event loop (started by the app's lifespan). Each endpoint has its own
queue in the core and its own async httpx client of at most ``max_in_flight`` connections, so a
slow or dead endpoint never blocks the API nor another endpoint; an endpoint's connections close
after ``idle_client_s`` with nothing in flight, and at most ``max_sending`` attempts are in flight
in all, so B's sockets are bounded however many endpoints are registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable

import httpx

from hooklab.core.delivery import Delivery
from hooklab.core.retry import parse_retry_after
from hooklab.live.client import AsyncLoggingTransport, tagged
from hooklab.live.provider_context import ProviderContext

#: How long B waits for a webhook endpoint to answer before counting the attempt as failed.
DELIVERY_TIMEOUT_S = 5.0
#: An endpoint's connections are closed once it has had nothing in flight for this long, seconds:
#: without it every endpoint ever delivered to keeps a socket open, and a few hundred endpoints
#: exhaust B's file descriptors.
IDLE_CLIENT_S = 5.0
#: Delivery attempts in flight across all endpoints at most: a bound on B's sockets however many
#: endpoints are registered (each endpoint still has its own queue and connections).
MAX_SENDING = 256


class Sender:
    """``transport`` replaces the network under every endpoint's client (an ``httpx.ASGITransport``
    to deliver in-process, in tests); ``on_tick`` runs, with the lock held, after each round (B's
    holds announce new events with it)."""

    def __init__(
        self,
        ctx: ProviderContext,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
        idle_client_s: float = IDLE_CLIENT_S,
        max_sending: int = MAX_SENDING,
        on_tick: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx, self.transport, self.on_tick = ctx, transport, on_tick
        self.delivery_timeout_s, self.idle_client_s, self.max_sending = (
            delivery_timeout_s,
            idle_client_s,
            max_sending,
        )
        self.clients: dict[str, httpx.AsyncClient] = {}
        self._client_used: dict[str, float] = {}  # endpoint id -> when its client last finished (monotonic)
        self._tls: ssl.SSLContext | None = None
        self._sending: asyncio.Semaphore | None = None
        self._wake: asyncio.Event | None = None
        self._pumping = False
        self._pump_task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the pump (on B's event loop)."""
        self._wake = asyncio.Event()
        self._sending = asyncio.Semaphore(self.max_sending)
        self._pumping = True
        self._pump_task = asyncio.create_task(self._pump(), name="hooklab-provider-pump")

    async def stop(self) -> None:
        """Stop the pump and close every client. Asked to stop, not cancelled: Python 3.11's
        wait_for can swallow a cancellation that arrives as its event is set, which left the pump
        (and B's shutdown) waiting for ever."""
        self._pumping = False
        if self._wake is not None:
            self._wake.set()
        if self._pump_task is not None:
            await self._pump_task
        self._wake = None
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()

    def poke(self) -> None:
        """Something may be due now (a payment, a redelivery): the pump looks at once."""
        if self._wake is not None:
            self._wake.set()

    def _client(self, endpoint_id: str) -> httpx.AsyncClient:
        """The endpoint's own client: its connections are its own, so a black hole that holds every
        one of them open holds up nobody else."""
        client = self.clients.get(endpoint_id)
        if client is None:
            limits = httpx.Limits(max_connections=self.ctx.core.max_in_flight, max_keepalive_connections=2)
            if self._tls is None:  # made once: building a TLS context per client costs ~40 ms of B's loop
                self._tls = ssl.create_default_context()
            inner = self.transport or httpx.AsyncHTTPTransport(limits=limits, verify=self._tls)
            client = self.clients[endpoint_id] = httpx.AsyncClient(
                timeout=self.delivery_timeout_s,
                transport=AsyncLoggingTransport(inner, self.ctx.log, self.ctx.clock, "A"),
            )
        return client

    async def _close_idle_clients(self) -> float | None:
        """Close the connections of every endpoint with nothing in flight for ``idle_client_s``;
        seconds until the next one may be due for closing (``None``: no client is open)."""
        now, next_check = time.monotonic(), None
        for endpoint_id in list(self.clients):
            with self.ctx.lock:
                busy = self.ctx.core.in_flight(endpoint_id) > 0
            idle_for = now - self._client_used.get(endpoint_id, now)
            if not busy and idle_for >= self.idle_client_s:
                client = self.clients.pop(endpoint_id)
                self._client_used.pop(endpoint_id, None)
                await client.aclose()
                continue
            left = self.idle_client_s - idle_for if not busy else self.idle_client_s
            next_check = left if next_check is None else min(next_check, left)
        return next_check

    async def _pump(self) -> None:
        """Settle and deliver whatever is due, then sleep until the next thing is (or a poke)."""
        ctx = self.ctx
        in_flight: set[asyncio.Task] = set()
        try:
            while self._pumping:
                with ctx.lock:
                    now = ctx.clock.now()
                    ctx.core.settle_due(now)
                    due = ctx.core.deliveries_due(now)
                    wake_at = ctx.core.next_wakeup(now)
                    self.on_tick()
                for delivery in due:
                    task = asyncio.create_task(self._deliver(self._client(delivery.endpoint.id), delivery))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                idle_check = await self._close_idle_clients()
                timeout = None if wake_at is None else max(0.0, wake_at - ctx.clock.now())
                if idle_check is not None:
                    timeout = idle_check if timeout is None else min(timeout, idle_check)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
        finally:
            for task in in_flight:
                task.cancel()

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """One attempt. Whatever goes wrong (no answer, a URL httpx cannot use, a bug), the
        attempt is reported as failed, so the delivery is retried or given up, never stuck."""
        ctx = self.ctx
        try:
            async with self._sending or contextlib.nullcontext():
                response, error, started_at = await self._attempt(client, delivery)
        except asyncio.CancelledError:
            raise  # B is shutting down: the delivery stays in flight with the rest of B's memory
        finally:
            self._client_used[delivery.endpoint.id] = time.monotonic()
        status = None if response is None else response.status_code
        retry_after = None if response is None else parse_retry_after(response.headers.get("retry-after"),
                                                                       ctx.clock.now())  # fmt: skip
        with ctx.lock:
            ctx.core.delivery_finished(delivery, status, ctx.clock.now(), started_at=started_at,
                                       retry_after_s=retry_after, error=error)  # fmt: skip
        self.poke()

    async def _attempt(
        self, client: httpx.AsyncClient, delivery: Delivery
    ) -> tuple[httpx.Response | None, str | None, float]:
        """Send one attempt: ``(response or None, error name or None, when it started)``."""
        ctx = self.ctx
        started_at = ctx.clock.now()
        try:
            with ctx.lock:
                url, headers, body = delivery.request(ctx.clock.now())
            request = client.build_request(
                "POST", url, content=body, headers=headers, extensions=tagged("webhook")
            )
            response = await client.send(request)  # the client's transport logs it
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is a failed attempt
            return None, type(exc).__name__, started_at
        return response, None, started_at
