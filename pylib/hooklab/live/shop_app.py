"""System A over HTTP: the shop's webhook endpoint, its own small API, and its poller.

Routes: ``POST /webhooks/payments`` (B pushes events here), ``POST /orders`` (a customer checks
out: A asks B for a payment), ``GET /payments`` and ``GET /payments/{id}`` (what A knows),
``GET /health``. In ``poll`` mode a background thread polls B for every pending payment.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hooklab.core.clock import Clock
from hooklab.core.contract import (
    FINAL_STATUSES,
    HEALTH_PATH,
    ORDERS_PATH,
    PAYMENT_PATH,
    PAYMENTS_PATH,
    WEBHOOK_ENDPOINTS_PATH,
    WEBHOOK_PATH,
)
from hooklab.core.errors import ApiError
from hooklab.core.modes import SHOP_MODES
from hooklab.core.shop import PollSchedule, Shop
from hooklab.live.client import logged_send
from hooklab.live.clocks import WallClock
from hooklab.live.models import Health, Payment, PaymentList, PaymentRequest, WebhookAnswer
from hooklab.live.server import documented, make_app, mark
from hooklab.live.store import SqliteStore
from hooklab.measure.requestlog import RequestLog

#: What A's webhook endpoint accepts (read as raw bytes, verified, then parsed: no model here).
EVENT_SHAPE = (
    'A signed event: {"id": "evt_...", "type": "payment.succeeded", "created": <unix>, '
    '"data": {"object": {"id": "pay_...", "status": ..., "version": <int>, ...}}}, '
    "with a Hooklab-Signature header t=<unix>,v1=<hex>"
)
MODES = SHOP_MODES


#: What ``/docs`` says of this system.
TITLE = "System A: the shop"
DESCRIPTION = (
    "A mock shop. It receives System B's webhooks (signed, de-duplicated) or "
    "polls B, and shows what it knows about each payment."
)


class ShopService:
    """System A, live. ``mode`` is ``"poll"`` (ask B every ``interval_s``) or ``"webhook"``.

    Serve ``service.app``; serving starts the poller (poll mode) and stops it on shutdown. With
    ``db_path`` A keeps what it knows in SQLite (:mod:`hooklab.live.store`), so a new ``ShopService``
    on the same file after a crash knows every payment, every processed event and its secret. In
    webhook mode call :meth:`register_webhook` with the URL A is served at (or pass
    ``public_url``, and the app registers itself when it starts).

    ``client`` replaces A's HTTP client to B (say, one on an ``httpx.ASGITransport`` to call B
    in-process, in tests); A then leaves closing it to the caller.
    """

    def __init__(
        self,
        provider_url: str,
        *,
        mode: str = "poll",
        interval_s: float = 1.0,
        public_url: str | None = None,
        clock: Clock | None = None,
        name: str = "A",
        timeout_s: float = 5.0,
        db_path: str | Path | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.provider_url = provider_url.rstrip("/")
        self.mode = mode
        self.public_url = public_url
        self.clock = clock or WallClock()
        self.name = name
        # with a db_path A remembers payments, processed events and secrets across restarts
        self.store = SqliteStore(db_path) if db_path is not None else None
        self.core = Shop(store=self.store)
        self.schedule = PollSchedule(interval_s)
        self.log = RequestLog(name)
        self.lock = threading.RLock()
        self._own_client = client is None
        self.client = client or httpx.Client(base_url=self.provider_url, timeout=timeout_s)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self.app = make_app(
            self,
            TITLE,
            DESCRIPTION,
            body_models=(PaymentRequest,),
            kinds={WEBHOOK_PATH: "webhook", ORDERS_PATH: "create"},
        )
        self._add_routes()

    def _add_routes(self) -> None:
        # (path, handler, method, success status, success body, its own error statuses): one line per route
        routes = [
            (WEBHOOK_PATH, self.webhook, "POST", 200, WebhookAnswer, (503,)),
            (ORDERS_PATH, self.order, "POST", 201, Payment, (502,)),
            (PAYMENTS_PATH, self.list_payments, "GET", 200, PaymentList, ()),
            (PAYMENT_PATH, self.get_payment, "GET", 200, Payment, ()),
            (HEALTH_PATH, self.health, "GET", 200, Health, ()),
        ]
        # the webhook body is read raw and verified before parsing, so no model: describe it instead
        event_body = {"application/json": {"schema": {"type": "object", "description": EVENT_SHAPE}}}
        for path, handler, method, status, model, errors in routes:
            extra = (
                {"requestBody": {"required": True, "content": event_body}} if path == WEBHOOK_PATH else None
            )
            self.app.add_api_route(
                path, handler, methods=[method], status_code=status,
                responses=documented(status, model, *errors), openapi_extra=extra,
            )  # fmt: skip

    # --- what A does ----------------------------------------------------------------------
    def create_payment(self, amount: int = 1999, currency: str = "eur") -> dict:
        """Ask B for a payment (a customer checks out) and start waiting for it to settle."""
        response = logged_send(
            self.client, self.log, receiver="B", kind="create", method="POST", url=PAYMENTS_PATH,
            clock=self.clock, json_body={"amount": amount, "currency": currency},
        )  # fmt: skip
        if response is None:
            raise ConnectionError(f"System B at {self.provider_url} is not answering; is it running?")
        if response.status_code != 201:
            raise ApiError(
                response.status_code,
                "provider_error",
                f"System B refused the payment: {response.text}",
            )
        payment = response.json()
        with self.lock:
            self.core.apply(payment, "create", self.clock.now())
            self.schedule.add(payment["id"], self.clock.now())
        self._wake.set()
        return payment

    def register_webhook(self, public_url: str | None = None) -> dict:
        """Register A's webhook URL with B and trust the secret B returns."""
        base = (public_url or self.public_url or "").rstrip("/")
        if not base:
            raise ValueError("register_webhook needs the URL A is served at, e.g. 'http://127.0.0.1:8001'")
        response = logged_send(
            self.client, self.log, receiver="B", kind="register", method="POST", url=WEBHOOK_ENDPOINTS_PATH,
            clock=self.clock, json_body={"url": base + WEBHOOK_PATH},
        )  # fmt: skip
        if response is None or response.status_code != 201:
            detail = "no answer" if response is None else response.text
            raise ConnectionError(f"could not register the webhook endpoint with System B: {detail}")
        endpoint = response.json()
        with self.lock:
            self.core.add_webhook_secret(endpoint["secret"])
        return endpoint

    def poll_once(self, payment_id: str) -> bool | None:
        """``GET`` one payment from B and apply it. News -> ``True``; no answer -> ``None``."""

        def apply(response: httpx.Response) -> bool | None:
            if response.status_code != 200:
                return None
            with self.lock:
                return self.core.apply(response.json(), "poll", self.clock.now())

        learned: list[bool | None] = []
        logged_send(
            self.client, self.log, receiver="B", kind="poll", method="GET", url=f"/payments/{payment_id}",
            clock=self.clock, news_of=lambda response: learned.append(apply(response)) or learned[-1],
        )  # fmt: skip
        return learned[-1] if learned else None

    def is_done(self) -> bool:
        """True when A believes every payment it created has settled."""
        with self.lock:
            return not self.core.pending_ids()

    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return self.core.snapshot()

    # --- poller ---------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                due = self.schedule.due(self.clock.now())
            for payment_id in due:
                at = self.clock.now()
                self.poll_once(payment_id)
                with self.lock:
                    done = self.core.payments[payment_id]["status"] in FINAL_STATUSES
                    self.schedule.polled(payment_id, at, done=done)
            with self.lock:
                next_at = self.schedule.next_at()
            timeout = None if next_at is None else max(0.0, next_at - self.clock.now())
            self._wake.wait(timeout)
            self._wake.clear()

    def start_poller(self) -> None:
        if self._poller is None:
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll_loop, name="hooklab-poller", daemon=True)
            self._poller.start()

    def stop_poller(self) -> None:
        if self._poller is not None:
            self._stop.set()
            self._wake.set()
            self._poller.join()
            self._poller = None

    def close(self) -> None:
        self.stop_poller()
        if self._own_client:
            self.client.close()
        if self.store is not None:
            with self.lock:
                self.core.detach_store()  # what A knew stays readable after close
            self.store.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        # a restarted A with its SQLite file is still registered: registering again would make
        # B deliver every event twice
        if self.mode == "webhook" and self.public_url and not self.core.webhook_secrets:
            await run_in_threadpool(self.register_webhook)
        if self.mode == "poll":
            self.start_poller()
        try:
            yield
        finally:
            await run_in_threadpool(self.stop_poller)

    # --- routes ---------------------------------------------------------------------------
    async def webhook(self, request: Request) -> JSONResponse:
        """Where B delivers events. The raw body is verified before anything parses it."""
        mark(request, "webhook")
        body = await request.body()  # bounded by the body-limit middleware
        with self.lock:
            reply = self.core.receive_webhook(body, request.headers, self.clock.now())
        mark(request, "webhook", reply.news)
        return JSONResponse(reply.body, status_code=reply.status)

    async def order(self, request: Request, body: PaymentRequest) -> dict:
        """A customer checks out: A asks B for a payment and waits to learn how it settles."""
        mark(request, "create")
        # create_payment blocks on B; a worker thread keeps A's event loop free meanwhile
        try:
            return await run_in_threadpool(self.create_payment, body.amount, body.currency)
        except ConnectionError as err:
            # B being down is not a bug of A's: say so (502) and what to do, instead of a 500 and a traceback
            raise ApiError(
                502, "provider_unavailable",
                f"{err} Start System B first (hooklab provider) or check A's --provider URL, "
                "then retry the order",
            ) from None  # fmt: skip

    async def list_payments(self, request: Request) -> dict:
        """Every payment A knows, by id."""
        mark(request, "view")
        return {"data": sorted(self.snapshot().values(), key=lambda p: p["id"])}

    async def get_payment(self, request: Request, payment_id: str) -> dict:
        """One payment as A knows it."""
        mark(request, "view")
        payment = self.snapshot().get(payment_id)
        if payment is None:
            raise ApiError(
                404, "not_found", f"A knows no payment {payment_id!r}; create one with POST /orders"
            )
        return payment

    async def health(self, request: Request) -> dict:
        """Whether A is up, and how it learns (poll or webhook)."""
        mark(request, "view")
        return {"ok": True, "system": self.name, "mode": self.mode}
