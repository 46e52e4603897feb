"""System B over HTTP: a FastAPI app around :class:`~hooklab.core.provider.PaymentProvider`.

Routes: ``POST /payments``, ``GET /payments/{id}``, ``POST``/``GET /webhook-endpoints``,
``DELETE /webhook-endpoints/{id}``, ``GET /events`` (``after``, ``limit``, ``has_more``, ``wait``),
``GET /events/stream``, ``GET /health``, and the recovery API:
``GET /webhook-endpoints/{id}/deliveries``, ``POST /deliveries/{id}/redeliver``,
``POST /webhook-endpoints/{id}/recover``; ``/docs`` and ``/openapi.json`` describe them.

:class:`ProviderService` puts together the parts that share one
:class:`~hooklab.live.provider_context.ProviderContext`: the sender
(:mod:`hooklab.live.provider_sender`, settlements and webhook deliveries in the server's event
loop) and the holds (:mod:`hooklab.live.provider_holds`, long polls and event streams). With
``db_path`` B keeps everything in SQLite (:mod:`hooklab.live.provider_store`) and a restarted B
carries on where it stopped.
"""

from __future__ import annotations

import contextlib
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
    WEBHOOK_ENDPOINT_PATH,
    WEBHOOK_ENDPOINTS_PATH,
    events_etag,
    none_match,
    payment_etag,
)
from hooklab.core.provider import Change, PaymentProvider, SettlementModel
from hooklab.core.retry import RetryPolicy
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
from hooklab.live.provider_context import ProviderContext
from hooklab.live.provider_holds import MAX_WAIT_S, MAX_WAITING, MAX_WAITING_PER_CLIENT, STREAM_S, Holds
from hooklab.live.provider_sender import DELIVERY_TIMEOUT_S, IDLE_CLIENT_S, MAX_SENDING, Sender
from hooklab.live.provider_store import SqliteProviderStore
from hooklab.live.ratelimit import ApiKeyMiddleware, RateLimitMiddleware, parse_rate
from hooklab.live.server import ERROR_MEANINGS, documented, make_app, mark
from hooklab.measure.requestlog import RequestLog

#: Attempts in flight to one endpoint at most (each endpoint has its own connections).
MAX_IN_FLIGHT = 8
#: The most events one ``GET /events`` returns.
MAX_EVENTS_LIMIT = 1000
#: What ``X-Poll-Interval`` says by default (GitHub's examples say 60).
DEFAULT_POLL_INTERVAL_S = 60


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
    :data:`hooklab.core.retry.POLICIES`), a policy, or a list of waits. ``scheme``: how B lays out
    and signs its deliveries (``hooklab``, ``stripe``, ``github``, ``standard``:
    :mod:`hooklab.core.schemes`).
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
        endpoint_rate: tuple[int, float] | None = None,
        recovery_spread_s: float = 0.0,
        scheme: str = "hooklab",
    ) -> None:
        limited = [Middleware(ApiKeyMiddleware, api_keys=frozenset(api_keys))]
        if rate_limit is not None:
            per, window = parse_rate(rate_limit)
            limited.append(Middleware(RateLimitMiddleware, limit=per, window_s=window))
        store = SqliteProviderStore(db_path) if db_path is not None else None
        core = PaymentProvider(
            seed=seed, settlement=settlement, retry_schedule=retry_schedule, seeded_ids=seeded_ids,
            jitter=jitter, max_in_flight=max_in_flight, store=store, endpoint_rate=endpoint_rate,
            recovery_spread_s=recovery_spread_s, scheme_name=scheme,
        )  # fmt: skip
        self.ctx = ProviderContext(name=name, core=core, clock=clock or WallClock(), log=RequestLog(name),
                                   store=store)  # fmt: skip
        self.poll_interval_s = poll_interval_s
        self.holds = Holds(self.ctx, max_waiting=max_waiting, max_per_client=max_waiting_per_client,
                           max_wait_s=max_wait_s, stream_s=stream_s, poll_interval_s=poll_interval_s)  # fmt: skip
        self.sender = Sender(self.ctx, transport=transport, delivery_timeout_s=delivery_timeout_s,
                             idle_client_s=idle_client_s, max_sending=max_sending, on_tick=self.holds.announce)  # fmt: skip
        self.app = make_app(
            self,
            TITLE,
            DESCRIPTION,
            body_models=(PaymentRequest, EndpointRequest),
            kinds={PAYMENTS_PATH: "create", WEBHOOK_ENDPOINTS_PATH: "register"},
            middleware=limited,
        )
        self.app.state.on_stopping = self.holds.stop_holding  # see hooklab.live.serving.Server
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
        self.sender.poke()
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
            data, has_more = await self.holds.wait_for_events(request, after, limit, wait)
        body = {"data": data, "has_more": has_more}
        response = _conditional(request, body, events_etag(after, limit, data, has_more))
        response.headers["X-Poll-Interval"] = str(self.poll_interval_s)
        return response

    async def stream_events(self, request: Request, after: str | None = None) -> EventSourceResponse:
        """Server-Sent Events: every event after ``after`` (or the ``Last-Event-ID`` header, which a
        reconnecting client sends), then each new one as B makes it; ``id`` is the event id."""
        mark(request, "stream")
        cursor = request.headers.get("last-event-id") or after or None
        with self.lock:
            self.core.events_page(cursor, 1)  # an unknown cursor: 404 now, not inside the stream
        return self.holds.stream(request, cursor)

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
        self.sender.poke()
        return delivery

    async def recover(self, request: Request, endpoint_id: str, body: RecoverRequest) -> dict:
        """Enable the endpoint again and re-send every event that failed to reach it since ``since``."""
        mark(request, "recover")
        with self.lock:
            answer = self.core.recover(endpoint_id, body.since, self.clock.now())
        self.sender.poke()
        return answer

    async def health(self, request: Request) -> dict:
        """Whether B is up."""
        mark(request, "view")
        return {"ok": True, "system": self.name, "traffic": self.log.totals()}

    # --- what the parts share, read from outside -------------------------------------------
    core = property(
        lambda self: self.ctx.core, doc="B's core (:class:`~hooklab.core.provider.PaymentProvider`)"
    )
    store = property(lambda self: self.ctx.store)
    lock = property(lambda self: self.ctx.lock, doc="held for every access to the core")
    clock = property(lambda self: self.ctx.clock)
    log = property(lambda self: self.ctx.log, doc="B's request log")
    name = property(lambda self: self.ctx.name)
    waiting = property(lambda self: self.holds.waiting, doc="long polls and streams held open now")

    @property
    def transport(self) -> httpx.AsyncBaseTransport | None:
        """What B's webhook clients send through (``None``: the network)."""
        return self.sender.transport

    @transport.setter
    def transport(self, transport: httpx.AsyncBaseTransport | None) -> None:
        self.sender.transport = transport

    def snapshot(self) -> dict[str, dict]:
        """Every payment as B knows it: ``{id: payment}``."""
        with self.ctx.lock:
            return self.ctx.core.snapshot()

    def changes(self) -> list[Change]:
        """Every status change B made (the ground truth latencies are measured against)."""
        with self.ctx.lock:
            return list(self.ctx.core.changes)

    def deliveries(self) -> list[dict]:
        """Every delivery to every endpoint, oldest first, as ``GET .../deliveries`` shows them."""
        with self.ctx.lock:
            return [d.to_dict() for d in self.ctx.core.deliveries.values()]

    def is_quiet(self) -> bool:
        """B has settled every payment and finished every delivery (delivered or given up)."""
        with self.ctx.lock:
            core = self.ctx.core
            return core.all_settled() and all(d.finished for d in core.deliveries.values())

    def endpoints(self) -> list[dict]:
        """Registered endpoints as ``GET /webhook-endpoints`` lists them (no secrets)."""
        with self.ctx.lock:
            return self.ctx.core.list_endpoints()

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        """B's waits before retry 1, 2, ... (its policy's)."""
        return tuple(self.ctx.core.retry_schedule)

    def signed_again(self, delivery_id: str) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body of one more attempt of a delivery, signed now (a retry's request)."""
        with self.ctx.lock:
            return self.ctx.core.deliveries[delivery_id].request(self.ctx.clock.now())

    def add_endpoint(self, url: str) -> dict:
        """Register a webhook URL from Python (what ``POST /webhook-endpoints`` does over HTTP)."""
        with self.ctx.lock:
            return self.ctx.core.register_endpoint(url)

    # --- serving --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self.holds.start()
        self.sender.start()
        try:
            yield
        finally:
            await self.sender.stop()
            self.holds.close()

    def close(self) -> None:
        """Close B's database (after serving stopped); what B knew stays readable in memory."""
        if self.ctx.store is not None:
            with self.ctx.lock:
                self.ctx.store.close()
