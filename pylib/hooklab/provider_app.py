"""System B over HTTP: a Starlette app around :class:`~hooklab.provider.PaymentProvider`.

Routes: ``POST /payments``, ``GET /payments/{id}``, ``POST``/``GET /webhook-endpoints``,
``GET /events`` and ``GET /health``. A background task (started by the app's lifespan, so it
runs inside the server's event loop) settles payments when due and delivers webhooks with an
async httpx client, so a slow or dead endpoint never blocks the API.
Introduced in notebooks/01-api-polling.ipynb.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hooklab.clock import Clock, WallClock
from hooklab.http import (
    EXCEPTION_HANDLERS,
    SENDER_HEADER,
    RequestLogMiddleware,
    mark,
    parse_json,
    read_body,
    record_sent,
)
from hooklab.provider import (
    DEFAULT_RETRY_SCHEDULE,
    Delivery,
    PaymentProvider,
    SettlementModel,
    validate_endpoint_request,
    validate_payment_request,
)
from hooklab.requestlog import RequestLog

#: How long B waits for a webhook endpoint to answer before counting the attempt as failed.
DELIVERY_TIMEOUT_S = 5.0


class ProviderService:
    """System B, live: the core, its request log, the Starlette ``app`` and its background work.

    Serve ``service.app`` with :func:`hooklab.serving.serve` (or uvicorn). All access to the
    core goes through ``service.lock``, so tests and notebooks may read it from another thread.

    Introduced in notebooks/01-api-polling.ipynb (first run in the smoke check of notebooks/00-index.ipynb).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        settlement: SettlementModel | None = None,
        retry_schedule: Sequence[float] = DEFAULT_RETRY_SCHEDULE,
        clock: Clock | None = None,
        name: str = "B",
    ) -> None:
        self.clock = clock or WallClock()
        self.name = name
        self.core = PaymentProvider(
            self.clock, seed=seed, settlement=settlement, retry_schedule=retry_schedule
        )
        self.log = RequestLog(name)
        self.lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self.app = Starlette(
            routes=[
                Route("/payments", self.create_payment, methods=["POST"]),
                Route("/payments/{payment_id}", self.get_payment, methods=["GET"]),
                Route("/webhook-endpoints", self.webhook_endpoints, methods=["GET", "POST"]),
                Route("/events", self.list_events, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
            ],
            middleware=[Middleware(RequestLogMiddleware, log=self.log, name=name, clock=self.clock)],
            exception_handlers=EXCEPTION_HANDLERS,
            lifespan=self._lifespan,
        )

    # --- routes ---------------------------------------------------------------------------
    async def create_payment(self, request: Request) -> JSONResponse:
        mark(request, "create")
        amount, currency = validate_payment_request(parse_json(await read_body(request)))
        with self.lock:
            payment = self.core.create_payment(amount, currency)
        self._poke()
        return JSONResponse(payment, status_code=201)

    async def get_payment(self, request: Request) -> JSONResponse:
        mark(request, "poll")
        with self.lock:
            payment = self.core.get_payment(request.path_params["payment_id"])
        return JSONResponse(payment)

    async def register_endpoint(self, request: Request) -> JSONResponse:
        mark(request, "register")
        url = validate_endpoint_request(parse_json(await read_body(request)))
        with self.lock:
            endpoint = self.core.register_endpoint(url)
        return JSONResponse(endpoint, status_code=201)

    async def webhook_endpoints(self, request: Request) -> JSONResponse:
        # one route for both methods, so a wrong method's 405 lists them both in Allow
        if request.method == "POST":
            return await self.register_endpoint(request)
        return await self.list_endpoints(request)

    async def list_endpoints(self, request: Request) -> JSONResponse:
        mark(request, "view")
        with self.lock:
            endpoints = self.core.list_endpoints()
        return JSONResponse({"data": endpoints})

    async def list_events(self, request: Request) -> JSONResponse:
        mark(request, "view")
        with self.lock:
            # ?after= with no value means "from the start", like leaving it out
            events = self.core.list_events(request.query_params.get("after") or None)
        return JSONResponse({"data": events})

    async def health(self, request: Request) -> JSONResponse:
        mark(request, "view")
        return JSONResponse({"ok": True, "system": self.name})

    # --- background work ------------------------------------------------------------------
    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S) as client:
            pump = asyncio.create_task(self._pump(client), name="hooklab-provider-pump")
            try:
                yield
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
                self._wake = None

    async def _pump(self, client: httpx.AsyncClient) -> None:
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
                    task = asyncio.create_task(self._deliver(client, delivery))
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
        with self.lock:
            url, headers, body = delivery.request(self.clock.now())
        headers[SENDER_HEADER] = self.name
        request = client.build_request("POST", url, content=body, headers=headers)
        started_at, t0 = self.clock.now(), time.perf_counter()
        try:
            response = await client.send(request)
        except httpx.TransportError:
            response = None
        duration = time.perf_counter() - t0
        record_sent(
            self.log,
            request,
            response,
            receiver="A",
            kind="webhook",
            started_at=started_at,
            duration_s=duration,
        )
        status = None if response is None else response.status_code
        with self.lock:
            self.core.delivery_finished(delivery, status, self.clock.now())
        self._poke()
