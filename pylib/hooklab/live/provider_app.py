"""System B over HTTP: a FastAPI app around :class:`~hooklab.core.provider.PaymentProvider`.

Routes: ``POST /payments``, ``GET /payments/{id}``, ``POST``/``GET /webhook-endpoints``,
``DELETE /webhook-endpoints/{id}``, ``GET /events`` (``after``, ``limit``, ``has_more``),
``GET /health``, and the recovery API:
``GET /webhook-endpoints/{id}/deliveries``, ``POST /deliveries/{id}/redeliver``,
``POST /webhook-endpoints/{id}/recover``; ``/docs`` and ``/openapi.json`` describe them. A
background task (started by the app's lifespan, so it runs inside the server's event loop) settles
payments when due and delivers webhooks, each endpoint with its own queue and its own async httpx
client of at most ``max_in_flight`` connections, so a slow or dead endpoint never blocks the API
nor another endpoint. With ``db_path`` B keeps everything in SQLite
(:mod:`hooklab.live.provider_store`) and a restarted B carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse
from starlette.middleware import Middleware

from hooklab.core.clock import Clock
from hooklab.core.contract import (
    DELIVERIES_PATH,
    EVENTS_PATH,
    EVENTS_STREAM_PATH,
    HEALTH_PATH,
    PAYMENT_PATH,
    PAYMENTS_PATH,
    RECOVER_PATH,
    REDELIVER_PATH,
    SENDER_HEADER,
    WEBHOOK_ENDPOINT_PATH,
    WEBHOOK_ENDPOINTS_PATH,
    events_etag,
    none_match,
    payment_etag,
)
from hooklab.core.delivery import Delivery
from hooklab.core.errors import ApiError
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.retry import RetryPolicy, parse_retry_after
from hooklab.live.client import record_sent
from hooklab.live.clocks import WallClock
from hooklab.live.models import (
    DeliveryList,
    DeliveryView,
    Endpoint,
    EndpointDeleted,
    EndpointList,
    EndpointRequest,
    EventList,
    Health,
    Payment,
    PaymentRequest,
    RecoverAnswer,
    RecoverRequest,
)
from hooklab.live.provider_store import SqliteProviderStore
from hooklab.live.ratelimit import ApiKeyMiddleware, RateLimitMiddleware, parse_rate
from hooklab.live.server import ERROR_MEANINGS, documented, make_app, mark
from hooklab.measure.requestlog import RequestLog

#: How long B waits for a webhook endpoint to answer before counting the attempt as failed.
DELIVERY_TIMEOUT_S = 5.0
#: Attempts in flight to one endpoint at most (each endpoint has its own connections).
MAX_IN_FLIGHT = 8
#: The most events one ``GET /events`` returns.
MAX_EVENTS_LIMIT = 1000
#: The longest a long poll may wait (``GET /events?wait=``), seconds.
MAX_WAIT_S = 60.0
#: Long polls and event streams B holds open at once at most; more get 503 with Retry-After.
MAX_WAITING = 100
#: Of those, held for one client (API key, else address) at most; more get 429 with Retry-After.
MAX_WAITING_PER_CLIENT = 10
#: How long one event stream stays open before B closes it (the client reconnects), seconds.
STREAM_S = 600.0
#: What ``X-Poll-Interval`` says by default (GitHub's examples say 60).
DEFAULT_POLL_INTERVAL_S = 60
#: An endpoint's connections are closed once it has had nothing in flight for this long, seconds:
#: without it every endpoint ever delivered to keeps a socket open, and a few hundred endpoints
#: exhaust B's file descriptors.
IDLE_CLIENT_S = 5.0
#: Delivery attempts in flight across all endpoints at most: a bound on B's sockets however many
#: endpoints are registered (each endpoint still has its own queue and connections).
MAX_SENDING = 256
#: Events per page when an event stream replays history; B's loop serves others between pages.
STREAM_PAGE = 100


#: One Server-Sent Event as B sends it: ``id`` the event's id, ``event`` its type, ``data`` the event as JSON.
_SSE_EVENT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}},
}


def _conditional(request: Request, body: dict, etag: str) -> Response:
    """``304`` with no body if the client's ``If-None-Match`` matches ``etag``, else the JSON body;
    both with the ``ETag``."""
    if none_match(request.headers.get("if-none-match"), etag):
        request.state.news = False
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(body, headers={"ETag": etag})


#: What ``/docs`` says of this system.
TITLE = "System B: payment provider"
DESCRIPTION = (
    "A mock payment provider. Create a payment here and, if System A has "
    "registered a webhook endpoint, watch B deliver the settlement to it."
)


class ProviderService:
    """System B, live: the core, its request log, the FastAPI ``app`` and its background work.

    Serve ``service.app`` with :func:`hooklab.live.serving.serve` (or uvicorn). All access to the
    core goes through ``service.lock``, so tests and notebooks may read it from another thread.
    ``transport`` replaces the network under B's webhook client (an ``httpx.ASGITransport`` to
    deliver in-process, in tests). ``retry_schedule``: a policy name (``fast``, ``svix``, ...,
    :data:`hooklab.core.retry.POLICIES`), a policy, or a list of waits.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        settlement: SettlementModel | None = None,
        retry_schedule: str | Sequence[float] | RetryPolicy = "fast",
        clock: Clock | None = None,
        name: str = "B",
        transport: httpx.AsyncBaseTransport | None = None,
        seeded_ids: bool = False,
        jitter: float = 0.0,
        max_in_flight: int = MAX_IN_FLIGHT,
        delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
        db_path: str | Path | None = None,
        rate_limit: str | None = None,
        poll_interval_s: int = DEFAULT_POLL_INTERVAL_S,
        max_waiting: int = MAX_WAITING,
        max_waiting_per_client: int = MAX_WAITING_PER_CLIENT,
        api_keys: Sequence[str] = (),
        max_wait_s: float = MAX_WAIT_S,
        stream_s: float = STREAM_S,
        idle_client_s: float = IDLE_CLIENT_S,
        max_sending: int = MAX_SENDING,
    ) -> None:
        self.max_wait_s, self.stream_s = max_wait_s, stream_s
        self.idle_client_s, self.max_sending = idle_client_s, max_sending
        self._sending: asyncio.Semaphore | None = None
        self._pumping = False
        self._client_used: dict[str, float] = {}  # endpoint id -> when its client last finished (monotonic)
        self.stopping = False  # the server is shutting down: held long polls and streams end
        self.clock = clock or WallClock()
        self.poll_interval_s = poll_interval_s
        self.max_waiting, self.max_waiting_per_client = max_waiting, max_waiting_per_client
        self.waiting = 0  # long polls and event streams held open now
        self._held: collections.Counter[str] = collections.Counter()  # of those, per client
        self._events_seen = 0
        self._new_events: asyncio.Event | None = None  # set (and replaced) when B makes events
        limited = [Middleware(ApiKeyMiddleware, api_keys=frozenset(api_keys))]
        if rate_limit is not None:
            per, window = parse_rate(rate_limit)
            limited.append(Middleware(RateLimitMiddleware, limit=per, window_s=window))
        self.name = name
        self.store = SqliteProviderStore(db_path) if db_path is not None else None
        self.core = PaymentProvider(
            seed=seed, settlement=settlement, retry_schedule=retry_schedule, seeded_ids=seeded_ids,
            jitter=jitter, max_in_flight=max_in_flight, store=self.store,
        )  # fmt: skip
        self.delivery_timeout_s = delivery_timeout_s
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tls: ssl.SSLContext | None = None
        self.log = RequestLog(name)
        self.lock = threading.Lock()
        self.transport = transport
        self._wake: asyncio.Event | None = None
        self.app = make_app(
            self,
            TITLE,
            DESCRIPTION,
            body_models=(PaymentRequest, EndpointRequest),
            kinds={PAYMENTS_PATH: "create", WEBHOOK_ENDPOINTS_PATH: "register"},
            middleware=limited,
        )
        self.app.state.on_stopping = self.stop_holding  # see hooklab.live.serving.Server
        self._add_routes()

    def _add_routes(self) -> None:
        # (path, handler, method, success status, success body): one line per route
        routes = [
            (PAYMENTS_PATH, self.create_payment, "POST", 201, Payment),
            (PAYMENT_PATH, self.get_payment, "GET", 200, Payment),
            (WEBHOOK_ENDPOINTS_PATH, self.register_endpoint, "POST", 201, Endpoint),
            (WEBHOOK_ENDPOINTS_PATH, self.list_endpoints, "GET", 200, EndpointList),
            (WEBHOOK_ENDPOINT_PATH, self.delete_endpoint, "DELETE", 200, EndpointDeleted),
            (EVENTS_PATH, self.list_events, "GET", 200, EventList),
            (HEALTH_PATH, self.health, "GET", 200, Health),
            (DELIVERIES_PATH, self.list_deliveries, "GET", 200, DeliveryList),
            (REDELIVER_PATH, self.redeliver, "POST", 201, DeliveryView),
            (RECOVER_PATH, self.recover, "POST", 202, RecoverAnswer),
            (EVENTS_STREAM_PATH, self.stream_events, "GET", 200, EventList),
        ]
        for path, handler, method, status, model in routes:
            errors = {REDELIVER_PATH: (409,), EVENTS_PATH: (429, 503), PAYMENT_PATH: (429,),
                      EVENTS_STREAM_PATH: (429, 503)}.get(path, ())  # fmt: skip
            responses = documented(status, model, 401, *errors)
            if path in (PAYMENT_PATH, EVENTS_PATH):  # conditional requests: 304, no body
                responses[304] = {"description": ERROR_MEANINGS[304]}
            if path == EVENTS_STREAM_PATH:
                # each SSE event's data is one of B's events (id: its id, event: its type)
                responses[200] = {"description": "text/event-stream: one SSE event per B event (id, event, data)",
                                  "content": {"text/event-stream": {"schema": _SSE_EVENT}}}  # fmt: skip
            self.app.add_api_route(
                path, handler, methods=[method], status_code=status, responses=responses,
            )  # fmt: skip

    # --- routes ---------------------------------------------------------------------------
    async def create_payment(self, request: Request, body: PaymentRequest) -> dict:
        """Create a pending payment; it settles by itself a little later."""
        mark(request, "create")
        with self.lock:
            payment = self.core.create_payment(body.amount, body.currency, self.clock.now())
        self._poke()
        return payment

    async def get_payment(self, request: Request, payment_id: str) -> Response:
        """One payment as B knows it now (what a polling client asks for), with its ``ETag``; with
        ``If-None-Match`` and the same tag, ``304 Not Modified`` and no body."""
        mark(request, "poll")
        with self.lock:
            payment = self.core.get_payment(payment_id)
        return _conditional(request, payment, payment_etag(payment))

    async def register_endpoint(self, request: Request, body: EndpointRequest) -> dict:
        """Register a webhook URL; the answer holds its signing secret (shown only here)."""
        mark(request, "register")
        with self.lock:
            return self.core.register_endpoint(body.url)

    async def delete_endpoint(self, request: Request, endpoint_id: str) -> dict:
        """Forget an endpoint and its deliveries (a receiver going away, or one that lost its secret)."""
        mark(request, "register")
        with self.lock:
            return self.core.delete_endpoint(endpoint_id)

    async def list_endpoints(self, request: Request) -> dict:
        """Registered endpoints, without their secrets."""
        mark(request, "view")
        with self.lock:
            return {"data": self.core.list_endpoints()}

    async def list_events(
        self,
        request: Request,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_LIMIT)] = 100,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
    ) -> Response:
        """Events in the order B made them; ``after`` an event id for those after it (a changes feed),
        at most ``limit``; ``has_more`` says whether to ask again from the last one. ``wait`` (up to
        60 s): long polling, held until an event after ``after`` exists or ``wait`` seconds pass. An
        ``ETag`` on every page (``304`` for ``If-None-Match`` with the same tag) and
        ``X-Poll-Interval``: how many seconds to wait before asking again."""
        mark(request, "feed")
        after = after or None  # ?after= with no value means "from the start", like leaving it out
        with self.lock:
            data, has_more = self.core.events_page(after, limit)
        if not data and wait > 0:
            data, has_more = await self._wait_for_events(request, after, limit, min(wait, self.max_wait_s))
        body = {"data": data, "has_more": has_more}
        response = _conditional(request, body, events_etag(after, limit, data, has_more))
        response.headers["X-Poll-Interval"] = str(self.poll_interval_s)
        return response

    def _hold(self, request: Request) -> str:
        """Count one more held connection for the request's client (returned, for :meth:`_release`),
        or refuse it: 429 when that client holds ``max_waiting_per_client`` already (one client must
        not take every place), 503 when ``max_waiting`` are held in all."""
        client = request.state.client
        if self._held[client] >= self.max_waiting_per_client:
            raise ApiError(429, "too_many_waiting",
                           f"this client already holds {self._held[client]} long polls or streams (the "
                           f"limit per client is {self.max_waiting_per_client}); close one, or retry after "
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

    async def _wait_for_events(
        self, request: Request, after: str | None, limit: int, wait: float
    ) -> tuple[list, bool]:
        client = self._hold(request)
        try:
            deadline = self.clock.now() + wait
            while True:
                news = self._new_events
                with self.lock:
                    data, has_more = self.core.events_page(after, limit)
                left = deadline - self.clock.now()
                # a client that went away frees its place at once (and lets B shut down)
                if data or left <= 0 or news is None or self.stopping or await request.is_disconnected():
                    return data, has_more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(news.wait(), min(left, 0.25))
        finally:
            self._release(client)

    async def stream_events(self, request: Request, after: str | None = None) -> EventSourceResponse:
        """Server-Sent Events: every event after ``after`` (or the ``Last-Event-ID`` header, which a
        reconnecting client sends), then each new one as B makes it; ``id`` is the event id."""
        mark(request, "stream")
        cursor = request.headers.get("last-event-id") or after or None
        with self.lock:
            self.core.events_page(cursor, 1)  # an unknown cursor: 404 now, not inside the stream
        client = self._hold(request)

        async def events():
            nonlocal cursor
            # a stream ends after stream_s: the client reconnects with Last-Event-ID and loses nothing
            ends = self.clock.now() + self.stream_s
            try:
                while not self.stopping and self._new_events is not None and self.clock.now() < ends:
                    news = self._new_events
                    with self.lock:
                        page, _ = self.core.events_page(cursor, STREAM_PAGE)
                    for event in page:
                        cursor = event["id"]
                        yield {"id": event["id"], "event": event["type"], "data": json.dumps(event)}
                    # a socket that takes every byte never makes the sender wait, so a replay of a
                    # long history would keep B's loop to itself: hand it back after each page
                    await asyncio.sleep(0)
                    if not page:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(news.wait(), min(1.0, max(0.0, ends - self.clock.now())))
            finally:
                self._release(client)

        return EventSourceResponse(events(), ping=15, headers={"X-Poll-Interval": str(self.poll_interval_s)})

    def stop_holding(self) -> None:
        """The server is shutting down: every held long poll answers now and every stream ends, so
        stopping B does not wait for them (call it on B's event loop)."""
        self.stopping = True
        if self._new_events is not None:
            self._new_events.set()

    def _announce_events(self) -> None:
        """Wake every long poll and stream: B made events since the last call."""
        count = len(self.core.events)
        if count != self._events_seen and self._new_events is not None:
            self._events_seen = count
            news, self._new_events = self._new_events, asyncio.Event()
            news.set()

    async def list_deliveries(
        self,
        request: Request,
        endpoint_id: str,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_LIMIT)] = 100,
    ) -> dict:
        """One endpoint's deliveries, oldest first, with each attempt's time and status; paged like
        ``GET /events``: at most ``limit``, those after delivery id ``after``, and ``has_more``."""
        mark(request, "view")
        with self.lock:
            data, has_more = self.core.deliveries_page(endpoint_id, after or None, limit)
        return {"data": data, "has_more": has_more}

    async def redeliver(self, request: Request, delivery_id: str) -> dict:
        """Send a delivery's event again now, as a new delivery (GitHub's redelivery)."""
        mark(request, "recover")
        with self.lock:
            delivery = self.core.redeliver(delivery_id, self.clock.now())
        self._poke()
        return delivery

    async def recover(self, request: Request, endpoint_id: str, body: RecoverRequest) -> dict:
        """Enable the endpoint again and re-send every event that failed to reach it since ``since``."""
        mark(request, "recover")
        with self.lock:
            answer = self.core.recover(endpoint_id, body.since, self.clock.now())
        self._poke()
        return answer

    async def health(self, request: Request) -> dict:
        """Whether B is up."""
        mark(request, "view")
        return {"ok": True, "system": self.name}

    # --- background work ------------------------------------------------------------------
    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self._wake = asyncio.Event()
        self._new_events = asyncio.Event()
        self._sending = asyncio.Semaphore(self.max_sending)
        self.stopping = False
        self._pumping = True
        pump = asyncio.create_task(self._pump(), name="hooklab-provider-pump")
        try:
            yield
        finally:
            # asked to stop, not cancelled: Python 3.11's wait_for can swallow a cancellation that
            # arrives as its event is set, which left the pump (and B's shutdown) waiting for ever
            self._pumping = False
            self._wake.set()
            await pump
            self._wake = None
            news, self._new_events = self._new_events, None
            news.set()  # held long polls answer, streams end
            for client in self._clients.values():
                await client.aclose()
            self._clients.clear()

    def _client(self, endpoint_id: str) -> httpx.AsyncClient:
        """The endpoint's own client: its connections are its own, so a black hole that holds every
        one of them open holds up nobody else."""
        client = self._clients.get(endpoint_id)
        if client is None:
            limits = httpx.Limits(max_connections=self.core.max_in_flight, max_keepalive_connections=2)
            if self._tls is None:  # made once: building a TLS context per client costs ~40 ms of B's loop
                self._tls = ssl.create_default_context()
            client = self._clients[endpoint_id] = httpx.AsyncClient(
                timeout=self.delivery_timeout_s, transport=self.transport, limits=limits, verify=self._tls
            )
        return client

    async def _close_idle_clients(self) -> float | None:
        """Close the connections of every endpoint with nothing in flight for ``idle_client_s``;
        seconds until the next one may be due for closing (``None``: no client is open)."""
        now, next_check = time.monotonic(), None
        for endpoint_id in list(self._clients):
            with self.lock:
                busy = self.core.in_flight(endpoint_id) > 0
            idle_for = now - self._client_used.get(endpoint_id, now)
            if not busy and idle_for >= self.idle_client_s:
                client = self._clients.pop(endpoint_id)
                self._client_used.pop(endpoint_id, None)
                await client.aclose()
                continue
            left = self.idle_client_s - idle_for if not busy else self.idle_client_s
            next_check = left if next_check is None else min(next_check, left)
        return next_check

    def close(self) -> None:
        """Close B's database (after serving stopped); what B knew stays readable in memory."""
        if self.store is not None:
            with self.lock:
                self.store.close()

    async def _pump(self) -> None:
        """Settle and deliver whatever is due, then sleep until the next thing is (or a poke)."""
        in_flight: set[asyncio.Task] = set()
        try:
            while self._pumping:
                with self.lock:
                    now = self.clock.now()
                    self.core.settle_due(now)
                    due = self.core.deliveries_due(now)
                    wake_at = self.core.next_wakeup()
                    self._announce_events()
                for delivery in due:
                    task = asyncio.create_task(self._deliver(self._client(delivery.endpoint.id), delivery))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                idle_check = await self._close_idle_clients()
                timeout = None if wake_at is None else max(0.0, wake_at - self.clock.now())
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
        try:
            async with self._sending or contextlib.nullcontext():
                response, error, started_at = await self._attempt(client, delivery)
        except asyncio.CancelledError:
            raise  # B is shutting down: the delivery stays in flight with the rest of B's memory
        finally:
            self._client_used[delivery.endpoint.id] = time.monotonic()
        status = None if response is None else response.status_code
        retry_after = None if response is None else parse_retry_after(response.headers.get("retry-after"),
                                                                       self.clock.now())  # fmt: skip
        with self.lock:
            self.core.delivery_finished(delivery, status, self.clock.now(), started_at=started_at,
                                        retry_after_s=retry_after, error=error)  # fmt: skip
        self._poke()

    async def _attempt(
        self, client: httpx.AsyncClient, delivery: Delivery
    ) -> tuple[httpx.Response | None, str | None, float]:
        """Send one attempt: ``(response or None, error name or None, when it started)``."""
        response: httpx.Response | None = None
        started_at, t0 = self.clock.now(), time.perf_counter()
        try:
            with self.lock:
                url, headers, body = delivery.request(self.clock.now())
            headers[SENDER_HEADER] = self.name
            request = client.build_request("POST", url, content=body, headers=headers)
            try:
                response = await client.send(request)
            finally:
                record_sent(self.log, request, response, receiver="A", kind="webhook",
                            started_at=started_at, duration_s=time.perf_counter() - t0)  # fmt: skip
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is a failed attempt
            return None, type(exc).__name__, started_at
        return response, None, started_at
