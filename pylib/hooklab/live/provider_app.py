"""System B over HTTP: a FastAPI app around :class:`~hooklab.core.provider.PaymentProvider`.

Routes: ``POST /payments``, ``GET /payments/{id}``, ``POST``/``GET /webhook-endpoints``,
``GET /events`` (``after``, ``limit``, ``has_more``), ``GET /health``, and the recovery API:
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
import contextlib
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Query, Request

from hooklab.core.clock import Clock
from hooklab.core.contract import (
    DELIVERIES_PATH,
    EVENTS_PATH,
    HEALTH_PATH,
    PAYMENT_PATH,
    PAYMENTS_PATH,
    RECOVER_PATH,
    REDELIVER_PATH,
    SENDER_HEADER,
    WEBHOOK_ENDPOINTS_PATH,
)
from hooklab.core.delivery import Delivery
from hooklab.core.provider import PaymentProvider, SettlementModel
from hooklab.core.retry import RetryPolicy, parse_retry_after
from hooklab.live.client import record_sent
from hooklab.live.clocks import WallClock
from hooklab.live.models import (
    DeliveryList,
    DeliveryView,
    Endpoint,
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
from hooklab.live.server import documented, make_app, mark
from hooklab.measure.requestlog import RequestLog

#: How long B waits for a webhook endpoint to answer before counting the attempt as failed.
DELIVERY_TIMEOUT_S = 5.0
#: Attempts in flight to one endpoint at most (each endpoint has its own connections).
MAX_IN_FLIGHT = 8
#: The most events one ``GET /events`` returns.
MAX_EVENTS_LIMIT = 1000


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
    ) -> None:
        self.clock = clock or WallClock()
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
        )
        self._add_routes()

    def _add_routes(self) -> None:
        # (path, handler, method, success status, success body): one line per route
        routes = [
            (PAYMENTS_PATH, self.create_payment, "POST", 201, Payment),
            (PAYMENT_PATH, self.get_payment, "GET", 200, Payment),
            (WEBHOOK_ENDPOINTS_PATH, self.register_endpoint, "POST", 201, Endpoint),
            (WEBHOOK_ENDPOINTS_PATH, self.list_endpoints, "GET", 200, EndpointList),
            (EVENTS_PATH, self.list_events, "GET", 200, EventList),
            (HEALTH_PATH, self.health, "GET", 200, Health),
            (DELIVERIES_PATH, self.list_deliveries, "GET", 200, DeliveryList),
            (REDELIVER_PATH, self.redeliver, "POST", 201, DeliveryView),
            (RECOVER_PATH, self.recover, "POST", 202, RecoverAnswer),
        ]
        for path, handler, method, status, model in routes:
            errors = (409,) if path == REDELIVER_PATH else ()
            self.app.add_api_route(
                path, handler, methods=[method], status_code=status,
                responses=documented(status, model, *errors),
            )  # fmt: skip

    # --- routes ---------------------------------------------------------------------------
    async def create_payment(self, request: Request, body: PaymentRequest) -> dict:
        """Create a pending payment; it settles by itself a little later."""
        mark(request, "create")
        with self.lock:
            payment = self.core.create_payment(body.amount, body.currency, self.clock.now())
        self._poke()
        return payment

    async def get_payment(self, request: Request, payment_id: str) -> dict:
        """One payment as B knows it now (what a polling client asks for)."""
        mark(request, "poll")
        with self.lock:
            return self.core.get_payment(payment_id)

    async def register_endpoint(self, request: Request, body: EndpointRequest) -> dict:
        """Register a webhook URL; the answer holds its signing secret (shown only here)."""
        mark(request, "register")
        with self.lock:
            return self.core.register_endpoint(body.url)

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
    ) -> dict:
        """Events in the order B made them; ``after`` an event id for those after it (a changes feed),
        at most ``limit``; ``has_more`` says whether to ask again from the last one."""
        mark(request, "view")
        with self.lock:
            # ?after= with no value means "from the start", like leaving it out
            data, has_more = self.core.events_page(after or None, limit)
        return {"data": data, "has_more": has_more}

    async def list_deliveries(self, request: Request, endpoint_id: str) -> dict:
        """Every delivery to one endpoint, with each attempt's time and status."""
        mark(request, "view")
        with self.lock:
            return {"data": self.core.endpoint_deliveries(endpoint_id)}

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
        pump = asyncio.create_task(self._pump(), name="hooklab-provider-pump")
        try:
            yield
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self._wake = None
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

    def close(self) -> None:
        """Close B's database (after serving stopped); what B knew stays readable in memory."""
        if self.store is not None:
            with self.lock:
                self.store.close()

    async def _pump(self) -> None:
        """Settle and deliver whatever is due, then sleep until the next thing is (or a poke)."""
        in_flight: set[asyncio.Task] = set()
        try:
            while True:
                with self.lock:
                    now = self.clock.now()
                    self.core.settle_due(now)
                    due = self.core.deliveries_due(now)
                    wake_at = self.core.next_wakeup()
                for delivery in due:
                    task = asyncio.create_task(self._deliver(self._client(delivery.endpoint.id), delivery))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                timeout = None if wake_at is None else max(0.0, wake_at - self.clock.now())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
        finally:
            for task in in_flight:
                task.cancel()

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        """One attempt. Whatever goes wrong (no answer, a URL httpx cannot use, a bug), the
        attempt is reported as failed, so the delivery is retried or given up, never stuck."""
        response: httpx.Response | None = None
        error: str | None = None
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
            raise  # B is shutting down: the delivery stays in flight with the rest of B's memory
        except Exception as exc:  # every failure is a failed attempt
            response, error = None, type(exc).__name__
        status = None if response is None else response.status_code
        retry_after = None if response is None else parse_retry_after(response.headers.get("retry-after"),
                                                                       self.clock.now())  # fmt: skip
        with self.lock:
            self.core.delivery_finished(delivery, status, self.clock.now(), started_at=started_at,
                                        retry_after_s=retry_after, error=error)  # fmt: skip
        self._poke()
